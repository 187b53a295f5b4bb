//! Ordering `#[trace]` with other attribute macros: written first, it is the outermost layer
//! and its span covers what the other attributes add. Also `#[tokio::main]` / `#[tokio::test]`.

use serde_json::json;
use spanwise::{StatusCode, Trace, trace};
use spanwise_decorate_demo::decorate;

fn last_trace() -> Trace {
    let id = spanwise::last_active_trace_id().expect("a trace ended on this thread");
    spanwise::get_trace(&id).expect("the trace is in the store")
}

/// A decorator that does traced work around the body and changes the output.
fn plus_one<R: std::ops::Add<i64, Output = R>>(name: &str, body: impl FnOnce() -> R) -> R {
    audit(name);
    body() + 1
}

#[trace]
fn audit(name: &str) {
    let _ = name;
}

#[trace]
#[decorate(plus_one)]
fn trace_written_first(x: i64) -> i64 {
    x * 10
}

#[decorate(plus_one)]
#[trace]
fn trace_written_second(x: i64) -> i64 {
    x * 10
}

#[test]
fn trace_written_first_wraps_what_the_decorator_adds() {
    assert_eq!(trace_written_first(2), 21);
    let t = last_trace();
    let root = t.root().unwrap();
    assert_eq!(root.name, "trace_written_first");
    assert_eq!(root.inputs(), Some(json!({"x": 2})));
    // The decorator's change to the output is inside the span...
    assert_eq!(root.outputs(), Some(json!(21)));
    // ...and so is the traced work it does.
    let kids = t.children(&root.span_id);
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].name, "audit");
    assert_eq!(
        kids[0].inputs(),
        Some(json!({"name": "trace_written_first"}))
    );
}

#[test]
fn trace_written_after_the_decorator_also_wraps_it() {
    // `decorate` expands first and keeps `#[trace]` on the function it emits.
    assert_eq!(trace_written_second(2), 21);
    let t = last_trace();
    let root = t.root().unwrap();
    assert_eq!(root.outputs(), Some(json!(21)));
    assert_eq!(t.children(&root.span_id).len(), 1);
}

#[test]
fn wrapping_by_hand_in_the_wrong_order_misses_the_outer_layer() {
    // As Python's incorrect order: the tracing layer inside the decorator does not see it.
    let traced = spanwise::trace_fn!("inner", |x: i64| x * 10, (x));
    assert_eq!(plus_one("outer", || traced(2)), 21);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.name, "inner");
    assert_eq!(root.outputs(), Some(json!(20)));
}

#[trace]
fn child_work(n: u32) -> u32 {
    n + 1
}

#[trace]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn app_main(n: u32) -> u32 {
    let a = child_work(n);
    tokio::task::yield_now().await;
    a + tokio::spawn(async { 1 }).await.unwrap()
}

#[tokio::main(flavor = "current_thread")]
#[trace(name = "app_main_2")]
async fn app_main_trace_second(n: u32) -> u32 {
    child_work(n)
}

#[test]
fn with_tokio_main_the_span_covers_the_whole_runtime() {
    assert_eq!(app_main(1), 3);
    let t = last_trace();
    let root = t.root().unwrap();
    assert_eq!(root.name, "app_main");
    assert_eq!(root.inputs(), Some(json!({"n": 1})));
    assert_eq!(root.outputs(), Some(json!(3)));
    assert_eq!(root.status.code, StatusCode::Ok);
    let kids = t.children(&root.span_id);
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].name, "child_work");

    assert_eq!(app_main_trace_second(4), 5);
    let t = last_trace();
    assert_eq!(t.root().unwrap().name, "app_main_2");
    assert_eq!(t.data.spans.len(), 2);
}

#[trace]
#[tokio::test]
async fn with_tokio_test_the_test_is_a_span() {
    let span = spanwise::current_span().expect("the test's own span");
    let trace_id = span.trace_id();
    assert_eq!(child_work(1), 2);
    // The child ended inside the test's still-open trace.
    assert_eq!(spanwise::current_span().unwrap().trace_id(), trace_id);
    assert_eq!(
        spanwise::last_active_trace_id().filter(|id| Some(*id) == trace_id),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[trace]
async fn with_tokio_test_written_first_the_test_is_a_span_too() {
    assert!(spanwise::current_span().is_some());
    tokio::task::yield_now().await;
    assert!(spanwise::current_span().is_some());
}
