//! The span runtime with the default configuration: tree shape, ids, values, events, status,
//! name de-duplication, previews, trace updates, panics.
//!
//! Tests run on parallel threads sharing one runtime: each finds its own trace through
//! `last_active_trace_id()`, which is per thread.

use serde_json::json;
use spanwise::{
    SpanEvent, SpanStatus, SpanType, StatusCode, Trace, TraceState, TraceUpdate, current_span,
    current_trace_id, get_trace, last_active_trace_id, start_span, update_current_trace, with_span,
};

fn last_trace() -> Trace {
    get_trace(&last_active_trace_id().expect("a trace ended on this thread")).unwrap()
}

fn names(t: &Trace) -> Vec<&str> {
    t.data.spans.iter().map(|s| s.name.as_str()).collect()
}

#[test]
fn nested_guards_build_the_tree_with_mlflow_attributes() {
    {
        let root = start_span("Trace Test").inputs(json!({"x": 4}));
        let step1 = {
            let s = start_span("add_1")
                .span_type(SpanType::Custom("func".into()))
                .attribute("key", "value")
                .inputs(json!({"x": 4}));
            s.set_outputs(5);
            5
        };
        {
            let s = start_span("minus_1")
                .span_type("func".into())
                .attribute("key1", "value1");
            s.set_inputs(json!({"x": step1}));
            s.set_outputs(step1 - 1);
        }
        root.set_outputs(4);
    }
    let t = last_trace();
    assert_eq!(names(&t), ["Trace Test", "add_1", "minus_1"]);
    let root = t.root().unwrap();
    assert_eq!(root.parent_span_id, None);
    for s in &t.data.spans[1..] {
        assert_eq!(s.parent_span_id, Some(root.span_id));
        assert_eq!(s.trace_id, t.info.trace_id);
    }
    let add = &t.data.spans[1];
    let expected_id = format!("\"{}\"", t.info.trace_id);
    assert_eq!(add.attributes["mlflow.traceRequestId"], expected_id);
    assert_eq!(add.attributes["mlflow.spanType"], "\"func\"");
    assert_eq!(add.attributes["key"], "\"value\"");
    assert_eq!(add.attributes["mlflow.spanInputs"], r#"{"x":4}"#);
    assert_eq!(add.attributes["mlflow.spanOutputs"], "5");
    assert_eq!(add.attributes["mlflow.spanLogLevel"], "10");
    assert_eq!(add.status.code, StatusCode::Ok);
    assert!(add.start_time_unix_nano >= root.start_time_unix_nano);
    assert!(add.end_time_unix_nano.unwrap() <= root.end_time_unix_nano.unwrap());
    assert_eq!(t.data.spans[2].attribute("key1"), Some(json!("value1")));

    assert_eq!(t.info.state, TraceState::Ok);
    assert_eq!(t.info.tags["mlflow.traceName"], "Trace Test");
    assert_eq!(t.info.trace_metadata["mlflow.trace_schema.version"], "3");
    // In Python's `json.dumps` form, as MLflow writes them (the span attributes stay compact).
    assert_eq!(t.info.trace_metadata["mlflow.traceInputs"], r#"{"x": 4}"#);
    assert_eq!(t.info.trace_metadata["mlflow.traceOutputs"], "4");
    assert_eq!(t.info.request_preview.as_deref(), Some(r#"{"x": 4}"#));
    assert_eq!(t.info.response_preview.as_deref(), Some("4"));
    let dur = root.duration().unwrap().as_millis() as u64;
    assert_eq!(t.info.execution_duration_ms, Some(dur));
    assert_eq!(
        t.info.request_time.timestamp_nanos_opt().unwrap() / 1_000_000,
        (root.start_time_unix_nano / 1_000_000) as i64
    );
}

#[test]
fn a_trace_round_trips_through_mlflow_json() {
    {
        let root = start_span("rt").span_type(SpanType::Agent);
        root.add_event(SpanEvent::new("thinking").with_attribute("step", 1));
        let _c = start_span("child").inputs(json!({"q": "é\"\n"}));
    }
    let t = last_trace();
    let back = Trace::from_json(&t.to_json()).unwrap();
    assert_eq!(back, t);
    assert_eq!(back.data.spans[0].events[0].attributes["step"], json!(1));
    assert_eq!(back.data.spans[0].attributes["mlflow.spanLogLevel"], "20");
}

#[test]
fn duplicate_names_get_suffixes_in_start_order() {
    {
        let _root = start_span("root");
        drop(start_span("red"));
        drop(start_span("red"));
        drop(start_span("blue"));
    }
    assert_eq!(names(&last_trace()), ["root", "red_1", "red_2", "blue"]);
}

#[test]
fn current_span_and_with_span_set_values_on_the_active_span() {
    let out = with_span("outer", |outer| {
        assert_eq!(current_span().unwrap().span_id(), outer.span_id());
        assert_eq!(current_trace_id(), outer.trace_id());
        let inner = start_span("inner");
        let cur = current_span().unwrap();
        assert_eq!(cur.span_id(), inner.span_id());
        cur.set_attributes(json!({"model": "gpt-4o-mini", "temperature": 0.1}));
        cur.set_status(SpanStatus::error("custom failure"));
        7
    });
    assert_eq!(out, 7);
    assert!(current_span().is_none());
    let t = last_trace();
    let inner = t.spans_named("inner").next().unwrap();
    assert_eq!(inner.attribute("model"), Some(json!("gpt-4o-mini")));
    assert_eq!(inner.attribute("temperature"), Some(json!(0.1)));
    assert_eq!(inner.status, SpanStatus::error("custom failure"));
    // A child's error does not fail the trace: the root's status decides.
    assert_eq!(t.info.state, TraceState::Ok);
}

#[test]
fn a_stale_handle_does_nothing() {
    let handle = {
        let _root = start_span("short");
        current_span().unwrap()
    };
    handle.set_attribute("late", 1); // the span is gone: ignored, no panic
    let t = last_trace();
    assert!(t.root().unwrap().attribute("late").is_none());
}

#[derive(Debug)]
struct LlmError {
    source: std::io::Error,
}
impl std::fmt::Display for LlmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("model call failed")
    }
}
impl std::error::Error for LlmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[test]
fn record_error_adds_an_exception_event_and_error_status() {
    {
        let root = start_span("call");
        root.record_error(&LlmError {
            source: std::io::Error::other("connection reset"),
        });
    }
    let t = last_trace();
    let root = t.root().unwrap();
    assert_eq!(root.status.code, StatusCode::Error);
    assert_eq!(root.status.message, "LlmError: model call failed");
    let ev = root.exceptions().next().unwrap();
    assert_eq!(ev.attributes["exception.type"], "LlmError");
    assert_eq!(ev.attributes["exception.message"], "model call failed");
    let stack = ev.attributes["exception.stacktrace"].as_str().unwrap();
    assert!(
        stack.contains("Caused by:\n  0: connection reset"),
        "{stack}"
    );
    assert_eq!(root.attributes["mlflow.spanLogLevel"], "40");
    assert_eq!(t.info.state, TraceState::Error);
}

/// An error whose message, while being recorded, sets an attribute on the span recording it.
#[derive(Debug)]
struct Meddling;

impl std::fmt::Display for Meddling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Runs while the span's record is lent to `record_error`: this setter must be ignored,
        // not alias the record or panic.
        current_span().unwrap().set_attribute("from_display", 1);
        f.write_str("meddled")
    }
}

impl std::error::Error for Meddling {}

#[test]
fn a_setter_reentering_its_own_span_is_ignored() {
    {
        let root = start_span("reentrant");
        root.record_error(&Meddling);
        // The record is free again afterwards.
        root.set_attribute("after", 2);
    }
    let t = last_trace();
    let root = t.root().unwrap();
    assert_eq!(root.status.message, "Meddling: meddled");
    assert!(!root.attributes.contains_key("from_display"));
    assert_eq!(root.attributes["after"], "2");
}

#[test]
fn panics_end_every_span_on_the_unwinding_path_and_keep_unwinding() {
    let result = std::panic::catch_unwind(|| {
        let _root = start_span("root");
        let _mid = start_span("mid");
        let _leaf = start_span("leaf");
        panic!("the model returned {}", 42);
    });
    assert!(result.is_err(), "the panic continued to the caller");
    let t = last_trace();
    assert_eq!(names(&t), ["root", "mid", "leaf"]);
    for s in &t.data.spans {
        assert_eq!(s.status.code, StatusCode::Error, "{}", s.name);
        assert_eq!(s.status.message, "panic: the model returned 42");
        let ev = s.exceptions().next().unwrap();
        assert_eq!(ev.attributes["exception.type"], "panic");
        let stack = ev.attributes["exception.stacktrace"].as_str().unwrap();
        assert!(stack.contains("runtime_spans.rs"), "{stack}");
        assert!(s.end_time_unix_nano.is_some());
    }
    assert_eq!(t.info.state, TraceState::Error);
    assert!(current_span().is_none(), "the stack was unwound too");
}

#[test]
fn update_current_trace_merges_tags_metadata_previews_and_state() {
    assert!(update_current_trace(TraceUpdate::new().tag("x", "y")).is_err());
    {
        let root = start_span("my_func").inputs(json!({"x": 1}));
        update_current_trace(TraceUpdate::new().tag("fruit", "apple")).unwrap();
        {
            let _child = start_span("child");
            update_current_trace(
                TraceUpdate::new()
                    .tag("color", "red")
                    .metadata("team", "search")
                    .client_request_id("req-42")
                    .request_preview("custom req")
                    .response_preview("custom resp")
                    .session_id("s-1")
                    .user("ada")
                    .state(TraceState::Error),
            )
            .unwrap();
        }
        root.set_outputs(2);
    }
    let t = last_trace();
    assert_eq!(t.info.tags["fruit"], "apple");
    assert_eq!(t.info.tags["color"], "red");
    assert_eq!(t.info.trace_metadata["team"], "search");
    assert_eq!(t.info.trace_metadata["mlflow.trace.session"], "s-1");
    assert_eq!(t.info.trace_metadata["mlflow.trace.user"], "ada");
    assert_eq!(t.info.client_request_id.as_deref(), Some("req-42"));
    assert_eq!(t.info.request_preview.as_deref(), Some("custom req"));
    assert_eq!(t.info.response_preview.as_deref(), Some("custom resp"));
    assert_eq!(t.info.state, TraceState::Error);
}

#[test]
fn previews_are_chat_aware_and_cut_to_1000_characters() {
    {
        let root = start_span("chat").span_type(SpanType::ChatModel);
        root.set_inputs(json!({"messages": [
            {"role": "system", "content": "be nice"},
            {"role": "user", "content": "Hi bot"}
        ]}));
        root.set_outputs(
            json!({"choices": [{"message": {"role": "assistant", "content": "Hello there"}}]}),
        );
    }
    let t = last_trace();
    assert_eq!(t.info.request_preview.as_deref(), Some("Hi bot"));
    assert_eq!(t.info.response_preview.as_deref(), Some("Hello there"));
    assert_eq!(t.root().unwrap().attributes["mlflow.spanLogLevel"], "20");

    {
        let root = start_span("long");
        root.set_inputs(json!({"doc": "a".repeat(5000)}));
    }
    let t = last_trace();
    let p = t.info.request_preview.unwrap();
    assert_eq!(p.chars().count(), 1000);
    assert!(p.starts_with(r#"{"doc": "aaa"#) && p.ends_with("..."));
    // MLflow keeps 250 characters of the inputs in the metadata.
    let m = &t.info.trace_metadata["mlflow.traceInputs"];
    assert_eq!(m.chars().count(), 250);
    assert!(m.starts_with(r#"{"doc": "aaa"#) && m.ends_with("..."));
    assert_eq!(t.info.response_preview, None);
    assert_eq!(t.info.trace_metadata["mlflow.traceOutputs"], "");
}

#[test]
fn last_active_trace_id_is_per_thread() {
    drop(start_span("here"));
    let mine = last_active_trace_id().unwrap();
    let theirs = std::thread::spawn(|| {
        assert_eq!(last_active_trace_id(), None);
        drop(start_span("there"));
        last_active_trace_id().unwrap()
    })
    .join()
    .unwrap();
    assert_ne!(mine, theirs);
    assert_eq!(last_active_trace_id(), Some(mine));
    assert_eq!(get_trace(&theirs).unwrap().name(), Some("there"));
}

#[test]
fn guards_dropped_out_of_order_end_their_own_spans() {
    {
        let root = start_span("root");
        let a = start_span("a");
        let b = start_span("b");
        drop(a); // out of order: ends a only
        let c = start_span("c"); // b is still current
        drop(c);
        drop(b);
        drop(root);
    }
    let t = last_trace();
    let id = |n: &str| t.spans_named(n).next().unwrap().span_id;
    let parent = |n: &str| t.spans_named(n).next().unwrap().parent_span_id;
    assert_eq!(parent("a"), Some(id("root")));
    assert_eq!(parent("b"), Some(id("a")));
    assert_eq!(parent("c"), Some(id("b")));
    assert!(t.data.spans.iter().all(|s| s.end_time_unix_nano.is_some()));
    assert!(current_span().is_none());
}

#[test]
fn unserializable_values_become_markers_not_failures() {
    struct Bad;
    impl serde::Serialize for Bad {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no way"))
        }
    }
    {
        let root = start_span("bad");
        root.set_outputs(Bad);
    }
    let out = last_trace().root().unwrap().outputs().unwrap();
    assert_eq!(out, json!("<unserializable: no way>"));
}

#[test]
fn separate_threads_make_separate_traces() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let _root = start_span(format!("thread-{i}"));
                let _child = start_span("work");
                current_trace_id().unwrap()
            })
        })
        .collect();
    let ids: std::collections::HashSet<_> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(ids.len(), 4);
    for id in ids {
        let t = get_trace(&id).unwrap();
        assert_eq!(t.data.spans.len(), 2);
    }
}
