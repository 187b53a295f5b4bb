//! The record lists of traces nobody holds any more, emptied and kept per thread for the next
//! traces' batches (`context` takes them with [`list`]).
//!
//! The records are dropped where the trace is let go, on the thread whose root span ended (or
//! the JSONL writer's). A trace of two spans otherwise cost a list allocated and freed
//! (measured: 3221 -> 3114 instructions per two-span trace with the lists kept), and a new list
//! costs page faults as a batch fills it, where a kept one is memory already mapped. The lists
//! of records that own no allocation (most: static names, inline JSON values) are emptied
//! without visiting each record (`completed`).
//!
//! Records that own allocations used to be handed, in batches, to a thread that freed them.
//! Measured on 2026-12-08 (2 cores), freeing them here is as fast or faster everywhere: traces
//! of 100 bridged `tracing` spans with fields 70-81 -> 47 us per trace, 1000 `#[trace]` spans
//! whose inputs are allocated 419-460 -> 313-433 ns per span on the application thread; the
//! other thread's frees left this thread's allocator without chunks to reuse.

use std::cell::RefCell;

use crate::record::SpanRecord;

/// Emptied lists kept per thread for reuse, at most.
const SPARE_LISTS: usize = 16;
/// Room (in records, ~260 bytes each) of the lists kept per thread, at most: a list of a
/// thousand-span trace fits, or many small ones.
const SPARE_RECORDS: usize = 2048;

thread_local! {
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

/// Drops the records of a list here and keeps the list for [`list`] (or frees it), within
/// [`SPARE_LISTS`] lists and [`SPARE_RECORDS`] records of room per thread.
pub(crate) fn dispose(mut records: Vec<SpanRecord>) {
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
