//! Live spans: the guard returned by [`start_span`], and [`ActiveSpan`], the handle through which
//! a span's inputs, outputs, attributes, events and status are set.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

use serde::Serialize;

use crate::capture;
use crate::cell::{CellPool, SpanCell, new_cell, recycle_cell};
use crate::collector::TraceShared;
use crate::context::{Frame, Local, Parent, with_local};
use crate::counters::UserCode;
use crate::exception;
use crate::id::{SpanId, TraceId};
use crate::model::{SpanEvent, SpanStatus, SpanType, StatusCode};
use crate::record::{Json, SpanRecord};
use crate::runtime;

/// A span being recorded, owned by a guard or a future/stream wrapper.
pub(crate) enum Slot {
    /// Recorded. The pointer comes from `Box::into_raw` and is freed by `Slot::end`/drop.
    Live(NonNull<SpanCell>),
    /// A span of an unsampled trace: its children are not recorded either.
    Unsampled,
    /// Tracing is disabled: nothing to do.
    Off,
}

// SAFETY: the cell is owned by the slot alone (the stack only borrows it while the owner is on
// this thread, see `Frame`), and everything in it is `Send`.
unsafe impl Send for Slot {}

impl Slot {
    /// Starts a span under the top of `local`'s stack, without pushing it.
    #[inline]
    pub(crate) fn start(local: &mut Local, name: Cow<'static, str>) -> Slot {
        if !runtime::is_enabled() {
            return Slot::Off;
        }
        let parent = local.parent();
        Slot::start_filled(&mut local.cells, parent, name, |_| {})
    }

    /// Starts a span under `parent`; `fill` sets the record's other fields before the record
    /// goes into its cell (one write, no borrow of the cell afterwards).
    #[inline]
    pub(crate) fn start_filled(
        cells: &mut CellPool,
        parent: Parent,
        name: Cow<'static, str>,
        fill: impl FnOnce(&mut SpanRecord),
    ) -> Slot {
        let span_id = SpanId::random();
        let (trace, parent_id) = match parent {
            // Keeps an unsampled frame while the span runs, so that what starts inside it is not
            // recorded either, even when the parent was a context attached only to start it
            // (`SpanBuilder::remote_parent`).
            Parent::Unsampled => return Slot::Unsampled,
            Parent::Local(trace, parent) => (trace, Some(parent)),
            Parent::None => {
                runtime::ensure_started();
                if !runtime::sample() {
                    return Slot::Unsampled;
                }
                (TraceShared::new(TraceId::random(), span_id), None)
            }
            Parent::Remote(trace_id, parent) => {
                runtime::ensure_started();
                (TraceShared::new(trace_id, span_id), Some(parent))
            }
        };
        Slot::Live(new_cell(cells, trace, span_id, parent_id, name, fill))
    }

    pub(crate) fn frame(&self) -> Option<Frame> {
        match self {
            Slot::Live(cell) => Some(Frame::Span(*cell)),
            Slot::Unsampled => Some(Frame::Unsampled),
            Slot::Off => None,
        }
    }

    pub(crate) fn handle(&self) -> ActiveSpan {
        match self {
            Slot::Live(cell) => {
                // SAFETY: the slot owns the cell and it is alive.
                let c = unsafe { cell.as_ref() };
                ActiveSpan {
                    cell: Some(*cell),
                    span_id: c.span_id,
                    trace_id: c.trace.trace_id,
                    owned: true,
                    _not_send: PhantomData,
                }
            }
            _ => ActiveSpan::none(),
        }
    }

    /// Runs `f` on the record of a live span.
    pub(crate) fn with_record<R>(&self, f: impl FnOnce(&mut SpanRecord) -> R) -> Option<R> {
        match self {
            // SAFETY: the slot owns the cell.
            Slot::Live(cell) => unsafe { cell.as_ref() }.with_record(f),
            _ => None,
        }
    }

    /// Ends the span: removes its frame from `local` (if `frame` is given), records a panic if
    /// the thread is unwinding, and buffers the finished record.
    pub(crate) fn end_in(&mut self, local: &mut Local, pushed: bool) {
        let slot = std::mem::replace(self, Slot::Off);
        if let Slot::Live(ptr) = slot {
            {
                // The record is completed in its cell, then moved out once.
                // SAFETY: the slot owned the cell (it is `Off` now) and no handle borrows the
                // record outside a `with` call.
                let record = unsafe { &mut *ptr.as_ptr() }.record.get_mut();
                if std::thread::panicking() && !record.has_exception {
                    exception::record_panic(record);
                }
                if record.status.code == StatusCode::Unset {
                    record.status = SpanStatus::ok();
                }
                // A span may end on another thread than it started on (async tasks), whose clock
                // anchor differs by nanoseconds: never before its start.
                record.end = Some(crate::clock::now_unix_nanos().max(record.start));
            }
            let raw = ptr.as_ptr();
            // SAFETY: `ptr` came from `new_cell` in `start_filled` and is released only here:
            // the trace and the record are each moved out once (the record straight into the
            // thread's batch), then the allocation is recycled.
            unsafe {
                let trace = std::ptr::read(&raw const (*raw).trace);
                let span_id = (*raw).span_id;
                local.finish_moved(&trace, span_id, (*raw).record.get());
                recycle_cell(&mut local.cells, ptr);
                local.give_back_trace(trace);
            }
            if pushed {
                local.remove(Frame::Span(ptr));
            }
        } else if pushed && let Some(frame) = slot.frame() {
            local.remove(frame);
        }
    }
}

impl Slot {
    /// Ends a span whose frame is not on the stack: a wrapper dropped between polls, or a
    /// [`DetachedSpan`](crate::DetachedSpan).
    pub(crate) fn end_detached(&mut self) {
        if !matches!(self, Slot::Off) {
            with_local(|l| {
                self.end_in(l, false);
                // Ended with its trace not on top of this thread's stack (the usual case for a
                // span closed after its parent's task moved on): nothing here would hand the
                // batch over.
                l.hand_over_unless_on_top();
            });
        }
    }
}

/// Starts a span that is current until the returned guard drops, and ends when it drops.
///
/// With nothing current it starts a new trace; otherwise it is a child of the current span. The
/// guard is not `Send`: in async code, use `#[trace]` on the `async fn` or the `in_span`
/// combinator of `FutureExt`, which re-enter the span on every poll.
///
/// ```
/// use spanwise_core::{start_span, SpanType};
/// let span = start_span("my_span").span_type(SpanType::Tool).inputs(serde_json::json!({"x": 1, "y": 2}));
/// span.set_outputs(3);
/// let trace_id = span.trace_id().unwrap();
/// drop(span); // the root ended: the trace is finalized and stored
/// let trace = spanwise_core::get_trace(&trace_id).unwrap();
/// assert_eq!(trace.root().unwrap().outputs(), Some(serde_json::json!(3)));
/// ```
pub fn start_span(name: impl Into<Cow<'static, str>>) -> SpanGuard {
    SpanGuard::enter(name.into())
}

/// Runs `f` inside a new span, handing it the span; returns what `f` returns.
///
/// ```
/// let sum = spanwise_core::with_span("add", |span| {
///     span.set_inputs(serde_json::json!({"a": 1, "b": 2}));
///     let s = 1 + 2;
///     span.set_outputs(s);
///     s
/// });
/// assert_eq!(sum, 3);
/// ```
pub fn with_span<R>(name: impl Into<Cow<'static, str>>, f: impl FnOnce(&ActiveSpan) -> R) -> R {
    let guard = start_span(name);
    f(&guard)
}

/// The span current on this thread (MLflow's `get_current_active_span`), or `None` when no span
/// of this thread is current (nothing traced, tracing disabled, an unsampled trace, or only an
/// attached [`Context`](crate::Context) from another thread).
///
/// ```
/// let _root = spanwise_core::start_span("root");
/// let span = spanwise_core::current_span().unwrap();
/// span.set_attribute("model", "gpt-4o-mini");
/// ```
pub fn current_span() -> Option<ActiveSpan> {
    with_local(|l| match l.stack.last() {
        Some(Frame::Span(cell)) => {
            // SAFETY: frames point at live cells.
            let c = unsafe { cell.as_ref() };
            Some(ActiveSpan {
                cell: Some(*cell),
                span_id: c.span_id,
                trace_id: c.trace.trace_id,
                owned: false,
                _not_send: PhantomData,
            })
        }
        _ => None,
    })
}

/// Merges `update` into the current trace (MLflow's `update_current_trace`): tags and metadata
/// key by key, the other fields replacing earlier values. With no active trace it returns
/// [`Error::NoActiveTrace`](crate::Error::NoActiveTrace) (and warns once); it never panics, and callers may ignore the error.
///
/// ```
/// use spanwise_core::{TraceUpdate, update_current_trace};
/// assert!(update_current_trace(TraceUpdate::new().tag("a", "b")).is_err());
/// let _root = spanwise_core::start_span("my_func");
/// update_current_trace(TraceUpdate::new().tag("fruit", "apple").request_preview("custom")).unwrap();
/// ```
pub fn update_current_trace(update: crate::update::TraceUpdate) -> Result<(), crate::Error> {
    let trace = with_local(|l| match l.parent() {
        Parent::Local(t, _) => Some(t),
        _ => None,
    });
    match trace {
        Some(t) => {
            t.apply_update(update);
            Ok(())
        }
        None => {
            crate::warning::warn_once(
                "no-active-trace",
                "update_current_trace called with no active trace; ignored",
            );
            Err(crate::Error::NoActiveTrace)
        }
    }
}

/// A handle to a live span, with the setters. Not `Send`.
///
/// A handle that outlives its span (or is used where its span is not on the stack) does nothing.
/// Values are anything `Serialize`, encoded once, when set.
pub struct ActiveSpan {
    cell: Option<NonNull<SpanCell>>,
    span_id: SpanId,
    trace_id: TraceId,
    /// The handle of a [`SpanGuard`], reached only through it: its span is alive for as long as
    /// the handle can be used, so setters skip the check that the span is still on the stack.
    owned: bool,
    _not_send: PhantomData<*const ()>,
}

impl std::fmt::Debug for ActiveSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.cell.is_some() {
            write!(f, "ActiveSpan({}, {})", self.trace_id, self.span_id)
        } else {
            f.write_str("ActiveSpan(not recording)")
        }
    }
}

impl ActiveSpan {
    #[inline]
    pub(crate) fn none() -> ActiveSpan {
        ActiveSpan {
            cell: None,
            span_id: SpanId(0),
            trace_id: TraceId(0),
            owned: false,
            _not_send: PhantomData,
        }
    }

    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut SpanRecord) -> R) -> Option<R> {
        let cell = self.cell?;
        // The cell is alive exactly while its frame is on this thread's stack.
        if !self.owned && !with_local(|l| l.stack.iter().rev().any(|f| *f == Frame::Span(cell))) {
            return None;
        }
        // SAFETY: checked above that the owner still holds the cell on this thread.
        unsafe { cell.as_ref() }.with_record(f)
    }

    /// Whether this span is being recorded (false when tracing is off or unsampled).
    pub fn is_recording(&self) -> bool {
        self.cell.is_some()
    }

    /// The span's id; `None` when not recording.
    pub fn span_id(&self) -> Option<SpanId> {
        self.cell.map(|_| self.span_id)
    }

    /// The trace's id; `None` when not recording.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.cell.map(|_| self.trace_id)
    }

    /// Sets the inputs (`mlflow.spanInputs`).
    pub fn set_inputs<T: Serialize>(&self, inputs: T) {
        if self.cell.is_some() {
            let json = capture::to_json(&inputs);
            self.with(|r| r.inputs = Some(Json::from(json)));
        }
        self.release(inputs);
    }

    /// Sets the outputs (`mlflow.spanOutputs`).
    pub fn set_outputs<T: Serialize>(&self, outputs: T) {
        if self.cell.is_some() {
            let json = capture::to_json(&outputs);
            self.with(|r| r.outputs = Some(Json::from(json)));
        }
        self.release(outputs);
    }

    /// Sets one attribute.
    pub fn set_attribute<T: Serialize>(&self, key: impl Into<Cow<'static, str>>, value: T) {
        if self.cell.is_some() {
            let json = capture::to_json(&value);
            let key = key.into();
            self.with(|r| r.set_attribute(key, json));
        }
        self.release(value);
    }

    /// Drops a value handed to a setter: a panic in its `Drop` is contained, counted, and
    /// noted on the span.
    fn release<T>(&self, value: T) {
        if std::mem::needs_drop::<T>()
            && let Some(message) = exception::drop_contained(value)
        {
            self.with(|r| {
                r.events
                    .push(exception::user_code_panic_event(UserCode::Drop, &message))
            });
        }
    }

    /// Sets several attributes from anything that serializes to a JSON object (a map, a struct,
    /// `serde_json::json!({...})`). Other values are ignored.
    ///
    /// ```
    /// let _root = spanwise_core::start_span("invoke");
    /// let span = spanwise_core::current_span().unwrap();
    /// span.set_attributes(serde_json::json!({"model": "gpt-4o-mini", "temperature": 0.1}));
    /// ```
    pub fn set_attributes<T: Serialize>(&self, attributes: T) {
        if self.cell.is_none() {
            return;
        }
        let value = capture::to_value(&attributes);
        self.release(attributes);
        if let serde_json::Value::Object(map) = value {
            let pairs: Vec<(String, String)> = map
                .into_iter()
                .map(|(k, v)| (k, capture::to_json(&v)))
                .collect();
            self.with(|r| {
                for (k, v) in pairs {
                    r.set_attribute(Cow::Owned(k), v);
                }
            });
        }
    }

    /// Sets the span type (`mlflow.spanType`).
    pub fn set_span_type(&self, span_type: SpanType) {
        let ty = type_str(span_type);
        self.with(|r| r.span_type = ty);
    }

    /// Adds an event.
    pub fn add_event(&self, event: SpanEvent) {
        self.with(|r| r.events.push(event));
    }

    /// Sets the status. An explicit status is kept when the span ends.
    pub fn set_status(&self, status: impl Into<SpanStatus>) {
        let status = status.into();
        self.with(|r| r.status = status);
    }

    /// Records an error: an `exception` event with its type, message and `source()` chain, and
    /// status ERROR with `"<Type>: <message>"`.
    ///
    /// ```
    /// let span = spanwise_core::start_span("parse");
    /// if let Err(e) = "x".parse::<i32>() {
    ///     span.record_error(&e);
    /// }
    /// ```
    pub fn record_error<E: std::error::Error + ?Sized>(&self, error: &E) {
        self.with(|r| exception::record_std_error(r, error));
    }

    pub(crate) fn with_record<R>(&self, f: impl FnOnce(&mut SpanRecord) -> R) -> Option<R> {
        self.with(f)
    }
}

pub(crate) fn type_str(span_type: SpanType) -> Cow<'static, str> {
    match span_type {
        SpanType::Custom(s) => Cow::Owned(s),
        builtin => Cow::Borrowed(builtin.static_str().unwrap_or("UNKNOWN")),
    }
}

impl From<StatusCode> for SpanStatus {
    fn from(code: StatusCode) -> SpanStatus {
        SpanStatus {
            code,
            message: String::new(),
        }
    }
}

/// The guard of a span started with [`start_span`]: the span is current while the guard lives
/// and ends when it drops. Dereferences to [`ActiveSpan`] for the setters. Not `Send`.
///
/// Guards are meant to drop in reverse order of creation. One dropped out of order still ends
/// its own span (and only it); spans started after it keep their parent.
#[must_use = "the span ends when the guard is dropped"]
pub struct SpanGuard {
    pub(crate) slot: Slot,
    handle: ActiveSpan,
}

impl std::fmt::Debug for SpanGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.handle, f)
    }
}

impl SpanGuard {
    #[inline]
    pub(crate) fn enter(name: Cow<'static, str>) -> SpanGuard {
        // Disabled: not even the thread's stack is touched.
        if !runtime::is_enabled() {
            return SpanGuard::off();
        }
        SpanGuard::enter_with(|l| Slot::start(l, name))
    }

    /// Starts the slot made by `start` (under the top of the stack) and pushes its frame.
    #[inline]
    pub(crate) fn enter_with(start: impl FnOnce(&mut Local) -> Slot) -> SpanGuard {
        let slot = with_local(|l| {
            let slot = start(l);
            if let Some(frame) = slot.frame() {
                l.stack.push(frame);
            }
            slot
        });
        let handle = slot.handle();
        SpanGuard { slot, handle }
    }

    /// A guard that records nothing.
    #[inline]
    pub(crate) fn off() -> SpanGuard {
        SpanGuard {
            slot: Slot::Off,
            handle: ActiveSpan::none(),
        }
    }

    /// Sets the span type.
    pub fn span_type(self, span_type: SpanType) -> Self {
        let ty = type_str(span_type);
        self.slot.with_record(|r| r.span_type = ty);
        self
    }

    /// Sets an attribute.
    pub fn attribute<T: Serialize>(self, key: impl Into<Cow<'static, str>>, value: T) -> Self {
        self.handle.set_attribute(key, value);
        self
    }

    /// Sets the inputs.
    pub fn inputs<T: Serialize>(self, inputs: T) -> Self {
        self.handle.set_inputs(inputs);
        self
    }
}

impl Deref for SpanGuard {
    type Target = ActiveSpan;
    fn deref(&self) -> &ActiveSpan {
        &self.handle
    }
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        if !matches!(self.slot, Slot::Off) {
            let slot = &mut self.slot;
            with_local(|l| slot.end_in(l, true));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_str_borrows_the_builtin_strings_and_keeps_custom_ones() {
        for (t, s) in [
            (SpanType::Llm, "LLM"),
            (SpanType::ChatModel, "CHAT_MODEL"),
            (SpanType::Unknown, "UNKNOWN"),
            (SpanType::Evaluator, "EVALUATOR"),
        ] {
            assert_eq!(t.as_str(), s);
            assert!(matches!(type_str(t), Cow::Borrowed(b) if b == s));
        }
        let custom = type_str(SpanType::Custom("MY_TYPE".into()));
        assert!(matches!(custom, Cow::Owned(ref o) if o == "MY_TYPE"));
        assert_eq!(SpanType::Custom("X".into()).as_str(), "X");
    }
}
