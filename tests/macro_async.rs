//! `#[trace]` on async code: `async fn`, `fn -> impl Future`, async methods in traits and with
//! `#[async_trait]`, on a multi-thread tokio runtime whose tasks move between threads.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use spanwise::{SpanType, StatusCode, Trace, TraceId, trace};

fn trace_of(id: TraceId) -> Trace {
    spanwise::get_trace(&id).expect("the trace is in the store")
}

fn current_trace_id() -> TraceId {
    spanwise::current_span()
        .and_then(|s| s.trace_id())
        .expect("inside a traced function")
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

type Threads = Arc<Mutex<HashSet<std::thread::ThreadId>>>;

#[trace(span_type = SpanType::Tool)]
async fn leaf(i: u32, threads: Threads) -> u32 {
    for _ in 0..3 {
        threads.lock().unwrap().insert(std::thread::current().id());
        tokio::task::yield_now().await;
    }
    // A span made with start_span inside the body nests under the function's span.
    {
        let s = spanwise::start_span("inner_sync");
        s.set_outputs(i);
    }
    i * 10
}

#[trace(name = "agent", span_type = SpanType::Agent, attributes(n = n))]
async fn agent(n: u32, threads: Threads) -> (TraceId, u32) {
    let id = current_trace_id();
    let mut sum = 0;
    for i in 0..n {
        tokio::task::yield_now().await;
        sum += leaf(i, threads.clone()).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (id, sum)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nested_async_spans_across_threads() {
    let threads: Threads = Default::default();
    let mut ids = Vec::new();
    // Many concurrent traces so the scheduler moves tasks between the workers; on a busy
    // machine one round may stay on one worker, so rounds repeat (bounded) until it moved.
    for _round in 0..10 {
        let handles: Vec<_> = (0..16)
            .map(|_| tokio::spawn(assert_send(agent(4, threads.clone()))))
            .collect();
        for h in handles {
            let (id, sum) = h.await.unwrap();
            assert_eq!(sum, 60);
            ids.push(id);
        }
        if threads.lock().unwrap().len() > 1 {
            break;
        }
    }
    assert!(
        threads.lock().unwrap().len() > 1,
        "tasks ran on several threads"
    );
    for id in ids {
        let t = trace_of(id);
        assert_eq!(t.data.spans.len(), 1 + 4 * 2);
        let root = t.root().unwrap();
        assert_eq!(root.name, "agent");
        assert_eq!(root.span_type(), SpanType::Agent);
        assert_eq!(root.attribute("n"), Some(json!(4)));
        let inputs = root.inputs().unwrap();
        assert_eq!(inputs["n"], json!(4));
        assert!(
            inputs["threads"].is_string(),
            "Arc<Mutex<..>> is recorded as its Debug text"
        );
        assert_eq!(root.outputs().unwrap()[1], json!(60));
        let leaves = t.children(&root.span_id);
        assert_eq!(leaves.len(), 4);
        for (i, l) in leaves.iter().enumerate() {
            assert_eq!(l.name, format!("leaf_{}", i + 1));
            assert_eq!(l.inputs().unwrap()["i"], json!(i));
            assert_eq!(l.outputs(), Some(json!(i * 10)));
            assert_eq!(l.status.code, StatusCode::Ok);
            let inner = t.children(&l.span_id);
            assert_eq!(inner.len(), 1);
            assert_eq!(inner[0].outputs(), Some(json!(i)));
            assert!(l.start_time_unix_nano >= root.start_time_unix_nano);
            assert!(l.end_time_unix_nano <= root.end_time_unix_nano);
        }
    }
}

#[trace]
async fn fails(fail: bool) -> Result<u8, std::io::Error> {
    tokio::task::yield_now().await;
    if fail {
        return Err(std::io::Error::other("disk on fire"));
    }
    let v: u8 = "7".parse().map_err(std::io::Error::other)?;
    Ok(v)
}

#[trace]
async fn catches() -> (TraceId, u8) {
    let id = current_trace_id();
    let a = fails(false).await.unwrap();
    let b = fails(true).await.unwrap_or(1);
    (id, a + b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_errors_and_question_mark() {
    let (id, v) = catches().await;
    assert_eq!(v, 8);
    let t = trace_of(id);
    let root = t.root().unwrap();
    assert_eq!(root.status.code, StatusCode::Ok);
    let kids = t.children(&root.span_id);
    assert_eq!(kids[0].outputs(), Some(json!(7)));
    assert_eq!(kids[1].status.code, StatusCode::Error);
    assert_eq!(kids[1].status.message, "Error: disk on fire");
    assert_eq!(kids[1].outputs(), None);
}

// `fn -> impl Future` with an async block: inputs are recorded at the call.
#[trace(span_type = SpanType::Retriever)]
fn retrieve(query: String, k: usize) -> impl Future<Output = Result<Vec<String>, String>> + Send {
    let prefix = query.clone();
    async move {
        tokio::task::yield_now().await;
        if k == 0 {
            return Err("k must be positive".to_string());
        }
        Ok((0..k).map(|i| format!("{prefix}-{i}")).collect())
    }
}

#[trace]
async fn pipeline(query: &str) -> (TraceId, usize) {
    let id = current_trace_id();
    let docs = retrieve(query.to_string(), 2).await.unwrap();
    let none = retrieve(query.to_string(), 0).await;
    assert!(none.is_err());
    (id, docs.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fn_returning_impl_future() {
    let (id, n) = tokio::spawn(pipeline("q")).await.unwrap();
    assert_eq!(n, 2);
    let t = trace_of(id);
    let root = t.root().unwrap();
    assert_eq!(root.inputs(), Some(json!({"query": "q"})));
    let kids = t.children(&root.span_id);
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0].span_type(), SpanType::Retriever);
    assert_eq!(kids[0].inputs(), Some(json!({"query": "q", "k": 2})));
    assert_eq!(kids[0].outputs(), Some(json!(["q-0", "q-1"])));
    assert_eq!(kids[1].status.message, "String: k must be positive");
    assert_eq!(
        kids[1].attribute("mlflow.spanFunctionName"),
        Some(json!("retrieve"))
    );
}

// Native `async fn` in a trait, with default and implemented methods.
trait Agent {
    async fn answer(&self, question: &str) -> String;

    #[trace]
    async fn answer_twice(&self, question: &str) -> (TraceId, String) {
        let id = current_trace_id();
        let a = self.answer(question).await;
        let b = self.answer(question).await;
        (id, format!("{a}|{b}"))
    }
}

struct Echo {
    prefix: String,
}

impl Agent for Echo {
    #[trace(span_type = SpanType::ChatModel)]
    async fn answer(&self, question: &str) -> String {
        tokio::task::yield_now().await;
        format!("{}{question}", self.prefix)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_fn_in_traits() {
    let echo = Echo {
        prefix: "> ".into(),
    };
    let (id, out) = echo.answer_twice("hi").await;
    assert_eq!(out, "> hi|> hi");
    let t = trace_of(id);
    let root = t.root().unwrap();
    assert_eq!(root.name, "answer_twice");
    assert_eq!(root.inputs(), Some(json!({"question": "hi"})));
    let kids = t.children(&root.span_id);
    assert_eq!(
        kids.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["answer_1", "answer_2"]
    );
    assert_eq!(kids[0].span_type(), SpanType::ChatModel);
    assert_eq!(kids[0].outputs(), Some(json!("> hi")));
}

// `#[async_trait]` expands first and emits `Box::pin(async move { ... })`; `#[trace]` follows
// that future.
#[async_trait::async_trait]
trait Tool {
    async fn call(&self, x: i64) -> Result<i64, String>;
}

struct Doubler;

#[async_trait::async_trait]
impl Tool for Doubler {
    #[trace(span_type = SpanType::Tool)]
    async fn call(&self, x: i64) -> Result<i64, String> {
        tokio::task::yield_now().await;
        if x < 0 {
            return Err(format!("negative: {x}"));
        }
        Ok(x * 2)
    }
}

#[trace]
async fn use_tools(tool: Arc<dyn Tool + Send + Sync>) -> TraceId {
    let id = current_trace_id();
    assert_eq!(tool.call(21).await, Ok(42));
    assert!(tool.call(-1).await.is_err());
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_trait_methods() {
    let id = tokio::spawn(use_tools(Arc::new(Doubler))).await.unwrap();
    let t = trace_of(id);
    let root = t.root().unwrap();
    assert_eq!(
        root.inputs(),
        Some(
            json!({"tool": "<unserializable: alloc::sync::Arc<dyn macro_async::Tool + core::marker::Send + core::marker::Sync>>"})
        )
    );
    let kids = t.children(&root.span_id);
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0].name, "call_1");
    assert_eq!(kids[0].span_type(), SpanType::Tool);
    assert_eq!(kids[0].inputs(), Some(json!({"x": 21})));
    assert_eq!(kids[0].outputs(), Some(json!(42)));
    assert_eq!(kids[1].status.message, "String: negative: -1");
}

#[trace]
async fn never_finishes(label: &'static str) {
    let _ = label;
    std::future::pending::<()>().await;
}

#[trace]
async fn gives_up() -> TraceId {
    let id = current_trace_id();
    let r = tokio::time::timeout(Duration::from_millis(5), never_finishes("slow")).await;
    assert!(r.is_err());
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_future_ends_its_span_as_cancelled() {
    let id = gives_up().await;
    let t = trace_of(id);
    let root = t.root().unwrap();
    let kid = &t.children(&root.span_id)[0];
    assert_eq!(kid.name, "never_finishes");
    assert!(kid.events.iter().any(|e| e.name == "cancelled"));
    assert_ne!(kid.status.code, StatusCode::Error);
    assert_eq!(kid.outputs(), None);
    assert!(kid.end_time_unix_nano.is_some());
}

#[trace]
async fn panics_inside(x: u8) -> u8 {
    tokio::task::yield_now().await;
    if x > 0 {
        panic!("async boom");
    }
    x
}

#[trace]
async fn survives_panic() -> TraceId {
    let id = current_trace_id();
    let r = tokio::spawn(async {
        // A fresh task has no current span: this is a trace of its own.
        panics_inside(1).await
    })
    .await;
    assert!(r.is_err());
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_panics_are_recorded() {
    let id = survives_panic().await;
    assert_eq!(trace_of(id).data.spans.len(), 1);
    let found = spanwise::search_traces(&spanwise::TraceFilter::new().name("panics_inside"));
    let t = found
        .iter()
        .find(|t| t.root().unwrap().inputs() == Some(json!({"x": 1})))
        .expect("the panicking task's trace");
    let root = t.root().unwrap();
    assert_eq!(root.status.code, StatusCode::Error);
    assert_eq!(root.status.message, "panic: async boom");
}

#[trace]
fn depth_async(n: u32) -> std::pin::Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move {
        if n == 0 {
            0
        } else {
            1 + depth_async(n - 1).await
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_recursion_1000_deep() {
    let id = tokio::spawn(async {
        assert_eq!(depth_async(1000).await, 1000);
        spanwise::last_active_trace_id().unwrap()
    })
    .await
    .unwrap();
    let t = trace_of(id);
    assert_eq!(t.data.spans.len(), 1001);
    for pair in t.data.spans.windows(2) {
        assert_eq!(pair[1].parent_span_id, Some(pair[0].span_id));
    }
}

#[test]
fn traced_futures_are_send_when_the_original_is() {
    let threads: Threads = Default::default();
    drop(assert_send(agent(1, threads)));
    drop(assert_send(fails(true)));
    drop(assert_send(retrieve("q".into(), 1)));
    let echo = Echo {
        prefix: String::new(),
    };
    drop(assert_send(echo.answer_twice("x")));
    drop(assert_send(never_finishes("x")));
}

struct Store {
    items: Vec<String>,
}

impl Store {
    #[trace]
    async fn add(&mut self, (key, value): (&str, u32), _: bool) -> usize {
        tokio::task::yield_now().await;
        self.items.push(format!("{key}={value}"));
        self.items.len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_mut_self_and_destructured_arguments() {
    let mut store = Store { items: Vec::new() };
    let id = tokio::spawn(async move {
        let n = store.add(("a", 1), true).await;
        assert_eq!(n, 1);
        spanwise::last_active_trace_id().unwrap()
    })
    .await
    .unwrap();
    let root = trace_of(id).root().unwrap().clone();
    assert_eq!(root.name, "add");
    assert_eq!(root.inputs(), Some(json!({"arg0": ["a", 1], "arg1": true})));
    assert_eq!(root.outputs(), Some(json!(1)));
}
