//! Every trace MLflow 3.17.2 wrote parses, and writes back as the same JSON.

use std::path::PathBuf;

use serde_json::Value;
use spanwise::{SpanType, StatusCode, Trace, TraceState};

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlflow-3.17.2")
}

fn fixture(name: &str) -> (String, Trace) {
    let text = std::fs::read_to_string(fixtures_dir().join(name)).unwrap();
    let trace = Trace::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    (text, trace)
}

#[test]
fn every_fixture_round_trips_to_semantically_equal_json() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let trace = Trace::from_json(&text).unwrap();
        let original: Value = serde_json::from_str(&text).unwrap();
        let written: Value = serde_json::from_str(&trace.to_json()).unwrap();
        assert_eq!(original, written, "{}", path.display());
        // And once more through our own form.
        assert_eq!(Trace::from_json(&trace.to_json()).unwrap(), trace);
        n += 1;
    }
    assert_eq!(n, 9, "expected the 9 MLflow fixtures");
}

#[test]
fn nested_fixture_decodes_ids_tree_and_attributes() {
    let (_, t) = fixture("nested.json");
    assert_eq!(
        t.info.trace_id.to_string(),
        "tr-8069a0265eec15a1d9bbfa62bf64cbf6"
    );
    assert_eq!(t.info.state, TraceState::Ok);
    assert_eq!(t.info.execution_duration_ms, Some(34));
    assert_eq!(t.name(), Some("Trace Test"));
    let root = t.root().unwrap();
    assert_eq!(root.name, "Trace Test");
    assert_eq!(root.trace_id, t.info.trace_id);
    let kids: Vec<&str> = t
        .children(&root.span_id)
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(kids, ["add_1", "minus_1"]);
    let add = t.spans_named("add_1").next().unwrap();
    assert_eq!(add.span_type(), SpanType::Custom("func".into()));
    assert_eq!(add.inputs(), Some(serde_json::json!({"x": 4})));
    assert_eq!(add.outputs(), Some(serde_json::json!(5)));
    assert_eq!(add.attribute("key"), Some(serde_json::json!("value")));
    assert_eq!(
        add.duration().unwrap().as_nanos(),
        1_795_311_981_748_272_872u128 - 1_795_311_981_748_023_896
    );
    assert_eq!(t.span(&add.span_id).unwrap().name, "add_1");
}

#[test]
fn error_fixture_keeps_exception_event_and_status() {
    let (_, t) = fixture("root_error.json");
    assert_eq!(t.info.state, TraceState::Error);
    let root = t.root().unwrap();
    assert_eq!(root.status.code, StatusCode::Error);
    assert_eq!(root.status.message, "ValueError: bad value 7");
    let ev = root.exceptions().next().unwrap();
    assert_eq!(ev.attributes["exception.type"], "ValueError");
    assert!(root.outputs().is_none());
}
