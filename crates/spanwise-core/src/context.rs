//! The per-thread span stack, and [`Context`]: a captured position in a trace that can be made
//! current on another thread or task.
//!
//! Each thread has its own stack, so traces made on different threads never mix. The current
//! span is the top of the calling thread's stack; a span started with nothing current starts a
//! new trace.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::cell::{CellPool, SpanCell};
use crate::collector::TraceShared;
use crate::id::{SpanId, TraceId};
use crate::record::SpanRecord;

/// One entry of a thread's stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A live span, owned by a guard or a future wrapper that removes the frame before the cell
    /// is freed.
    Span(NonNull<SpanCell>),
    /// An attached [`Context`], kept alive by its [`ContextGuard`].
    Context(NonNull<ContextInner>),
    /// A subtree that is not recorded (an unsampled root).
    Unsampled,
}

pub(crate) struct Local {
    pub stack: Vec<Frame>,
    /// Finished spans of `batch_trace`, waiting to be handed over in one lock.
    batch_trace: Option<Arc<TraceShared>>,
    batch: Vec<SpanRecord>,
    /// A batch was queued in `PENDING` since [`with_local`] last looked.
    pending: bool,
    /// The length of the batch handed over before the last one.
    last_batch: usize,
    /// A reference to `batch_trace` given back by a span that ended, taken by the next span of
    /// the trace that starts here: the spans of a trace then cost no reference-count updates
    /// (two atomic operations per span, each waiting for the span's stores to drain). Kept only
    /// while the trace is batched here, so that it never keeps an ended trace alive.
    spare_trace: Cell<Option<Arc<TraceShared>>>,
    /// Allocations of this thread's ended spans, for its next spans.
    pub cells: CellPool,
}

thread_local! {
    pub(crate) static LOCAL: RefCell<Local> = const {
        RefCell::new(Local {
            stack: Vec::new(),
            batch_trace: None,
            batch: Vec::new(),
            pending: false,
            last_batch: 0,
            spare_trace: Cell::new(None),
            cells: CellPool::new(),
        })
    };
}

/// Where a new span goes, from the top of the stack.
pub(crate) enum Parent {
    /// Nothing current: a new trace.
    None,
    /// A child of this span in this trace.
    Local(Arc<TraceShared>, SpanId),
    /// A child of a span in another process (W3C trace context).
    Remote(TraceId, SpanId),
    /// Not recorded.
    Unsampled,
}

impl Local {
    pub(crate) fn parent(&self) -> Parent {
        match self.stack.last() {
            None => Parent::None,
            Some(Frame::Unsampled) => Parent::Unsampled,
            // SAFETY: a frame is removed before the cell or context it points to is dropped.
            Some(Frame::Span(cell)) => {
                let cell = unsafe { cell.as_ref() };
                Parent::Local(self.trace_ref(&cell.trace), cell.span_id)
            }
            Some(Frame::Context(ctx)) => match unsafe { &ctx.as_ref().kind } {
                ContextKind::Local(t, s) => Parent::Local(self.trace_ref(t), *s),
                ContextKind::Remote(t, s) => Parent::Remote(*t, *s),
                ContextKind::Unsampled => Parent::Unsampled,
                ContextKind::Empty => Parent::None,
            },
        }
    }

    /// A reference to `trace` for a new span: the spare one when it is of this trace.
    #[inline]
    fn trace_ref(&self, trace: &Arc<TraceShared>) -> Arc<TraceShared> {
        match self.spare_trace.take() {
            Some(spare) if Arc::ptr_eq(&spare, trace) => spare,
            other => {
                self.spare_trace.set(other);
                trace.clone()
            }
        }
    }

    /// Takes back the trace reference of a span that ended (see `spare_trace`).
    #[inline]
    pub(crate) fn give_back_trace(&mut self, trace: Arc<TraceShared>) {
        if self
            .batch_trace
            .as_ref()
            .is_some_and(|b| Arc::ptr_eq(b, &trace))
        {
            drop(self.spare_trace.replace(Some(trace)));
        }
    }

    /// Removes `frame` (normally the top; found anywhere when guards drop out of order), then
    /// hands over the batch if its trace is no longer on top.
    pub(crate) fn remove(&mut self, frame: Frame) {
        if self.stack.last() == Some(&frame) {
            self.stack.pop();
        } else if let Some(pos) = self.stack.iter().rposition(|f| *f == frame) {
            self.stack.remove(pos);
        }
        if self.batch_trace.is_some() && !self.top_is_batch_trace() {
            self.hand_over();
        }
    }

    /// Hands over the batch unless its trace is on top of the stack (for a span ended with no
    /// frame of its own: see `detached`).
    pub(crate) fn hand_over_unless_on_top(&mut self) {
        if self.batch_trace.is_some() && !self.top_is_batch_trace() {
            self.hand_over();
        }
    }

    fn top_is_batch_trace(&self) -> bool {
        let Some(batch) = &self.batch_trace else {
            return false;
        };
        match self.stack.last() {
            // SAFETY: as in `parent`.
            Some(Frame::Span(cell)) => Arc::ptr_eq(unsafe { &cell.as_ref().trace }, batch),
            Some(Frame::Context(ctx)) => match unsafe { &ctx.as_ref().kind } {
                ContextKind::Local(t, _) => Arc::ptr_eq(t, batch),
                _ => false,
            },
            _ => false,
        }
    }

    /// Buffers a finished span, moving its record from `record` straight into the batch (the
    /// record is large: a move through a temporary costs a copy); the root of a trace is handed
    /// over at once.
    ///
    /// # Safety
    /// `record` points at a valid record of the span `span_id` that the caller gives up: it is
    /// neither used nor dropped afterwards.
    #[inline]
    pub(crate) unsafe fn finish_moved(
        &mut self,
        trace: &Arc<TraceShared>,
        span_id: SpanId,
        record: *const SpanRecord,
    ) {
        let is_root = span_id == trace.root_span_id;
        let same = self
            .batch_trace
            .as_ref()
            .is_some_and(|b| Arc::ptr_eq(b, trace));
        if !same {
            self.hand_over();
            self.batch_trace = Some(trace.clone());
        }
        self.batch.reserve(1);
        let len = self.batch.len();
        // SAFETY: room for one more record was reserved; the caller hands the record over.
        unsafe {
            self.batch
                .as_mut_ptr()
                .add(len)
                .copy_from_nonoverlapping(record, 1);
            self.batch.set_len(len + 1);
        }
        if is_root {
            self.hand_over();
        }
    }

    /// Queues the batch for delivery; [`with_local`] delivers it once the stack is released.
    pub(crate) fn hand_over(&mut self) {
        if let Some(trace) = self.batch_trace.take() {
            drop(self.spare_trace.take());
            // The next batch is likely the size of this one, or, when traces come in two
            // batches (their spans while the root's context was current, then the root alone,
            // as with `tracing` spans), of the larger one and the root it is merged with:
            // reserved once rather than regrown.
            let len = self.batch.len();
            let room = if len == self.last_batch {
                len
            } else {
                len.max(self.last_batch) + 1
            };
            self.last_batch = len;
            let next = crate::reclaim::list(room.min(1024));
            let batch = std::mem::replace(&mut self.batch, next);
            PENDING.with(|p| p.borrow_mut().push((trace, batch)));
            self.pending = true;
        }
    }
}

thread_local! {
    // Batches handed over while `LOCAL` is borrowed; drained right after the borrow ends, so
    // that publication (which calls destinations, user code that may start spans) never runs
    // under the borrow.
    static PENDING: RefCell<Vec<(Arc<TraceShared>, Vec<SpanRecord>)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's stack, then delivers any batches it handed over.
#[inline]
pub(crate) fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> R {
    let (r, pending) = LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        let r = f(&mut l);
        (r, std::mem::take(&mut l.pending))
    });
    if pending {
        drain_pending();
    }
    r
}

#[cold]
fn drain_pending() {
    let mut batches = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    for (trace, mut spans) in batches.drain(..) {
        trace.hand_over(&mut spans);
        TraceShared::release(trace);
    }
    // The queue's allocation is kept for the next trace (unless publication queued more).
    PENDING.with(|p| {
        if let Ok(mut p) = p.try_borrow_mut()
            && p.capacity() == 0
        {
            *p = batches;
        }
    });
}

/// What a [`Context`] points at.
pub(crate) enum ContextKind {
    Local(Arc<TraceShared>, SpanId),
    Remote(TraceId, SpanId),
    Unsampled,
    /// Nothing current: spans start new traces.
    Empty,
}

pub(crate) struct ContextInner {
    pub(crate) kind: ContextKind,
}

thread_local! {
    /// The allocation of the last context dropped here while nothing else held it, emptied:
    /// the next context made on this thread takes it instead of allocating (a bridged
    /// `tracing` span makes one per span; measured in `benches/bridge.rs`).
    static SPARE_INNER: Cell<Option<Arc<ContextInner>>> = const { Cell::new(None) };
}

/// A shared `kind`, in this thread's spare allocation when there is one.
fn new_inner(kind: ContextKind) -> Arc<ContextInner> {
    if let Some(mut spare) = SPARE_INNER.try_with(Cell::take).ok().flatten()
        && let Some(inner) = Arc::get_mut(&mut spare)
    {
        inner.kind = kind;
        return spare;
    }
    Arc::new(ContextInner { kind })
}

impl Drop for Context {
    fn drop(&mut self) {
        if let Some(mut inner) = self.inner.take()
            && let Some(only) = Arc::get_mut(&mut inner)
        {
            // Emptied first: a spare holds no trace alive.
            only.kind = ContextKind::Empty;
            let _ = SPARE_INNER.try_with(|spare| spare.set(Some(inner)));
        }
    }
}

/// A captured position in a trace: spans made where it is attached become children of the span
/// that was current when it was captured, in the same trace.
///
/// Cheap to clone, `Send + Sync`. Capture it with [`Context::current`], carry it to another
/// thread or task, and make it current there with [`Context::run`], [`Context::attach`] or
/// [`Context::wrap`].
///
/// ```
/// use spanwise_core::{Context, start_span};
/// let root = start_span("root");
/// let ctx = Context::current();
/// std::thread::spawn(move || {
///     ctx.run(|| {
///         let _child = start_span("on another thread");
///     })
/// })
/// .join()
/// .unwrap();
/// drop(root);
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Option<Arc<ContextInner>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.inner.as_deref().map(|i| &i.kind) {
            None => f.write_str("Context(empty)"),
            Some(ContextKind::Local(t, s)) => write!(f, "Context({}, {s})", t.trace_id),
            Some(ContextKind::Remote(t, s)) => write!(f, "Context(remote {t}, {s})"),
            Some(ContextKind::Unsampled) => f.write_str("Context(unsampled)"),
            Some(ContextKind::Empty) => f.write_str("Context(empty)"),
        }
    }
}

impl Context {
    /// The current position of this thread: the current span, or the attached context. Empty
    /// when nothing is current (spans made under an empty context start new traces).
    pub fn current() -> Context {
        let kind = with_local(|l| match l.parent() {
            Parent::None => None,
            Parent::Local(t, s) => Some(ContextKind::Local(t, s)),
            Parent::Remote(t, s) => Some(ContextKind::Remote(t, s)),
            Parent::Unsampled => Some(ContextKind::Unsampled),
        });
        Context {
            inner: kind.map(new_inner),
        }
    }

    /// A context for a span of another process (W3C trace context): spans made under it join
    /// that trace, their local root having the remote span as parent.
    pub fn remote(trace_id: TraceId, parent_span_id: SpanId) -> Context {
        Context {
            inner: Some(new_inner(ContextKind::Remote(trace_id, parent_span_id))),
        }
    }

    pub(crate) fn local(trace: Arc<TraceShared>, span_id: SpanId) -> Context {
        Context {
            inner: Some(new_inner(ContextKind::Local(trace, span_id))),
        }
    }

    /// A context of a trace that is not recorded (client API, propagated not-sampled flag).
    pub(crate) fn unsampled() -> Context {
        Context {
            inner: Some(new_inner(ContextKind::Unsampled)),
        }
    }

    /// An empty context: attaching it makes spans start new traces.
    pub fn empty() -> Context {
        Context { inner: None }
    }

    /// Whether this context is empty.
    pub fn is_empty(&self) -> bool {
        self.inner.is_none()
    }

    /// The trace this context belongs to.
    pub fn trace_id(&self) -> Option<TraceId> {
        match self.inner.as_deref().map(|i| &i.kind)? {
            ContextKind::Local(t, _) => Some(t.trace_id),
            ContextKind::Remote(t, _) => Some(*t),
            ContextKind::Unsampled | ContextKind::Empty => None,
        }
    }

    /// The span new spans will be children of.
    pub fn span_id(&self) -> Option<SpanId> {
        match self.inner.as_deref().map(|i| &i.kind)? {
            ContextKind::Local(_, s) | ContextKind::Remote(_, s) => Some(*s),
            ContextKind::Unsampled | ContextKind::Empty => None,
        }
    }

    /// Whether spans made under this context are recorded (false for an unsampled trace).
    pub fn is_sampled(&self) -> bool {
        !matches!(
            self.inner.as_deref().map(|i| &i.kind),
            Some(ContextKind::Unsampled)
        )
    }

    /// Makes this context current until the guard drops.
    ///
    /// Attaching an empty context hides the current span: spans made under it start new traces.
    /// Attaching nests: dropping the guard restores what was current before. Attaching a context
    /// whose trace already ended is allowed: spans made under it are late spans of that trace
    /// (recorded, and the trace re-published).
    pub fn attach(&self) -> ContextGuard {
        let inner: &ContextInner = self.inner.as_deref().unwrap_or(&EMPTY);
        let frame = Frame::Context(NonNull::from(inner));
        with_local(|l| l.stack.push(frame));
        ContextGuard {
            _ctx: self.inner.clone(),
            frame,
            _not_send: PhantomData,
        }
    }

    /// Runs `f` with this context current.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _g = self.attach();
        f()
    }

    /// Wraps a closure so that it runs with this context current, wherever it is called.
    ///
    /// ```
    /// use spanwise_core::Context;
    /// let ctx = Context::current();
    /// let work = ctx.wrap(|x: i32| x * 2);
    /// assert_eq!(work(21), 42);
    /// ```
    pub fn wrap<A, R>(&self, f: impl Fn(A) -> R) -> impl Fn(A) -> R {
        let ctx = self.clone();
        move |a| ctx.run(|| f(a))
    }
}

// The frame of an attached empty context.
static EMPTY: ContextInner = ContextInner {
    kind: ContextKind::Empty,
};

/// Keeps a [`Context`] current; restores the previous one when dropped. Not `Send`: it belongs to
/// the thread's stack.
#[must_use = "the context is current only while the guard lives"]
pub struct ContextGuard {
    _ctx: Option<Arc<ContextInner>>,
    frame: Frame,
    _not_send: PhantomData<*const ()>,
}

impl std::fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContextGuard")
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        let frame = self.frame;
        with_local(|l| l.remove(frame));
    }
}

/// The id of the current trace on this thread, if any.
///
/// ```
/// let span = spanwise_core::start_span("s");
/// assert_eq!(spanwise_core::current_trace_id(), span.trace_id());
/// ```
pub fn current_trace_id() -> Option<TraceId> {
    with_local(|l| match l.parent() {
        Parent::Local(t, _) => Some(t.trace_id),
        Parent::Remote(t, _) => Some(t),
        _ => None,
    })
}

/// The trace of a live span of this thread: `span_id` is a span on the stack (or the span of
/// an attached context) and belongs to trace `trace_id`. What lets the client API start a span
/// under a span made by `start_span` or `#[trace]`.
pub(crate) fn live_span_trace(trace_id: TraceId, span_id: SpanId) -> Option<Arc<TraceShared>> {
    LOCAL.with(|l| {
        let l = l.try_borrow().ok()?;
        l.stack.iter().rev().find_map(|f| {
            let (trace, span) = match f {
                // SAFETY: a frame is removed before the cell or context it points to is dropped.
                Frame::Span(cell) => {
                    let cell = unsafe { cell.as_ref() };
                    (&cell.trace, cell.span_id)
                }
                Frame::Context(ctx) => match unsafe { &ctx.as_ref().kind } {
                    ContextKind::Local(t, s) => (t, *s),
                    _ => return None,
                },
                Frame::Unsampled => return None,
            };
            (trace.trace_id == trace_id && span == span_id).then(|| trace.clone())
        })
    })
}
