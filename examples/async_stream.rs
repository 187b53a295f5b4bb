//! The seeds' "Structured Output Generation with OpenAI" (the customer-email async generator)
//! and "Multi-Model Response Aggregation": `#[trace]` on functions that return streams, with
//! reducers that turn the streamed chunks into one structured output.
//!
//! The model is simulated on tokio (a token stream with small delays): no network.
//!
//! `generate_customer_email` is an `async fn` returning a stream. Rust splits Python's async
//! generator in two: the `async` part runs when the call is awaited (here: sending the request,
//! the `create` span), and the stream's span starts when the stream is first polled. So
//! `create` is recorded as a sibling of the stream's span, under the caller's span, and the
//! stream's span covers the tokens. The arguments are the stream span's inputs.
//!
//! Run with `cargo run --example async_stream`.

use std::time::Duration;

use futures::stream::{self, BoxStream, Stream, StreamExt};
use serde_json::{Map, Value, json};
use spanwise::{SpanType, Trace, trace};

/// A simulated streaming chat client.
pub struct ChatClient {
    /// The answer it streams, a few characters per token.
    pub answer: String,
    /// When set, the request fails with this message.
    pub fail_with: Option<String>,
}

/// A request that failed before streaming.
#[derive(Debug)]
pub struct ApiError(String);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ApiError {}

impl ChatClient {
    /// Sends the request; on success, the stream of content deltas (`None` for a chunk without
    /// content, as OpenAI's last chunk). Only the request is recorded here, not the stream.
    #[trace(span_type = SpanType::ChatModel, capture_output = false)]
    pub async fn create(
        &self,
        model: &str,
        messages: Vec<Value>,
    ) -> Result<BoxStream<'static, Option<String>>, ApiError> {
        let _ = (model, messages);
        tokio::time::sleep(Duration::from_millis(2)).await;
        if let Some(e) = &self.fail_with {
            return Err(ApiError(e.clone()));
        }
        let chars: Vec<char> = self.answer.chars().collect();
        let tokens: Vec<String> = chars.chunks(8).map(|c| c.iter().collect()).collect();
        let deltas = stream::iter(tokens.into_iter().map(Some).chain([None])).then(|t| async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            t
        });
        Ok(deltas.boxed())
    }
}

/// Aggregates streamed chunks into a structured output: tokens, trace info, errors, and the
/// JSON the tokens spell.
pub fn structured_output_reducer(chunks: &[Value]) -> Value {
    let mut content_parts = Vec::new();
    let mut trace_id = Value::Null;
    let mut model_info = Value::Null;
    let mut errors = Vec::new();
    for chunk in chunks {
        let field = |k: &str| chunk.get(k).cloned().unwrap_or(Value::Null);
        match chunk.get("type").and_then(Value::as_str).unwrap_or("token") {
            "token" => content_parts.push(
                chunk
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
            "trace_info" => {
                trace_id = field("trace_id");
                model_info = field("model");
            }
            "error" => errors.push(field("message")),
            _ => {}
        }
    }
    let full_content = content_parts.concat();
    let mut response = Map::new();
    response.insert("trace_id".into(), trace_id);
    response.insert("model".into(), model_info);
    response.insert("raw_content".into(), Value::String(full_content.clone()));
    if !errors.is_empty() {
        response.insert("status".into(), json!("error"));
        response.insert("errors".into(), Value::Array(errors));
        return Value::Object(response);
    }
    let mut json_content = full_content.trim();
    if let Some(c) = json_content
        .strip_prefix("```json")
        .and_then(|c| c.strip_suffix("```"))
    {
        json_content = c.trim();
    } else if let Some(c) = json_content
        .strip_prefix("```")
        .and_then(|c| c.strip_suffix("```"))
    {
        json_content = c.trim();
    }
    match serde_json::from_str::<Value>(json_content) {
        Ok(data) => {
            response.insert("status".into(), json!("success"));
            response.insert("data".into(), data);
        }
        Err(e) => {
            response.insert("status".into(), json!("parse_error"));
            response.insert("error".into(), json!(format!("JSON parsing failed: {e}")));
            // serde_json reports a line and column, not Python's character offset.
            response.insert("error_position".into(), json!(e.column()));
        }
    }
    Value::Object(response)
}

const SYSTEM_PROMPT: &str = "You are a customer service assistant. Generate a professional email \
response in JSON format: {\"subject\", \"greeting\", \"body\", \"closing\", \"priority\"}";

/// Generates a structured customer service email, streamed token by token.
#[trace(skip(client), output_reducer = structured_output_reducer)]
pub async fn generate_customer_email(
    client: &ChatClient,
    customer_name: &str,
    issue: &str,
    sentiment: &str,
) -> impl Stream<Item = Value> + Send + 'static {
    let user_prompt = format!("Customer: {customer_name}\nIssue: {issue}\nTone: {sentiment}");
    let messages = vec![
        json!({"role": "system", "content": SYSTEM_PROMPT}),
        json!({"role": "user", "content": user_prompt}),
    ];
    match client.create("gpt-4o-mini", messages).await {
        Ok(deltas) => {
            let tokens = deltas.filter_map(|d| async move {
                d.filter(|c| !c.is_empty())
                    .map(|c| json!({"type": "token", "content": c}))
            });
            // Made when the consumer reaches it, inside the stream's span.
            let info = stream::once(async {
                let trace_id = spanwise::current_span()
                    .and_then(|s| s.trace_id())
                    .map(|id| id.to_string());
                json!({"type": "trace_info", "trace_id": trace_id, "model": "gpt-4o-mini"})
            });
            tokens.chain(info).boxed()
        }
        Err(e) => {
            stream::iter([json!({"type": "error", "message": format!("OpenAI API error: {e}")})])
                .boxed()
        }
    }
}

/// Aggregates the responses of several models.
pub fn multi_model_reducer(chunks: &[Value]) -> Value {
    let mut responses = Map::new();
    let mut latencies = Map::new();
    for chunk in chunks {
        if let Some(model) = chunk.get("model").and_then(Value::as_str) {
            responses.insert(
                model.into(),
                chunk.get("response").cloned().unwrap_or(json!("")),
            );
            latencies.insert(
                model.into(),
                chunk.get("latency").cloned().unwrap_or(json!(0)),
            );
        }
    }
    let fastest_model = latencies
        .iter()
        .filter_map(|(m, l)| Some((m, l.as_f64()?)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(m, _)| m.clone());
    let distinct: std::collections::HashSet<String> =
        responses.values().map(Value::to_string).collect();
    json!({
        "responses": responses,
        "latencies": latencies,
        "fastest_model": fastest_model,
        "consensus": distinct.len() == 1,
    })
}

/// Asks several (simulated) models at once; each answer is a chunk as soon as it arrives.
#[trace(output_reducer = multi_model_reducer)]
pub fn ask_models(question: String) -> impl Stream<Item = Value> + Send {
    let models = [
        ("gpt-4o-mini", 30u64),
        ("claude-haiku", 10),
        ("llama-3", 20),
    ];
    stream::iter(models)
        .map(move |(model, latency_ms)| {
            let question = question.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(latency_ms)).await;
                let answer = if question.contains("capital of France") {
                    "Paris"
                } else {
                    "I don't know"
                };
                json!({"model": model, "response": answer, "latency": latency_ms as f64 / 1000.0})
            }
        })
        .buffer_unordered(3)
}

/// Runs the three scenarios and returns their traces: the email, the email with a failed
/// request, the multi-model question.
pub async fn run() -> Vec<Trace> {
    let last = || {
        let id = spanwise::last_active_trace_id().expect("the trace just ended");
        spanwise::get_trace(&id).expect("completed traces are kept in memory")
    };
    let client = ChatClient {
        answer: r#"```json
{"subject": "Re: damaged product", "greeting": "Dear John Doe,", "body": "We are sorry your product arrived damaged; a replacement is on its way.", "closing": "Kind regards", "priority": "high"}
```"#
            .into(),
        fail_with: None,
    };
    let mut traces = Vec::new();

    let email = request(&client).await;
    println!();
    assert!(email.contains("replacement"));
    traces.push(last());

    let failing = ChatClient {
        answer: String::new(),
        fail_with: Some("connection reset".into()),
    };
    request(&failing).await;
    traces.push(last());

    let answers: Vec<Value> = ask_models("What is the capital of France?".into())
        .collect()
        .await;
    assert_eq!(answers.len(), 3);
    traces.push(last());
    traces
}

/// The caller: awaits the email's stream and prints the tokens as they arrive.
#[trace(skip(client))]
async fn request(client: &ChatClient) -> String {
    let chunks =
        generate_customer_email(client, "John Doe", "Product arrived damaged", "empathetic").await;
    let mut chunks = std::pin::pin!(chunks);
    let mut text = String::new();
    while let Some(chunk) = chunks.next().await {
        // In practice these would be sent to a frontend as they come.
        if let Some(c) = chunk.get("content").and_then(Value::as_str) {
            print!("{c}");
            text.push_str(c);
        }
    }
    text
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    for trace in run().await {
        print!("{}", trace.render_tree());
        println!(
            "response preview: {}\n",
            trace.info.response_preview.unwrap_or_default()
        );
    }
    Ok(())
}
