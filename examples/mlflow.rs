//! A small agent-like flow — a chain calling a retriever, an LLM and a tool, all simulated
//! locally — sent to the MLflow tracking server named by the environment.
//!
//! ```text
//! python -m venv .venv-mlflow && .venv-mlflow/bin/pip install mlflow==3.17.2
//! .venv-mlflow/bin/mlflow server --host 127.0.0.1 --port 5000 \
//!     --backend-store-uri sqlite:///mlflow.db
//! MLFLOW_TRACKING_URI=http://127.0.0.1:5000 MLFLOW_EXPERIMENT_NAME=spanwise-demo \
//!     cargo run --example mlflow --features otlp
//! ```
//!
//! Then open http://127.0.0.1:5000, experiment `spanwise-demo`, tab Traces.

use serde::Serialize;
use spanwise::{TraceUpdate, trace, update_current_trace};

#[derive(Debug, Serialize)]
struct Document {
    page_content: String,
    score: f64,
}

#[derive(Debug)]
struct ToolError(String);

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ToolError {}

#[trace(span_type = spanwise::SpanType::Retriever)]
fn retrieve(query: &str, top_k: usize) -> Vec<Document> {
    let corpus = [
        "MLflow Tracing records the inputs, outputs and timing of each step.",
        "spanwise writes MLflow's trace format from Rust.",
        "Rust has no garbage collector.",
    ];
    let words: Vec<&str> = query.split_whitespace().collect();
    let mut docs: Vec<Document> = corpus
        .iter()
        .map(|text| Document {
            page_content: text.to_string(),
            score: words.iter().filter(|w| text.contains(*w)).count() as f64 / words.len() as f64,
        })
        .collect();
    docs.sort_by(|a, b| b.score.total_cmp(&a.score));
    docs.truncate(top_k);
    docs
}

#[trace(span_type = spanwise::SpanType::Tool)]
fn calculator(expression: &str) -> Result<i64, ToolError> {
    let (a, b) = expression
        .split_once('+')
        .ok_or_else(|| ToolError(format!("cannot evaluate {expression:?}")))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<i64>()
            .map_err(|e| ToolError(e.to_string()))
    };
    Ok(parse(a)? + parse(b)?)
}

#[trace(span_type = spanwise::SpanType::ChatModel, attributes(model = "simulated-llm", temperature = 0.0))]
fn chat(messages: &[serde_json::Value]) -> serde_json::Value {
    let question = messages
        .last()
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    serde_json::json!({
        "choices": [{"message": {"role": "assistant",
            "content": format!("Based on the context: {}", question.len())}}],
        "usage": {"input_tokens": 42, "output_tokens": 7},
    })
}

#[trace(name = "answer_question", span_type = spanwise::SpanType::Chain)]
fn answer(question: &str) -> String {
    update_current_trace(
        TraceUpdate::new()
            .tag("example", "mlflow")
            .session_id("demo-session")
            .user("demo-user"),
    )
    .ok();
    let docs = retrieve(question, 2);
    let context: Vec<&str> = docs.iter().map(|d| d.page_content.as_str()).collect();
    let sum = calculator("40 + 2").unwrap_or_default();
    let _ = calculator("forty-two"); // recorded as a failed tool call
    let reply = chat(&[
        serde_json::json!({"role": "system", "content": context.join("\n")}),
        serde_json::json!({"role": "user", "content": question}),
    ]);
    format!(
        "{} (and 40 + 2 = {sum})",
        reply["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
    )
}

fn main() -> Result<(), spanwise::Error> {
    // With the `otlp` feature, `init` sends to MLflow (MLFLOW_TRACKING_URI,
    // MLFLOW_EXPERIMENT_NAME or _ID, auth) and any OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT)
    // named by the environment, beside the local JSONL store, and says so on stderr.
    if std::env::var_os("MLFLOW_TRACKING_URI").is_none() {
        eprintln!("MLFLOW_TRACKING_URI is not set: the trace is only written locally");
    }
    let guard = spanwise::init()?;

    let reply = answer("What does MLflow Tracing record?");
    println!("{reply}");
    let id = spanwise::last_active_trace_id().expect("the trace just ended");

    // Dropping the guard waits (up to 30 s) until the server has the trace.
    drop(guard);
    for (name, s) in spanwise::stats().destinations {
        println!(
            "{name}: exported {}, dropped {}, retried {}, failed {}",
            s.exported, s.dropped, s.retried, s.failed
        );
    }
    if let Ok(uri) = std::env::var("MLFLOW_TRACKING_URI") {
        println!("trace {id}: open {uri} and look in the experiment's Traces tab");
    }
    Ok(())
}
