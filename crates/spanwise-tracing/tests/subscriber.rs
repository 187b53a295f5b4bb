//! `SpanwiseSubscriber`, the bridge without a Registry: every case of `shared/spans.rs` (the
//! layer's behaviour: nesting in both directions, `.instrument` on a multi-thread runtime,
//! events, errors, GenAI mapping, ...) under it as the global subscriber, and what is its own:
//! reference counting across threads, `Span::current()`, filters composed on top, unrecorded
//! spans, and ids it never handed out.

use std::sync::Once;

use serde_json::json;
use spanwise_tracing::{SpanwiseSubscriber, Unparented};
use tracing::span::Id;
use tracing::{Level, Span, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// One global subscriber for the whole test binary (threads and tasks see it too).
fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing::subscriber::set_global_default(spanwise_tracing::subscriber()).unwrap();
    });
}

#[path = "shared/spans.rs"]
mod cases;

use cases::{edge, span, tree};

#[path = "shared/filtered.rs"]
mod filtered;

use filtered::{check_info_level_filter, check_noisy_target_filter, names, run_under_root};

#[test]
fn a_span_cloned_to_another_thread_closes_when_its_last_handle_drops() {
    init();
    let t = run_under_root(|| {
        let shared = tracing::info_span!("shared", late = tracing::field::Empty);
        let clone = shared.clone();
        drop(shared); // not the last handle: the span stays open
        std::thread::spawn(move || {
            clone.record("late", "still open");
            clone.in_scope(|| drop(spanwise::start_span("inside")));
            drop(clone); // the last handle: the span ends here, on this thread
        })
        .join()
        .unwrap();
    });
    assert_eq!(
        tree(&t),
        vec![
            edge("inside", Some("shared")),
            edge("root", None),
            edge("shared", Some("root")),
        ]
    );
    let shared = span(&t, "shared");
    assert_eq!(shared.attribute("late"), Some(json!("still open")));
    assert!(shared.end_time_unix_nano.is_some());
}

#[test]
fn span_current_is_the_innermost_entered_span_and_its_handle_keeps_it_open() {
    init();
    let t = run_under_root(|| {
        let outer = tracing::info_span!("outer", after = tracing::field::Empty);
        outer.in_scope(|| {
            let current = Span::current();
            assert_eq!(current.id(), outer.id());
            assert_eq!(current.metadata().map(|m| m.name()), Some("outer"));
            let inner = tracing::info_span!("inner");
            inner.in_scope(|| assert_eq!(Span::current().id(), inner.id()));
            assert_eq!(
                Span::current().id(),
                outer.id(),
                "back to outer after the exit"
            );
            drop(tracing::info_span!(parent: &current, "explicit child"));
        });
        // The handles `Span::current()` made are gone; `outer` is still open.
        outer.record("after", true);
        drop(outer);
        assert!(
            Span::current().is_none(),
            "a spanwise span is not a tracing span"
        );
    });
    assert_eq!(
        tree(&t),
        vec![
            edge("explicit child", Some("outer")),
            edge("inner", Some("outer")),
            edge("outer", Some("root")),
            edge("root", None),
        ]
    );
    assert_eq!(span(&t, "outer").attribute("after"), Some(json!(true)));
}

#[test]
fn a_level_filter_composed_on_top_keeps_debug_spans_and_events_out() {
    let alone = spanwise_tracing::subscriber();
    assert_eq!(
        alone.max_level_hint(),
        None,
        "no opinion: every level is recorded"
    );
    let subscriber = alone.with(LevelFilter::INFO);
    assert_eq!(subscriber.max_level_hint(), Some(LevelFilter::INFO));
    check_info_level_filter(subscriber);
}

#[test]
fn targets_and_env_filters_composed_on_top_select_libraries() {
    let targets = Targets::new()
        .with_target("noisy", Level::WARN)
        .with_default(Level::TRACE);
    let env = EnvFilter::new("trace,noisy=warn");
    check_noisy_target_filter(spanwise_tracing::subscriber().with(targets));
    check_noisy_target_filter(spanwise_tracing::subscriber().with(env));
}

#[test]
fn ignore_records_only_spans_inside_a_spanwise_trace_and_they_share_one_id() {
    let subscriber = SpanwiseSubscriber::new().unparented(Unparented::Ignore);
    tracing::subscriber::with_default(subscriber, || {
        let outside = tracing::info_span!("outside");
        let other = tracing::info_span!("other outside");
        assert_eq!(
            outside.id(),
            other.id(),
            "unrecorded spans share the reserved id"
        );
        let seen = outside.in_scope(|| {
            let _child = tracing::info_span!("child of outside").entered();
            tracing::info!("nowhere to go");
            spanwise::current_trace_id()
        });
        assert_eq!(seen, None, "nothing recorded outside a trace");
        drop((outside, other));
        let t = run_under_root(|| {
            tracing::info_span!("inside").in_scope(|| drop(tracing::info_span!("nested")));
        });
        assert_eq!(names(&t), vec!["inside", "nested", "root"]);
    });
}

#[test]
fn ids_it_never_handed_out_do_nothing_harmful() {
    tracing::subscriber::with_default(spanwise_tracing::subscriber(), || {
        let t = run_under_root(|| {
            let real = tracing::info_span!("real", n = tracing::field::Empty);
            let real_id = real.id().unwrap().into_u64();
            let forged = (1..=64)
                .chain([real_id + 1, real_id + (1 << 40), 1 << 62, 1 << 63])
                .chain([(1 << 63) + 1, u64::MAX - 1, u64::MAX])
                .filter(|f| *f != real_id)
                .collect::<Vec<u64>>();
            tracing::dispatcher::get_default(|d| {
                for &f in &forged {
                    let id = Id::from_u64(f);
                    d.enter(&id);
                    let _ = d.current_span();
                    d.exit(&id);
                    // Balanced: never closes a span, even one the id happens to name.
                    let clone = d.clone_span(&id);
                    d.try_close(clone);
                }
                // Closes for good, once; the real handle's close after it does nothing.
                assert!(d.try_close(Id::from_u64(real_id)));
                assert!(!d.try_close(Id::from_u64(real_id)));
                assert!(!d.try_close(Id::from_u64(u64::MAX)));
            });
            assert!(
                spanwise::current_span().is_some(),
                "the thread's spanwise stack is intact"
            );
            real.record("n", 1_u64); // the span is closed: not recorded
            real.in_scope(|| drop(spanwise::start_span("after close")));
            drop(real);
        });
        assert_eq!(
            tree(&t),
            vec![
                edge("after close", Some("root")),
                edge("real", Some("root")),
                edge("root", None),
            ]
        );
        assert_eq!(span(&t, "real").attribute("n"), None);
    });
}
