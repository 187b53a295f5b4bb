//! The heap cell of a live span, and the per-thread reuse of cell allocations. A thread's stack
//! points at the cells of its live spans; the slot that owns a cell frees (recycles) it when the
//! span ends.

use std::borrow::Cow;
use std::cell::{Cell, UnsafeCell};
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::collector::TraceShared;
use crate::id::SpanId;
use crate::record::SpanRecord;

/// The heap cell of a live span. Its address is what the thread's stack points at.
///
/// The record is behind a one-flag cell rather than a `RefCell` so that it can be written in
/// place, field by field, into a recycled allocation: building a ~250-byte record elsewhere
/// and moving it in costs two copies per span.
pub(crate) struct SpanCell {
    pub(crate) trace: Arc<TraceShared>,
    pub(crate) span_id: SpanId,
    /// The record is lent out (a setter is running): a re-entrant setter does nothing.
    busy: Cell<bool>,
    pub(crate) record: UnsafeCell<SpanRecord>,
}

impl SpanCell {
    /// Runs `f` on the record, unless a call of this method on the same span is already running
    /// (a value's `Serialize` that sets attributes of its own span).
    #[inline]
    pub(crate) fn with_record<R>(&self, f: impl FnOnce(&mut SpanRecord) -> R) -> Option<R> {
        if self.busy.replace(true) {
            return None;
        }
        // Cleared on unwind too, as a `RefCell` borrow would be.
        struct Release<'a>(&'a Cell<bool>);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _release = Release(&self.busy);
        // SAFETY: `busy` makes this the only reference to the record until it is released; the
        // cell is not `Sync` and is only reached from the thread whose stack holds it.
        Some(f(unsafe { &mut *self.record.get() }))
    }
}

/// Allocations of ended spans, reused by the next spans of a thread (its `Local` holds one): a
/// span costs no malloc/free pair in steady state. Each box is one cell's own allocation, whose
/// address the stack points at while the span lives, hence boxes and not a Vec of cells.
#[derive(Default)]
pub(crate) struct CellPool(#[allow(clippy::vec_box)] Vec<Box<MaybeUninit<SpanCell>>>);

impl CellPool {
    pub(crate) const fn new() -> CellPool {
        CellPool(Vec::new())
    }
}

/// Spare allocations kept per thread, at most.
const SPARE_CELLS: usize = 64;

/// Puts a new cell in a spare allocation of `pool` (or a new one), then lets `fill` set the
/// record's fields in place (the record is large: building it elsewhere costs copies).
#[inline]
pub(crate) fn new_cell(
    pool: &mut CellPool,
    trace: Arc<TraceShared>,
    span_id: SpanId,
    parent_id: Option<SpanId>,
    name: Cow<'static, str>,
    fill: impl FnOnce(&mut SpanRecord),
) -> NonNull<SpanCell> {
    let mut b = pool.0.pop().unwrap_or_else(Box::new_uninit);
    let p: *mut SpanCell = b.as_mut_ptr();
    // SAFETY: every field is written before the cell is used; the record in place (see
    // `SpanCell`), then completed by `fill` through a reference to the initialized record.
    unsafe {
        (&raw mut (*p).trace).write(trace);
        (&raw mut (*p).span_id).write(span_id);
        (&raw mut (*p).busy).write(Cell::new(false));
        let record = UnsafeCell::raw_get(&raw const (*p).record);
        SpanRecord::init(record, span_id, parent_id, name);
        fill(&mut *record);
    }
    NonNull::from(Box::leak(b)).cast()
}

/// Keeps the allocation of a cell whose fields were moved out, for the next span.
///
/// # Safety
/// `ptr` comes from [`new_cell`], its fields were moved out (or are `Copy`), and it is not used
/// afterwards.
#[inline]
pub(crate) unsafe fn recycle_cell(pool: &mut CellPool, ptr: NonNull<SpanCell>) {
    // SAFETY: `Box<MaybeUninit<T>>` has the layout of `Box<T>`; as `MaybeUninit` the box is
    // kept or freed without dropping the moved-out value.
    let spare: Box<MaybeUninit<SpanCell>> = unsafe { Box::from_raw(ptr.as_ptr().cast()) };
    if pool.0.len() < SPARE_CELLS {
        pool.0.push(spare);
    }
}
