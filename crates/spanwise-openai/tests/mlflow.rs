//! Traced OpenAI calls in MLflow 3.17.2 itself: the JSONL lines load in Python's
//! `Trace.from_json` with their token usage, and traces exported to a real `mlflow server`
//! come back from `mlflow.search_traces` with `mlflow.trace.tokenUsage` in their metadata.
//!
//! One scenario per binary shares the global runtime, so everything runs in one test.

mod common;
#[path = "../../spanwise-otlp/tests/common/mod.rs"]
mod mlflow_common;

use std::sync::Arc;
use std::time::Duration;

use common::{client, in_trace};
use futures::StreamExt;
use openai_standin::Standin;
use serde_json::{Value, json};
use spanwise::Config;
use spanwise_otlp::{ExportOptions, Exporter, MlflowClient};

const FROM_JSON: &str = r#"
import json, sys
from mlflow.entities import Trace
out = []
for line in open(sys.argv[1]):
    t = Trace.from_json(line)
    out.append({
        "trace_id": t.info.trace_id,
        "token_usage": t.info.token_usage,
        "spans": [{"name": s.name, "span_type": s.span_type,
                   "usage": s.get_attribute("mlflow.chat.tokenUsage"),
                   "format": s.get_attribute("mlflow.message.format"),
                   "model": s.get_attribute("mlflow.llm.model")} for s in t.data.spans],
    })
print(json.dumps(out))
"#;

const SEARCH: &str = r#"
import json, sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
exp = mlflow.get_experiment_by_name(sys.argv[2])
traces = mlflow.search_traces(experiment_ids=[exp.experiment_id], return_type="list")
print(json.dumps({t.info.trace_id: {
    "metadata": t.info.trace_metadata.get("mlflow.trace.tokenUsage"),
    "token_usage": t.info.token_usage,
} for t in traces}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mlflow_loads_and_searches_the_token_usage() {
    let Some(venv) = mlflow_common::mlflow_venv("mlflow_loads_and_searches_the_token_usage") else {
        return;
    };
    let server = tokio::task::spawn_blocking({
        let venv = venv.clone();
        move || mlflow_common::MlflowServer::start(&venv)
    })
    .await
    .unwrap();
    let dir = mlflow_common::temp_dir("openai-mlflow");
    let experiment = "spanwise-openai";
    let mlflow = MlflowClient::new(&server.url, experiment).unwrap();
    let exporter = Arc::new(Exporter::mlflow(mlflow, ExportOptions::default()).unwrap());
    let guard =
        spanwise::init_with(Config::new().trace_dir(&dir).add_destination(exporter)).unwrap();

    let standin = Standin::start();
    let client = client(&standin);
    let request = |v: Value| serde_json::from_value(v).unwrap();
    // Two calls in one trace (8 + 1 words in, 6 + 4 out), and a stream with usage.
    let (_, two) = in_trace("agent", async {
        for q in ["What is MLflow?", "Thanks"] {
            let r = json!({"model": "gpt-4o-mini", "messages": [
                {"role": "system", "content": "You are a helpful chatbot."},
                {"role": "user", "content": q}]});
            client.chat().create(request(r)).await.unwrap();
        }
    })
    .await;
    let (_, streamed) = in_trace("predict", async {
        let r = json!({"model": "gpt-4o-mini", "stream_options": {"include_usage": true},
                       "messages": [{"role": "user", "content": "Hello"}]});
        let stream = client.chat().create_stream(request(r)).await.unwrap();
        stream.for_each(|_| async {}).await;
    })
    .await;
    let expected = [
        (
            two.info.trace_id.to_string(),
            json!({"input_tokens": 14, "output_tokens": 10, "total_tokens": 24}),
        ),
        (
            streamed.info.trace_id.to_string(),
            json!({"input_tokens": 1, "output_tokens": 4, "total_tokens": 5}),
        ),
    ];
    let flushed = tokio::task::spawn_blocking(|| spanwise::flush_timeout(Duration::from_secs(120)))
        .await
        .unwrap();
    assert!(flushed, "flush");

    // Python's Trace.from_json on the JSONL lines.
    let file = dir.join("traces.jsonl");
    let printed = mlflow_common::python(&venv, FROM_JSON, &[file.to_str().unwrap()]);
    let loaded: Vec<Value> = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(loaded.len(), 2);
    for (t, (id, usage)) in loaded.iter().zip(&expected) {
        assert_eq!(&t["trace_id"], id);
        assert_eq!(&t["token_usage"], usage);
    }
    let chat = &loaded[0]["spans"][1];
    assert_eq!(chat["name"], "Completions_1");
    assert_eq!(chat["span_type"], "CHAT_MODEL");
    assert_eq!(chat["format"], "openai");
    assert_eq!(chat["model"], "gpt-4o-mini");
    assert_eq!(
        chat["usage"],
        json!({"input_tokens": 8, "output_tokens": 6, "total_tokens": 14})
    );

    // The server: search_traces returns the usage in the trace metadata.
    let printed = tokio::task::spawn_blocking(move || {
        mlflow_common::python(&venv, SEARCH, &[&server.url, experiment])
    })
    .await
    .unwrap();
    let found: Value = serde_json::from_str(printed.trim()).unwrap();
    for (id, usage) in &expected {
        let t = &found[id];
        assert_eq!(&t["token_usage"], usage, "{found}");
        let meta: Value = serde_json::from_str(t["metadata"].as_str().unwrap()).unwrap();
        assert_eq!(&meta, usage);
    }
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}
