//! Traced async-openai calls against the local stand-in: what each span records.

mod common;

use async_openai::error::OpenAIError;
use async_openai::types::chat::CreateChatCompletionRequest;
use common::{client, in_trace, named, tree};
use futures::StreamExt;
use openai_standin::Standin;
use serde_json::{Value, json};
use spanwise::{SpanType, StatusCode, keys};

fn chat_request(v: Value) -> CreateChatCompletionRequest {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn a_chat_completion_is_a_chat_model_span_with_mlflow_semantics() {
    let standin = Standin::start();
    let client = client(&standin);
    let request = json!({"model": "gpt-4o-mini", "max_tokens": 100, "messages": [
        {"role": "system", "content": "You are a helpful chatbot."},
        {"role": "user", "content": "What is MLflow?"}]});
    let (resp, t) = in_trace("run", client.chat().create(chat_request(request.clone()))).await;
    let resp = resp.unwrap();
    assert_eq!(
        resp.choices[0].message.content.as_deref(),
        Some("Stand-in reply to: What is MLflow?")
    );
    assert_eq!(
        tree(&t),
        [
            ("run".into(), None),
            ("Completions".into(), Some("run".into()))
        ]
    );
    let s = named(&t, "Completions");
    assert_eq!(s.span_type(), SpanType::ChatModel);
    assert_eq!(s.inputs(), Some(request.clone()));
    assert_eq!(s.outputs(), Some(serde_json::to_value(&resp).unwrap()));
    assert_eq!(s.attributes["model"], "\"gpt-4o-mini\"");
    assert_eq!(s.attributes["max_tokens"], "100");
    assert!(!s.attributes.contains_key("messages"));
    assert_eq!(s.attributes[keys::MESSAGE_FORMAT], "\"openai\"");
    assert_eq!(s.attributes[keys::LLM_MODEL], "\"gpt-4o-mini\"");
    assert!(!s.attributes.contains_key(keys::CHAT_TOOLS));
    // 5 + 3 words in, 6 out.
    assert_eq!(
        s.attribute(keys::TOKEN_USAGE),
        Some(json!({"input_tokens": 8, "output_tokens": 6, "total_tokens": 14}))
    );
    assert_eq!(
        t.info.trace_metadata[keys::TRACE_TOKEN_USAGE],
        r#"{"input_tokens": 8, "output_tokens": 6, "total_tokens": 14}"#
    );
    // The request went out as sent.
    assert_eq!(standin.requests()[0].body, request);
}

#[tokio::test]
async fn a_stream_records_chunks_and_its_rebuilt_completion_with_usage() {
    let standin = Standin::start();
    let client = client(&standin);
    let request = chat_request(
        json!({"model": "gpt-4o-mini", "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Hello"}]}),
    );
    let ((text, n), t) = in_trace("predict", async {
        let mut stream = client.chat().create_stream(request).await.unwrap();
        let (mut text, mut n) = (String::new(), 0);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap();
            n += 1;
            if let Some(c) = chunk.choices.first().and_then(|c| c.delta.content.clone()) {
                text.push_str(&c);
            }
        }
        (text, n)
    })
    .await;
    assert_eq!(text, "Stand-in reply to: Hello");
    assert_eq!(n, 7); // role, 4 words, finish, usage
    let s = named(&t, "Completions");
    assert_eq!(s.parent_span_id, Some(t.root().unwrap().span_id));
    assert_eq!(s.status.code, StatusCode::Ok);
    assert_eq!(s.inputs().unwrap()["stream"], true);
    assert_eq!(s.attributes["stream"], "true");
    let chunks: Vec<_> = s
        .events
        .iter()
        .filter(|e| e.name.starts_with("mlflow.chunk.item."))
        .collect();
    assert_eq!(chunks.len(), 7);
    assert_eq!(chunks[0].name, "mlflow.chunk.item.0");
    let first: Value =
        serde_json::from_str(chunks[0].attributes["mlflow.chunk.value"].as_str().unwrap()).unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    let out = s.outputs().unwrap();
    assert_eq!(out["object"], "chat.completion");
    assert_eq!(
        out["choices"][0]["message"],
        json!({"role": "assistant", "content": "Stand-in reply to: Hello"})
    );
    assert_eq!(out["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5})
    );
    assert_eq!(
        s.attribute(keys::TOKEN_USAGE),
        Some(json!({"input_tokens": 1, "output_tokens": 4, "total_tokens": 5}))
    );
    assert_eq!(
        t.info.trace_metadata[keys::TRACE_TOKEN_USAGE],
        r#"{"input_tokens": 1, "output_tokens": 4, "total_tokens": 5}"#
    );
}

#[tokio::test]
async fn a_stream_dropped_early_ends_its_span_with_what_it_saw() {
    let standin = Standin::start();
    let client = client(&standin);
    let request = json!({"model": "m", "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Hello"}]});
    // Stopped after three chunks: the content so far, no usage yet.
    let (_, t) = in_trace("early", async {
        let stream = client
            .chat()
            .create_stream(chat_request(request.clone()))
            .await
            .unwrap();
        stream.take(3).for_each(|_| async {}).await;
    })
    .await;
    let s = named(&t, "Completions");
    assert!(s.end_time_unix_nano.is_some());
    assert!(s.events.iter().any(|e| e.name == "stopped_early"));
    assert_eq!(
        s.outputs().unwrap()["choices"][0]["message"]["content"],
        "Stand-in reply"
    );
    assert!(!s.attributes.contains_key(keys::TOKEN_USAGE));
    assert!(!t.info.trace_metadata.contains_key(keys::TRACE_TOKEN_USAGE));

    // Stopped after the usage chunk but before the stream's end: the usage is kept.
    let (_, t) = in_trace("late_stop", async {
        let stream = client
            .chat()
            .create_stream(chat_request(request.clone()))
            .await
            .unwrap();
        stream.take(7).for_each(|_| async {}).await;
    })
    .await;
    let s = named(&t, "Completions");
    assert!(s.events.iter().any(|e| e.name == "stopped_early"));
    assert_eq!(
        s.attribute(keys::TOKEN_USAGE),
        Some(json!({"input_tokens": 1, "output_tokens": 4, "total_tokens": 5}))
    );
}

#[tokio::test]
async fn tools_and_tool_calls_are_recorded_plain_and_streamed() {
    let standin = Standin::start();
    let client = client(&standin);
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let request = json!({"model": "m", "tools": tools,
        "messages": [{"role": "user", "content": "Paris"}]});
    let (resp, t) = in_trace("agent", client.chat().create(chat_request(request.clone()))).await;
    let call = &resp.unwrap().choices[0].message.tool_calls.clone().unwrap()[0];
    let s = named(&t, "Completions");
    assert_eq!(s.attribute(keys::CHAT_TOOLS), Some(tools.clone()));
    assert_eq!(
        s.outputs().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
    assert_eq!(
        serde_json::to_value(call).unwrap()["function"],
        json!({"name": "get_weather", "arguments": r#"{"city":"Paris"}"#})
    );

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let (_, t) = in_trace("agent_stream", async {
        let stream = client
            .chat()
            .create_stream(chat_request(streamed))
            .await
            .unwrap();
        stream.for_each(|_| async {}).await;
    })
    .await;
    let out = named(&t, "Completions").outputs().unwrap();
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    let calls = &out["choices"][0]["message"]["tool_calls"];
    assert_eq!(
        calls[0]["function"],
        json!({"name": "get_weather", "arguments": r#"{"city":"Paris"}"#})
    );
    assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
}

fn assert_error_span(t: &spanwise::Trace, name: &str, message_part: &str) {
    let s = named(t, name);
    assert_eq!(s.status.code, StatusCode::Error);
    assert!(s.end_time_unix_nano.is_some());
    let ev = s.exceptions().next().expect("an exception event");
    assert_eq!(ev.attributes["exception.type"], "OpenAIError");
    let msg = ev.attributes["exception.message"].as_str().unwrap();
    assert!(msg.contains(message_part), "{msg}");
}

#[tokio::test]
async fn api_errors_are_exception_events_and_come_back_unchanged() {
    let standin = Standin::start();
    let client = client(&standin);
    for (model, status, code) in [
        ("error-429", 429, Some("rate_limit_exceeded")),
        ("error-500", 500, None),
    ] {
        let req =
            chat_request(json!({"model": model, "messages": [{"role": "user", "content": "x"}]}));
        let (res, t) = in_trace("call", client.chat().create(req.clone())).await;
        match res {
            Err(OpenAIError::ApiError(e)) => {
                assert_eq!(e.status_code.as_u16(), status);
                assert_eq!(e.api_error.code.as_deref(), code);
            }
            other => panic!("{other:?}"),
        }
        assert_error_span(&t, "Completions", &status.to_string());
        // Streams fail at the request the same way.
        let (res, t) = in_trace("call", client.chat().create_stream(req)).await;
        assert!(
            matches!(res, Err(OpenAIError::ApiError(ref e)) if e.status_code.as_u16() == status)
        );
        assert_error_span(&t, "Completions", &status.to_string());
    }
}

#[tokio::test]
async fn a_timeout_is_an_exception_event_and_the_callers_error() {
    let standin = Standin::start();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let client = spanwise_openai::TracedClient::new(
        async_openai::Client::with_config(common::config(&standin)).with_http_client(http),
    );
    let req =
        chat_request(json!({"model": "hang", "messages": [{"role": "user", "content": "x"}]}));
    let (res, t) = in_trace("call", client.chat().create(req)).await;
    match res {
        Err(OpenAIError::Reqwest(e)) => assert!(e.is_timeout(), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_error_span(&t, "Completions", "error");
}

#[tokio::test]
async fn embeddings_and_responses_are_traced() {
    let standin = Standin::start();
    let client = client(&standin);
    let req = json!({"model": "text-embedding-3-small", "input": ["a b", "c"], "dimensions": 4});
    let (resp, t) = in_trace(
        "embed",
        client
            .embeddings()
            .create(serde_json::from_value(req.clone()).unwrap()),
    )
    .await;
    let resp = resp.unwrap();
    assert_eq!(resp.data.len(), 2);
    let s = named(&t, "Embeddings");
    assert_eq!(s.span_type(), SpanType::Embedding);
    assert_eq!(s.inputs(), Some(req));
    assert_eq!(s.attributes["dimensions"], "4");
    assert!(!s.attributes.contains_key("input"));
    assert!(!s.attributes.contains_key(keys::MESSAGE_FORMAT));
    assert_eq!(s.attributes[keys::LLM_MODEL], "\"text-embedding-3-small\"");
    assert!(!s.attributes.contains_key(keys::TOKEN_USAGE));

    let req = json!({"model": "gpt-4.1", "instructions": "Be brief.", "input": "Tell me a joke",
        "tools": [{"type": "function", "name": "joke_db", "parameters": {"type": "object", "properties": {}}}]});
    let (resp, t) = in_trace(
        "respond",
        client
            .responses()
            .create(serde_json::from_value(req).unwrap()),
    )
    .await;
    resp.unwrap();
    let s = named(&t, "Responses");
    assert_eq!(s.span_type(), SpanType::ChatModel);
    assert_eq!(s.attributes[keys::MESSAGE_FORMAT], "\"openai\"");
    assert_eq!(s.attributes["instructions"], "\"Be brief.\"");
    assert!(!s.attributes.contains_key("input"));
    assert_eq!(
        s.outputs().unwrap()["output"][0]["content"][0]["text"],
        "Stand-in reply to: Tell me a joke"
    );
    assert_eq!(
        s.attribute(keys::CHAT_TOOLS),
        Some(
            json!([{"type": "function", "function": {"name": "joke_db", "parameters": {"type": "object", "properties": {}}}}])
        )
    );
    assert_eq!(
        s.attribute(keys::TOKEN_USAGE),
        Some(
            json!({"input_tokens": 6, "output_tokens": 7, "total_tokens": 13, "cache_read_input_tokens": 0})
        )
    );
}

#[tokio::test]
async fn calls_outside_any_span_are_traces_of_their_own() {
    let standin = Standin::start();
    let client = client(&standin);
    let req =
        chat_request(json!({"model": "m", "messages": [{"role": "user", "content": "solo"}]}));
    let id = async {
        client.chat().create(req).await.unwrap();
        spanwise::last_active_trace_id()
    }
    .await;
    let t = spanwise::get_trace(&id.unwrap()).unwrap();
    assert_eq!(tree(&t), [("Completions".into(), None)]);
    assert_eq!(t.info.request_preview.as_deref(), Some("solo"));
}
