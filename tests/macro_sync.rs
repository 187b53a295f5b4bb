//! `#[trace]` on sync functions: names, inputs, outputs, span types, attributes, nesting.

use serde_json::json;
use spanwise::{SpanType, Trace, trace};

fn last_trace() -> Trace {
    let id = spanwise::last_active_trace_id().expect("a trace ended on this thread");
    spanwise::get_trace(&id).expect("the trace is in the store")
}

#[trace(span_type = "func", attributes(key = "value"))]
fn add_1(x: i64) -> i64 {
    x + 1
}

#[trace(span_type = "func", attributes(key1 = "value1"))]
fn minus_1(x: i64) -> i64 {
    x - 1
}

#[trace(name = "Trace Test")]
fn trace_test(x: i64) -> i64 {
    let step1 = add_1(x);
    minus_1(step1)
}

#[test]
fn decorator_seed_trace() {
    assert_eq!(trace_test(4), 4);
    let t = last_trace();
    let root = t.root().unwrap();
    assert_eq!(root.name, "Trace Test");
    assert_eq!(root.inputs(), Some(json!({"x": 4})));
    assert_eq!(root.outputs(), Some(json!(4)));
    assert_eq!(root.attribute("mlflow.spanFunctionName"), Some(json!("trace_test")));
    assert_eq!(root.span_type(), SpanType::Unknown);
    let kids = t.children(&root.span_id);
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0].name, "add_1");
    assert_eq!(kids[0].span_type(), SpanType::Custom("func".into()));
    assert_eq!(kids[0].attribute("key"), Some(json!("value")));
    assert_eq!(kids[0].inputs(), Some(json!({"x": 4})));
    assert_eq!(kids[0].outputs(), Some(json!(5)));
    assert_eq!(kids[1].name, "minus_1");
    assert_eq!(kids[1].attribute("key1"), Some(json!("value1")));
    assert_eq!(kids[1].inputs(), Some(json!({"x": 5})));
    assert_eq!(kids[1].outputs(), Some(json!(4)));
}
