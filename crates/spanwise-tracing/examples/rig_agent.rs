//! A traced agent: `#[trace]` functions call a real rig agent (rig-agent over rig-core's OpenAI
//! chat-completions provider) that answers with the help of a tool. The provider points at a
//! local OpenAI-compatible stand-in started here, since no real API is reachable.
//!
//! With the bridge installed, one trace holds the user's spans and rig's: the `CHAIN` span of
//! `answer_question`, rig's `invoke_agent` (`AGENT`) beneath it, a `chat` (`CHAT_MODEL`, with
//! token usage and the messages as inputs/outputs) per model turn, and `execute_tool`
//! (`TOOL`) running the user's `#[trace]` tool function. Then the same run streamed
//! (`answer_question_streamed`, rig's `stream()`): the same tree, each chat turn a streamed
//! completion whose usage arrives in the stream's last chunk.
//!
//! ```text
//! cargo run -p spanwise-tracing --example rig_agent
//! spanwise show <printed trace id>     # or: spanwise list
//! ```

use std::convert::Infallible;

use futures::StreamExt;
use rig_agent::agent::MultiTurnStreamItem;
use rig_agent::streaming::{Item, StreamEvent};
use rig_agent::tool::{Tool, ToolContext};
use rig_agent::{Agent, AgentBuilder};
use rig_core::providers::openai::OpenAIConfig;
use serde::Deserialize;
use spanwise::{SpanType, trace};

/// The tool's arguments, as the model sends them.
#[derive(Debug, Deserialize)]
pub struct WeatherArgs {
    pub city: String,
}

/// A tool the agent may call: the weather of a city.
#[derive(Clone)]
pub struct Weather;

impl Tool for Weather {
    const NAME: &'static str = "get_weather";
    type Args = WeatherArgs;
    type Output = String;
    type Error = Infallible;

    fn description(&self) -> String {
        "The current weather of a city".to_owned()
    }

    fn parameters(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city"}},
            "required": ["city"],
        })
    }

    async fn call(&self, _: &mut ToolContext, args: WeatherArgs) -> Result<String, Infallible> {
        Ok(lookup_weather(&args.city))
    }
}

/// The user's own code inside the tool: a `#[trace]` span under rig's `execute_tool`.
#[trace(span_type = SpanType::Retriever)]
pub fn lookup_weather(city: &str) -> String {
    format!("sunny, 21 C in {city}")
}

/// The agent: rig's OpenAI chat-completions provider pointed at `api_base`, with the tool.
fn weather_agent(api_base: &str) -> Agent {
    let model = OpenAIConfig::new("sk-standin")
        .with_base_url(api_base)
        .client()
        .chat("gpt-4o-mini");
    AgentBuilder::new(model)
        .name("weather_agent")
        .preamble("You answer questions about the weather; use the tool.")
        .tool(Weather)
        // rig records messages, tool arguments and results only when asked to.
        .record_content_telemetry(true)
        .build()
}

/// The user's entry point: a `CHAIN` span around a real rig agent run.
#[trace(span_type = SpanType::Chain)]
pub async fn answer_question(question: &str, api_base: &str) -> anyhow::Result<String> {
    let agent = weather_agent(api_base);
    Ok(agent.prompt(question).max_turns(3).await?.to_string())
}

/// What a streamed run gave: the text as it arrived, piece by piece, and the final answer.
#[derive(Debug, serde::Serialize)]
pub struct Streamed {
    /// The text deltas of the model's turns, in order.
    pub pieces: Vec<String>,
    /// The run's final response.
    pub answer: String,
}

/// The same agent run streamed (rig's `stream()`: each model turn a streamed chat completion),
/// under a `CHAIN` span of its own.
#[trace(span_type = SpanType::Chain)]
pub async fn answer_question_streamed(question: &str, api_base: &str) -> anyhow::Result<Streamed> {
    let agent = weather_agent(api_base);
    let mut stream = agent.prompt(question).max_turns(3).stream();
    let mut pieces = Vec::new();
    while let Some(item) = stream.next().await {
        match item? {
            MultiTurnStreamItem::StreamAssistantItem(Item::Event(StreamEvent::Text {
                text,
                ..
            })) => pieces.push(text),
            MultiTurnStreamItem::FinalResponse(response) => {
                return Ok(Streamed {
                    pieces,
                    answer: response.output(),
                });
            }
            _ => {}
        }
    }
    anyhow::bail!("the stream ended without a final response")
}

/// Installs the bridge: `tracing` spans (rig's) join spanwise traces. The level filter keeps
/// the HTTP client's DEBUG and TRACE events (and rig's raw request dumps) out of the trace.
pub fn install_bridge() {
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::prelude::*;
    let subscriber = tracing_subscriber::registry()
        .with(spanwise_tracing::layer().with_filter(LevelFilter::INFO));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[allow(dead_code)] // the test includes this file for the functions above
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    install_bridge();
    let standin = openai_standin::Standin::start();
    let reply = answer_question("What is the weather in Paris?", &standin.url).await?;
    println!("agent: {reply}");
    show_last_trace()?;
    let streamed = answer_question_streamed("What is the weather in Rome?", &standin.url).await?;
    println!(
        "agent, streamed in {} pieces: {}",
        streamed.pieces.len(),
        streamed.answer
    );
    show_last_trace()
}

/// Prints the tree of the last trace (and writes it to `$RIG_AGENT_TRACE_JSON` when set).
#[allow(dead_code)]
fn show_last_trace() -> anyhow::Result<()> {
    let id = spanwise::last_active_trace_id().expect("a trace was recorded");
    spanwise::flush();
    let trace = spanwise::get_trace(&id).expect("stored");
    if let Ok(path) = std::env::var("RIG_AGENT_TRACE_JSON") {
        std::fs::write(path, trace.to_json())?;
    }
    println!("trace {id}:");
    print_tree(&trace, None, 1);
    Ok(())
}

#[allow(dead_code)]
fn print_tree(trace: &spanwise::Trace, parent: Option<spanwise::SpanId>, depth: usize) {
    for s in trace
        .data
        .spans
        .iter()
        .filter(|s| s.parent_span_id == parent)
    {
        let usage = s
            .attribute("mlflow.chat.tokenUsage")
            .map(|u| format!("  tokens {u}"))
            .unwrap_or_default();
        println!(
            "{:indent$}{} [{}]{usage}",
            "",
            s.name,
            s.span_type().as_str(),
            indent = depth * 2
        );
        print_tree(trace, Some(s.span_id), depth + 1);
    }
}
