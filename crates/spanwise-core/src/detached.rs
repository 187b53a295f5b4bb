//! Spans that belong to no thread: a [`DetachedSpan`] is started under a [`Context`], is not
//! pushed on any thread's stack, and is made current only where its [`context`] is attached.
//!
//! This is the hook for bridges from other span models (a `tracing` span is created once, then
//! entered and exited on any thread, several times, possibly on several threads at once, and
//! closed whenever its last handle drops). The span's record is owned by the `DetachedSpan`
//! value alone, so it can be moved across threads; its [`context`] is what a thread attaches
//! while the foreign span is entered, so that spans started there (`#[trace]`, [`start_span`],
//! other detached spans) become its children.
//!
//! [`context`]: DetachedSpan::context
//! [`start_span`]: crate::start_span

use std::borrow::Cow;

use crate::context::Context;
use crate::id::{SpanId, TraceId};
use crate::instrument::{PollFrame, SpanBuilder};
use crate::scalar::Scalar;
use crate::span::{ActiveSpan, Slot, current_span};

/// A span owned by a value rather than by a thread's stack: started by
/// [`SpanBuilder::start_detached`], ended when dropped (or by [`end`](DetachedSpan::end)).
///
/// `Send` but not `Sync`: one thread at a time sets its fields (wrap it in a `Mutex` to share
/// it). Its children are the spans started where its [`context`](DetachedSpan::context) is
/// attached, on any thread.
///
/// ```
/// use spanwise_core::{span, SpanType};
///
/// let root = spanwise_core::start_span("request");
/// let detached = span("call").span_type(SpanType::Tool).start_detached(); // a child of `request`
/// let ctx = detached.context().clone();
/// std::thread::spawn(move || {
///     let _inner = ctx.run(|| spanwise_core::start_span("on a worker")); // a child of `call`
/// })
/// .join()
/// .unwrap();
/// detached.with(|s| s.set_outputs("done"));
/// drop(detached);
/// let id = root.trace_id().unwrap();
/// drop(root);
/// let trace = spanwise_core::get_trace(&id).unwrap();
/// let call = trace.data.spans.iter().find(|s| s.name == "call").unwrap();
/// assert_eq!(trace.children(&call.span_id)[0].name, "on a worker");
/// ```
pub struct DetachedSpan {
    slot: Slot,
    context: Context,
}

impl std::fmt::Debug for DetachedSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DetachedSpan({:?})", self.context)
    }
}

impl SpanBuilder {
    /// Starts the span without making it current: a child of the span current on this thread
    /// (or of the [`remote_parent`](SpanBuilder::remote_parent) context, when one is given; an
    /// empty context starts a new trace). See [`DetachedSpan`].
    ///
    /// ```
    /// let detached = spanwise_core::span("background").start_detached();
    /// assert!(spanwise_core::current_span().is_none()); // not current anywhere
    /// assert_eq!(detached.context().span_id(), detached.span_id());
    /// ```
    pub fn start_detached(self) -> DetachedSpan {
        let slot = self.start_slot();
        let context = match &slot {
            Slot::Live(cell) => {
                // SAFETY: the slot owns the cell and it is alive.
                let c = unsafe { cell.as_ref() };
                Context::local(c.trace.clone(), c.span_id)
            }
            Slot::Unsampled => Context::unsampled(),
            Slot::Off => Context::empty(),
        };
        DetachedSpan { slot, context }
    }
}

impl DetachedSpan {
    /// The position of this span: attach it ([`Context::attach`], [`Context::run`]) to make
    /// spans started there its children. Empty when the span is not recording because tracing
    /// is disabled; unsampled when its trace is not sampled.
    ///
    /// ```
    /// let detached = spanwise_core::span("parent").start_detached();
    /// let child = detached.context().run(|| spanwise_core::start_span("child"));
    /// assert_eq!(child.trace_id(), detached.trace_id());
    /// ```
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The span's id; `None` when not recording.
    pub fn span_id(&self) -> Option<SpanId> {
        self.context.span_id()
    }

    /// The trace's id; `None` when not recording.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.context.trace_id()
    }

    /// Whether this span is being recorded (false when tracing is off or unsampled).
    pub fn is_recording(&self) -> bool {
        matches!(self.slot, Slot::Live(_))
    }

    /// Runs `f` with a handle to this span, for the setters of [`ActiveSpan`] (inputs,
    /// outputs, attributes, events, status, token usage, ...), on whichever thread holds it.
    ///
    /// ```
    /// let detached = spanwise_core::span("chat").start_detached();
    /// detached.with(|s| {
    ///     s.set_model("gpt-4o-mini");
    ///     s.set_token_usage(spanwise_core::llm::TokenUsage::new(3, 4));
    /// });
    /// ```
    pub fn with<R>(&self, f: impl FnOnce(&ActiveSpan) -> R) -> R {
        // The handle is lent for the call only: it cannot outlive the span it points at.
        let handle = self.slot.handle();
        f(&handle)
    }

    /// Runs `f` with the span current on this thread (spans started inside nest under it),
    /// handing it the span. When the span records nothing (tracing off, unsampled), `f` gets a
    /// handle that does nothing.
    ///
    /// ```
    /// let root = spanwise_core::start_span("request");
    /// let call = spanwise_core::span("Completions").start_detached();
    /// // ... later, maybe on another thread of the runtime:
    /// call.in_scope(|s| {
    ///     s.set_outputs("done");
    ///     drop(spanwise_core::start_span("inside")); // a child of `Completions`
    /// });
    /// drop(call);
    /// drop(root);
    /// let trace = spanwise_core::get_trace(&spanwise_core::last_active_trace_id().unwrap()).unwrap();
    /// assert_eq!(trace.data.spans[1].outputs(), Some(serde_json::json!("done")));
    /// ```
    pub fn in_scope<R>(&self, f: impl FnOnce(&ActiveSpan) -> R) -> R {
        let _frame = PollFrame::enter(&self.slot);
        let handle = match self.slot {
            Slot::Live(_) => current_span().unwrap_or_else(ActiveSpan::none),
            _ => ActiveSpan::none(),
        };
        f(&handle)
    }

    /// Renames the span.
    ///
    /// ```
    /// let detached = spanwise_core::span("chat").start_detached();
    /// detached.set_name("chat gpt-4o-mini");
    /// ```
    pub fn set_name(&self, name: impl Into<Cow<'static, str>>) {
        let name = name.into();
        self.slot.with_record(|r| r.name = name);
    }

    /// Sets one attribute to a scalar value, encoded as JSON without going through `Serialize`
    /// (the per-field path of bridges such as the `tracing` layer). The result is what
    /// [`ActiveSpan::set_attribute`] stores for the same value, size limit included.
    ///
    /// ```
    /// use spanwise_core::Scalar;
    /// let root = spanwise_core::start_span("root");
    /// let detached = spanwise_core::span("query").start_detached();
    /// detached.set_scalar_attribute("rows", Scalar::U64(3));
    /// detached.set_scalar_attribute("table", Scalar::Str("users"));
    /// drop(detached);
    /// let id = root.trace_id().unwrap();
    /// drop(root);
    /// let trace = spanwise_core::get_trace(&id).unwrap();
    /// assert_eq!(trace.data.spans[1].attribute("rows"), Some(serde_json::json!(3)));
    /// assert_eq!(trace.data.spans[1].attribute("table"), Some(serde_json::json!("users")));
    /// ```
    pub fn set_scalar_attribute(&self, key: impl Into<Cow<'static, str>>, value: Scalar<'_>) {
        if let Slot::Live(_) = self.slot {
            let json = value.to_json();
            let key = key.into();
            self.slot.with_record(|r| r.set_attribute(key, json));
        }
    }

    /// Makes room for `additional` more attributes at once (a bridge that knows how many fields
    /// a span has spares the regrowth of one attribute at a time).
    ///
    /// ```
    /// let detached = spanwise_core::span("query").start_detached();
    /// detached.reserve_attributes(4);
    /// ```
    pub fn reserve_attributes(&self, additional: usize) {
        self.slot.with_record(|r| r.attributes.reserve(additional));
    }

    /// Ends the span now (as dropping it does).
    pub fn end(self) {}
}

impl Drop for DetachedSpan {
    fn drop(&mut self) {
        self.slot.end_detached();
    }
}

#[cfg(test)]
mod tests {
    use crate::{get_trace, last_active_trace_id, span, start_span};

    #[test]
    fn a_detached_span_nests_what_runs_in_scope_and_ends_when_dropped() {
        let root = start_span("root");
        let d = span("held").start_detached();
        drop(start_span("sibling_of_held"));
        d.in_scope(|s| {
            s.set_attribute("k", 1);
            drop(start_span("inside"));
        });
        let moved = std::thread::spawn(move || d).join().unwrap();
        drop(moved);
        drop(root);
        let t = get_trace(&last_active_trace_id().unwrap()).unwrap();
        let names: Vec<_> = t.data.spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["root", "held", "sibling_of_held", "inside"]);
        let parent = |n: &str| {
            let s = t.data.spans.iter().find(|s| s.name == n).unwrap();
            let p = s.parent_span_id.unwrap();
            t.data
                .spans
                .iter()
                .find(|s| s.span_id == p)
                .unwrap()
                .name
                .clone()
        };
        assert_eq!(parent("held"), "root");
        assert_eq!(parent("sibling_of_held"), "root");
        assert_eq!(parent("inside"), "held");
        let held = t.data.spans.iter().find(|s| s.name == "held").unwrap();
        assert_eq!(held.attribute("k"), Some(serde_json::json!(1)));
        assert!(held.end_time_unix_nano.is_some());
    }
}
