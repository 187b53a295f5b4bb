//! `tracing_subscriber` filters decide what the bridge sees (level and target, globally or per
//! layer), `Unparented::Ignore` records only spans inside a spanwise trace, and an unparented
//! span's own trace takes its events and fields. Each test runs
//! on its own thread with its own subscriber (`with_default`).

use serde_json::json;
use spanwise::Trace;
use spanwise_tracing::{SpanwiseLayer, Unparented};
use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

fn names(t: &Trace) -> Vec<&str> {
    let mut v: Vec<_> = t.data.spans.iter().map(|s| s.name.as_str()).collect();
    v.sort();
    v
}

fn run_under_root(f: impl FnOnce()) -> Trace {
    let root = spanwise::start_span("root");
    f();
    let id = root.trace_id().unwrap();
    drop(root);
    spanwise::get_trace(&id).unwrap()
}

#[test]
fn a_per_layer_level_filter_keeps_debug_spans_and_events_out() {
    let subscriber = tracing_subscriber::registry()
        .with(spanwise_tracing::layer().with_filter(LevelFilter::INFO));
    let t = tracing::subscriber::with_default(subscriber, || {
        run_under_root(|| {
            tracing::info_span!("kept").in_scope(|| {
                tracing::debug!("dropped event");
                tracing::info!("kept event");
                // A filtered-out span is transparent: what is inside nests under `kept`.
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

#[test]
fn a_targets_filter_selects_libraries() {
    let filter = Targets::new()
        .with_target("noisy", Level::WARN)
        .with_default(Level::TRACE);
    let subscriber =
        tracing_subscriber::registry().with(spanwise_tracing::layer().with_filter(filter));
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

#[test]
fn ignore_records_only_spans_inside_a_spanwise_trace() {
    let subscriber =
        tracing_subscriber::registry().with(SpanwiseLayer::new().unparented(Unparented::Ignore));
    tracing::subscriber::with_default(subscriber, || {
        let outside = tracing::info_span!("outside");
        let seen = outside.in_scope(|| {
            let _child = tracing::info_span!("child of outside").entered();
            spanwise::current_trace_id()
        });
        assert_eq!(seen, None, "nothing recorded outside a trace");
        drop(outside);
        let t = run_under_root(|| {
            tracing::info_span!("inside").in_scope(|| {
                drop(tracing::info_span!("nested"));
            });
        });
        assert_eq!(names(&t), vec!["inside", "nested", "root"]);
    });
}

#[test]
fn an_unparented_span_takes_events_by_explicit_parent_and_later_fields() {
    let subscriber = tracing_subscriber::registry().with(spanwise_tracing::layer());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("own trace", late = tracing::field::Empty);
        let id = span.in_scope(spanwise::current_trace_id);
        assert!(id.is_some());
        span.record("late", 1_u64);
        tracing::info!(parent: &span, "event with an explicit parent");
        drop(span);
        let t = spanwise::get_trace(&id.unwrap()).unwrap();
        let s = &t.data.spans[0];
        assert_eq!(s.attribute("late"), Some(json!(1)));
        assert_eq!(s.events[0].name, "event with an explicit parent");
    });
}
