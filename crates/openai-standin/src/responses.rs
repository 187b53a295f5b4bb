//! `POST /v1/responses`: the Responses API, a reply to the last input message.

use serde_json::{Value, json};

use crate::Answer;
use crate::text::{CREATED, content_text, reply, tokens};

pub(crate) fn answer(body: &Value, id: &str) -> Answer {
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    let texts: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| content_text(i.get("content").unwrap_or(&Value::Null)))
            .collect(),
        _ => {
            return crate::error(
                400,
                "'input' is a required property",
                "invalid_request_error",
                None,
            );
        }
    };
    let instructions = body.get("instructions").and_then(Value::as_str);
    let input_tokens: u64 =
        texts.iter().map(|t| tokens(t)).sum::<u64>() + instructions.map_or(0, tokens);
    let text = reply(texts.last().map(String::as_str).unwrap_or(""));
    let output_tokens = tokens(&text);
    Answer::json(
        200,
        &json!({
            "id": format!("resp_{id}"),
            "object": "response",
            "created_at": CREATED,
            "completed_at": CREATED,
            "status": "completed",
            "error": null,
            "incomplete_details": null,
            "instructions": instructions,
            "max_output_tokens": body.get("max_output_tokens").cloned().unwrap_or(Value::Null),
            "model": model,
            "output": [{
                "type": "message",
                "id": format!("msg_{id}"),
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
            }],
            "parallel_tool_calls": true,
            "previous_response_id": null,
            "store": true,
            "temperature": body.get("temperature").cloned().unwrap_or(json!(1.0)),
            "tool_choice": "auto",
            "tools": [],
            "top_p": body.get("top_p").cloned().unwrap_or(json!(1.0)),
            "truncation": "disabled",
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output_tokens,
            },
            "metadata": {},
        }),
    )
}
