//! The filter workloads run under both ways of installing the bridge (`filters.rs`: the layer
//! over a Registry, filtered per layer; `subscriber.rs`: `SpanwiseSubscriber` with a filter
//! composed on top), each with what it must record.

use serde_json::json;
use spanwise::Trace;
use tracing::Subscriber;

/// The names of the trace's spans, sorted.
pub fn names(t: &Trace) -> Vec<&str> {
    let mut v: Vec<_> = t.data.spans.iter().map(|s| s.name.as_str()).collect();
    v.sort();
    v
}

/// Runs `f` under a spanwise root and returns the root's trace.
pub fn run_under_root(f: impl FnOnce()) -> Trace {
    let root = spanwise::start_span("root");
    f();
    let id = root.trace_id().unwrap();
    drop(root);
    spanwise::get_trace(&id).unwrap()
}

/// Spans and events at `DEBUG`, `INFO` and `WARN` under `subscriber`, filtered at `INFO`:
/// the `DEBUG` span and event are not recorded, and what is inside the filtered-out span
/// nests under its parent.
pub fn check_info_level_filter(subscriber: impl Subscriber + Send + Sync + 'static) {
    let t = tracing::subscriber::with_default(subscriber, || {
        run_under_root(|| {
            tracing::info_span!("kept").in_scope(|| {
                tracing::debug!("dropped event");
                tracing::info!("kept event");
                tracing::debug_span!("skipped").in_scope(|| {
                    let _inner = tracing::warn_span!("inner").entered();
                });
            });
        })
    });
    assert_eq!(names(&t), vec!["inner", "kept", "root"]);
    let kept = t.spans_named("kept").next().unwrap();
    let inner = t.spans_named("inner").next().unwrap();
    assert_eq!(inner.parent_span_id, Some(kept.span_id));
    let events: Vec<_> = kept.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, vec!["kept event"]);
}

/// Spans of two targets under `subscriber`, filtered at `WARN` for `noisy` and `TRACE` for the
/// rest: only `noisy`'s warning and the other target's span are recorded, with their fields.
pub fn check_noisy_target_filter(subscriber: impl Subscriber + Send + Sync + 'static) {
    let t = tracing::subscriber::with_default(subscriber, || {
        run_under_root(|| {
            drop(tracing::info_span!(target: "noisy::http", "connect"));
            drop(tracing::warn_span!(target: "noisy::http", "retry", attempt = 2));
            drop(tracing::trace_span!(target: "app", "step"));
        })
    });
    assert_eq!(names(&t), vec!["retry", "root", "step"]);
    let retry = t.spans_named("retry").next().unwrap();
    assert_eq!(retry.attribute("attempt"), Some(json!(2)));
}
