//! `POST /v1/chat/completions`: plain, streamed, and tool calls.

use serde_json::{Map, Value, json};

use crate::Answer;
use crate::text::{CREATED, content_text, pieces, reply, tokens};

/// What the model "decided": a text or a tool call.
enum Turn {
    Text(String),
    Call {
        id: String,
        name: String,
        arguments: String,
    },
}

impl Turn {
    fn completion_tokens(&self) -> u64 {
        match self {
            Turn::Text(t) => tokens(t),
            Turn::Call { arguments, .. } => tokens(arguments) + 1,
        }
    }

    fn finish_reason(&self) -> &'static str {
        match self {
            Turn::Text(_) => "stop",
            Turn::Call { .. } => "tool_calls",
        }
    }
}

pub(crate) fn answer(body: &Value, id: &str) -> Answer {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return crate::error(
            400,
            "'messages' is a required property",
            "invalid_request_error",
            None,
        );
    };
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    let prompt_tokens: u64 = messages
        .iter()
        .map(|m| tokens(&content_text(m.get("content").unwrap_or(&Value::Null))))
        .sum();
    let turn = decide(body, messages, id);
    let completion_tokens = turn.completion_tokens();
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    let id = format!("chatcmpl-{id}");
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        let include_usage = body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true);
        return Answer::event_stream(&chunks(&id, model, &turn, include_usage.then_some(usage)));
    }
    let message = match &turn {
        Turn::Text(t) => json!({
            "role": "assistant", "content": t, "refusal": null, "annotations": [],
        }),
        Turn::Call {
            id,
            name,
            arguments,
        } => json!({
            "role": "assistant", "content": null, "refusal": null, "annotations": [],
            "tool_calls": [{"id": id, "type": "function",
                            "function": {"name": name, "arguments": arguments}}],
        }),
    };
    Answer::json(
        200,
        &json!({
            "id": id,
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": turn.finish_reason(),
            }],
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": "fp_standin",
        }),
    )
}

/// A tool call when tools are offered and no tool has answered yet; a text otherwise.
fn decide(body: &Value, messages: &[Value], id: &str) -> Turn {
    let last_text = messages
        .last()
        .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
        .unwrap_or_default();
    let answered = messages
        .iter()
        .any(|m| m.get("role").and_then(Value::as_str) == Some("tool"));
    let tools = body.get("tools").and_then(Value::as_array);
    let chosen = body
        .pointer("/tool_choice/function/name")
        .and_then(Value::as_str);
    let tool = tools.and_then(|ts| match chosen {
        Some(name) => ts
            .iter()
            .find(|t| t.pointer("/function/name").and_then(Value::as_str) == Some(name)),
        None => ts.first(),
    });
    match tool {
        Some(tool) if !answered && body.get("tool_choice") != Some(&json!("none")) => {
            let user_text = messages
                .iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
                .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
                .unwrap_or_default();
            Turn::Call {
                id: format!("call_{}", &id[..12.min(id.len())]),
                name: tool
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .unwrap_or("tool")
                    .to_string(),
                arguments: arguments(tool.pointer("/function/parameters"), &user_text),
            }
        }
        _ => Turn::Text(reply(&last_text)),
    }
}

/// Arguments for the tool's parameters: strings get the user's text, numbers 1, booleans true.
fn arguments(parameters: Option<&Value>, user_text: &str) -> String {
    let mut args = Map::new();
    if let Some(props) = parameters
        .and_then(|p| p.get("properties"))
        .and_then(Value::as_object)
    {
        for (name, schema) in props {
            let value = match schema.get("type").and_then(Value::as_str) {
                Some("string") => json!(user_text),
                Some("integer") | Some("number") => json!(1),
                Some("boolean") => json!(true),
                Some("array") => json!([]),
                _ => Value::Null,
            };
            args.insert(name.clone(), value);
        }
    }
    Value::Object(args).to_string()
}

/// The stream of a turn: a first chunk with the role, one chunk per piece, a chunk with the
/// finish reason, and (when asked) a last chunk with the usage and no choices.
fn chunks(id: &str, model: &str, turn: &Turn, usage: Option<Value>) -> Vec<Value> {
    let with_usage = usage.is_some();
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": CREATED, "model": model,
            "service_tier": "default", "system_fingerprint": "fp_standin",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if with_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let mut out = Vec::new();
    match turn {
        Turn::Text(t) => {
            out.push(chunk(
                json!({"role": "assistant", "content": "", "refusal": null}),
                Value::Null,
            ));
            for p in pieces(t) {
                out.push(chunk(json!({"content": p}), Value::Null));
            }
        }
        Turn::Call {
            id: call_id,
            name,
            arguments,
        } => {
            out.push(chunk(
                json!({"role": "assistant", "content": null, "tool_calls": [{
                    "index": 0, "id": call_id, "type": "function",
                    "function": {"name": name, "arguments": ""}}]}),
                Value::Null,
            ));
            for p in pieces(arguments) {
                out.push(chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}),
                    Value::Null,
                ));
            }
        }
    }
    out.push(chunk(json!({}), json!(turn.finish_reason())));
    if let Some(usage) = usage {
        out.push(json!({
            "id": id, "object": "chat.completion.chunk", "created": CREATED, "model": model,
            "service_tier": "default", "system_fingerprint": "fp_standin",
            "choices": [], "usage": usage,
        }));
    }
    out
}
