//! `POST /v1/embeddings`: one vector per input, made from its text.

use serde_json::{Value, json};

use crate::Answer;
use crate::text::{fnv, tokens};

pub(crate) fn answer(body: &Value) -> Answer {
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        // Token ids: one input, or a list of them.
        Some(Value::Array(items)) if items.iter().all(Value::is_number) => {
            vec![Value::Array(items.clone()).to_string()]
        }
        Some(Value::Array(items)) => items.iter().map(Value::to_string).collect(),
        _ => {
            return crate::error(
                400,
                "'input' is a required property",
                "invalid_request_error",
                None,
            );
        }
    };
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .unwrap_or(8)
        .clamp(1, 4096) as usize;
    let prompt_tokens: u64 = inputs.iter().map(|t| tokens(t)).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": vector(t, dims)}))
        .collect();
    Answer::json(
        200,
        &json!({
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }),
    )
}

/// Values in [-1, 1) that are multiples of 1/128 (exact in f32, so they print back the same).
fn vector(text: &str, dims: usize) -> Vec<f64> {
    let mut h = fnv(text.as_bytes());
    (0..dims)
        .map(|_| {
            h = h.wrapping_mul(0x0100_0000_01b3) ^ 0x9e37_79b9;
            f64::from((h >> 56) as u8) / 128.0 - 1.0
        })
        .collect()
}
