//! The seeds' "Advanced Example: OpenAI Streaming": an `output_reducer` consolidates streamed
//! `ChatCompletionChunk`s into one `ChatCompletion`, which becomes the span's output (and the
//! trace's response preview), while each chunk stays in the span's events.
//!
//! The structs are local stand-ins shaped like OpenAI's, and the "model" is simulated: no
//! network. Run with `cargo run --example openai_chunks`.

use serde::Serialize;
use spanwise::{Trace, trace};

/// A chat message sent to the model.
#[derive(Clone, Debug, Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// A tool call requested by the model.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ToolCall {
    /// The call's id.
    pub id: String,
    /// The function's name.
    pub name: String,
    /// The arguments, as JSON text.
    pub arguments: String,
}

/// What one chunk adds to the message.
#[derive(Clone, Debug, Serialize, Default)]
pub struct ChoiceDelta {
    /// Set on the first chunk only.
    pub role: Option<String>,
    /// The next piece of text, if any.
    pub content: Option<String>,
    /// Tool calls, if any.
    pub tool_calls: Option<Vec<ToolCall>>,
}

/// One choice of a chunk.
#[derive(Clone, Debug, Serialize)]
pub struct ChunkChoice {
    /// The choice's index.
    pub index: u32,
    /// What it adds.
    pub delta: ChoiceDelta,
    /// Set on the last chunk.
    pub finish_reason: Option<String>,
}

/// Shaped like `openai.types.chat.ChatCompletionChunk`.
#[derive(Clone, Debug, Serialize)]
pub struct ChatCompletionChunk {
    /// The completion's id, the same on every chunk.
    pub id: String,
    /// The choices (one here).
    pub choices: Vec<ChunkChoice>,
    /// Creation time, seconds since the epoch.
    pub created: u64,
    /// The model's name.
    pub model: String,
    /// Always `"chat.completion.chunk"`.
    pub object: &'static str,
}

/// The consolidated message.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ChatCompletionMessage {
    /// The role of the first chunk.
    pub role: Option<String>,
    /// The concatenated text.
    pub content: String,
    /// All tool calls.
    pub tool_calls: Vec<ToolCall>,
}

/// One choice of a completion.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Choice {
    /// The choice's index.
    pub index: u32,
    /// The message.
    pub message: ChatCompletionMessage,
    /// Why the model stopped.
    pub finish_reason: Option<String>,
}

/// Shaped like `openai.types.chat.ChatCompletion`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ChatCompletion {
    /// The completion's id.
    pub id: String,
    /// The choices (one here).
    pub choices: Vec<Choice>,
    /// Creation time, seconds since the epoch.
    pub created: u64,
    /// The model's name.
    pub model: String,
    /// Always `"chat.completion"`.
    pub object: &'static str,
}

/// Consolidates `ChatCompletionChunk`s into a single `ChatCompletion`.
pub fn aggregate_chunks(outputs: &[ChatCompletionChunk]) -> Option<ChatCompletion> {
    let (first, rest) = outputs.split_first()?;
    let choice = first.choices.first()?;
    let mut message = ChatCompletionMessage {
        role: choice.delta.role.clone(),
        content: choice.delta.content.clone().unwrap_or_default(),
        tool_calls: choice.delta.tool_calls.clone().unwrap_or_default(),
    };
    let mut finish_reason = choice.finish_reason.clone();
    for chunk in rest {
        let Some(choice) = chunk.choices.first() else {
            continue;
        };
        message
            .content
            .push_str(choice.delta.content.as_deref().unwrap_or(""));
        message
            .tool_calls
            .extend(choice.delta.tool_calls.iter().flatten().cloned());
        finish_reason = finish_reason.or_else(|| choice.finish_reason.clone());
    }
    Some(ChatCompletion {
        id: first.id.clone(),
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason,
        }],
        created: first.created,
        model: first.model.clone(),
        object: "chat.completion",
    })
}

/// A stand-in for `openai.OpenAI().chat.completions.create(..., stream=True)`: the answer to
/// the last message, streamed a word at a time.
fn simulated_stream(model: &str, messages: &[Message]) -> Vec<ChatCompletionChunk> {
    let question = messages.last().map(|m| m.content.as_str()).unwrap_or("");
    let answer = format!("You said \"{question}\". How can I help?");
    let chunk = |delta: ChoiceDelta, finish_reason: Option<&str>| ChatCompletionChunk {
        id: "chatcmpl-123".into(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish_reason.map(String::from),
        }],
        created: 1_763_000_000,
        model: model.into(),
        object: "chat.completion.chunk",
    };
    let mut chunks = vec![chunk(
        ChoiceDelta {
            role: Some("assistant".into()),
            content: Some(String::new()),
            tool_calls: None,
        },
        None,
    )];
    for (i, word) in answer.split(' ').enumerate() {
        let text = if i == 0 {
            word.to_string()
        } else {
            format!(" {word}")
        };
        chunks.push(chunk(
            ChoiceDelta {
                content: Some(text),
                ..ChoiceDelta::default()
            },
            None,
        ));
    }
    chunks.push(chunk(ChoiceDelta::default(), Some("stop")));
    chunks
}

#[trace(output_reducer = aggregate_chunks)]
pub fn predict(messages: Vec<Message>) -> impl Iterator<Item = ChatCompletionChunk> {
    simulated_stream("gpt-4o-mini", &messages).into_iter()
}

/// Streams an answer, printing the chunks as they come, and returns the trace.
pub fn run() -> Trace {
    let messages = vec![Message {
        role: "user".into(),
        content: "Hello".into(),
    }];
    for chunk in predict(messages) {
        if let Some(text) = &chunk.choices[0].delta.content {
            print!("{text}");
        }
    }
    println!();
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

#[allow(dead_code)]
fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    let trace = run();
    print!("{}", trace.render_tree());
    println!(
        "request preview:  {}",
        trace.info.request_preview.unwrap_or_default()
    );
    println!(
        "response preview: {}",
        trace.info.response_preview.unwrap_or_default()
    );
    Ok(())
}
