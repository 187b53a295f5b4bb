//! Freeing the records of traces nobody holds any more, off the application's thread.
//!
//! The in-memory store evicts its oldest trace each time a new one comes in, on the thread
//! whose root span just ended. Dropping a trace touches every one of its records, long out of
//! the cache by then: for traces of many spans that was an eighth of the cost of recording them.
//! So the records of large traces are gathered per thread and handed, in batches, to a thread
//! that frees them. When that thread cannot take more (or cannot be started), the records are
//! freed where they are: memory stays bounded and nothing waits. (What this saves is time,
//! measured in `benches/`; the stress tests cover that every record is still freed once.)
//!
//! The lists of small traces are emptied here and kept, a few per thread, for the next traces'
//! batches (`context` takes them): a trace of two spans otherwise cost a list allocated and
//! freed (measured: 3221 -> 3114 instructions per two-span trace with the lists kept). So are
//! the lists of traces of any size whose records own no allocation (most: static names, inline
//! JSON values): those records need no visit at all, and the reused list is memory already
//! mapped, where a new one costs page faults as the batch fills it.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use crate::record::SpanRecord;

/// Traces of fewer records are freed in place: freeing small allocations on another thread
/// empties this thread's allocator caches, which costs more than it saves (measured: traces of
/// 2 spans got 30% slower when all were handed over).
const DEFER_RECORDS: usize = 32;
/// Records gathered on a thread before they are handed over in one message: waking the freeing
/// thread per trace costs a system call, too much for traces of a hundred spans.
const BATCH_RECORDS: usize = 4096;
/// Batches waiting for the freeing thread, at most; past that, they are freed in place.
const QUEUED: usize = 8;

type Batch = Vec<Vec<SpanRecord>>;

#[derive(Default)]
struct Gathered {
    lists: Batch,
    records: usize,
}

/// Emptied lists kept per thread for reuse, at most.
const SPARE_LISTS: usize = 16;
/// Room (in records, ~260 bytes each) of the lists kept per thread, at most: a list of a
/// thousand-span trace fits, or many small ones.
const SPARE_RECORDS: usize = 2048;

thread_local! {
    static GATHERED: RefCell<Gathered> = RefCell::new(Gathered::default());
    static SPARE: RefCell<Vec<Vec<SpanRecord>>> = const { RefCell::new(Vec::new()) };
}

/// An empty list with room for `capacity` records: a kept one when one is large enough.
pub(crate) fn list(capacity: usize) -> Vec<SpanRecord> {
    let spare = SPARE
        .try_with(|s| {
            let mut s = s.try_borrow_mut().ok()?;
            // The newest first: its memory was touched last.
            let at = s.iter().rposition(|l| l.capacity() >= capacity)?;
            Some(s.swap_remove(at))
        })
        .ok()
        .flatten();
    // (Growing a kept list that is too small would copy its old buffer for nothing.)
    spare.unwrap_or_else(|| Vec::with_capacity(capacity))
}

/// Drops the records of a list and keeps the list for [`list`] (or frees it), within
/// [`SPARE_LISTS`] lists and [`SPARE_RECORDS`] records of room per thread.
fn keep(mut records: Vec<SpanRecord>) {
    records.clear();
    let room = records.capacity();
    if room == 0 || room > SPARE_RECORDS {
        return;
    }
    // (When the thread is exiting or the pool is full, the list is freed here.)
    let _ = SPARE.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            let kept: usize = s.iter().map(Vec::capacity).sum();
            if s.len() < SPARE_LISTS && kept + room <= SPARE_RECORDS {
                s.push(records);
            }
        }
    });
}

static FREEING: OnceLock<Option<SyncSender<Batch>>> = OnceLock::new();

fn freeing_thread() -> Option<&'static SyncSender<Batch>> {
    FREEING
        .get_or_init(|| {
            let (tx, rx) = sync_channel(QUEUED);
            std::thread::Builder::new()
                .name("spanwise-free".into())
                .spawn(move || free_loop(rx))
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

fn free_loop(rx: Receiver<Batch>) {
    // Dropping is the work.
    while let Ok(batch) = rx.recv() {
        drop(batch);
    }
}

/// Frees `records`: on the freeing thread when there are many, here otherwise. A list already
/// emptied (its records owned nothing, see `completed`) is kept for the next traces.
pub(crate) fn dispose(records: Vec<SpanRecord>) {
    if records.len() < DEFER_RECORDS {
        keep(records);
        return;
    }
    let full = GATHERED.try_with(|g| {
        let mut g = g.try_borrow_mut().ok()?;
        g.records += records.len();
        g.lists.push(records);
        if g.records < BATCH_RECORDS {
            return None;
        }
        g.records = 0;
        Some(std::mem::take(&mut g.lists))
    });
    // (When the thread is exiting, the records were dropped with the closure.)
    if let Ok(Some(batch)) = full
        && let Some(tx) = freeing_thread()
    {
        match tx.try_send(batch) {
            Ok(()) => {}
            // Behind or gone: free here rather than queue without bound.
            Err(TrySendError::Full(batch) | TrySendError::Disconnected(batch)) => drop(batch),
        }
    }
}
