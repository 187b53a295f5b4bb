//! The seeds' multi-threading example: `main` runs `worker` on a pool of 2 threads, each worker
//! asks the model (a traced async-openai call), and the context captured in `main` makes every
//! worker span a child of `main` in one trace.
//!
//! MLflow copies the context with `contextvars.copy_context()` and runs the job with `ctx.run`;
//! here `Context::current()` and `ctx.run` do the same. The workers are plain threads that wait
//! for their call on the tokio runtime (`Handle::block_on`). The OpenAI API is a local stand-in
//! that the example starts itself. Run with `cargo run -p spanwise-openai --example thread_pool`.

use std::sync::mpsc;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::CreateChatCompletionRequest;
use serde_json::json;
use spanwise::openai::TracedClient;
use spanwise::{Context, Trace, trace};
use tokio::runtime::Handle;

#[trace(skip(client, rt))]
fn worker(client: &TracedClient<OpenAIConfig>, rt: &Handle, question: &str) -> String {
    let messages = json!([
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": question},
    ]);
    let request: CreateChatCompletionRequest = serde_json::from_value(json!({
        "model": "gpt-4o-mini",
        "messages": messages,
        "temperature": 0.1,
        "max_tokens": 100,
    }))
    .expect("a valid request");
    match rt.block_on(client.chat().create(request)) {
        Ok(r) => r.choices[0].message.content.clone().unwrap_or_default(),
        Err(e) => format!("error: {e}"),
    }
}

/// A fixed pool of 2 threads, like `ThreadPoolExecutor(max_workers=2)`; results in the order
/// they finish (`as_completed`).
#[trace(name = "main", skip(client, rt))]
fn main_flow(client: &TracedClient<OpenAIConfig>, rt: &Handle, questions: &[&str]) -> Vec<String> {
    let (job_tx, job_rx) = mpsc::channel::<(Context, String)>();
    let job_rx = std::sync::Mutex::new(job_rx);
    let (res_tx, res_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let (rx, tx) = (&job_rx, res_tx.clone());
            scope.spawn(move || {
                while let Ok((ctx, q)) = rx
                    .lock()
                    .map_err(|_| ())
                    .and_then(|r| r.recv().map_err(|_| ()))
                {
                    // The one extra step: run the job inside the context captured in `main`.
                    let _ = tx.send(ctx.run(|| worker(client, rt, &q)));
                }
            });
        }
        for q in questions {
            let _ = job_tx.send((Context::current(), q.to_string()));
        }
        drop(job_tx);
        drop(res_tx);
        res_rx.iter().collect()
    })
}

/// Two questions on the pool; returns the trace. Call from outside the runtime's threads.
pub fn run(client: &TracedClient<OpenAIConfig>, rt: &Handle) -> Trace {
    let questions = [
        "What is the capital of France?",
        "What is the capital of Germany?",
    ];
    for answer in main_flow(client, rt, &questions) {
        println!("{answer}");
    }
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _flush = spanwise::init()?;
    let rt = tokio::runtime::Runtime::new()?;
    let standin = openai_standin::Standin::start();
    let config = OpenAIConfig::new()
        .with_api_base(&standin.url)
        .with_api_key("sk-standin");
    let client = spanwise::openai::ClientExt::traced(async_openai::Client::with_config(config));
    print!("{}", run(&client, rt.handle()).render_tree());
    Ok(())
}
