//! The low-level client API: spans by explicit ids, across functions and threads.
//!
//! Tests in this binary share the global runtime and run in parallel: each one identifies its
//! traces by the ids it got.

use std::sync::Once;

use serde_json::json;
use spanwise::{
    Client, EndOptions, Error, SpanId, SpanOptions, SpanStatus, SpanType, StatusCode, TraceId,
    TraceState, TraceUpdate, UNFINISHED_SPAN_EVENT, UNFINISHED_SPAN_MESSAGE,
};

fn client() -> Client {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // Memory only: these tests read the in-memory store.
        std::mem::forget(spanwise::init_with(spanwise::Config::new().no_destination()).unwrap());
    });
    Client::new()
}

fn invalid_span(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::InvalidSpan(message)) => message,
        other => panic!("expected Error::InvalidSpan, got {other:?}"),
    }
}

#[test]
fn a_trace_keeps_every_option_given() {
    let client = client();
    let root = client.start_trace(
        "predict",
        SpanOptions::new()
            .span_type(SpanType::Chain)
            .inputs(json!({"question": "why?"}))
            .attribute("model", "gpt-4o-mini")
            .attributes(json!({"temperature": 0.5, "top_k": 3}))
            .tag("fruit", "apple")
            .start_time_ns(1_700_000_000_000_000_000),
    );
    let child = client
        .start_span(
            "retrieve",
            root.trace_id,
            root.span_id,
            SpanOptions::new()
                .span_type(SpanType::Retriever)
                .inputs("why")
                .tag("stage", "retrieval")
                .start_time_ns(1_700_000_000_100_000_000),
        )
        .unwrap();
    assert_eq!(child.trace_id, root.trace_id);
    client
        .end_span(
            child.trace_id,
            child.span_id,
            EndOptions::new()
                .outputs(json!(["doc-1"]))
                .attribute("hits", 1)
                .end_time_ns(1_700_000_000_200_000_000),
        )
        .unwrap();
    client
        .end_trace(
            root.trace_id,
            EndOptions::new()
                .outputs("because")
                .attribute("tokens", 12)
                .end_time_ns(1_700_000_000_500_000_000),
        )
        .unwrap();

    let trace = client
        .get_trace(&root.trace_id)
        .expect("stored at end_trace");
    assert_eq!(trace.info.state, TraceState::Ok);
    assert_eq!(trace.info.tags["mlflow.traceName"], "predict");
    assert_eq!(trace.info.tags["fruit"], "apple");
    assert_eq!(trace.info.tags["stage"], "retrieval");
    assert_eq!(trace.info.execution_duration_ms, Some(500));
    assert_eq!(
        trace.info.request_preview.as_deref(),
        Some(r#"{"question": "why?"}"#)
    );
    assert_eq!(trace.info.response_preview.as_deref(), Some(r#""because""#));

    let r = trace.span(&root.span_id).unwrap();
    assert_eq!(r.parent_span_id, None);
    assert_eq!(r.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(r.end_time_unix_nano, Some(1_700_000_000_500_000_000));
    assert_eq!(r.attribute("mlflow.spanType"), Some(json!("CHAIN")));
    assert_eq!(r.attribute("model"), Some(json!("gpt-4o-mini")));
    assert_eq!(r.attribute("temperature"), Some(json!(0.5)));
    assert_eq!(r.attribute("top_k"), Some(json!(3)));
    assert_eq!(r.attribute("tokens"), Some(json!(12)));
    assert_eq!(r.outputs(), Some(json!("because")));
    assert_eq!(r.status.code, StatusCode::Ok);

    let c = trace.span(&child.span_id).unwrap();
    assert_eq!(c.parent_span_id, Some(root.span_id));
    assert_eq!(c.name, "retrieve");
    assert_eq!(c.attribute("mlflow.spanType"), Some(json!("RETRIEVER")));
    assert_eq!(c.inputs(), Some(json!("why")));
    assert_eq!(c.outputs(), Some(json!(["doc-1"])));
    assert_eq!(c.attribute("hits"), Some(json!(1)));
    assert_eq!(c.end_time_unix_nano, Some(1_700_000_000_200_000_000));
}

#[test]
fn spans_start_and_end_on_different_threads() {
    let client = client();
    let root = client.start_trace("fan_out", SpanOptions::new());
    // Each worker starts its span; another thread ends it.
    let started: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                Client::new()
                    .start_span(
                        format!("worker_{i}"),
                        root.trace_id,
                        root.span_id,
                        SpanOptions::new(),
                    )
                    .unwrap()
            })
        })
        .map(|h| h.join().unwrap())
        .collect();
    let enders: Vec<_> = started
        .iter()
        .map(|ids| {
            let ids = *ids;
            std::thread::spawn(move || {
                let grandchild = Client::new()
                    .start_span("step", ids.trace_id, ids.span_id, SpanOptions::new())
                    .unwrap();
                Client::new()
                    .end_span(grandchild.trace_id, grandchild.span_id, EndOptions::new())
                    .unwrap();
                Client::new()
                    .end_span(
                        ids.trace_id,
                        ids.span_id,
                        EndOptions::new().outputs(ids.span_id.to_hex()),
                    )
                    .unwrap();
            })
        })
        .collect();
    for h in enders {
        h.join().unwrap();
    }
    client.end_trace(root.trace_id, EndOptions::new()).unwrap();

    let trace = client.get_trace(&root.trace_id).unwrap();
    assert_eq!(trace.data.spans.len(), 1 + 4 + 4);
    let workers = trace.children(&root.span_id);
    assert_eq!(workers.len(), 4);
    for w in workers {
        assert_eq!(w.status.code, StatusCode::Ok);
        assert_eq!(w.outputs(), Some(json!(w.span_id.to_hex())));
        let steps = trace.children(&w.span_id);
        assert_eq!(steps.len(), 1);
        // Four spans were named "step": de-duplicated at the end of the trace.
        assert!(steps[0].name.starts_with("step_"), "{}", steps[0].name);
    }
}

#[test]
fn client_spans_do_not_join_the_thread_context() {
    let client = client();
    let root = client.start_trace("explicit", SpanOptions::new());
    assert!(spanwise::current_span().is_none());
    assert_eq!(spanwise::current_trace_id(), None);
    let separate = spanwise::start_span("implicit");
    let separate_id = separate.trace_id().unwrap();
    drop(separate);
    assert_ne!(separate_id, root.trace_id);
    client.end_trace(root.trace_id, EndOptions::new()).unwrap();
    assert_eq!(
        client.get_trace(&root.trace_id).unwrap().data.spans.len(),
        1
    );
    assert_eq!(
        spanwise::get_trace(&separate_id).unwrap().data.spans.len(),
        1
    );
}

#[test]
fn attaching_a_client_context_nests_thread_spans_under_it() {
    let client = client();
    let root = client.start_trace("request", SpanOptions::new());
    let tool = client
        .start_span("tool", root.trace_id, root.span_id, SpanOptions::new())
        .unwrap();
    let ctx = client.context_of(tool.trace_id, tool.span_id).unwrap();
    std::thread::spawn(move || {
        let _attached = ctx.attach();
        let outer = spanwise::start_span("inside_tool");
        let _inner = spanwise::start_span("deeper");
        assert_eq!(outer.trace_id(), Some(tool.trace_id));
    })
    .join()
    .unwrap();
    client
        .end_span(tool.trace_id, tool.span_id, EndOptions::new())
        .unwrap();
    client.end_trace(root.trace_id, EndOptions::new()).unwrap();

    let trace = client.get_trace(&root.trace_id).unwrap();
    let inside = trace.spans_named("inside_tool").next().unwrap();
    assert_eq!(inside.parent_span_id, Some(tool.span_id));
    let deeper = trace.spans_named("deeper").next().unwrap();
    assert_eq!(deeper.parent_span_id, Some(inside.span_id));
}

#[test]
fn bad_ids_are_typed_errors() {
    let client = client();
    let a = client.start_trace("a", SpanOptions::new());
    let b = client.start_trace("b", SpanOptions::new());
    let unknown_trace = TraceId::random();
    let unknown_span = SpanId::random();

    let m = invalid_span(client.start_span("x", unknown_trace, a.span_id, SpanOptions::new()));
    assert!(
        m.contains("not open") && m.contains(&unknown_trace.to_string()),
        "{m}"
    );
    let m = invalid_span(client.start_span("x", a.trace_id, unknown_span, SpanOptions::new()));
    assert!(m.contains(&unknown_span.to_string()), "{m}");
    // A parent from another open trace is named as such.
    let m = invalid_span(client.start_span("x", a.trace_id, b.span_id, SpanOptions::new()));
    assert!(
        m.contains("belongs to trace") && m.contains(&b.trace_id.to_string()),
        "{m}"
    );
    invalid_span(client.end_span(a.trace_id, unknown_span, EndOptions::new()));
    invalid_span(client.end_span(unknown_trace, a.span_id, EndOptions::new()));
    invalid_span(client.end_span(a.trace_id, b.span_id, EndOptions::new()));
    invalid_span(client.end_trace(unknown_trace, EndOptions::new()));
    invalid_span(client.context_of(a.trace_id, b.span_id));
    invalid_span(client.update_trace(unknown_trace, TraceUpdate::new()));

    // Already ended: a span, then the trace.
    let s = client
        .start_span("s", a.trace_id, a.span_id, SpanOptions::new())
        .unwrap();
    client
        .end_span(s.trace_id, s.span_id, EndOptions::new())
        .unwrap();
    let m = invalid_span(client.end_span(s.trace_id, s.span_id, EndOptions::new()));
    assert!(m.contains("already ended"), "{m}");
    client.end_trace(a.trace_id, EndOptions::new()).unwrap();
    let m = invalid_span(client.end_trace(a.trace_id, EndOptions::new()));
    assert!(m.contains("already ended"), "{m}");
    invalid_span(client.start_span("late", a.trace_id, a.span_id, SpanOptions::new()));
    invalid_span(client.end_span(a.trace_id, a.span_id, EndOptions::new()));
    invalid_span(client.context_of(a.trace_id, a.span_id));

    // None of that disturbed the traces: b still ends normally, a was stored once with 2 spans.
    client.end_trace(b.trace_id, EndOptions::new()).unwrap();
    assert_eq!(client.get_trace(&a.trace_id).unwrap().data.spans.len(), 2);
    assert_eq!(client.get_trace(&b.trace_id).unwrap().data.spans.len(), 1);
}

#[test]
fn an_ended_span_can_still_be_a_parent_until_the_trace_ends() {
    let client = client();
    let root = client.start_trace("root", SpanOptions::new());
    let first = client
        .start_span("first", root.trace_id, root.span_id, SpanOptions::new())
        .unwrap();
    client
        .end_span(first.trace_id, first.span_id, EndOptions::new())
        .unwrap();
    let follow_up = client
        .start_span(
            "follow_up",
            root.trace_id,
            first.span_id,
            SpanOptions::new(),
        )
        .unwrap();
    client
        .end_span(follow_up.trace_id, follow_up.span_id, EndOptions::new())
        .unwrap();
    client.end_trace(root.trace_id, EndOptions::new()).unwrap();
    let trace = client.get_trace(&root.trace_id).unwrap();
    assert_eq!(
        trace.span(&follow_up.span_id).unwrap().parent_span_id,
        Some(first.span_id)
    );
}

#[test]
fn ending_a_trace_ends_its_open_spans_with_an_error_and_an_event() {
    let client = client();
    let root = client.start_trace("root", SpanOptions::new());
    let open = client
        .start_span("open", root.trace_id, root.span_id, SpanOptions::new())
        .unwrap();
    let nested = client
        .start_span("nested", root.trace_id, open.span_id, SpanOptions::new())
        .unwrap();
    let done = client
        .start_span("done", root.trace_id, root.span_id, SpanOptions::new())
        .unwrap();
    client
        .end_span(done.trace_id, done.span_id, EndOptions::new())
        .unwrap();
    client
        .end_trace(
            root.trace_id,
            EndOptions::new().outputs(1).end_time_ns(u64::MAX / 2),
        )
        .unwrap();

    let trace = client.get_trace(&root.trace_id).unwrap();
    // The trace itself ended as asked: its state comes from the root.
    assert_eq!(trace.info.state, TraceState::Ok);
    for id in [open.span_id, nested.span_id] {
        let s = trace.span(&id).unwrap();
        assert_eq!(s.status, SpanStatus::error(UNFINISHED_SPAN_MESSAGE));
        assert_eq!(
            s.end_time_unix_nano,
            Some(u64::MAX / 2),
            "ended at the trace's end"
        );
        assert_eq!(s.events.len(), 1);
        assert_eq!(s.events[0].name, UNFINISHED_SPAN_EVENT);
        assert_eq!(
            s.events[0].attributes["reason"],
            json!(UNFINISHED_SPAN_MESSAGE)
        );
    }
    let d = trace.span(&done.span_id).unwrap();
    assert_eq!(d.status.code, StatusCode::Ok);
    assert!(d.events.is_empty());
}

#[test]
fn ending_the_root_span_ends_the_trace() {
    let client = client();
    let root = client.start_trace("root", SpanOptions::new());
    let open = client
        .start_span("open", root.trace_id, root.span_id, SpanOptions::new())
        .unwrap();
    client
        .end_span(
            root.trace_id,
            root.span_id,
            EndOptions::new().outputs("via end_span"),
        )
        .unwrap();
    let trace = client.get_trace(&root.trace_id).unwrap();
    assert_eq!(trace.root().unwrap().outputs(), Some(json!("via end_span")));
    assert_eq!(
        trace.span(&open.span_id).unwrap().status.code,
        StatusCode::Error
    );
    invalid_span(client.end_trace(root.trace_id, EndOptions::new()));
}

#[derive(Debug)]
struct QuotaExceeded;
impl std::fmt::Display for QuotaExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("quota exceeded")
    }
}
impl std::error::Error for QuotaExceeded {}

#[test]
fn errors_and_statuses_at_the_end() {
    let client = client();
    let root = client.start_trace("root", SpanOptions::new());
    let failed = client
        .start_span("call_llm", root.trace_id, root.span_id, SpanOptions::new())
        .unwrap();
    client
        .end_span(
            failed.trace_id,
            failed.span_id,
            EndOptions::new().error(&QuotaExceeded),
        )
        .unwrap();
    let overridden = client
        .start_span("retry", root.trace_id, root.span_id, SpanOptions::new())
        .unwrap();
    client
        .end_span(
            overridden.trace_id,
            overridden.span_id,
            EndOptions::new()
                .error(&QuotaExceeded)
                .status(StatusCode::Ok),
        )
        .unwrap();
    client
        .end_trace(
            root.trace_id,
            EndOptions::new().status(SpanStatus::error("gave up")),
        )
        .unwrap();

    let trace = client.get_trace(&root.trace_id).unwrap();
    assert_eq!(trace.info.state, TraceState::Error);
    assert_eq!(trace.root().unwrap().status, SpanStatus::error("gave up"));
    let f = trace.span(&failed.span_id).unwrap();
    assert_eq!(f.status, SpanStatus::error("QuotaExceeded: quota exceeded"));
    assert_eq!(f.events[0].name, "exception");
    assert_eq!(
        f.events[0].attributes["exception.type"],
        json!("QuotaExceeded")
    );
    assert_eq!(
        f.events[0].attributes["exception.message"],
        json!("quota exceeded")
    );
    assert_eq!(f.attribute("mlflow.spanLogLevel"), Some(json!(40)));
    // An explicit status wins over the error's; the exception event stays.
    let o = trace.span(&overridden.span_id).unwrap();
    assert_eq!(o.status.code, StatusCode::Ok);
    assert_eq!(o.events[0].name, "exception");
}

#[test]
fn updates_reach_an_open_trace() {
    let client = client();
    let root = client.start_trace("root", SpanOptions::new());
    client
        .update_trace(
            root.trace_id,
            TraceUpdate::new()
                .tag("fruit", "kiwi")
                .session_id("s-9")
                .request_preview("hello"),
        )
        .unwrap();
    client.end_trace(root.trace_id, EndOptions::new()).unwrap();
    let trace = client.get_trace(&root.trace_id).unwrap();
    assert_eq!(trace.info.tags["fruit"], "kiwi");
    assert_eq!(trace.info.trace_metadata["mlflow.trace.session"], "s-9");
    assert_eq!(trace.info.request_preview.as_deref(), Some("hello"));
}

#[test]
fn a_trace_is_not_stored_before_it_ends() {
    let client = client();
    let root = client.start_trace("slow", SpanOptions::new());
    let s = client
        .start_span("s", root.trace_id, root.span_id, SpanOptions::new())
        .unwrap();
    client
        .end_span(s.trace_id, s.span_id, EndOptions::new())
        .unwrap();
    assert!(client.get_trace(&root.trace_id).is_none());
    client.end_trace(root.trace_id, EndOptions::new()).unwrap();
    assert!(client.get_trace(&root.trace_id).is_some());
}
