//! Against a real MLflow 3.17.2 server: traces made with the runtime (nested calls, an error,
//! tags and previews, session and user) go out through the background exporter, and MLflow's
//! own fixtures through `MlflowClient::send_traces`; both are read back through the REST API.
//!
//! One scenario per binary shares the global runtime, so everything runs in one test.

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use spanwise_core::{
    Config, Destination, SpanType, Trace, TraceId, TraceState, TraceUpdate, start_span,
    update_current_trace,
};
use spanwise_otlp::{Experiment, ExportOptions, Exporter, MlflowClient};

#[derive(Debug)]
struct Failed(&'static str);
impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
impl std::error::Error for Failed {}

/// `{"trace": {"trace_info", "spans"}}` → (info, spans by name).
fn read_back(client: &MlflowClient, id: &TraceId) -> (Value, Vec<Value>) {
    let v = client.get_trace(id).expect("get_trace");
    let info = v["trace"]["trace_info"].clone();
    let spans = v["trace"]["spans"].as_array().cloned().unwrap_or_default();
    (info, spans)
}

fn span<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

/// One attribute of a read-back span or event (a list of `{key, value}`), as plain JSON.
fn attr(item: &Value, key: &str) -> Value {
    item["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .map(|kv| common::plain(&kv["value"]))
        .unwrap_or(Value::Null)
}

/// A span id as the REST API returns it (base64 of the bytes).
fn id_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[test]
fn traces_round_trip_through_a_real_mlflow_server() {
    let Some(venv) = common::mlflow_venv("traces_round_trip_through_a_real_mlflow_server") else {
        return;
    };
    let server = common::MlflowServer::start(&venv);
    let dir = common::temp_dir("roundtrip");

    let client = MlflowClient::new(&server.url, "spanwise-roundtrip").unwrap();
    let exporter = Arc::new(Exporter::mlflow(client.clone(), ExportOptions::default()).unwrap());
    let _guard = spanwise_core::init_with(
        Config::new()
            .trace_dir(&dir)
            .add_destination(exporter.clone()),
    )
    .unwrap();

    // 1. Nested: a chain calling a retriever and an LLM.
    let nested_id = {
        let root = start_span("answer").span_type(SpanType::Chain);
        root.set_inputs(json!({"question": "What is MLflow?", "top_k": 2}));
        {
            let r = start_span("retrieve").span_type(SpanType::Retriever);
            r.set_inputs(json!({"query": "What is MLflow?"}));
            r.set_outputs(json!([{"page_content": "MLflow is a platform", "score": 0.9}]));
        }
        {
            let l = start_span("llm").span_type(SpanType::ChatModel);
            l.set_inputs(json!({"messages": [{"role": "user", "content": "What is MLflow?"}]}));
            l.set_attribute("temperature", 0.2);
            l.set_attribute("max_tokens", 64);
            l.set_attribute("count_as_text", "7");
            l.set_outputs("An ML platform.");
        }
        root.set_outputs("An ML platform.");
        root.trace_id().unwrap()
    };

    // 2. An error inside a tool, propagated to the root.
    let error_id = {
        let root = start_span("agent").span_type(SpanType::Agent);
        root.set_inputs(json!({"task": "divide"}));
        {
            let t = start_span("divide").span_type(SpanType::Tool);
            t.set_inputs(json!({"a": 1, "b": 0}));
            t.record_error(&Failed("division by zero"));
        }
        root.record_error(&Failed("tool failed"));
        root.trace_id().unwrap()
    };

    // 3. Tags, custom previews, client request id, metadata, session and user.
    let tagged_id = {
        let root = start_span("my_func");
        root.set_inputs(json!({"x": 1}));
        update_current_trace(
            TraceUpdate::new()
                .tag("fruit", "apple")
                .tag("team", "search")
                .metadata("app.version", "1.2.3")
                .client_request_id("req-42")
                .request_preview("custom req")
                .response_preview("custom resp")
                .session_id("session-7")
                .user("ada"),
        )
        .unwrap();
        root.set_outputs(2);
        root.trace_id().unwrap()
    };

    // The runtime's flush: traces still being finalized reach the exporter first.
    assert!(
        spanwise_core::flush_timeout(Duration::from_secs(120)),
        "flush: {:?}",
        exporter.stats()
    );
    let stats = exporter.stats();
    assert_eq!(
        (stats.exported, stats.dropped, stats.failed),
        (3, 0, 0),
        "{stats:?}"
    );
    // Both destinations are listed in the runtime's stats.
    let names: Vec<String> = spanwise_core::stats()
        .destinations
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, vec!["jsonl", "mlflow"]);

    // Nested trace.
    let (info, spans) = read_back(&client, &nested_id);
    assert_eq!(info["trace_id"], nested_id.to_string());
    assert_eq!(info["state"], "OK");
    assert_eq!(info["tags"]["mlflow.traceName"], "answer");
    assert_eq!(
        info["request_preview"],
        r#"{"question": "What is MLflow?", "top_k": 2}"#
    );
    assert_eq!(info["response_preview"], r#""An ML platform.""#);
    assert_eq!(spans.len(), 3);
    let (root, retrieve, llm) = (
        span(&spans, "answer"),
        span(&spans, "retrieve"),
        span(&spans, "llm"),
    );
    assert!(root["parent_span_id"].as_str().unwrap_or("").is_empty());
    assert_eq!(id_of(&retrieve["parent_span_id"]), id_of(&root["span_id"]));
    assert_eq!(id_of(&llm["parent_span_id"]), id_of(&root["span_id"]));
    assert_eq!(attr(root, "mlflow.spanType"), "CHAIN");
    assert_eq!(attr(retrieve, "mlflow.spanType"), "RETRIEVER");
    assert_eq!(attr(llm, "mlflow.spanType"), "CHAT_MODEL");
    assert_eq!(
        attr(root, "mlflow.spanInputs"),
        json!({"question": "What is MLflow?", "top_k": 2})
    );
    assert_eq!(attr(root, "mlflow.spanOutputs"), "An ML platform.");
    assert_eq!(
        attr(retrieve, "mlflow.spanOutputs"),
        json!([{"page_content": "MLflow is a platform", "score": 0.9}])
    );
    // Native values keep their JSON type; a string holding a number stays a string.
    assert_eq!(attr(llm, "temperature"), json!(0.2));
    assert_eq!(attr(llm, "max_tokens"), json!(64));
    assert_eq!(attr(llm, "count_as_text"), json!("7"));
    assert_eq!(attr(root, "mlflow.traceRequestId"), nested_id.to_string());

    // Error trace.
    let (info, spans) = read_back(&client, &error_id);
    assert_eq!(info["state"], "ERROR");
    let divide = span(&spans, "divide");
    assert_eq!(divide["status"]["code"], "STATUS_CODE_ERROR");
    assert_eq!(divide["status"]["message"], "Failed: division by zero");
    assert_eq!(attr(divide, "mlflow.spanInputs"), json!({"a": 1, "b": 0}));
    assert_eq!(attr(divide, "mlflow.spanOutputs"), Value::Null);
    let event = &divide["events"][0];
    assert_eq!(event["name"], "exception");
    assert_eq!(attr(event, "exception.type"), "Failed");
    assert_eq!(attr(event, "exception.message"), "division by zero");
    assert_eq!(span(&spans, "agent")["status"]["code"], "STATUS_CODE_ERROR");

    // Tags and previews.
    let (info, _) = read_back(&client, &tagged_id);
    assert_eq!(info["tags"]["fruit"], "apple");
    assert_eq!(info["tags"]["team"], "search");
    assert_eq!(info["tags"]["mlflow.traceName"], "my_func");
    assert_eq!(info["request_preview"], "custom req");
    assert_eq!(info["response_preview"], "custom resp");
    assert_eq!(info["client_request_id"], "req-42");
    assert_eq!(info["trace_metadata"]["app.version"], "1.2.3");
    assert_eq!(info["trace_metadata"]["mlflow.trace.session"], "session-7");
    assert_eq!(info["trace_metadata"]["mlflow.trace.user"], "ada");

    // Search by tag, and all three in the experiment.
    let found = client.search_traces("tags.fruit = 'apple'", 100).unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["trace_id"], tagged_id.to_string());
    assert_eq!(client.search_traces("", 100).unwrap().len(), 3);

    // MLflow's own Python client reads the trace as it was made.
    let json = common::python(
        &venv,
        "import sys, mlflow\nmlflow.set_tracking_uri(sys.argv[1])\nprint(mlflow.get_trace(sys.argv[2]).to_json())",
        &[&server.url, &nested_id.to_string()],
    );
    let theirs = Trace::from_json(json.trim()).unwrap();
    let ours = spanwise_core::get_trace(&nested_id).unwrap();
    assert_eq!(theirs.data.spans.len(), ours.data.spans.len());
    for s in &ours.data.spans {
        let t = theirs.spans_named(&s.name).next().unwrap();
        assert_eq!(t.parent_span_id, s.parent_span_id, "{}", s.name);
        assert_eq!(t.span_type(), s.span_type(), "{}", s.name);
        assert_eq!(t.inputs(), s.inputs(), "{}", s.name);
        assert_eq!(t.outputs(), s.outputs(), "{}", s.name);
        assert_eq!(t.start_time_unix_nano, s.start_time_unix_nano);
    }

    // The same experiment name resolves to the same id (found, not created again).
    let again = MlflowClient::new(&server.url, "spanwise-roundtrip").unwrap();
    assert_eq!(
        again.experiment_id().unwrap(),
        client.experiment_id().unwrap()
    );

    // MLflow's own fixtures, sent synchronously into another experiment by id.
    let exp_id = MlflowClient::new(&server.url, "fixtures")
        .unwrap()
        .experiment_id()
        .unwrap();
    let sync = MlflowClient::new(&server.url, Experiment::id(&exp_id)).unwrap();
    let fixtures_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mlflow-3.17.2");
    let mut fixtures: Vec<Trace> = Vec::new();
    for entry in
        std::fs::read_dir(&fixtures_dir).expect("tests/fixtures/mlflow-3.17.2 in the repository")
    {
        // The directory's README is not a trace.
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        fixtures.push(Trace::from_json(&text).unwrap());
    }
    assert!(fixtures.len() >= 9);
    let outcomes = sync.send_traces(&fixtures);
    for o in &outcomes {
        assert!(o.result.is_ok(), "{}: {:?}", o.trace_id, o.result);
    }
    for t in &fixtures {
        let (info, spans) = read_back(&sync, &t.info.trace_id);
        assert_eq!(spans.len(), t.data.spans.len(), "{}", t.info.trace_id);
        assert_eq!(info["state"], t.info.state.as_str());
        assert_eq!(
            info["trace_location"]["mlflow_experiment"]["experiment_id"],
            exp_id.as_str()
        );
        for (k, v) in &t.info.tags {
            assert_eq!(
                info["tags"][k],
                v.as_str(),
                "tag {k} of {}",
                t.info.trace_id
            );
        }
        if let Some(p) = &t.info.request_preview {
            assert_eq!(info["request_preview"], p.as_str());
        }
        if let Some(p) = &t.info.response_preview {
            assert_eq!(info["response_preview"], p.as_str());
        }
        for s in &t.data.spans {
            let got = span(&spans, &s.name);
            for key in ["mlflow.spanType", "mlflow.spanInputs", "mlflow.spanOutputs"] {
                if let Some(want) = s.attribute(key) {
                    assert_eq!(attr(got, key), want, "{key} of {}", s.name);
                }
            }
        }
    }
    let tagged = sync.search_traces("tags.fruit = 'apple'", 100).unwrap();
    assert_eq!(tagged.len(), 1);
    assert_eq!(TraceState::Ok.as_str(), tagged[0]["state"]);
    // (Kept when an assertion above fails, to look at.)
    let _ = std::fs::remove_dir_all(&dir);
}
