//! The seeds' "Customizing Spans" examples: a span named `call-local-llm` of type LLM with an
//! attribute, and the same call setting its attributes at run time through the current span.
//!
//! Run with `cargo run --example custom_span`.

use serde::Serialize;
use spanwise::Trace;

/// A chat message, as an LLM client takes it.
#[derive(Clone, Debug, Serialize)]
pub struct Message {
    role: String,
    content: String,
}

/// What the local model answers.
#[derive(Debug, Serialize)]
pub struct Completion {
    model: String,
    content: String,
}

/// A stand-in for an LLM client (no network): it echoes the last message.
pub struct Client;

impl Client {
    fn invoke(&self, messages: Vec<Message>, model: &str) -> Completion {
        let last = messages.last().map(|m| m.content.as_str()).unwrap_or("");
        Completion {
            model: model.to_string(),
            content: format!("You said: {last}"),
        }
    }
}

static CLIENT: Client = Client;

fn user(prompt: &str) -> Vec<Message> {
    vec![Message {
        role: "user".into(),
        content: prompt.into(),
    }]
}

/// Name, type and attributes given in the attribute.
mod fixed {
    use spanwise::{SpanType, trace};

    #[trace(name = "call-local-llm", span_type = SpanType::Llm, attributes(model = "gpt-4o-mini"))]
    pub fn invoke(prompt: &str) -> super::Completion {
        super::CLIENT.invoke(super::user(prompt), "gpt-4o-mini")
    }
}

/// Attributes set inside the function, through the current span.
mod dynamic {
    use spanwise::{SpanType, trace};

    #[trace(span_type = SpanType::Llm)]
    pub fn invoke(prompt: &str) -> super::Completion {
        let model_id = "gpt-4o-mini";
        // The span the #[trace] attribute created.
        if let Some(span) = spanwise::current_span() {
            span.set_attributes(serde_json::json!({ "model": model_id }));
        }
        super::CLIENT.invoke(super::user(prompt), model_id)
    }
}

fn last_trace() -> Trace {
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

/// Runs both variants and returns their traces.
pub fn run() -> (Trace, Trace) {
    fixed::invoke("What is MLflow?");
    let first = last_trace();
    dynamic::invoke("What is MLflow?");
    (first, last_trace())
}

#[allow(dead_code)]
fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    let (fixed, dynamic) = run();
    print!("{}\n{}", fixed.render_tree(), dynamic.render_tree());
    Ok(())
}
