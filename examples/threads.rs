//! The seeds' multi-threading example: `main` traces `worker` calls run on a pool of 2 threads.
//!
//! MLflow needs `contextvars.copy_context()` and `ctx.run` by hand; here the context is captured
//! with `Context::current()` and each job runs inside it with `ctx.run`, so every worker span is
//! a child of `main` in one trace. The model call is simulated.

use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use spanwise::{Context, SpanType, start_span};

/// Stands in for `client.chat.completions.create`.
fn chat_completion(messages: &serde_json::Value) -> String {
    let span = start_span("chat.completions.create").span_type(SpanType::ChatModel);
    span.set_inputs(json!({"model": "gpt-4o-mini", "temperature": 0.1, "max_tokens": 100, "messages": messages}));
    std::thread::sleep(Duration::from_millis(20));
    let question = messages[1]["content"].as_str().unwrap_or_default();
    let answer = match question {
        q if q.contains("France") => "Paris",
        q if q.contains("Germany") => "Berlin",
        _ => "I don't know",
    };
    span.set_outputs(json!({"choices": [{"message": {"role": "assistant", "content": answer}}]}));
    answer.to_string()
}

fn worker(question: &str) -> String {
    let span = start_span("worker").inputs(json!({ "question": question }));
    let messages = json!([
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": question},
    ]);
    let answer = chat_completion(&messages);
    span.set_outputs(&answer);
    answer
}

/// A fixed pool of 2 threads, like `ThreadPoolExecutor(max_workers=2)`.
fn main_flow(questions: &[&str]) -> Vec<String> {
    let span = start_span("main").inputs(json!({ "questions": questions }));
    let (job_tx, job_rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
    let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
    let (res_tx, res_rx) = mpsc::channel();
    let pool: Vec<_> = (0..2)
        .map(|_| {
            let rx = job_rx.clone();
            std::thread::spawn(move || {
                loop {
                    let job = rx.lock().unwrap().recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    for q in questions {
        // The one extra step: capture the context here, run the job inside it there.
        let ctx = Context::current();
        let q = q.to_string();
        let tx = res_tx.clone();
        job_tx
            .send(Box::new(move || {
                let answer = ctx.run(|| worker(&q));
                let _ = tx.send(answer);
            }))
            .unwrap();
    }
    drop(job_tx);
    drop(res_tx);
    let results: Vec<String> = res_rx.iter().collect();
    for t in pool {
        t.join().unwrap();
    }
    span.set_outputs(&results);
    results
}

fn main() -> Result<(), spanwise::Error> {
    let _guard = spanwise::init()?;
    let results = main_flow(&[
        "What is the capital of France?",
        "What is the capital of Germany?",
    ]);
    println!("{results:?}\n");
    let trace = spanwise::get_trace(&spanwise::last_active_trace_id().unwrap()).unwrap();
    print!("{}", trace.render_tree());
    Ok(())
}
