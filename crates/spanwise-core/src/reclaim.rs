//! Freeing the records of traces nobody holds any more, off the application's thread.
//!
//! The in-memory store evicts its oldest trace each time a new one comes in, on the thread
//! whose root span just ended. Dropping a trace touches every one of its records, long out of
//! the cache by then: for traces of many spans that was an eighth of the cost of recording them.
//! So the records of large traces are handed to a thread that frees them. When that thread
//! cannot take more (or cannot be started), the records are freed where they are: memory stays
//! bounded and nothing waits. (What this saves is time, measured in `benches/`; the stress tests
//! cover that every record is still freed exactly once.)

use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use crate::collector::SpanRecord;

/// Traces of fewer records are freed in place: freeing small allocations on another thread
/// empties this thread's allocator caches, which costs more than it saves (measured: traces of
/// 2 spans got 30% slower when all were handed over).
const DEFER_RECORDS: usize = 128;
/// Record lists waiting for the freeing thread, at most; past that, they are freed in place.
const QUEUED: usize = 16;

static FREEING: OnceLock<Option<SyncSender<Vec<SpanRecord>>>> = OnceLock::new();

fn freeing_thread() -> Option<&'static SyncSender<Vec<SpanRecord>>> {
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

fn free_loop(rx: Receiver<Vec<SpanRecord>>) {
    // Dropping is the work.
    while let Ok(records) = rx.recv() {
        drop(records);
    }
}

/// Frees `records`: on the freeing thread when there are many, here otherwise.
pub(crate) fn dispose(records: Vec<SpanRecord>) {
    if records.len() < DEFER_RECORDS {
        return;
    }
    if let Some(tx) = freeing_thread() {
        match tx.try_send(records) {
            Ok(()) => {}
            // Behind or gone: free here rather than queue without bound.
            Err(TrySendError::Full(records) | TrySendError::Disconnected(records)) => drop(records),
        }
    }
}
