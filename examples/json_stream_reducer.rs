//! The seeds' "LLM Response with JSON Parsing": a stream of content, metadata and error chunks
//! reduced to one structured output, with the streamed JSON text parsed.
//!
//! The last chunk carries the trace id, read from the current span while the chunk is made:
//! while a traced iterator produces an item, its span is the current one.
//!
//! Run with `cargo run --example json_stream_reducer`.

use serde_json::{Map, Value, json};
use spanwise::{Trace, trace};

/// Strips the markdown code fences LLMs often put around JSON.
pub fn parse_json_from_llm(content: &str) -> &str {
    let inner = if let Some(c) = content
        .strip_prefix("```json")
        .and_then(|c| c.strip_suffix("```"))
    {
        c
    } else if let Some(c) = content
        .strip_prefix("```")
        .and_then(|c| c.strip_suffix("```"))
    {
        c
    } else {
        content
    };
    inner.trim()
}

/// Aggregates streamed LLM output and parses the JSON it holds.
pub fn json_stream_reducer(chunks: &[Value]) -> Value {
    let mut full_content = String::new();
    let mut metadata = Map::new();
    let mut errors = Vec::new();
    for chunk in chunks {
        match chunk
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("content")
        {
            "content" | "token" => {
                full_content.push_str(chunk.get("content").and_then(Value::as_str).unwrap_or(""))
            }
            "metadata" => {
                if let Some(Value::Object(data)) = chunk.get("data") {
                    metadata.extend(data.clone());
                }
            }
            "error" => errors.push(chunk.get("error").cloned().unwrap_or(Value::Null)),
            _ => {}
        }
    }
    let mut out = Map::new();
    if !errors.is_empty() {
        out.insert("status".into(), json!("error"));
        out.insert("errors".into(), Value::Array(errors));
    } else {
        match serde_json::from_str::<Value>(parse_json_from_llm(&full_content)) {
            Ok(data) => {
                out.insert("status".into(), json!("success"));
                out.insert("data".into(), data);
            }
            Err(e) => {
                out.insert("status".into(), json!("parse_error"));
                out.insert("error".into(), json!(format!("Failed to parse JSON: {e}")));
            }
        }
    }
    out.insert("raw_content".into(), Value::String(full_content));
    // Python's `**metadata`: the metadata keys join the result.
    out.extend(metadata);
    Value::Object(out)
}

/// Generates structured JSON output (simulated streaming).
#[trace(output_reducer = json_stream_reducer)]
pub fn generate_structured_output(prompt: &str, schema: Value) -> impl Iterator<Item = Value> {
    let _ = (prompt, schema);
    [
        json!({"type": "content", "content": "{\"name\": \"John\", "}),
        json!({"type": "content", "content": "\"email\": \"john@example.com\", "}),
        json!({"type": "content", "content": "\"age\": 30}"}),
    ]
    .into_iter()
    // Made when the consumer asks for it, inside the stream's span.
    .chain(std::iter::once_with(|| {
        let trace_id = spanwise::current_span()
            .and_then(|s| s.trace_id())
            .map(|id| id.to_string());
        json!({"type": "metadata", "data": {"trace_id": trace_id, "model": "gpt-4"}})
    }))
}

/// Consumes the stream and returns the trace.
pub fn run() -> Trace {
    let schema = json!({"type": "object", "properties": {"name": {}, "email": {}, "age": {}}});
    let chunks: Vec<Value> =
        generate_structured_output("Extract the contact details", schema).collect();
    assert_eq!(chunks.len(), 4);
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

#[allow(dead_code)]
fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    let trace = run();
    let root = trace.root().expect("one span");
    println!(
        "{}",
        serde_json::to_string_pretty(&root.outputs().unwrap_or_default()).unwrap_or_default()
    );
    Ok(())
}
