//! One test per `#[trace]` example: each example's `run()` is compiled in here as a module and
//! its trace asserted exactly (names, parents, types, attributes, inputs, outputs, status,
//! events).

#[path = "../examples/custom_span.rs"]
#[allow(dead_code)]
mod custom_span;
#[path = "../examples/decorator.rs"]
#[allow(dead_code)]
mod decorator;
#[path = "../examples/decorator_ordering.rs"]
#[allow(dead_code)]
mod decorator_ordering;
#[path = "../examples/exceptions.rs"]
#[allow(dead_code)]
mod exceptions;
#[path = "../examples/function_wrapping.rs"]
#[allow(dead_code)]
mod function_wrapping;
#[path = "../examples/previews.rs"]
#[allow(dead_code)]
mod previews;
#[path = "../examples/trace_tags.rs"]
#[allow(dead_code)]
mod trace_tags;

use serde_json::json;
use spanwise::{Span, SpanType, StatusCode, TraceState};

mod common;
use common::shape;

fn user_attributes(s: &Span) -> Vec<(&str, serde_json::Value)> {
    s.attributes
        .keys()
        .filter(|k| !k.starts_with("mlflow."))
        .map(|k| (k.as_str(), s.attribute(k).unwrap()))
        .collect()
}

fn func() -> SpanType {
    SpanType::Custom("func".into())
}

#[test]
fn decorator_example() {
    let t = decorator::run();
    assert_eq!(
        shape(&t),
        [
            ("Trace Test".into(), None, SpanType::Unknown),
            ("add_1".into(), Some("Trace Test".into()), func()),
            ("minus_1".into(), Some("Trace Test".into()), func()),
        ]
    );
    let [root, add, minus] = &t.data.spans[..] else {
        panic!("three spans")
    };
    assert_eq!(root.inputs(), Some(json!({"x": 4})));
    assert_eq!(root.outputs(), Some(json!(4)));
    assert_eq!(
        root.attribute("mlflow.spanFunctionName"),
        Some(json!("trace_test"))
    );
    assert_eq!(user_attributes(root), []);
    assert_eq!(add.inputs(), Some(json!({"x": 4})));
    assert_eq!(add.outputs(), Some(json!(5)));
    assert_eq!(user_attributes(add), [("key", json!("value"))]);
    assert_eq!(minus.inputs(), Some(json!({"x": 5})));
    assert_eq!(minus.outputs(), Some(json!(4)));
    assert_eq!(user_attributes(minus), [("key1", json!("value1"))]);
    assert!(
        t.data
            .spans
            .iter()
            .all(|s| s.status.code == StatusCode::Ok && s.events.is_empty())
    );
    assert_eq!(t.info.state, TraceState::Ok);
    assert_eq!(t.info.tags["mlflow.traceName"], "Trace Test");
    assert_eq!(t.info.request_preview.as_deref(), Some(r#"{"x": 4}"#));
    assert_eq!(t.info.response_preview.as_deref(), Some("4"));
}

#[test]
fn custom_span_example() {
    let (fixed, dynamic) = custom_span::run();
    let expected_out = json!({"model": "gpt-4o-mini", "content": "You said: What is MLflow?"});
    assert_eq!(
        shape(&fixed),
        [("call-local-llm".into(), None, SpanType::Llm)]
    );
    let s = fixed.root().unwrap();
    assert_eq!(
        s.attribute("mlflow.spanFunctionName"),
        Some(json!("invoke"))
    );
    assert_eq!(user_attributes(s), [("model", json!("gpt-4o-mini"))]);
    assert_eq!(s.inputs(), Some(json!({"prompt": "What is MLflow?"})));
    assert_eq!(s.outputs(), Some(expected_out.clone()));
    assert_eq!(s.attribute("mlflow.spanLogLevel"), Some(json!(20)));

    assert_eq!(shape(&dynamic), [("invoke".into(), None, SpanType::Llm)]);
    let s = dynamic.root().unwrap();
    assert_eq!(user_attributes(s), [("model", json!("gpt-4o-mini"))]);
    assert_eq!(s.outputs(), Some(expected_out));
    assert_eq!(s.status.code, StatusCode::Ok);
}

#[test]
fn trace_tags_example() {
    let t = trace_tags::run();
    assert_eq!(shape(&t), [("my_func".into(), None, SpanType::Unknown)]);
    assert_eq!(t.info.tags.get("fruit").map(String::as_str), Some("apple"));
    assert_eq!(t.info.tags["mlflow.traceName"], "my_func");
    let s = t.root().unwrap();
    assert_eq!(s.inputs(), Some(json!({"x": 1})));
    assert_eq!(s.outputs(), Some(json!(2)));
}

#[test]
fn previews_example() {
    let t = previews::run();
    assert_eq!(
        shape(&t),
        [("Summarization Pipeline".into(), None, SpanType::Unknown)]
    );
    assert_eq!(
        t.info.request_preview.as_deref(),
        Some("Doc: This is a very long document t... Instr: Focus on the key takeaways reg...")
    );
    assert_eq!(
        t.info.response_preview.as_deref(),
        Some("Summary: Summary of document starting with 'This is a very ...")
    );
    let s = t.root().unwrap();
    assert_eq!(
        s.attribute("mlflow.spanFunctionName"),
        Some(json!("summarize_document"))
    );
    let inputs = s.inputs().unwrap();
    assert_eq!(
        inputs["user_instructions"],
        json!("Focus on the key takeaways regarding topic X.")
    );
    assert_eq!(inputs["document_content"].as_str().unwrap().len(), 790);
    assert_eq!(
        s.outputs(),
        Some(json!(
            "Summary of document starting with 'This is a very long ...' based on 'Focus on the key takeaways regarding topic X.'"
        ))
    );
}

#[test]
fn exceptions_example() {
    let (recovered, failed, panicked) = exceptions::run();

    assert_eq!(
        shape(&recovered),
        [
            ("load_with_default".into(), None, SpanType::Unknown),
            (
                "parse_config".into(),
                Some("load_with_default".into()),
                SpanType::Unknown
            ),
        ]
    );
    let [root, child] = &recovered.data.spans[..] else {
        panic!("two spans")
    };
    assert_eq!(root.status.code, StatusCode::Ok);
    assert_eq!(root.outputs(), Some(json!([["retries", 3]])));
    assert!(root.events.is_empty());
    assert_eq!(recovered.info.state, TraceState::Ok);
    assert_eq!(child.status.code, StatusCode::Error);
    assert_eq!(child.status.message, "ConfigError: a value is not a number");
    assert_eq!(child.outputs(), None);
    assert_eq!(child.attribute("mlflow.spanLogLevel"), Some(json!(40)));
    assert_eq!(child.events.len(), 1);
    let ev = &child.events[0];
    assert_eq!(ev.name, "exception");
    assert_eq!(ev.attributes["exception.type"], json!("ConfigError"));
    assert_eq!(
        ev.attributes["exception.message"],
        json!("a value is not a number")
    );
    assert_eq!(
        ev.attributes["exception.stacktrace"],
        json!(
            "ConfigError: a value is not a number\nCaused by:\n  0: invalid digit found in string"
        )
    );

    assert_eq!(failed.info.state, TraceState::Error);
    let s = failed.root().unwrap();
    assert_eq!(s.status.message, "ConfigError: line 1 is not `key=value`");
    assert_eq!(s.inputs(), Some(json!({"text": "retries"})));

    let s = panicked.root().unwrap();
    assert_eq!(s.name, "divide");
    assert_eq!(s.status.code, StatusCode::Error);
    assert_eq!(s.status.message, "panic: attempt to divide by zero");
    let ev = s.exceptions().next().unwrap();
    assert_eq!(ev.attributes["exception.type"], json!("panic"));
    assert!(
        ev.attributes["exception.stacktrace"]
            .as_str()
            .unwrap()
            .contains("examples/exceptions.rs:")
    );
}

#[test]
fn function_wrapping_example() {
    let t = function_wrapping::run();
    assert_eq!(
        shape(&t),
        [
            ("invocation".into(), None, SpanType::Unknown),
            ("pow".into(), Some("invocation".into()), SpanType::Unknown),
            (
                "factorial".into(),
                Some("invocation".into()),
                SpanType::Unknown
            ),
        ]
    );
    let [root, pow, fact] = &t.data.spans[..] else {
        panic!("three spans")
    };
    assert_eq!(root.inputs(), Some(json!({"x": 4.0, "exp": 2.0})));
    assert_eq!(root.outputs(), Some(json!(20_922_789_888_000u64)));
    assert_eq!(pow.inputs(), Some(json!({"x": 4.0, "exp": 2.0})));
    assert_eq!(pow.outputs(), Some(json!(16.0)));
    assert_eq!(pow.attribute("mlflow.spanFunctionName"), Some(json!("pow")));
    assert_eq!(fact.inputs(), Some(json!({"arg0": 16})));
    assert_eq!(fact.outputs(), Some(json!(20_922_789_888_000u64)));
}

#[test]
fn decorator_ordering_example() {
    let (correct, second, incorrect) = decorator_ordering::run();
    for (t, name, out) in [
        (&correct, "my_decorated_function_correct_order", 8),
        (&second, "my_decorated_function_trace_second", 15),
    ] {
        assert_eq!(shape(t), [(name.to_string(), None, SpanType::Unknown)]);
        let s = t.root().unwrap();
        assert_eq!(s.inputs(), Some(json!({"x": 5, "y": 3})));
        assert_eq!(s.outputs(), Some(json!(out)));
        // The decorator ran inside the span: it saw it as the current span.
        assert!(s.attribute("simple_timing.seconds").unwrap().is_f64());
    }
    let s = incorrect.root().unwrap();
    assert_eq!(s.name, "my_decorated_function_incorrect_order");
    assert_eq!(s.outputs(), Some(json!(15)));
    // The decorator ran outside the span and could not note anything on it.
    assert_eq!(s.attribute("simple_timing.seconds"), None);
}
