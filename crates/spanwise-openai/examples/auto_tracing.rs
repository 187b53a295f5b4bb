//! The seeds' "Combining with Auto-Tracing": `#[trace]` functions and a traced async-openai call
//! in one trace, `run` → `build_messages`, the `Completions` span, `parse_response`.
//!
//! The OpenAI API is a local stand-in (`openai-standin`) that the example starts itself.
//! Run with `cargo run -p spanwise-openai --example auto_tracing`.

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};
use serde_json::{Value, json};
use spanwise::openai::TracedClient;
use spanwise::{SpanType, Trace, trace};

/// Asks the model one question.
#[trace(span_type = SpanType::Chain, skip(client))]
pub async fn run(client: &TracedClient<OpenAIConfig>, question: &str) -> Option<String> {
    let messages = build_messages(question);
    // The wrapper records a span for the OpenAI call.
    let request: CreateChatCompletionRequest = serde_json::from_value(json!({
        "model": "gpt-4o-mini",
        "max_tokens": 100,
        "messages": messages,
    }))
    .ok()?;
    let response = client.chat().create(request).await.ok()?;
    parse_response(&response)
}

#[trace]
fn build_messages(question: &str) -> Vec<Value> {
    vec![
        json!({"role": "system", "content": "You are a helpful chatbot."}),
        json!({"role": "user", "content": question}),
    ]
}

#[trace]
fn parse_response(response: &CreateChatCompletionResponse) -> Option<String> {
    response.choices.first()?.message.content.clone()
}

/// Runs the example against `client`; returns the trace.
pub async fn traced_run(client: &TracedClient<OpenAIConfig>) -> Trace {
    let answer = run(client, "What is MLflow?").await;
    println!("{}", answer.unwrap_or_default());
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    let standin = openai_standin::Standin::start();
    // The one line of setup: `.traced()` on the client.
    let config = OpenAIConfig::new()
        .with_api_base(&standin.url)
        .with_api_key("sk-standin");
    let client = spanwise::openai::ClientExt::traced(async_openai::Client::with_config(config));
    print!("{}", traced_run(&client).await.render_tree());
    Ok(())
}
