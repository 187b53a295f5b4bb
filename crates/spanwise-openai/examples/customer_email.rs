//! The seeds' "Structured Output Generation with OpenAI": an async function streams the tokens
//! of a customer-service email from a streamed chat completion, and `structured_output_reducer`
//! turns them into one structured output (the parsed JSON) as the span's output.
//!
//! Rust splits Python's async generator in two: the `async` part runs when the call is awaited
//! (it sends the request: the `Completions` span starts there), and the stream's span starts when
//! the stream is first polled. So `Completions` is a sibling of `generate_customer_email`'s span,
//! under the caller's span.
//!
//! The OpenAI API is a local stand-in, started by the example, that answers with a JSON email.
//! Run with `cargo run -p spanwise-openai --example customer_email`.

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::CreateChatCompletionRequest;
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::{Map, Value, json};
use spanwise::openai::TracedClient;
use spanwise::{Trace, trace};

/// What the stand-in answers for this example.
pub const EMAIL: &str = r#"{"subject": "Your damaged order", "greeting": "Dear John Doe,", "body": "We are sorry your product arrived damaged; a replacement is on its way.", "closing": "Kind regards", "priority": "high"}"#;

const SYSTEM_PROMPT: &str = "You are a customer service assistant. Generate a professional email \
response in JSON format: {\"subject\", \"greeting\", \"body\", \"closing\", \"priority\"}";

/// Aggregates streamed chunks into a structured output: tokens, trace info, errors, and the
/// JSON the tokens spell.
pub fn structured_output_reducer(chunks: &[Value]) -> Value {
    let mut content = String::new();
    let (mut trace_id, mut model, mut errors) = (Value::Null, Value::Null, Vec::new());
    for chunk in chunks {
        let field = |k: &str| chunk.get(k).cloned().unwrap_or(Value::Null);
        match chunk.get("type").and_then(Value::as_str).unwrap_or("token") {
            "token" => content.push_str(chunk.get("content").and_then(Value::as_str).unwrap_or("")),
            "trace_info" => (trace_id, model) = (field("trace_id"), field("model")),
            "error" => errors.push(field("message")),
            _ => {}
        }
    }
    let mut response = Map::new();
    response.insert("trace_id".into(), trace_id);
    response.insert("model".into(), model);
    response.insert("raw_content".into(), json!(content));
    if !errors.is_empty() {
        response.insert("status".into(), json!("error"));
        response.insert("errors".into(), Value::Array(errors));
        return Value::Object(response);
    }
    let trimmed = content.trim();
    let unwrapped = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|c| c.strip_suffix("```"))
        .map_or(trimmed, str::trim);
    match serde_json::from_str::<Value>(unwrapped) {
        Ok(data) => {
            response.insert("status".into(), json!("success"));
            response.insert("data".into(), data);
        }
        Err(e) => {
            response.insert("status".into(), json!("parse_error"));
            response.insert("error".into(), json!(format!("JSON parsing failed: {e}")));
        }
    }
    Value::Object(response)
}

/// Generates a structured customer service email, streamed token by token.
#[trace(skip(client), stream, output_reducer = structured_output_reducer)]
pub async fn generate_customer_email(
    client: &TracedClient<OpenAIConfig>,
    customer_name: &str,
    issue: &str,
    sentiment: &str,
) -> BoxStream<'static, Value> {
    let user_prompt = format!("Customer: {customer_name}\nIssue: {issue}\nTone: {sentiment}");
    let request: CreateChatCompletionRequest = match serde_json::from_value(json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": SYSTEM_PROMPT},
                     {"role": "user", "content": user_prompt}],
        "stream": true,
        "stream_options": {"include_usage": true},
        "temperature": 0.5,
    })) {
        Ok(r) => r,
        Err(e) => {
            return stream::iter([json!({"type": "error", "message": e.to_string()})]).boxed();
        }
    };
    match client.chat().create_stream(request).await {
        Ok(chunks) => {
            let tokens = chunks.filter_map(|chunk| async move {
                let content = chunk.ok()?.choices.first()?.delta.content.clone()?;
                (!content.is_empty()).then(|| json!({"type": "token", "content": content}))
            });
            // Made when the consumer reaches it, inside the stream's span.
            let info = stream::once(async {
                let trace_id = spanwise::current_trace_id().map(|id| id.to_string());
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

/// The caller: awaits the email's stream and prints the tokens as they arrive.
#[trace(skip(client))]
pub async fn request(client: &TracedClient<OpenAIConfig>) -> String {
    let chunks =
        generate_customer_email(client, "John Doe", "Product arrived damaged", "empathetic").await;
    let mut chunks = std::pin::pin!(chunks);
    let mut text = String::new();
    while let Some(chunk) = chunks.next().await {
        if let Some(c) = chunk.get("content").and_then(Value::as_str) {
            print!("{c}");
            text.push_str(c);
        }
    }
    println!();
    text
}

/// Runs the example; returns the trace.
pub async fn run(client: &TracedClient<OpenAIConfig>) -> Trace {
    request(client).await;
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    let standin = openai_standin::Standin::start().with_reply(EMAIL);
    let config = OpenAIConfig::new()
        .with_api_base(&standin.url)
        .with_api_key("sk-standin");
    let client = spanwise::openai::ClientExt::traced(async_openai::Client::with_config(config));
    print!("{}", run(&client).await.render_tree());
    Ok(())
}
