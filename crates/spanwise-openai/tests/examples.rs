//! The ported OpenAI examples of the seeds, run against the stand-in, their traces asserted
//! exactly: names, parents, types, inputs, outputs, message format, token usage per span and
//! per trace.

#[path = "../examples/auto_tracing.rs"]
#[allow(dead_code)]
mod auto_tracing;
#[path = "../examples/chat_bot.rs"]
#[allow(dead_code)]
mod chat_bot;
#[path = "../examples/customer_email.rs"]
#[allow(dead_code)]
mod customer_email;
#[path = "../examples/streaming_predict.rs"]
#[allow(dead_code)]
mod streaming_predict;
#[path = "../examples/thread_pool.rs"]
#[allow(dead_code)]
mod thread_pool;

mod common;

use common::{client, named};
use openai_standin::Standin;
use serde_json::{Value, json};
use spanwise::{Span, SpanType, Trace, keys};

/// `(name, parent's name, type)` of every span, in start order.
fn shape(t: &Trace) -> Vec<(String, Option<String>, SpanType)> {
    common::tree(t)
        .into_iter()
        .zip(&t.data.spans)
        .map(|((name, parent), s)| (name, parent, s.span_type()))
        .collect()
}

fn node(name: &str, parent: Option<&str>, ty: SpanType) -> (String, Option<String>, SpanType) {
    (name.into(), parent.map(Into::into), ty)
}

fn usage(s: &Span) -> Option<Value> {
    s.attribute(keys::TOKEN_USAGE)
}

fn u(i: u64, o: u64) -> Value {
    json!({"input_tokens": i, "output_tokens": o, "total_tokens": i + o})
}

fn trace_usage(t: &Trace) -> Value {
    serde_json::from_str(&t.info.trace_metadata[keys::TRACE_TOKEN_USAGE]).unwrap()
}

/// What every traced chat call carries.
fn assert_chat_span(s: &Span, inputs: Value) {
    assert_eq!(s.span_type(), SpanType::ChatModel);
    assert_eq!(s.attributes[keys::MESSAGE_FORMAT], "\"openai\"");
    assert_eq!(s.attributes[keys::LLM_MODEL], "\"gpt-4o-mini\"");
    assert_eq!(s.inputs(), Some(inputs));
}

#[tokio::test]
async fn auto_tracing_puts_the_openai_call_between_the_traced_functions() {
    let standin = Standin::start();
    let t = auto_tracing::traced_run(&client(&standin)).await;
    assert_eq!(
        shape(&t),
        [
            node("run", None, SpanType::Chain),
            node("build_messages", Some("run"), SpanType::Unknown),
            node("Completions", Some("run"), SpanType::ChatModel),
            node("parse_response", Some("run"), SpanType::Unknown),
        ]
    );
    let messages = json!([
        {"role": "system", "content": "You are a helpful chatbot."},
        {"role": "user", "content": "What is MLflow?"},
    ]);
    assert_eq!(
        named(&t, "build_messages").outputs(),
        Some(messages.clone())
    );
    let chat = named(&t, "Completions");
    assert_chat_span(
        chat,
        json!({"messages": messages, "model": "gpt-4o-mini", "max_tokens": 100}),
    );
    assert_eq!(chat.attributes["max_tokens"], "100");
    let out = chat.outputs().unwrap();
    assert_eq!(
        out["choices"][0]["message"]["content"],
        "Stand-in reply to: What is MLflow?"
    );
    assert_eq!(
        named(&t, "parse_response").inputs().unwrap()["response"],
        out
    );
    assert_eq!(
        t.root().unwrap().outputs(),
        Some(json!("Stand-in reply to: What is MLflow?"))
    );
    assert_eq!(usage(chat), Some(u(8, 6)));
    assert_eq!(trace_usage(&t), u(8, 6));
}

#[tokio::test]
async fn the_chat_bot_has_a_user_span_per_turn_and_a_call_per_question() {
    let standin = Standin::start();
    let t = chat_bot::run(&client(&standin)).await;
    let root = "start_session";
    assert_eq!(
        shape(&t),
        [
            node(root, None, SpanType::Chain),
            node("User_1", Some(root), SpanType::Unknown),
            node("Completions_1", Some(root), SpanType::ChatModel),
            node("User_2", Some(root), SpanType::Unknown),
            node("Completions_2", Some(root), SpanType::ChatModel),
            node("User_3", Some(root), SpanType::Unknown),
        ]
    );
    let system = json!({"role": "system", "content": "You are a friendly chat bot"});
    let hello = json!({"role": "user", "content": "Hello!"});
    let answer1 = json!({"role": "assistant", "content": "Stand-in reply to: Hello!"});
    let second = json!({"role": "user", "content": "What can you do?"});
    assert_eq!(named(&t, "User_1").inputs(), Some(json!([system])));
    assert_eq!(named(&t, "User_1").outputs(), Some(json!("Hello!")));
    assert_eq!(
        named(&t, "User_2").inputs(),
        Some(json!([system, hello, answer1]))
    );
    assert_eq!(named(&t, "User_3").outputs(), Some(json!("BYE")));
    let c1 = named(&t, "Completions_1");
    assert_chat_span(
        c1,
        json!({"messages": [system, hello], "model": "gpt-4o-mini", "max_tokens": 100}),
    );
    let c2 = named(&t, "Completions_2");
    assert_chat_span(
        c2,
        json!({"messages": [system, hello, answer1, second], "model": "gpt-4o-mini", "max_tokens": 100}),
    );
    assert_eq!(
        c2.outputs().unwrap()["choices"][0]["message"]["content"],
        "Stand-in reply to: What can you do?"
    );
    assert_eq!(usage(c1), Some(u(7, 4)));
    assert_eq!(usage(c2), Some(u(15, 7)));
    assert_eq!(trace_usage(&t), u(22, 11));
    assert_eq!(
        t.root()
            .unwrap()
            .outputs()
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[test]
fn the_thread_pool_nests_each_worker_and_its_call_under_main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let standin = Standin::start();
    let client = client(&standin);
    let t = thread_pool::run(&client, rt.handle());
    let mut workers: Vec<_> = t
        .data
        .spans
        .iter()
        .filter(|s| s.name.starts_with("worker"))
        .collect();
    assert_eq!(workers.len(), 2);
    assert_eq!(t.data.spans.len(), 5);
    assert_eq!(t.root().unwrap().name, "main");
    workers.sort_by_key(|w| {
        w.inputs().unwrap()["question"]
            .as_str()
            .unwrap()
            .to_string()
    });
    for (w, country, city) in [
        (workers[0], "France", "France"),
        (workers[1], "Germany", "Germany"),
    ] {
        assert_eq!(w.parent_span_id, Some(t.root().unwrap().span_id));
        let question = format!("What is the capital of {country}?");
        assert_eq!(w.inputs(), Some(json!({"question": question})));
        assert_eq!(
            w.outputs(),
            Some(json!(format!(
                "Stand-in reply to: What is the capital of {city}?"
            )))
        );
        let calls = t.children(&w.span_id);
        assert_eq!(calls.len(), 1);
        let call = calls[0];
        assert!(call.name.starts_with("Completions"));
        assert_eq!(call.span_type(), SpanType::ChatModel);
        assert_eq!(call.attributes[keys::MESSAGE_FORMAT], "\"openai\"");
        let inputs = call.inputs().unwrap();
        assert_eq!(
            inputs["messages"][1],
            json!({"role": "user", "content": question})
        );
        assert_eq!(inputs["max_tokens"], 100);
        assert_eq!(
            call.attributes["temperature"],
            inputs["temperature"].to_string()
        );
        assert_eq!(usage(call), Some(u(11, 9)));
    }
    assert_eq!(trace_usage(&t), u(22, 18));
    let mut outputs: Vec<String> =
        serde_json::from_value(t.root().unwrap().outputs().unwrap()).unwrap();
    outputs.sort();
    assert_eq!(
        outputs,
        [
            "Stand-in reply to: What is the capital of France?",
            "Stand-in reply to: What is the capital of Germany?"
        ]
    );
}

#[tokio::test]
async fn streaming_predict_aggregates_the_chunks_and_nests_the_call() {
    let standin = Standin::start();
    let t = streaming_predict::run(&client(&standin)).await;
    assert_eq!(
        shape(&t),
        [
            node("predict", None, SpanType::Unknown),
            node("Completions", Some("predict"), SpanType::ChatModel),
        ]
    );
    let predict = t.root().unwrap();
    let chat = named(&t, "Completions");
    let messages = json!([{"role": "user", "content": "Hello"}]);
    assert_eq!(predict.inputs(), Some(json!({"messages": messages})));
    assert_chat_span(
        chat,
        json!({"messages": messages, "model": "gpt-4o-mini", "stream": true,
               "stream_options": {"include_usage": true}}),
    );
    let id = chat.outputs().unwrap()["id"].clone();
    assert_eq!(
        predict.outputs(),
        Some(
            json!({"id": id, "choices": [{"index": 0, "message": {"role": "assistant",
            "content": "Stand-in reply to: Hello"}, "finish_reason": "stop"}],
            "created": 1_700_000_000, "model": "gpt-4o-mini", "object": "chat.completion"})
        )
    );
    // role, 4 words, finish, usage: both spans see each chunk.
    let chunk_events = |s: &Span| {
        s.events
            .iter()
            .filter(|e| e.name.starts_with("mlflow.chunk.item."))
            .count()
    };
    assert_eq!((chunk_events(predict), chunk_events(chat)), (7, 7));
    assert_eq!(
        chat.outputs().unwrap()["choices"][0]["message"]["content"],
        "Stand-in reply to: Hello"
    );
    assert_eq!(usage(chat), Some(u(1, 4)));
    assert_eq!(usage(predict), None);
    assert_eq!(trace_usage(&t), u(1, 4));
}

#[tokio::test]
async fn the_customer_email_stream_parses_the_streamed_json() {
    let standin = Standin::start().with_reply(customer_email::EMAIL);
    let t = customer_email::run(&client(&standin)).await;
    assert_eq!(
        shape(&t),
        [
            node("request", None, SpanType::Unknown),
            node("Completions", Some("request"), SpanType::ChatModel),
            node(
                "generate_customer_email",
                Some("request"),
                SpanType::Unknown
            ),
        ]
    );
    let email = named(&t, "generate_customer_email");
    assert_eq!(
        email.inputs(),
        Some(
            json!({"customer_name": "John Doe", "issue": "Product arrived damaged", "sentiment": "empathetic"})
        )
    );
    let out = email.outputs().unwrap();
    assert_eq!(out["status"], "success");
    assert_eq!(out["trace_id"], t.info.trace_id.to_string());
    assert_eq!(out["model"], "gpt-4o-mini");
    assert_eq!(out["raw_content"], customer_email::EMAIL);
    assert_eq!(out["data"]["priority"], "high");
    // 27 tokens and the trace info.
    let items = email
        .events
        .iter()
        .filter(|e| e.name.starts_with("mlflow.chunk.item."))
        .count();
    assert_eq!(items, 28);
    let chat = named(&t, "Completions");
    assert_eq!(chat.span_type(), SpanType::ChatModel);
    assert_eq!(chat.attributes["stream"], "true");
    assert_eq!(
        chat.inputs().unwrap()["messages"][1]["content"],
        "Customer: John Doe\nIssue: Product arrived damaged\nTone: empathetic"
    );
    assert_eq!(
        chat.outputs().unwrap()["choices"][0]["message"]["content"],
        customer_email::EMAIL
    );
    assert_eq!(usage(chat), Some(u(28, 27)));
    assert_eq!(trace_usage(&t), u(28, 27));
    assert_eq!(
        t.root().unwrap().outputs(),
        Some(json!(customer_email::EMAIL))
    );
}
