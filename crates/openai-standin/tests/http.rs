//! The stand-in over real HTTP: what each route answers, streams, tool calls, scripted errors.

use openai_standin::Standin;
use serde_json::{Value, json};

fn post(standin: &Standin, path: &str, body: &Value) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(20)))
        .build()
        .into();
    let mut resp = agent
        .post(format!("{}{path}", standin.url))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let status = resp.status().as_u16();
    (status, ctype, resp.body_mut().read_to_string().unwrap())
}

fn events(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").unwrap().to_string())
        .collect()
}

#[test]
fn chat_completion_replies_with_usage_in_words() {
    let s = Standin::start();
    let req = json!({"model": "gpt-4o-mini", "temperature": 0.1, "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is MLflow?"}]});
    let (status, ctype, body) = post(&s, "/chat/completions", &req);
    assert_eq!((status, ctype.as_str()), (200, "application/json"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["created"], 1_700_000_000);
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Stand-in reply to: What is MLflow?"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 6, "completion_tokens": 6, "total_tokens": 12})
    );
    // The same request, the same answer; the request is recorded.
    assert_eq!(post(&s, "/chat/completions", &req).2, body);
    let recorded = s.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].path, "/v1/chat/completions");
    assert_eq!(recorded[0].body, req);
}

#[test]
fn a_stream_sends_one_chunk_per_word_and_usage_last() {
    let s = Standin::start();
    let req = json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi there"}]}]});
    let (status, ctype, body) = post(&s, "/chat/completions", &req);
    assert_eq!((status, ctype.as_str()), (200, "text/event-stream"));
    let ev = events(&body);
    assert_eq!(ev.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = ev[..ev.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Stand-in reply to: hi there");
    // role chunk, 5 words, finish chunk, usage chunk
    assert_eq!(chunks.len(), 8);
    assert_eq!(chunks[6]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[6]["usage"], Value::Null);
    assert_eq!(chunks[7]["choices"], json!([]));
    assert_eq!(
        chunks[7]["usage"],
        json!({"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7})
    );
    // Without include_usage, no usage chunk and no usage key.
    let mut plain = req.clone();
    plain.as_object_mut().unwrap().remove("stream_options");
    let ev = events(&post(&s, "/chat/completions", &plain).2);
    assert_eq!(ev.len(), 8);
    assert!(!ev[0].contains("usage"));
}

#[test]
fn offered_tools_are_called_until_a_tool_answers() {
    let s = Standin::start();
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                          "days": {"type": "integer"}}}}}]);
    let mut messages = vec![json!({"role": "user", "content": "Paris"})];
    let req = json!({"model": "m", "messages": messages, "tools": tools});
    let v: Value = serde_json::from_str(&post(&s, "/chat/completions", &req).2).unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        call["function"]["arguments"],
        r#"{"city":"Paris","days":1}"#
    );
    assert_eq!(v["usage"]["completion_tokens"], 2);

    messages.push(choice["message"].clone());
    messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "sunny"}));
    let req = json!({"model": "m", "messages": messages, "tools": tools});
    let v: Value = serde_json::from_str(&post(&s, "/chat/completions", &req).2).unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Stand-in reply to: sunny"
    );

    // Streamed: the call's arguments come in pieces.
    let req = json!({"model": "m", "stream": true, "tools": tools,
                     "messages": [{"role": "user", "content": "Paris"}]});
    let ev = events(&post(&s, "/chat/completions", &req).2);
    let chunks: Vec<Value> = ev[..ev.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(
        chunks[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, r#"{"city":"Paris","days":1}"#);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[test]
fn embeddings_and_responses() {
    let s = Standin::start();
    let req = json!({"model": "text-embedding-3-small", "input": ["a b", "c"], "dimensions": 4});
    let v: Value = serde_json::from_str(&post(&s, "/embeddings", &req).2).unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 4);
    assert_ne!(v["data"][0]["embedding"], v["data"][1]["embedding"]);
    assert_eq!(v["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));

    let req = json!({"model": "gpt-4.1", "instructions": "Be brief.", "input": "Tell me a joke"});
    let v: Value = serde_json::from_str(&post(&s, "/responses", &req).2).unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(
        v["output"][0]["content"][0]["text"],
        "Stand-in reply to: Tell me a joke"
    );
    assert_eq!(v["usage"]["input_tokens"], 6);
    assert_eq!(v["usage"]["output_tokens"], 7);
    assert_eq!(v["usage"]["total_tokens"], 13);
}

#[test]
fn scripted_errors_and_unknown_routes() {
    let s = Standin::start();
    let msgs = json!([{"role": "user", "content": "x"}]);
    let (status, _, body) = post(
        &s,
        "/chat/completions",
        &json!({"model": "error-429", "messages": msgs}),
    );
    assert_eq!(status, 429);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    let (status, _, _) = post(
        &s,
        "/embeddings",
        &json!({"model": "error-500", "input": "x"}),
    );
    assert_eq!(status, 500);
    let (status, _, _) = post(&s, "/nothing", &json!({}));
    assert_eq!(status, 404);
}

#[test]
fn a_hanging_request_is_released_when_the_standin_stops() {
    let s = Standin::start();
    let url = format!("{}/chat/completions", s.url);
    let client = std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        agent
            .post(url)
            .send(r#"{"model": "hang", "messages": []}"#)
            .map(|r| r.status().as_u16())
    });
    // Wait until the stand-in holds the request, then stop it.
    while s.requests().is_empty() {
        std::thread::yield_now();
    }
    drop(s);
    assert_eq!(client.join().unwrap().unwrap(), 503);
}
