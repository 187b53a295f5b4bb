//! Contexts across threads and tasks, late spans, and guard misuse.

use std::time::Duration;

use spanwise::{
    Context, ContextExt, FutureExt, Trace, current_span, current_trace_id, get_trace,
    last_active_trace_id, span, start_span,
};

fn trace_of(guard_trace: Option<spanwise::TraceId>) -> Trace {
    get_trace(&guard_trace.unwrap()).unwrap()
}

fn parent_name<'a>(t: &'a Trace, name: &str) -> Option<&'a str> {
    let s = t
        .spans_named(name)
        .next()
        .unwrap_or_else(|| panic!("no span {name}"));
    s.parent_span_id.map(|p| t.span(&p).unwrap().name.as_str())
}

#[test]
fn without_a_context_threads_start_their_own_traces() {
    let root = start_span("main");
    let other = std::thread::spawn(|| start_span("alone").trace_id())
        .join()
        .unwrap();
    assert_ne!(other, root.trace_id());
}

#[test]
fn run_attach_and_wrap_carry_the_context_to_other_threads() {
    let root = start_span("main");
    let id = root.trace_id();
    let ctx = Context::current();
    assert_eq!(ctx.trace_id(), id);
    assert_eq!(ctx.span_id(), root.span_id());
    let c1 = ctx.clone();
    let c2 = ctx.clone();
    let w = ctx.wrap(|i: u32| start_span(format!("wrapped-{i}")).trace_id());
    std::thread::scope(|s| {
        s.spawn(move || c1.run(|| drop(start_span("via-run"))));
        s.spawn(move || {
            let _g = c2.attach();
            drop(start_span("via-attach"));
        });
        s.spawn(|| assert_eq!(w(1), id));
    });
    spanwise::thread::spawn(|| drop(start_span("via-spawn")))
        .join()
        .unwrap();
    spanwise::thread::scope(|s| {
        s.spawn(|| drop(start_span("via-scope")));
    });
    drop(root);
    let t = trace_of(id);
    for n in [
        "via-run",
        "via-attach",
        "wrapped-1",
        "via-spawn",
        "via-scope",
    ] {
        assert_eq!(parent_name(&t, n), Some("main"), "{n}");
    }
    assert_eq!(t.data.spans.len(), 6);
}

#[test]
fn nested_attach_of_different_contexts_restores_in_order() {
    let a = start_span("a");
    let ctx_a = Context::current();
    drop(a);
    let b = start_span("b");
    let ctx_b = Context::current();
    {
        let _ga = ctx_a.attach();
        assert_eq!(current_trace_id(), ctx_a.trace_id());
        {
            let _gb = ctx_b.attach();
            assert_eq!(current_trace_id(), ctx_b.trace_id());
            let _e = Context::empty().attach();
            assert_eq!(
                current_trace_id(),
                None,
                "an empty context hides the current span"
            );
            let fresh = start_span("fresh");
            assert_ne!(fresh.trace_id(), ctx_a.trace_id());
            assert_ne!(fresh.trace_id(), ctx_b.trace_id());
        }
        assert_eq!(current_trace_id(), ctx_a.trace_id());
    }
    assert_eq!(current_trace_id(), b.trace_id());
    assert_eq!(current_span().unwrap().span_id(), b.span_id());
}

#[test]
fn a_context_of_an_ended_trace_records_late_spans_and_republishes() {
    let id = {
        let root = start_span("request");
        let ctx = Context::current();
        let id = root.trace_id();
        drop(root);
        assert_eq!(trace_of(id).data.spans.len(), 1);
        let before = spanwise::stats().late_updates;
        std::thread::spawn(move || {
            let _g = ctx.attach();
            drop(start_span("late"));
        })
        .join()
        .unwrap();
        assert!(spanwise::stats().late_updates > before);
        id
    };
    let t = trace_of(id);
    assert_eq!(t.data.spans.len(), 2);
    assert_eq!(parent_name(&t, "late"), Some("request"));
    assert_eq!(t.name(), Some("request"));
}

#[test]
fn a_guard_dropped_on_another_stack_position_keeps_the_stack_consistent() {
    let ctx = {
        let _r = start_span("r");
        Context::current()
    };
    let g = ctx.attach();
    let inner = start_span("inner");
    drop(g); // the attach guard goes first, out of order
    assert_eq!(current_span().unwrap().span_id(), inner.span_id());
    drop(inner);
    assert!(current_span().is_none());
    assert_eq!(current_trace_id(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_spawned_with_the_context_nest_even_when_they_outlive_the_root() {
    let (id, handles) = {
        let root = start_span("request");
        let handles: Vec<_> = (0..8)
            .map(|i| {
                spanwise::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(5 + i)).await;
                    async {
                        tokio::task::yield_now().await;
                        drop(start_span("inner"));
                    }
                    .in_span(span(format!("task-{i}")))
                    .await;
                })
            })
            .collect();
        (root.trace_id(), handles)
    }; // the root ends before the tasks
    for h in handles {
        h.await.unwrap();
    }
    let t = trace_of(id);
    assert_eq!(t.data.spans.len(), 1 + 8 * 2);
    for i in 0..8 {
        assert_eq!(parent_name(&t, &format!("task-{i}")), Some("request"));
    }
    for s in t.data.spans.iter().filter(|s| s.name.starts_with("inner")) {
        let p = t.span(&s.parent_span_id.unwrap()).unwrap();
        assert!(p.name.starts_with("task-"), "{}", p.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_context_and_in_current_context_carry_into_plain_tokio_spawn() {
    let root = start_span("root");
    let id = root.trace_id();
    let ctx = Context::current();
    let a = tokio::spawn(async { start_span("a").trace_id() }.in_current_context());
    let b = tokio::spawn(async { start_span("b").trace_id() }.in_context(ctx));
    let bare = tokio::spawn(async { start_span("bare").trace_id() });
    assert_eq!(a.await.unwrap(), id);
    assert_eq!(b.await.unwrap(), id);
    assert_ne!(
        bare.await.unwrap(),
        id,
        "without a context a task starts its own trace"
    );
    drop(root);
    assert_eq!(last_active_trace_id(), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_dropped_before_completion_ends_its_span_with_cancelled() {
    let fut = async {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    .in_span(span("slow"));
    let res = tokio::time::timeout(Duration::from_millis(10), fut).await;
    assert!(res.is_err());
    let t = get_trace(&last_active_trace_id().unwrap()).unwrap();
    let s = t.root().unwrap();
    assert_eq!(s.name, "slow");
    assert_eq!(s.events[0].name, "cancelled");
    assert_eq!(
        s.status.code,
        spanwise::StatusCode::Ok,
        "cancellation is not an error"
    );
}
