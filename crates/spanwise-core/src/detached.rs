//! [`DetachedSpan`]: a span kept open by a value rather than by the thread's stack, for wrappers
//! whose span outlives one call (a stream handed back to the caller, a response read later).

use crate::instrument::{PollFrame, SpanBuilder};
use crate::span::{ActiveSpan, Slot, current_span};

/// A span started under the current span and kept open by this value: it is current only inside
/// [`DetachedSpan::in_scope`], and ends when the value is dropped (or [`DetachedSpan::end`]). It
/// is `Send`, so a stream or future that holds it may move between threads.
///
/// ```
/// use spanwise_core::{SpanType, span};
///
/// let root = spanwise_core::start_span("request");
/// let call = span("Completions").span_type(SpanType::ChatModel).start_detached();
/// // ... later, maybe on another thread of the runtime:
/// call.in_scope(|s| s.set_outputs("done"));
/// drop(call);
/// drop(root);
/// let trace = spanwise_core::get_trace(&spanwise_core::last_active_trace_id().unwrap()).unwrap();
/// assert_eq!(trace.data.spans[1].outputs(), Some(serde_json::json!("done")));
/// ```
pub struct DetachedSpan {
    slot: Slot,
}

impl std::fmt::Debug for DetachedSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DetachedSpan")
    }
}

impl SpanBuilder {
    /// Starts the span now, under the current span, without making it current: see
    /// [`DetachedSpan`].
    pub fn start_detached(self) -> DetachedSpan {
        DetachedSpan {
            slot: self.start_slot(),
        }
    }
}

impl DetachedSpan {
    /// Runs `f` with the span current (spans started inside nest under it), handing it the span.
    /// When the span records nothing (tracing off, unsampled), `f` gets a handle that does
    /// nothing.
    pub fn in_scope<R>(&self, f: impl FnOnce(&ActiveSpan) -> R) -> R {
        let _frame = PollFrame::enter(&self.slot);
        let handle = match self.slot {
            Slot::Live(_) => current_span().unwrap_or_else(ActiveSpan::none),
            _ => ActiveSpan::none(),
        };
        f(&handle)
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
