//! MLflow's own Python `mlflow.entities.Trace.from_json` loads every line the JSONL store
//! writes, and sees the same spans, parents, types, inputs, outputs, status, tags and previews.

mod common;

use serde_json::{Value, json};
use spanwise_core::{Config, SpanType, TraceUpdate, start_span, update_current_trace};

#[derive(Debug)]
struct Boom;
impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom")
    }
}
impl std::error::Error for Boom {}

const LOAD_ALL: &str = r#"
import json, sys
from mlflow.entities import Trace
value = lambda e: getattr(e, "value", str(e))
out = []
for line in open(sys.argv[1]):
    t = Trace.from_json(line)
    out.append({
        "trace_id": t.info.trace_id,
        "state": value(t.info.state),
        "tags": t.info.tags,
        "request_preview": t.info.request_preview,
        "response_preview": t.info.response_preview,
        "spans": [{
            "name": s.name,
            "span_id": s.span_id,
            "parent_id": s.parent_id,
            "span_type": s.span_type,
            "inputs": s.inputs,
            "outputs": s.outputs,
            "status": value(s.status.status_code),
            "events": [e.name for e in s.events],
        } for s in t.data.spans],
    })
print(json.dumps(out))
"#;

#[test]
fn mlflow_python_loads_every_jsonl_line() {
    let Some(venv) = common::mlflow_venv("mlflow_python_loads_every_jsonl_line") else {
        return;
    };
    let dir = common::temp_dir("jsonl-python");
    let guard = spanwise_core::init_with(Config::new().trace_dir(&dir)).unwrap();
    {
        let root = start_span("chain").span_type(SpanType::Chain);
        root.set_inputs(json!({"question": "hi", "n": 2}));
        for i in 0..2 {
            let s = start_span("step").span_type(SpanType::Tool);
            s.set_inputs(json!({"i": i}));
            s.set_outputs(json!({"ok": true, "list": [1, 2.5, "x", null]}));
        }
        root.set_outputs("done");
    }
    {
        let root = start_span("fails");
        root.set_inputs(json!({}));
        root.record_error(&Boom);
    }
    {
        let root = start_span("tagged");
        update_current_trace(
            TraceUpdate::new()
                .tag("fruit", "apple")
                .request_preview("custom req")
                .response_preview("custom resp"),
        )
        .unwrap();
        root.set_outputs(1);
    }
    drop(guard); // flushed
    let ours = spanwise_core::read_jsonl(dir.join("traces.jsonl"))
        .unwrap()
        .traces;
    assert_eq!(ours.len(), 3);

    let printed = common::python(
        &venv,
        LOAD_ALL,
        &[dir.join("traces.jsonl").to_str().unwrap()],
    );
    let theirs: Vec<Value> = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(theirs.len(), ours.len());
    for (t, o) in theirs.iter().zip(&ours) {
        assert_eq!(t["trace_id"], o.info.trace_id.to_string());
        assert_eq!(t["state"], o.info.state.as_str());
        assert_eq!(t["request_preview"], json!(o.info.request_preview));
        assert_eq!(t["response_preview"], json!(o.info.response_preview));
        for (k, v) in &o.info.tags {
            assert_eq!(t["tags"][k], v.as_str());
        }
        let spans = t["spans"].as_array().unwrap();
        assert_eq!(spans.len(), o.data.spans.len());
        for (ts, os) in spans.iter().zip(&o.data.spans) {
            assert_eq!(ts["name"], os.name);
            assert_eq!(ts["span_id"], os.span_id.to_string());
            assert_eq!(
                ts["parent_id"],
                json!(os.parent_span_id.map(|p| p.to_string()))
            );
            assert_eq!(ts["span_type"], os.span_type().as_str());
            assert_eq!(ts["inputs"], os.inputs().unwrap_or(Value::Null));
            assert_eq!(ts["outputs"], os.outputs().unwrap_or(Value::Null));
            let events: Vec<&str> = os.events.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(ts["events"], json!(events));
        }
    }
    // The specifics, as MLflow reads them.
    assert_eq!(theirs[0]["spans"][1]["name"], "step_1");
    assert_eq!(theirs[1]["state"], "ERROR");
    assert_eq!(theirs[1]["spans"][0]["status"], "ERROR");
    assert_eq!(theirs[1]["spans"][0]["events"], json!(["exception"]));
    assert_eq!(theirs[2]["tags"]["fruit"], "apple");
    assert_eq!(theirs[2]["request_preview"], "custom req");
    // (Kept when an assertion above fails, to look at.)
    let _ = std::fs::remove_dir_all(&dir);
}
