//! The same program traced twice against one real MLflow 3.17.2 server: once by MLflow's Python
//! SDK (a script run with the venv's interpreter), once by spanwise. `search_traces` and
//! `get_trace` of both are then compared field by field: trace metadata keys, tags, previews,
//! `mlflow.traceInputs`/`traceOutputs`, state, root span attributes and events. Equal except for
//! ids and times, and for the differences listed (and explained) in `EXPECTED_DIFFERENCES`.
//!
//! The program: (1) a CHAIN span with a TOOL child, inputs with a non-ASCII string, a list as
//! output, tags, session and user set with `update_current_trace`; (2) a generator that yields
//! two items and raises. Last, MLflow's own `add_size_stats_to_trace_metadata` is run on
//! spanwise's stored trace: its `mlflow.trace.sizeStats` must be what spanwise wrote.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use spanwise_core::{
    Config, Destination, IteratorExt, SpanType, StreamOptions, TraceId, TraceUpdate, start_span,
    update_current_trace,
};
use spanwise_otlp::{Experiment, ExportOptions, Exporter, MlflowClient};

const PY_PROGRAM: &str = r#"
import json, sys
import mlflow

mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment(experiment_id=sys.argv[2])

with mlflow.start_span("predict", span_type="CHAIN") as root:
    root.set_inputs({"x": 4, "greeting": "héllo"})
    with mlflow.start_span("double", span_type="TOOL") as child:
        child.set_inputs({"x": 4})
        child.set_outputs(8)
    mlflow.update_current_trace(tags={"example": "mlflow"}, session_id="session-1", user="ada")
    root.set_outputs([0, 1, 2, 3, 4])
first = mlflow.get_last_active_trace_id()

@mlflow.trace
def items():
    yield 0
    yield 1
    raise ValueError("Some error")

try:
    for _ in items():
        pass
except ValueError:
    pass
second = mlflow.get_last_active_trace_id()
mlflow.flush_trace_async_logging()
print(json.dumps([first, second]))
"#;

/// What differs between the two, and why; each is checked below, not skipped.
const EXPECTED_DIFFERENCES: &[(&str, &str)] = &[
    (
        "mlflow.source.name",
        "the program: Python writes sys.argv[0] (py_traces.py), spanwise the executable's file name",
    ),
    (
        "mlflow.source.git.branch / commit / repoURL",
        "MLflow's SDK adds the git facts of the script's repository when GitPython finds one; \
         spanwise records no git metadata (it would need git at run time)",
    ),
    (
        "root status message of the raising generator",
        "MLflow 3.17.2's generator wrapper sets ERROR with no description (its function wrapper \
         writes \"ValueError: …\"); spanwise writes \"Type: message\" for both",
    ),
    (
        "mlflow.trace.sizeStats / sizeBytes values",
        "MLflow measures the span JSON it stores: Python keeps span attributes in json.dumps form \
         ({\"x\": 4}), spanwise compact ({\"x\":4}); MLflow's own computation on spanwise's \
         trace gives spanwise's values exactly (checked last)",
    ),
    (
        "mlflow.spanFunctionName, mlflow.spanLogLevel (root attributes)",
        "a generator under @mlflow.trace records its function name; spanwise's traced iterator \
         has no function (a #[trace] function has); spanwise also writes the log level \
         MLflow's spec documents",
    ),
];

/// Runs the Python program as a file (so that `sys.argv[0]` is its name, as for a user).
fn run_python(venv: &Path, dir: &Path, url: &str, experiment: &str) -> (String, String) {
    std::fs::write(dir.join("py_traces.py"), PY_PROGRAM).unwrap();
    let out = Command::new(venv.join("bin/python"))
        .current_dir(dir)
        .args(["py_traces.py", url, experiment])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<String> = serde_json::from_str(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    (ids[0].clone(), ids[1].clone())
}

#[derive(Debug)]
struct ValueError(&'static str);
impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
impl std::error::Error for ValueError {}

/// The same program with spanwise.
fn run_spanwise() -> (TraceId, TraceId) {
    let first = {
        let root = start_span("predict").span_type(SpanType::Chain);
        root.set_inputs(json!({"x": 4, "greeting": "héllo"}));
        {
            let child = start_span("double").span_type(SpanType::Tool);
            child.set_inputs(json!({"x": 4}));
            child.set_outputs(8);
        }
        update_current_trace(
            TraceUpdate::new()
                .tag("example", "mlflow")
                .session_id("session-1")
                .user("ada"),
        )
        .unwrap();
        root.set_outputs(json!([0, 1, 2, 3, 4]));
        root.trace_id().unwrap()
    };
    let items = [Ok(0), Ok(1), Err(ValueError("Some error"))];
    let seen: Vec<_> = items
        .into_iter()
        .traced_results("items", StreamOptions::new().inputs(json!({})))
        .collect();
    assert_eq!(seen.len(), 3);
    let second = spanwise_core::last_active_trace_id().unwrap();
    (first, second)
}

/// A read-back span's or event's attributes as a map of plain JSON.
fn attributes(item: &Value) -> serde_json::Map<String, Value> {
    item["attributes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|kv| {
                    (
                        kv["key"].as_str().unwrap().to_string(),
                        common::plain(&kv["value"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `v` with the trace id `id` written as `<id>` (MLflow puts it in `mlflow.artifactLocation`).
fn without_id(v: &Value, id: &str) -> Value {
    serde_json::from_str(&v.to_string().replace(id, "<id>")).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The trace as `get_trace` returns it: (info, root span).
fn read(client: &MlflowClient, id: &str) -> (Value, Value) {
    let id: TraceId = id.parse().unwrap();
    let v = client.get_trace(&id).expect("get_trace");
    let info = v["trace"]["trace_info"].clone();
    let root = v["trace"]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["parent_span_id"].as_str().unwrap_or("").is_empty())
        .cloned()
        .unwrap();
    (info, root)
}

/// Compares one trace of each side; returns (python info, spanwise info) for more checks.
fn compare(client: &MlflowClient, py_id: &str, sw_id: &str, what: &str) -> (Value, Value) {
    let (py, py_root) = read(client, py_id);
    let (sw, sw_root) = read(client, sw_id);
    let ctx = format!("{what}:\npython {py:#}\nspanwise {sw:#}");
    // Trace info fields and state.
    assert_eq!(keys(&py), keys(&sw), "info fields, {ctx}");
    for field in [
        "state",
        "request_preview",
        "response_preview",
        "trace_location",
    ] {
        assert_eq!(py[field], sw[field], "{field}, {ctx}");
    }
    // Metadata: the same keys; the same values except the listed ones.
    let (pm, sm) = (&py["trace_metadata"], &sw["trace_metadata"]);
    let py_keys: BTreeSet<String> = keys(pm)
        .into_iter()
        .filter(|k| !k.starts_with("mlflow.source.git."))
        .collect();
    assert_eq!(py_keys, keys(sm), "metadata keys, {ctx}");
    for k in py_keys {
        match k.as_str() {
            "mlflow.source.name" => {
                assert_eq!(pm[&k], "py_traces.py");
                let exe = std::env::current_exe().unwrap();
                assert_eq!(sm[&k], exe.file_name().unwrap().to_str().unwrap());
            }
            "mlflow.trace.sizeStats" => {
                let (p, s): (Value, Value) = (
                    serde_json::from_str(pm[&k].as_str().unwrap()).unwrap(),
                    serde_json::from_str(sm[&k].as_str().unwrap()).unwrap(),
                );
                assert_eq!(keys(&p), keys(&s), "{ctx}");
                assert_eq!(p["num_spans"], s["num_spans"], "{ctx}");
            }
            "mlflow.trace.sizeBytes" => {}
            _ => assert_eq!(pm[&k], sm[&k], "metadata {k}, {ctx}"),
        }
    }
    // Tags: the same, keys and values (no `service.name`).
    assert_eq!(
        without_id(&py["tags"], py_id),
        without_id(&sw["tags"], sw_id),
        "tags, {ctx}"
    );
    // Root span: name, status, events, attributes.
    assert_eq!(py_root["name"], sw_root["name"], "{ctx}");
    if what == "raising generator" {
        assert_eq!(
            py_root["status"],
            json!({"code": "STATUS_CODE_ERROR"}),
            "{ctx}"
        );
        assert_eq!(
            sw_root["status"],
            json!({"code": "STATUS_CODE_ERROR", "message": "ValueError: Some error"}),
            "{ctx}"
        );
    } else {
        assert_eq!(py_root["status"], sw_root["status"], "root status, {ctx}");
    }
    let (pa, sa) = (attributes(&py_root), attributes(&sw_root));
    let listed = [
        "mlflow.spanFunctionName",
        "mlflow.spanLogLevel",
        "mlflow.traceRequestId",
    ];
    for (k, v) in &pa {
        if !listed.contains(&k.as_str()) {
            assert_eq!(Some(v), sa.get(k), "root attribute {k}, {ctx}");
        }
    }
    for k in sa.keys() {
        assert!(
            pa.contains_key(k) || k == "mlflow.spanLogLevel",
            "root attribute {k} only in spanwise's, {ctx}"
        );
    }
    let events = |r: &Value| -> Vec<(Value, serde_json::Map<String, Value>)> {
        r["events"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| (e["name"].clone(), attributes(e)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (pe, se) = (events(&py_root), events(&sw_root));
    assert_eq!(pe.len(), se.len(), "root events, {ctx}");
    for ((pn, pattr), (sn, sattr)) in pe.iter().zip(&se) {
        assert_eq!(pn, sn, "{ctx}");
        for (k, v) in pattr {
            if k == "exception.stacktrace" {
                continue; // a Python traceback and a Rust source chain
            }
            assert_eq!(Some(v), sattr.get(k), "event {pn} attribute {k}, {ctx}");
        }
    }
    (py, sw)
}

#[test]
fn a_spanwise_trace_reads_like_one_from_mlflows_sdk() {
    let Some(venv) = common::mlflow_venv("a_spanwise_trace_reads_like_one_from_mlflows_sdk") else {
        return;
    };
    assert!(!EXPECTED_DIFFERENCES.is_empty());
    let server = common::MlflowServer::start(&venv);
    let dir = common::temp_dir("parity");
    let exp_id = MlflowClient::new(&server.url, "parity")
        .unwrap()
        .experiment_id()
        .unwrap();
    let client = MlflowClient::new(&server.url, Experiment::id(&exp_id)).unwrap();

    let (py_first, py_second) = run_python(&venv, &dir, &server.url, &exp_id);

    let exporter = Arc::new(Exporter::mlflow(client.clone(), ExportOptions::default()).unwrap());
    let _guard = spanwise_core::init_with(
        Config::new()
            .trace_dir(dir.join("spanwise"))
            .add_destination(exporter.clone()),
    )
    .unwrap();
    let (sw_first, sw_second) = run_spanwise();
    assert!(spanwise_core::flush_timeout(Duration::from_secs(120)));
    let stats = exporter.stats();
    assert_eq!((stats.exported, stats.failed), (2, 0), "{stats:?}");

    // search_traces lists all four in the experiment, with the same fields.
    let found = client.search_traces("", 100).unwrap();
    assert_eq!(found.len(), 4, "{found:#?}");
    let by_id = |id: &str| found.iter().find(|t| t["trace_id"] == id).unwrap().clone();
    for (p, s) in [
        (&py_first, sw_first.to_string()),
        (&py_second, sw_second.to_string()),
    ] {
        let (p, s) = (by_id(p), by_id(&s));
        assert_eq!(keys(&p), keys(&s), "search fields:\n{p:#}\n{s:#}");
        assert_eq!(p["request_preview"], s["request_preview"]);
        assert_eq!(p["response_preview"], s["response_preview"]);
        let (pid, sid) = (
            p["trace_id"].as_str().unwrap(),
            s["trace_id"].as_str().unwrap(),
        );
        assert_eq!(without_id(&p["tags"], pid), without_id(&s["tags"], sid));
    }

    let (py, sw) = compare(&client, &py_first, &sw_first.to_string(), "tagged chain");
    // The forms the issue names, verbatim.
    assert_eq!(sw["request_preview"], r#"{"x": 4, "greeting": "héllo"}"#);
    assert_eq!(sw["response_preview"], "[0, 1, 2, 3, 4]");
    assert_eq!(
        sw["trace_metadata"]["mlflow.traceOutputs"],
        "[0, 1, 2, 3, 4]"
    );
    assert_eq!(sw["tags"]["example"], "mlflow");
    assert_eq!(py["tags"].as_object().unwrap().len(), 4, "{py:#}");
    assert_eq!(sw["trace_metadata"]["mlflow.trace.session"], "session-1");

    let (_, sw) = compare(
        &client,
        &py_second,
        &sw_second.to_string(),
        "raising generator",
    );
    assert_eq!(sw["state"], "ERROR");
    assert_eq!(sw["trace_metadata"]["mlflow.traceOutputs"], "");

    // MLflow's own size computation, run on spanwise's stored trace.
    let stored = spanwise_core::get_trace(&sw_first).unwrap();
    let script = r#"
import json, sys
from mlflow.entities import Trace
from mlflow.tracing.utils import add_size_stats_to_trace_metadata
t = Trace.from_json(sys.stdin.read())
for k in ("mlflow.trace.sizeStats", "mlflow.trace.sizeBytes"):
    t.info.trace_metadata.pop(k)
add_size_stats_to_trace_metadata(t)
print(json.dumps([t.info.trace_metadata["mlflow.trace.sizeStats"], t.info.trace_metadata["mlflow.trace.sizeBytes"]]))
"#;
    for trace in [stored, spanwise_core::get_trace(&sw_second).unwrap()] {
        let mut child = Command::new(venv.join("bin/python"))
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(trace.to_json().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let theirs: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
        let meta = &trace.info.trace_metadata;
        assert_eq!(theirs[0], meta["mlflow.trace.sizeStats"]);
        assert_eq!(theirs[1], meta["mlflow.trace.sizeBytes"]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
