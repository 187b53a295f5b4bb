//! The rig example, checked: `#[trace]` functions around a real rig agent (rig-agent over
//! rig-core's OpenAI chat-completions provider, a tool call then an answer) whose provider is a
//! local OpenAI-compatible stand-in, run once with `prompt(..).await` and once streamed
//! (`prompt(..).stream()`: each model turn a streamed chat completion, usage in its last chunk).
//! Each trace is one tree with the expected names, parents, span types, token usage and
//! inputs/outputs; MLflow's `Trace.from_json` loads both; and both arrive at a real MLflow
//! server with the same span types and token usage.
//!
//! One scenario per binary (the runtime is global), so everything runs in one test.

#[path = "../../spanwise-otlp/tests/common/mod.rs"]
mod common;

#[path = "../examples/rig_agent.rs"]
mod rig_agent;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use spanwise::otlp::{ExportOptions, Exporter, MlflowClient};
use spanwise::{Config, Destination, SpanType, StatusCode, Trace};

const QUESTION: &str = "What is the weather in Paris?";
const SYSTEM: &str = "You answer questions about the weather; use the tool.";
/// The stand-in's answers: a call of the first tool, its string argument the user's text; then
/// a reply to the last message (the tool's result).
const TOOL_RESULT: &str = "sunny, 21 C in What is the weather in Paris?";
const REPLY: &str = "Stand-in reply to: sunny, 21 C in What is the weather in Paris?";

fn span<'a>(t: &'a Trace, name: &str) -> &'a spanwise::Span {
    let mut found = t.data.spans.iter().filter(|s| s.name == name);
    let s = found.next().unwrap_or_else(|| panic!("no span {name}"));
    assert!(found.next().is_none(), "more than one span {name}");
    s
}

fn parent_name<'a>(t: &'a Trace, name: &str) -> Option<&'a str> {
    span(t, name)
        .parent_span_id
        .map(|p| t.span(&p).unwrap().name.as_str())
}

fn text(role: &str, content: &str) -> Value {
    json!({"role": role, "parts": [{"type": "text", "content": content}]})
}

fn tool_call(call_id: &str) -> Value {
    json!({"type": "tool_call", "id": call_id, "name": "get_weather",
           "arguments": {"city": QUESTION}})
}

/// How the agent was run.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Run {
    /// `agent.prompt(..).await`
    Unary,
    /// `agent.prompt(..).stream()`, consumed to its final response.
    Streamed,
}

/// What the streamed run's `CHAIN` span returns: the text deltas of the answer turn (the stand-in
/// streams one word per chunk), and the final response.
fn streamed_output() -> Value {
    let pieces: Vec<String> = REPLY
        .split(' ')
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                w.to_owned()
            } else {
                format!(" {w}")
            }
        })
        .collect();
    json!({"pieces": pieces, "answer": REPLY})
}

/// What the local trace must be (names, parents, types, usage, inputs and outputs).
fn check_local(t: &Trace, run: Run) {
    let root_name = match run {
        Run::Unary => "answer_question",
        Run::Streamed => "answer_question_streamed",
    };
    let tree: Vec<(&str, Option<&str>, SpanType)> = t
        .data
        .spans
        .iter()
        .map(|s| (s.name.as_str(), parent_name(t, &s.name), s.span_type()))
        .collect();
    assert_eq!(
        tree,
        vec![
            (root_name, None, SpanType::Chain),
            ("invoke_agent", Some(root_name), SpanType::Agent),
            ("chat_1", Some("invoke_agent"), SpanType::ChatModel),
            ("execute_tool", Some("invoke_agent"), SpanType::Tool),
            ("lookup_weather", Some("execute_tool"), SpanType::Retriever),
            ("chat_2", Some("invoke_agent"), SpanType::ChatModel),
        ],
        "the spans in start order"
    );
    for s in &t.data.spans {
        assert_eq!(s.status.code, StatusCode::Ok, "{}", s.name);
    }
    let root = span(t, root_name);
    let output = match run {
        Run::Unary => json!(REPLY),
        Run::Streamed => streamed_output(),
    };
    assert_eq!(root.outputs(), Some(output));
    assert_eq!(root.inputs().unwrap()["question"], json!(QUESTION));

    // Token usage: the stand-in counts words (15 + 7, then 25 + 13; streamed, in the last
    // chunk of each stream); rig's agent span carries the run's sum.
    let usage = |name: &str| span(t, name).attribute("mlflow.chat.tokenUsage");
    assert_eq!(
        usage("chat_1"),
        Some(json!({"input_tokens": 15, "output_tokens": 7, "total_tokens": 22}))
    );
    assert_eq!(
        usage("chat_2"),
        Some(json!({"input_tokens": 25, "output_tokens": 13, "total_tokens": 38}))
    );
    assert_eq!(
        usage("invoke_agent"),
        Some(json!({"input_tokens": 40, "output_tokens": 20, "total_tokens": 60}))
    );
    assert_eq!(usage("execute_tool"), None);

    // The chat spans: the messages as inputs and outputs, model and provider.
    let chat_1 = span(t, "chat_1");
    let call_id = chat_1.attribute("gen_ai.response.id").unwrap();
    let call_id = format!(
        "call_{}",
        &call_id.as_str().unwrap()["chatcmpl-".len()..][..12]
    );
    assert_eq!(
        chat_1.inputs(),
        Some(json!([text("system", SYSTEM), text("user", QUESTION)]))
    );
    assert_eq!(
        chat_1.outputs(),
        Some(json!([{"role": "assistant", "parts": [tool_call(&call_id)],
                     "finish_reason": "tool_call"}]))
    );
    assert_eq!(
        chat_1.attribute("mlflow.llm.model"),
        Some(json!("gpt-4o-mini"))
    );
    assert_eq!(
        chat_1.attribute("mlflow.llm.provider"),
        Some(json!("openai"))
    );
    // rig marks how the completion was delivered; MLflow maps nothing from it (a plain
    // attribute), and a streamed chat span is the same CHAT_MODEL span with the same usage.
    for chat in ["chat_1", "chat_2"] {
        assert_eq!(
            span(t, chat).attribute("gen_ai.request.stream"),
            Some(json!(run == Run::Streamed)),
            "{chat}"
        );
    }
    let chat_2 = span(t, "chat_2");
    assert_eq!(
        chat_2.inputs(),
        Some(json!([
            text("system", SYSTEM),
            text("user", QUESTION),
            {"role": "assistant", "parts": [tool_call(&call_id)]},
            {"role": "user", "parts": [{"type": "tool_call_response", "id": call_id,
                                        "response": TOOL_RESULT}]},
        ]))
    );
    assert_eq!(
        chat_2.outputs(),
        Some(
            json!([{"role": "assistant", "parts": [{"type": "text", "content": REPLY}],
                     "finish_reason": "unknown"}])
        )
    );

    // The tool span: arguments in, result out; the user's #[trace] function inside it.
    let tool = span(t, "execute_tool");
    assert_eq!(tool.inputs(), Some(json!({"city": QUESTION})));
    assert_eq!(tool.outputs(), Some(json!(TOOL_RESULT)));
    assert_eq!(
        tool.attribute("gen_ai.tool.name"),
        Some(json!("get_weather"))
    );
    let lookup = span(t, "lookup_weather");
    assert_eq!(lookup.inputs(), Some(json!({"city": QUESTION})));
    assert_eq!(lookup.outputs(), Some(json!(TOOL_RESULT)));

    // The level filter kept the HTTP client's DEBUG/TRACE events out; rig's INFO ones stay.
    assert!(chat_1.events.is_empty(), "{:?}", chat_1.events);
    assert!(!span(t, "invoke_agent").events.is_empty());
}

/// An attribute of a span read back through MLflow's REST API (an OTLP `AnyValue`), as JSON: a
/// string holding JSON is decoded (MLflow keeps its attributes JSON-encoded), so that the span
/// type reads `"CHAIN"` and the usage an object, however the server returns them.
fn attr(span: &Value, key: &str) -> Value {
    fn plain(any: &Value) -> Value {
        let Some((kind, v)) = any.as_object().and_then(|o| o.iter().next()) else {
            return Value::Null;
        };
        match kind.as_str() {
            "string_value" => v
                .as_str()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_else(|| v.clone()),
            "int_value" => v
                .as_str()
                .and_then(|s| s.parse::<i64>().ok())
                .map(Value::from)
                .unwrap_or_else(|| v.clone()),
            "kvlist_value" => Value::Object(
                v["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|kv| {
                        (
                            kv["key"].as_str().unwrap_or("").to_owned(),
                            plain(&kv["value"]),
                        )
                    })
                    .collect(),
            ),
            _ => v.clone(),
        }
    }
    let found = span["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key));
    match found {
        Some(kv) => plain(&kv["value"]),
        None => Value::Null,
    }
}

#[test]
fn a_rig_agent_under_trace_unary_and_streamed_is_one_tree_locally_in_python_and_in_mlflow() {
    let venv = common::mlflow_venv("a_rig_agent_under_trace_is_one_tree");
    // The server starts while the agent runs.
    let server = venv
        .as_ref()
        .map(|v| common::MlflowServer::spawn(v, common::free_port()));
    let dir = common::temp_dir("tracing-rig");
    let exporter = server.as_ref().map(|server| {
        server.wait_ready(Duration::from_secs(180));
        let client = MlflowClient::new(&server.url, "spanwise-tracing-rig").unwrap();
        Arc::new(Exporter::mlflow(client, ExportOptions::default()).unwrap())
    });
    let mut config = Config::new().trace_dir(&dir);
    if let Some(e) = &exporter {
        config = config.add_destination(e.clone());
    }
    let _guard = spanwise::init_with(config).unwrap();
    rig_agent::install_bridge();

    let standin = openai_standin::Standin::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let reply = runtime
        .block_on(rig_agent::answer_question(QUESTION, &standin.url))
        .unwrap();
    assert_eq!(reply, REPLY);
    let unary_id = spanwise::last_active_trace_id().unwrap();
    let streamed = runtime
        .block_on(rig_agent::answer_question_streamed(QUESTION, &standin.url))
        .unwrap();
    assert_eq!(serde_json::to_value(&streamed).unwrap(), streamed_output());
    let streamed_id = spanwise::last_active_trace_id().unwrap();
    assert_ne!(unary_id, streamed_id);
    let requests = standin.requests();
    assert_eq!(requests.len(), 4, "twice a tool call, then the answer");
    assert!(requests.iter().all(|r| r.path == "/v1/chat/completions"));
    let streams: Vec<bool> = requests
        .iter()
        .map(|r| r.body["stream"] == json!(true))
        .collect();
    assert_eq!(streams, [false, false, true, true]);
    assert!(
        requests[2..]
            .iter()
            .all(|r| r.body["stream_options"]["include_usage"] == json!(true)),
        "rig asks for the usage chunk"
    );

    assert!(spanwise::flush_timeout(Duration::from_secs(120)));
    let runs = [(unary_id, Run::Unary), (streamed_id, Run::Streamed)];
    let stored = spanwise::read_jsonl(dir.join(spanwise::JSONL_FILE_NAME)).unwrap();
    let mut traces = Vec::new();
    for (id, run) in runs {
        let trace = spanwise::get_trace(&id).unwrap();
        check_local(&trace, run);
        // The JSONL store holds the same trace.
        check_local(
            stored
                .traces
                .iter()
                .find(|t| t.info.trace_id == id)
                .unwrap(),
            run,
        );
        traces.push(trace);
    }

    let Some(venv) = venv else {
        return;
    };
    // MLflow's own reader: span types and token usage as MLflow sees them.
    let script = r#"
import json, sys
from mlflow.entities import Trace
t = Trace.from_json(open(sys.argv[1]).read())
print(json.dumps([[s.name, s.span_type, s.get_attribute("mlflow.chat.tokenUsage")]
                  for s in t.data.spans]))
"#;
    for (trace, root) in traces
        .iter()
        .zip(["answer_question", "answer_question_streamed"])
    {
        let file = dir.join("rig-trace.json");
        std::fs::write(&file, trace.to_json()).unwrap();
        let out = common::python(&venv, script, &[file.to_str().unwrap()]);
        let seen: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(
            seen,
            json!([
                [root, "CHAIN", null],
                ["invoke_agent", "AGENT", {"input_tokens": 40, "output_tokens": 20, "total_tokens": 60}],
                ["chat_1", "CHAT_MODEL", {"input_tokens": 15, "output_tokens": 7, "total_tokens": 22}],
                ["execute_tool", "TOOL", null],
                ["lookup_weather", "RETRIEVER", null],
                ["chat_2", "CHAT_MODEL", {"input_tokens": 25, "output_tokens": 13, "total_tokens": 38}],
            ])
        );
    }

    // A real MLflow server: the same span types and usage, read back through its REST API.
    let server = server.unwrap();
    let stats = exporter.unwrap().stats();
    assert_eq!((stats.exported, stats.failed), (2, 0), "{stats:?}");
    let client = MlflowClient::new(&server.url, "spanwise-tracing-rig").unwrap();
    for (id, root) in [
        (unary_id, "answer_question"),
        (streamed_id, "answer_question_streamed"),
    ] {
        let back = client.get_trace(&id).unwrap();
        let spans = back["trace"]["spans"].as_array().unwrap();
        let mut types: Vec<(String, Value, Value)> = spans
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_owned(),
                    attr(s, "mlflow.spanType"),
                    attr(s, "mlflow.chat.tokenUsage"),
                )
            })
            .collect();
        types.sort_by(|a, b| a.0.cmp(&b.0));
        let usage =
            |i: u64, o: u64| json!({"input_tokens": i, "output_tokens": o, "total_tokens": i + o});
        assert_eq!(
            types,
            vec![
                (root.into(), json!("CHAIN"), Value::Null),
                ("chat_1".into(), json!("CHAT_MODEL"), usage(15, 7)),
                ("chat_2".into(), json!("CHAT_MODEL"), usage(25, 13)),
                ("execute_tool".into(), json!("TOOL"), Value::Null),
                ("invoke_agent".into(), json!("AGENT"), usage(40, 20)),
                ("lookup_weather".into(), json!("RETRIEVER"), Value::Null),
            ],
            "{root}"
        );
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
