//! `tracing_subscriber` filters decide what the bridge sees (level and target, globally or per
//! layer), `Unparented::Ignore` records only spans inside a spanwise trace, and an unparented
//! span's own trace takes its events and fields. Each test runs
//! on its own thread with its own subscriber (`with_default`).

use serde_json::json;
use spanwise_tracing::{SpanwiseLayer, Unparented};
use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

#[path = "shared/filtered.rs"]
mod filtered;

use filtered::{check_info_level_filter, check_noisy_target_filter, names, run_under_root};

#[test]
fn a_per_layer_level_filter_keeps_debug_spans_and_events_out() {
    check_info_level_filter(
        tracing_subscriber::registry()
            .with(spanwise_tracing::layer().with_filter(LevelFilter::INFO)),
    );
}

#[test]
fn a_targets_filter_selects_libraries() {
    let filter = Targets::new()
        .with_target("noisy", Level::WARN)
        .with_default(Level::TRACE);
    check_noisy_target_filter(
        tracing_subscriber::registry().with(spanwise_tracing::layer().with_filter(filter)),
    );
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
