//! The behaviour both bridges must have, run by `tests/spans.rs` (the layer over a Registry)
//! and `tests/subscriber.rs` (`SpanwiseSubscriber`), each with its own global subscriber
//! installed by the including file's `init()`: hand-written `tracing` spans, the tree (names,
//! parents, one trace) in sync, async, multi-thread and multi-task code, both directions of
//! nesting with `#[trace]`, fields recorded later, events, errors, GenAI fields (and malformed
//! ones), a span that outlives its parent.

use serde_json::json;
use spanwise::{SpanType, StatusCode, Trace, TraceId, trace};
use tracing::Instrument;

use super::init;

pub(crate) fn trace_of(id: Option<TraceId>) -> Trace {
    spanwise::get_trace(&id.expect("recording")).expect("the trace is stored")
}

/// The span named `name` (exactly one).
pub(crate) fn span<'a>(t: &'a Trace, name: &str) -> &'a spanwise::Span {
    let mut found = t.data.spans.iter().filter(|s| s.name == name);
    let s = found.next().unwrap_or_else(|| panic!("no span {name}"));
    assert!(found.next().is_none(), "more than one span {name}");
    s
}

/// The name of `name`'s parent.
pub(crate) fn parent<'a>(t: &'a Trace, name: &str) -> Option<&'a str> {
    let s = span(t, name);
    s.parent_span_id
        .map(|p| t.span(&p).expect("parent in trace").name.as_str())
}

/// Every span's (name, parent name), sorted.
pub(crate) fn tree(t: &Trace) -> Vec<(String, Option<String>)> {
    let mut v: Vec<_> = t
        .data
        .spans
        .iter()
        .map(|s| {
            let p = s.parent_span_id.map(|p| t.span(&p).unwrap().name.clone());
            (s.name.clone(), p)
        })
        .collect();
    v.sort();
    v
}

/// The spans called `name` more than once: MLflow (and so spanwise) numbers repeated names,
/// `name_1`, `name_2`, ...
fn repeated<'a>(t: &'a Trace, name: &str, count: usize) -> Vec<&'a spanwise::Span> {
    let found: Vec<_> = (1..=count)
        .map(|i| span(t, &format!("{name}_{i}")))
        .collect();
    assert!(
        t.spans_named(&format!("{name}_{}", count + 1))
            .next()
            .is_none()
    );
    found
}

pub(crate) fn edge(name: &str, parent: Option<&str>) -> (String, Option<String>) {
    (name.to_owned(), parent.map(str::to_owned))
}

#[trace]
fn outer() -> Option<TraceId> {
    middle(2);
    spanwise::current_trace_id()
}

#[tracing::instrument]
fn middle(n: u32) {
    inner(n);
}

#[trace]
fn inner(n: u32) -> u32 {
    let _leaf = tracing::info_span!("leaf", n).entered();
    n + 1
}

#[test]
fn trace_to_instrument_to_trace_nests_in_both_directions() {
    init();
    let t = trace_of(outer());
    assert_eq!(
        tree(&t),
        vec![
            edge("inner", Some("middle")),
            edge("leaf", Some("inner")),
            edge("middle", Some("outer")),
            edge("outer", None),
        ]
    );
    let middle = span(&t, "middle");
    assert_eq!(
        middle.attribute("n"),
        Some(json!(2)),
        "fields are attributes"
    );
    assert_eq!(middle.status.code, StatusCode::Ok);
    assert_eq!(span(&t, "leaf").attribute("n"), Some(json!(2)));
}

#[test]
fn a_tracing_span_with_nothing_current_starts_its_own_trace() {
    init();
    let root = tracing::info_span!("rig_only", user = "ada");
    let id = root.in_scope(|| {
        let _child = tracing::debug_span!("step").entered();
        spanwise::current_trace_id()
    });
    drop(root);
    let t = trace_of(id);
    assert_eq!(
        tree(&t),
        vec![edge("rig_only", None), edge("step", Some("rig_only"))]
    );
    assert_eq!(t.name(), Some("rig_only"));
}

#[test]
fn explicit_parents_are_followed_and_an_explicit_root_nests_under_trace() {
    init();
    let root = spanwise::start_span("root");
    let a = tracing::info_span!("a");
    let b = tracing::info_span!("b");
    // `b` entered, but `c` names `a` as its parent.
    let c = b.in_scope(|| tracing::info_span!(parent: &a, "c"));
    drop(c);
    // `parent: None` (rig's `invoke_agent` does this) under a #[trace] span: nests under it.
    let d = tracing::info_span!(parent: None, "d");
    drop(d);
    // ... but under an entered tracing span it starts a trace of its own.
    let own = b.in_scope(|| {
        let e = tracing::info_span!(parent: None, "e");
        e.in_scope(spanwise::current_trace_id)
    });
    drop((a, b));
    let id = root.trace_id();
    drop(root);
    let t = trace_of(id);
    assert_eq!(
        tree(&t),
        vec![
            edge("a", Some("root")),
            edge("b", Some("root")),
            edge("c", Some("a")),
            edge("d", Some("root")),
            edge("root", None),
        ]
    );
    assert_ne!(own, id);
    assert_eq!(tree(&trace_of(own)), vec![edge("e", None)]);
}

#[trace]
async fn handler() -> Option<TraceId> {
    let fetched = fetch()
        .instrument(tracing::info_span!("fetch", url = "/a"))
        .await;
    assert_eq!(fetched, 7);
    spanwise::current_trace_id()
}

async fn fetch() -> u32 {
    tokio::task::yield_now().await;
    let v = parse().await;
    tokio::task::yield_now().await;
    tracing::info!(bytes = 12_u64, "received");
    v
}

#[trace]
async fn parse() -> u32 {
    tokio::task::yield_now().await;
    7
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instrumented_futures_nest_across_polls_and_threads() {
    init();
    let id = handler().await;
    let t = trace_of(id);
    assert_eq!(
        tree(&t),
        vec![
            edge("fetch", Some("handler")),
            edge("handler", None),
            edge("parse", Some("fetch")),
        ]
    );
    let fetch = span(&t, "fetch");
    assert_eq!(fetch.attribute("url"), Some(json!("/a")));
    assert_eq!(fetch.events.len(), 1);
    assert_eq!(fetch.events[0].name, "received");
    assert_eq!(fetch.events[0].attributes["bytes"], json!(12));
    assert_eq!(fetch.events[0].attributes["level"], json!("INFO"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_nest_their_tracing_spans() {
    init();
    let root = spanwise::start_span("batch");
    let handles: Vec<_> = (0..3)
        .map(|i| {
            spanwise::spawn(
                async move {
                    tokio::task::yield_now().await;
                    let _inner = spanwise::start_span(format!("work {i}"));
                }
                .instrument(tracing::info_span!("task", i)),
            )
        })
        .collect();
    let id = root.trace_id();
    drop(root); // the tasks may outlive it: late spans of the same trace
    for h in handles {
        h.await.unwrap();
    }
    let t = trace_of(id);
    assert_eq!(t.data.spans.len(), 7);
    for task in repeated(&t, "task", 3) {
        assert_eq!(t.span(&task.parent_span_id.unwrap()).unwrap().name, "batch");
        let i = task.attribute("i").unwrap();
        let work = format!("work {i}");
        assert!(parent(&t, &work).unwrap().starts_with("task_"));
        assert_eq!(span(&t, &work).parent_span_id, Some(task.span_id));
    }
}

#[test]
fn threads_handed_a_context_and_a_span_entered_on_two_threads_at_once() {
    init();
    let root = spanwise::start_span("main");
    let handle = spanwise::thread::spawn(|| {
        let _s = tracing::info_span!("on thread").entered();
        let _c = spanwise::start_span("thread child");
    });
    handle.join().unwrap();
    let shared = tracing::info_span!("shared");
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        for i in 0..2 {
            let (shared, barrier) = (&shared, &barrier);
            scope.spawn(move || {
                shared.in_scope(|| {
                    barrier.wait(); // both threads have it entered now
                    let _w = spanwise::start_span(format!("worker {i}"));
                    let _t = tracing::info_span!("traced", i).entered();
                    barrier.wait();
                })
            });
        }
    });
    drop(shared);
    let id = root.trace_id();
    drop(root);
    let t = trace_of(id);
    assert_eq!(parent(&t, "on thread"), Some("main"));
    assert_eq!(parent(&t, "thread child"), Some("on thread"));
    assert_eq!(parent(&t, "shared"), Some("main"));
    assert_eq!(parent(&t, "worker 0"), Some("shared"));
    assert_eq!(parent(&t, "worker 1"), Some("shared"));
    for s in repeated(&t, "traced", 2) {
        let worker = format!("worker {}", s.attribute("i").unwrap());
        assert_eq!(s.parent_span_id, Some(span(&t, &worker).span_id));
    }
}

#[derive(Debug)]
struct Outer(std::io::Error);
impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("lookup failed")
    }
}
impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[tracing::instrument(err)]
fn may_fail(ok: bool) -> Result<u32, String> {
    if ok { Ok(1) } else { Err("bad input".into()) }
}

#[test]
fn errors_become_exception_events_and_error_status() {
    init();
    let root = spanwise::start_span("errors");
    let _ = may_fail(true);
    let _ = may_fail(false);
    tracing::info_span!("event").in_scope(|| {
        tracing::error!(code = 7, "disk full");
    });
    tracing::info_span!("dyn_error").in_scope(|| {
        let e = Outer(std::io::Error::other("no route"));
        tracing::warn!(error = &e as &dyn std::error::Error, "retrying");
    });
    tracing::info_span!("typed").in_scope(|| {
        tracing::error!(error = "timeout", error.type = "TimeoutError");
    });
    drop(tracing::info_span!("field", error = "broken"));
    drop(tracing::info_span!(
        "otel",
        otel.status_code = "ERROR",
        otel.status_message = "upstream 503"
    ));
    let id = root.trace_id();
    drop(root);
    let t = trace_of(id);

    let mut ok_and_failed = repeated(&t, "may_fail", 2);
    ok_and_failed.sort_by_key(|s| s.attribute("ok") == Some(json!(false)));
    assert_eq!(ok_and_failed[0].status.code, StatusCode::Ok);
    assert!(ok_and_failed[0].events.is_empty());
    let failed = ok_and_failed[1];
    assert_eq!(failed.status.code, StatusCode::Error);
    assert_eq!(failed.status.message, "Error: bad input");
    let ex = &failed.events[0];
    assert_eq!(ex.name, "exception");
    assert_eq!(ex.attributes["exception.type"], json!("Error"));
    assert_eq!(ex.attributes["exception.message"], json!("bad input"));

    let event = span(&t, "event");
    assert_eq!(event.status.message, "Error: disk full");
    assert_eq!(
        event.events[0].attributes["exception.message"],
        json!("disk full")
    );
    assert_eq!(event.events[0].attributes["code"], json!(7));
    assert_eq!(event.events[0].attributes["level"], json!("ERROR"));

    let dyn_error = span(&t, "dyn_error");
    assert_eq!(dyn_error.status.message, "Error: lookup failed");
    assert_eq!(
        dyn_error.events[0].attributes["exception.stacktrace"],
        json!("Error: lookup failed\nCaused by:\n  0: no route")
    );
    assert_eq!(dyn_error.events[0].attributes["message"], json!("retrying"));

    let typed = span(&t, "typed");
    assert_eq!(typed.status.message, "TimeoutError: timeout");
    assert_eq!(
        typed.events[0].attributes["exception.type"],
        json!("TimeoutError")
    );

    let field = span(&t, "field");
    assert_eq!(field.status.message, "Error: broken");
    assert_eq!(field.exceptions().count(), 1);
    assert_eq!(field.attribute("error"), Some(json!("broken")));

    let otel = span(&t, "otel");
    assert_eq!(otel.status.code, StatusCode::Error);
    assert_eq!(otel.status.message, "upstream 503");
    assert_eq!(span(&t, "errors").status.code, StatusCode::Ok);
}

#[test]
fn fields_recorded_later_and_a_span_that_outlives_its_parent() {
    init();
    let root = spanwise::start_span("request");
    let late = tracing::info_span!(
        "background",
        status = tracing::field::Empty,
        otel.name = "background job"
    );
    late.record("status", "queued");
    let id = root.trace_id();
    drop(root); // the trace is published without the span
    let t = trace_of(id);
    assert_eq!(tree(&t), vec![edge("request", None)]);

    late.record("status", "done");
    late.in_scope(|| tracing::info!("finishing"));
    drop(late); // now a late span of the same trace: re-published
    let t = trace_of(id);
    assert_eq!(
        tree(&t),
        vec![
            edge("background job", Some("request")),
            edge("request", None)
        ]
    );
    let bg = span(&t, "background job");
    assert_eq!(bg.attribute("status"), Some(json!("done")));
    assert_eq!(bg.events[0].name, "finishing");
}

#[test]
fn an_event_inside_a_trace_span_inside_a_tracing_span_goes_to_the_innermost() {
    init();
    let root = spanwise::start_span("root");
    tracing::info_span!("outer tracing").in_scope(|| {
        let _native = spanwise::start_span("native");
        tracing::info!(k = true, "here");
    });
    let id = root.trace_id();
    drop(root);
    let t = trace_of(id);
    assert!(span(&t, "outer tracing").events.is_empty());
    let native = span(&t, "native");
    assert_eq!(native.events[0].name, "here");
    assert_eq!(native.events[0].attributes["k"], json!(true));
}

#[test]
fn genai_fields_map_as_mlflow_maps_them() {
    init();
    let root = spanwise::start_span("agent run");
    tracing::info_span!(
        "invoke_agent",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = "helper"
    )
    .in_scope(|| {
        let chat = tracing::info_span!(
            "chat",
            gen_ai.operation.name = "chat",
            gen_ai.provider.name = "openai",
            gen_ai.request.model = "gpt-4o-mini",
            gen_ai.response.model = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            gen_ai.usage.cache_read.input_tokens = tracing::field::Empty,
            gen_ai.input.messages = tracing::field::Empty,
            gen_ai.output.messages = tracing::field::Empty,
        );
        chat.record(
            "gen_ai.input.messages",
            r#"[{"role":"user","parts":[{"type":"text","content":"hi"}]}]"#,
        );
        chat.record("gen_ai.usage.input_tokens", 12_u64);
        chat.record("gen_ai.usage.output_tokens", 30_u64);
        chat.record("gen_ai.usage.cache_read.input_tokens", 4_u64);
        chat.record("gen_ai.response.model", "gpt-4o-mini-2024-07-18");
        chat.record(
            "gen_ai.output.messages",
            r#"[{"role":"assistant","parts":[{"type":"text","content":"hello"}]}]"#,
        );
        drop(chat);
        let tool = tracing::info_span!(
            "execute_tool",
            gen_ai.operation.name = "execute_tool",
            gen_ai.tool.name = "add",
            gen_ai.tool.call.arguments = r#"{"x":1,"y":2}"#,
            gen_ai.tool.call.result = "3",
        );
        drop(tool);
        drop(tracing::info_span!(
            "embed",
            gen_ai.operation.name = "embeddings"
        ));
    });
    let id = root.trace_id();
    drop(root);
    let t = trace_of(id);
    assert_eq!(span(&t, "invoke_agent").span_type(), SpanType::Agent);
    assert_eq!(span(&t, "embed").span_type(), SpanType::Embedding);
    let chat = span(&t, "chat");
    assert_eq!(parent(&t, "chat"), Some("invoke_agent"));
    assert_eq!(chat.span_type(), SpanType::ChatModel);
    assert_eq!(
        chat.attribute("mlflow.chat.tokenUsage"),
        Some(
            json!({"input_tokens": 12, "output_tokens": 30, "total_tokens": 42,
                    "cache_read_input_tokens": 4})
        )
    );
    assert_eq!(
        chat.inputs(),
        Some(json!([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]))
    );
    assert_eq!(
        chat.outputs(),
        Some(json!([{"role": "assistant", "parts": [{"type": "text", "content": "hello"}]}]))
    );
    assert_eq!(
        chat.attribute("mlflow.llm.model"),
        Some(json!("gpt-4o-mini-2024-07-18"))
    );
    assert_eq!(chat.attribute("mlflow.llm.provider"), Some(json!("openai")));
    assert_eq!(
        chat.attribute("gen_ai.usage.input_tokens"),
        Some(json!(12)),
        "kept as attribute"
    );
    let tool = span(&t, "execute_tool");
    assert_eq!(tool.span_type(), SpanType::Tool);
    assert_eq!(tool.inputs(), Some(json!({"x": 1, "y": 2})));
    assert_eq!(tool.outputs(), Some(json!(3)));
}

#[test]
fn malformed_genai_fields_stay_plain_attributes() {
    init();
    let root = spanwise::start_span("malformed");
    drop(tracing::info_span!(
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.usage.input_tokens = "lots",
        gen_ai.usage.output_tokens = -1_i64,
        gen_ai.input.messages = "hello, not json",
        gen_ai.output.messages = 42_u64,
        gen_ai.request.model = 3.5_f64,
    ));
    let id = root.trace_id();
    drop(root);
    let t = trace_of(id);
    let chat = span(&t, "chat");
    assert_eq!(chat.span_type(), SpanType::ChatModel);
    assert_eq!(chat.attribute("mlflow.chat.tokenUsage"), None);
    assert_eq!(chat.inputs(), None);
    assert_eq!(chat.outputs(), None);
    assert_eq!(chat.attribute("mlflow.llm.model"), None);
    assert_eq!(
        chat.attribute("gen_ai.usage.input_tokens"),
        Some(json!("lots"))
    );
    assert_eq!(
        chat.attribute("gen_ai.usage.output_tokens"),
        Some(json!(-1))
    );
    assert_eq!(
        chat.attribute("gen_ai.input.messages"),
        Some(json!("hello, not json"))
    );
    assert_eq!(chat.attribute("gen_ai.output.messages"), Some(json!(42)));
}

/// A value whose `Debug` logs: formatting it must not wait for the span it is recorded on.
struct Chatty;
impl std::fmt::Debug for Chatty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        tracing::info!("formatting");
        f.write_str("chatty")
    }
}

#[test]
fn a_recorded_value_whose_debug_logs_does_not_deadlock() {
    init();
    let root = spanwise::start_span("chatty root");
    let s = tracing::info_span!("chatty", v = tracing::field::Empty);
    s.in_scope(|| s.record("v", tracing::field::debug(Chatty)));
    drop(s);
    let id = root.trace_id();
    drop(root);
    let t = trace_of(id);
    let chatty = span(&t, "chatty");
    assert_eq!(chatty.attribute("v"), Some(json!("chatty")));
    assert_eq!(chatty.events[0].name, "formatting");
}
