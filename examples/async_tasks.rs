//! The multi-threading example with tokio tasks: `main` spawns one task per question with
//! `spanwise::spawn` (which carries the span context, as Python's asyncio does) and joins them.
//! The model call is simulated.

use std::time::Duration;

use futures::future::join_all;
use serde_json::json;
use spanwise::{FutureExt, SpanType, span};

async fn chat_completion(question: String) -> String {
    async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let answer = if question.contains("France") {
            "Paris"
        } else {
            "Berlin"
        };
        if let Some(s) = spanwise::current_span() {
            s.set_outputs(
                json!({"choices": [{"message": {"role": "assistant", "content": answer}}]}),
            );
        }
        answer.to_string()
    }
    .in_span(span("chat.completions.create").span_type(SpanType::ChatModel))
    .await
}

async fn worker(question: String) -> String {
    let inputs = json!({ "question": question });
    async move {
        let answer = chat_completion(question).await;
        if let Some(s) = spanwise::current_span() {
            s.set_outputs(&answer);
        }
        answer
    }
    .in_span(span("worker").inputs(inputs))
    .await
}

async fn main_flow(questions: Vec<String>) -> Vec<String> {
    let inputs = json!({ "questions": questions });
    async move {
        let tasks = questions.into_iter().map(|q| spanwise::spawn(worker(q)));
        let results: Vec<String> = join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.expect("worker task panicked"))
            .collect();
        if let Some(s) = spanwise::current_span() {
            s.set_outputs(&results);
        }
        results
    }
    .in_span(span("main").inputs(inputs))
    .await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), spanwise::Error> {
    let _guard = spanwise::init()?;
    let results = main_flow(vec![
        "What is the capital of France?".into(),
        "What is the capital of Germany?".into(),
    ])
    .await;
    println!("{results:?}\n");
    let trace = spanwise::get_trace(&spanwise::last_active_trace_id().unwrap()).unwrap();
    print!("{}", trace.render_tree());
    Ok(())
}
