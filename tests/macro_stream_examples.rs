//! One test per streaming example: each example's `run()` is compiled in here as a module and
//! its traces asserted exactly. The examples' own reducer tests (the seeds' "Testing Output
//! Reducers") run here too, with more reducer cases below.

#[path = "../examples/async_stream.rs"]
#[allow(dead_code)]
mod async_stream;
#[path = "../examples/json_stream_reducer.rs"]
#[allow(dead_code)]
mod json_stream_reducer;
#[path = "../examples/openai_chunks.rs"]
#[allow(dead_code)]
mod openai_chunks;
#[path = "../examples/streaming.rs"]
#[allow(dead_code)]
mod streaming;

use serde_json::{Value, json};
use spanwise::{Span, SpanType, StatusCode, Trace};

mod common;
use common::shape;

/// The decoded `mlflow.chunk.value` of every chunk event, in order.
fn chunk_values(s: &Span) -> Vec<Value> {
    s.events
        .iter()
        .filter(|e| e.name.starts_with("mlflow.chunk.item."))
        .enumerate()
        .map(|(i, e)| {
            assert_eq!(e.name, format!("mlflow.chunk.item.{i}"));
            serde_json::from_str(e.attributes["mlflow.chunk.value"].as_str().unwrap()).unwrap()
        })
        .collect()
}

fn only_span(t: &Trace) -> &Span {
    assert_eq!(t.data.spans.len(), 1);
    let s = t.root().unwrap();
    assert_eq!(s.status.code, StatusCode::Ok);
    assert_eq!(s.attribute("mlflow.spanFunctionName"), None);
    s
}

#[test]
fn streaming_example() {
    let traces = streaming::run();
    let [data, letters, text, metrics, docs] = &traces[..] else {
        panic!("five traces")
    };

    let s = only_span(data);
    assert_eq!(s.name, "stream_data");
    assert_eq!(s.outputs(), Some(json!([0, 1, 2, 3, 4])));
    assert_eq!(chunk_values(s), [0, 1, 2, 3, 4]);

    let s = only_span(letters);
    assert_eq!(s.name, "stream_data");
    assert_eq!(s.outputs(), Some(json!("h,e,l,l,o")));
    assert_eq!(chunk_values(s), ["h", "e", "l", "l", "o"]);

    let s = only_span(text);
    assert_eq!(s.outputs(), Some(json!("Hello World!")));
    assert_eq!(chunk_values(s), ["Hello", " ", "World", "!"]);

    let s = only_span(metrics);
    assert_eq!(
        s.outputs(),
        Some(json!({"count": 10, "sum": 90.0, "average": 9.0, "max": 18.0, "min": 0.0}))
    );
    assert_eq!(
        chunk_values(s)[1],
        json!({"value": 2.0, "timestamp": 1763000001.0})
    );

    let s = only_span(docs);
    assert_eq!(s.inputs(), Some(json!({"ids": [1, 2, 3]})));
    assert_eq!(
        s.outputs(),
        Some(json!({
            "results": ["document 1", "document 2"],
            "errors": ["document 3 not found"],
            "success_rate": 2.0 / 3.0,
            "has_errors": true,
        }))
    );
}

#[test]
fn openai_chunks_example() {
    let t = openai_chunks::run();
    let s = only_span(&t);
    assert_eq!(s.name, "predict");
    assert_eq!(
        s.inputs(),
        Some(json!({"messages": [{"role": "user", "content": "Hello"}]}))
    );
    let answer = "You said \"Hello\". How can I help?";
    assert_eq!(
        s.outputs(),
        Some(json!({
            "id": "chatcmpl-123",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answer, "tool_calls": []},
                "finish_reason": "stop",
            }],
            "created": 1763000000,
            "model": "gpt-4o-mini",
            "object": "chat.completion",
        }))
    );
    let chunks = chunk_values(s);
    assert_eq!(chunks.len(), 9, "role chunk, 7 words, finish chunk");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "You");
    assert_eq!(chunks[8]["choices"][0]["finish_reason"], "stop");
    // The chat previews: the last user message, and the consolidated message's content.
    assert_eq!(t.info.request_preview.as_deref(), Some("Hello"));
    assert_eq!(t.info.response_preview.as_deref(), Some(answer));
}

#[test]
fn openai_aggregate_chunks_on_its_own() {
    use openai_chunks::*;
    assert_eq!(aggregate_chunks(&[]), None);
    let chunk = |delta: ChoiceDelta, finish: Option<&str>| ChatCompletionChunk {
        id: "c1".into(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish.map(String::from),
        }],
        created: 7,
        model: "m".into(),
        object: "chat.completion.chunk",
    };
    let call = ToolCall {
        id: "call_1".into(),
        name: "lookup".into(),
        arguments: "{}".into(),
    };
    let done = aggregate_chunks(&[
        chunk(
            ChoiceDelta {
                role: Some("assistant".into()),
                content: None,
                tool_calls: None,
            },
            None,
        ),
        chunk(
            ChoiceDelta {
                tool_calls: Some(vec![call.clone()]),
                ..ChoiceDelta::default()
            },
            None,
        ),
        chunk(ChoiceDelta::default(), Some("tool_calls")),
    ])
    .unwrap();
    let choice = &done.choices[0];
    assert_eq!(choice.message.content, "");
    assert_eq!(choice.message.tool_calls, [call]);
    assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(done.object, "chat.completion");
}

#[test]
fn json_stream_reducer_example() {
    let t = json_stream_reducer::run();
    let s = only_span(&t);
    assert_eq!(s.name, "generate_structured_output");
    assert_eq!(
        s.inputs().unwrap()["prompt"],
        json!("Extract the contact details")
    );
    let trace_id = t.info.trace_id.to_string();
    assert_eq!(
        s.outputs(),
        Some(json!({
            "status": "success",
            "data": {"name": "John", "email": "john@example.com", "age": 30},
            "raw_content": "{\"name\": \"John\", \"email\": \"john@example.com\", \"age\": 30}",
            "trace_id": trace_id,
            "model": "gpt-4",
        }))
    );
    assert_eq!(
        chunk_values(s)[3],
        json!({"type": "metadata", "data": {"trace_id": trace_id, "model": "gpt-4"}})
    );
}

#[test]
fn json_stream_reducer_on_its_own() {
    use json_stream_reducer::{json_stream_reducer, parse_json_from_llm};
    assert_eq!(parse_json_from_llm("```json\n{}\n```"), "{}");
    assert_eq!(parse_json_from_llm("```[1]```"), "[1]");
    assert_eq!(parse_json_from_llm(" {} "), "{}");
    let fenced = json_stream_reducer(&[
        json!({"type": "token", "content": "```json\n{\"a\": "}),
        json!({"content": "1}\n```"}),
    ]);
    assert_eq!(fenced["status"], "success");
    assert_eq!(fenced["data"], json!({"a": 1}));
    let broken = json_stream_reducer(&[json!({"type": "content", "content": "{\"a\": "})]);
    assert_eq!(broken["status"], "parse_error");
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .starts_with("Failed to parse JSON: EOF")
    );
    let failed = json_stream_reducer(&[
        json!({"type": "content", "content": "{"}),
        json!({"type": "error", "error": "rate limited"}),
        json!({"type": "metadata", "data": {"model": "m"}}),
    ]);
    assert_eq!(
        failed,
        json!({"status": "error", "errors": ["rate limited"], "raw_content": "{", "model": "m"})
    );
}

#[tokio::test]
async fn async_stream_example() {
    let traces = async_stream::run().await;
    let [email, failed, models] = &traces[..] else {
        panic!("three traces")
    };

    // The request is awaited before the stream is polled: `create` is the stream's sibling.
    assert_eq!(
        shape(email),
        [
            ("request".into(), None, SpanType::Unknown),
            ("create".into(), Some("request".into()), SpanType::ChatModel),
            (
                "generate_customer_email".into(),
                Some("request".into()),
                SpanType::Unknown
            ),
        ]
    );
    let s = email.spans_named("generate_customer_email").next().unwrap();
    assert_eq!(
        s.inputs(),
        Some(json!({
            "customer_name": "John Doe",
            "issue": "Product arrived damaged",
            "sentiment": "empathetic",
        }))
    );
    let out = s.outputs().unwrap();
    assert_eq!(out["status"], "success");
    assert_eq!(out["trace_id"], json!(email.info.trace_id.to_string()));
    assert_eq!(out["model"], "gpt-4o-mini");
    assert_eq!(out["data"]["priority"], "high");
    assert_eq!(out["data"]["greeting"], "Dear John Doe,");
    let chunks = chunk_values(s);
    let tokens: String = chunks
        .iter()
        .filter(|c| c["type"] == "token")
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(json!(tokens), out["raw_content"]);
    assert_eq!(chunks.last().unwrap()["type"], "trace_info");
    assert_eq!(s.status.code, StatusCode::Ok);

    // A failed request: `create` records the error; the stream yields one error chunk.
    let create = failed.spans_named("create").next().unwrap();
    assert_eq!(create.status.code, StatusCode::Error);
    assert_eq!(create.status.message, "ApiError: connection reset");
    let s = failed
        .spans_named("generate_customer_email")
        .next()
        .unwrap();
    assert_eq!(
        s.outputs(),
        Some(json!({
            "trace_id": null,
            "model": null,
            "raw_content": "",
            "status": "error",
            "errors": ["OpenAI API error: connection reset"],
        }))
    );
    assert_eq!(failed.root().unwrap().status.code, StatusCode::Ok);

    let s = only_span(models);
    assert_eq!(s.name, "ask_models");
    assert_eq!(
        s.outputs(),
        Some(json!({
            "responses": {"gpt-4o-mini": "Paris", "claude-haiku": "Paris", "llama-3": "Paris"},
            "latencies": {"gpt-4o-mini": 0.03, "claude-haiku": 0.01, "llama-3": 0.02},
            "fastest_model": "claude-haiku",
            "consensus": true,
        }))
    );
    let mut seen: Vec<String> = chunk_values(s)
        .iter()
        .map(|c| c["model"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    assert_eq!(seen, ["claude-haiku", "gpt-4o-mini", "llama-3"]);
}

#[test]
fn structured_and_multi_model_reducers_on_their_own() {
    use async_stream::{multi_model_reducer, structured_output_reducer};
    assert_eq!(
        structured_output_reducer(&[]),
        json!({"trace_id": null, "model": null, "raw_content": "", "status": "parse_error",
               "error": "JSON parsing failed: EOF while parsing a value at line 1 column 0",
               "error_position": 0})
    );
    let plain = structured_output_reducer(&[json!({"content": "{\"x\": [1]}"})]);
    assert_eq!(plain["status"], "success");
    assert_eq!(plain["data"], json!({"x": [1]}));

    assert_eq!(
        multi_model_reducer(&[]),
        json!({"responses": {}, "latencies": {}, "fastest_model": null, "consensus": false})
    );
    let split = multi_model_reducer(&[
        json!({"model": "a", "response": "yes", "latency": 0.5}),
        json!({"model": "b", "response": "no", "latency": 0.2}),
        json!({"note": "no model: ignored"}),
    ]);
    assert_eq!(split["fastest_model"], "b");
    assert_eq!(split["consensus"], false);
}
