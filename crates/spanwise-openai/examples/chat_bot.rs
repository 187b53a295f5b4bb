//! The seeds' chat bot: `start_session` (CHAIN) loops over user turns, each read inside a span
//! `User` (`start_span`), and asks the model with the conversation so far; `BYE` ends it.
//!
//! The user's lines are scripted (no terminal here) and the OpenAI API is a local stand-in that
//! the example starts itself. Run with `cargo run -p spanwise-openai --example chat_bot`.

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::CreateChatCompletionRequest;
use serde_json::{Value, json};
use spanwise::openai::TracedClient;
use spanwise::{SpanType, Trace, start_span, trace};

/// The chat loop; `inputs` stands in for `input(">> ")`.
#[trace(span_type = SpanType::Chain, skip(client, inputs))]
pub async fn start_session(client: &TracedClient<OpenAIConfig>, inputs: &[&str]) -> Vec<Value> {
    let mut messages = vec![json!({"role": "system", "content": "You are a friendly chat bot"})];
    let mut lines = inputs.iter();
    loop {
        let user_input = {
            let span = start_span("User");
            span.set_inputs(&messages);
            let line = lines.next().copied().unwrap_or("BYE");
            span.set_outputs(line);
            line
        };
        if user_input == "BYE" {
            break;
        }
        messages.push(json!({"role": "user", "content": user_input}));
        let Ok(request) = serde_json::from_value::<CreateChatCompletionRequest>(json!({
            "model": "gpt-4o-mini",
            "max_tokens": 100,
            "messages": messages,
        })) else {
            break;
        };
        let Ok(response) = client.chat().create(request).await else {
            break;
        };
        let answer = response.choices[0]
            .message
            .content
            .clone()
            .unwrap_or_default();
        println!("🤖: {answer}");
        messages.push(json!({"role": "assistant", "content": answer}));
    }
    messages
}

/// Two turns and `BYE`; returns the trace.
pub async fn run(client: &TracedClient<OpenAIConfig>) -> Trace {
    start_session(client, &["Hello!", "What can you do?", "BYE"]).await;
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    let standin = openai_standin::Standin::start();
    let config = OpenAIConfig::new()
        .with_api_base(&standin.url)
        .with_api_key("sk-standin");
    let client = spanwise::openai::ClientExt::traced(async_openai::Client::with_config(config));
    print!("{}", run(&client).await.render_tree());
    Ok(())
}
