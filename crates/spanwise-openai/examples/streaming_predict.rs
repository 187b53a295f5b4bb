//! The seeds' streaming `predict` with `aggregate_chunks`: a traced function streams the chunks
//! of a chat completion, and its reducer rebuilds them into one `ChatCompletion` as the span's
//! output (what the OpenAI wrapper's own `Completions` span does too, nested inside).
//!
//! The OpenAI API is a local stand-in that the example starts itself.
//! Run with `cargo run -p spanwise-openai --example streaming_predict`.

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionStreamResponse};
use futures::{Stream, StreamExt, future, stream};
use serde_json::{Value, json};
use spanwise::openai::TracedClient;
use spanwise::{Trace, trace};

/// Consolidates the chunks into one chat completion (`None` for no chunks).
pub fn aggregate_chunks(outputs: &[CreateChatCompletionStreamResponse]) -> Option<Value> {
    let first = outputs.first()?;
    let delta = &first.choices.first()?.delta;
    let mut content = delta.content.clone().unwrap_or_default();
    let role = delta.role.map(|r| json!(r)).unwrap_or(json!("assistant"));
    let mut finish_reason = first.choices[0].finish_reason.map(|f| json!(f));
    for chunk in &outputs[1..] {
        let Some(choice) = chunk.choices.first() else {
            continue; // the usage chunk
        };
        content.push_str(choice.delta.content.as_deref().unwrap_or(""));
        finish_reason = finish_reason.or(choice.finish_reason.map(|f| json!(f)));
    }
    Some(json!({
        "id": first.id,
        "choices": [{"index": 0, "message": {"role": role, "content": content},
                     "finish_reason": finish_reason}],
        "created": first.created,
        "model": first.model,
        "object": "chat.completion",
    }))
}

/// Streams the model's answer chunk by chunk (a request that fails streams nothing).
#[trace(skip(client), output_reducer = aggregate_chunks)]
pub fn predict(
    client: TracedClient<OpenAIConfig>,
    messages: Vec<Value>,
) -> impl Stream<Item = CreateChatCompletionStreamResponse> + Send {
    let request: Option<CreateChatCompletionRequest> = serde_json::from_value(json!({
        "model": "gpt-4o-mini",
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    }))
    .ok();
    // The request is sent when the stream is first polled, inside `predict`'s span.
    stream::once(async move {
        match request {
            Some(r) => client.chat().create_stream(r).await.ok(),
            None => None,
        }
    })
    .filter_map(future::ready)
    .flatten()
    .filter_map(|chunk| future::ready(chunk.ok()))
}

/// Streams an answer, printing the chunks as they come; returns the trace.
pub async fn run(client: &TracedClient<OpenAIConfig>) -> Trace {
    let chunks = predict(
        client.clone(),
        vec![json!({"role": "user", "content": "Hello"})],
    );
    let mut chunks = std::pin::pin!(chunks);
    while let Some(chunk) = chunks.next().await {
        if let Some(text) = chunk
            .choices
            .first()
            .and_then(|c| c.delta.content.as_deref())
        {
            print!("{text}");
        }
    }
    println!();
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
