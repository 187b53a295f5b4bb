//! `#[trace]` on functions returning streams: `impl Stream`, `Pin<Box<dyn Stream>>`, `async fn`
//! returning a stream, a named stream type with `stream`; parents, early stop (`take`, `break`,
//! `select!`), `Err` items, `Send` across `tokio::spawn`.

use std::pin::Pin;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use spanwise::{SpanType, StatusCode, Trace, TracedStream, trace};

fn last() -> Trace {
    spanwise::get_trace(&spanwise::last_active_trace_id().unwrap()).unwrap()
}

/// `(name, parent name)` of every span, in start order.
fn shape(t: &Trace) -> Vec<(String, Option<String>)> {
    t.data
        .spans
        .iter()
        .map(|s| {
            let p = s
                .parent_span_id
                .and_then(|p| t.span(&p))
                .map(|p| p.name.clone());
            (s.name.clone(), p)
        })
        .collect()
}

fn event_names(t: &Trace, span: &str) -> Vec<String> {
    t.spans_named(span)
        .next()
        .unwrap()
        .events
        .iter()
        .map(|e| e.name.clone())
        .collect()
}

#[trace]
fn lookup(i: u32) -> u32 {
    i + 100
}

/// Yields between items, so a multi-threaded runtime may move the task across threads.
#[trace(output_reducer = |v: &[u32]| v.iter().sum::<u32>())]
fn numbers(n: u32) -> impl Stream<Item = u32> + Send {
    futures::stream::unfold(0, move |i| async move {
        tokio::task::yield_now().await;
        (i < n).then(|| (lookup(i), i + 1))
    })
}

#[trace]
async fn handle(n: u32) -> u32 {
    numbers(n).fold(0, |a, b| async move { a + b }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_polled_in_a_traced_async_fn_nests_under_it_and_runs_in_tokio_spawn() {
    let s = numbers(1);
    fn is_send<T: Send + 'static>(_: &T) {}
    is_send(&s);
    drop(s);

    // `last_active_trace_id` is per thread: read it on the thread where `handle` ended.
    let (total, id) = tokio::spawn(async {
        let total = handle(3).await;
        (total, spanwise::last_active_trace_id().unwrap())
    })
    .await
    .unwrap();
    assert_eq!(total, 303);
    let t = spanwise::get_trace(&id).unwrap();
    assert_eq!(
        shape(&t),
        [
            ("handle".to_string(), None),
            ("numbers".into(), Some("handle".into())),
            ("lookup_1".into(), Some("numbers".into())),
            ("lookup_2".into(), Some("numbers".into())),
            ("lookup_3".into(), Some("numbers".into())),
        ]
    );
    let numbers = t.spans_named("numbers").next().unwrap();
    assert_eq!(numbers.inputs(), Some(json!({"n": 3})));
    assert_eq!(numbers.outputs(), Some(json!(303)));
    assert_eq!(numbers.attribute("mlflow.spanFunctionName"), None);
    assert_eq!(
        event_names(&t, "numbers"),
        [
            "mlflow.chunk.item.0",
            "mlflow.chunk.item.1",
            "mlflow.chunk.item.2"
        ]
    );
    let root = t.root().unwrap();
    assert_eq!(root.outputs(), Some(json!(303)));
    assert_eq!(
        root.attribute("mlflow.spanFunctionName"),
        Some(json!("handle"))
    );
}

#[tokio::test]
async fn take_n_stops_a_stream_early_and_the_trace_is_finalized() {
    let firsts: Vec<u32> = numbers(10).take(2).collect().await;
    assert_eq!(firsts, [100, 101]);
    let t = last();
    let root = t.root().unwrap();
    assert_eq!(root.name, "numbers");
    assert_eq!(
        root.outputs(),
        Some(json!(201)),
        "the reducer over the items seen"
    );
    assert_eq!(
        event_names(&t, "numbers"),
        [
            "mlflow.chunk.item.0",
            "mlflow.chunk.item.1",
            "stopped_early"
        ]
    );
    assert_eq!(root.status.code, StatusCode::Ok);
    assert_eq!(t.info.response_preview.as_deref(), Some("201"));
}

#[tokio::test]
async fn break_out_of_a_while_let_loop_stops_early() {
    let mut s = Box::pin(numbers(10));
    while let Some(x) = s.next().await {
        if x == 100 {
            break;
        }
    }
    // Still held: the span is open until the stream is dropped.
    let before = spanwise::last_active_trace_id();
    drop(s);
    assert_ne!(spanwise::last_active_trace_id(), before);
    let root = last().root().unwrap().clone();
    assert_eq!(root.outputs(), Some(json!(100)));
    assert_eq!(root.events.last().unwrap().name, "stopped_early");
}

/// One item at once, then one that takes forever.
#[trace(span_type = SpanType::Llm)]
fn slow_tokens() -> Pin<Box<dyn Stream<Item = String> + Send>> {
    Box::pin(futures::stream::unfold(0u32, |i| async move {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Some((format!("tok{i}"), i + 1))
    }))
}

#[tokio::test]
async fn a_stream_losing_a_select_ends_with_stopped_early() {
    let mut s = slow_tokens();
    assert_eq!(s.next().await.as_deref(), Some("tok0"));
    tokio::select! {
        _ = s.next() => unreachable!("the second token takes an hour"),
        _ = tokio::time::sleep(Duration::from_millis(5)) => {}
    }
    drop(s);
    let t = last();
    let root = t.root().unwrap();
    assert_eq!(root.name, "slow_tokens");
    assert_eq!(root.span_type(), SpanType::Llm);
    assert_eq!(root.outputs(), Some(json!(["tok0"])));
    assert_eq!(
        event_names(&t, "slow_tokens"),
        ["mlflow.chunk.item.0", "stopped_early"]
    );
    assert_eq!(root.attribute("mlflow.spanLogLevel"), Some(json!(20)));
}

#[trace]
async fn connect(model: &str) -> String {
    tokio::task::yield_now().await;
    format!("session-{model}")
}

/// An async fn returning a stream: the part before the stream (here `connect`) runs when the
/// future is awaited, outside the stream's span; the stream's span starts at its first poll.
#[trace(output_reducer = |c: &[String]| c.concat())]
async fn chat(model: String, prompt: String) -> impl Stream<Item = String> {
    let session = connect(&model).await;
    let words: Vec<String> = prompt.split(' ').map(|w| format!("{w} ")).collect();
    futures::stream::iter(words).map(move |w| {
        let _ = &session;
        w
    })
}

#[trace]
async fn request() -> String {
    let stream = chat("m1".into(), "hi there".into()).await;
    stream.collect::<String>().await
}

#[tokio::test]
async fn async_fn_returning_a_stream_records_inputs_and_its_async_part_runs_before_the_span() {
    assert_eq!(request().await, "hi there ");
    let t = last();
    assert_eq!(
        shape(&t),
        [
            ("request".to_string(), None),
            ("connect".into(), Some("request".into())),
            ("chat".into(), Some("request".into())),
        ]
    );
    let chat = t.spans_named("chat").next().unwrap();
    assert_eq!(
        chat.inputs(),
        Some(json!({"model": "m1", "prompt": "hi there"}))
    );
    assert_eq!(chat.outputs(), Some(json!("hi there ")));
    assert_eq!(chat.events.len(), 2);
    let connect = t.spans_named("connect").next().unwrap();
    assert!(connect.end_time_unix_nano.unwrap() <= chat.start_time_unix_nano);
}

#[derive(Debug)]
struct RateLimited;

impl std::fmt::Display for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("429 Too Many Requests")
    }
}

impl std::error::Error for RateLimited {}

#[trace]
fn flaky() -> impl Stream<Item = Result<u8, RateLimited>> {
    futures::stream::iter([Ok(1), Err(RateLimited), Ok(2)])
}

#[tokio::test]
async fn err_items_in_a_stream_are_exceptions_and_pass_through() {
    let items: Vec<_> = flaky().collect().await;
    assert!(matches!(items[..], [Ok(1), Err(RateLimited), Ok(2)]));
    let t = last();
    let root = t.root().unwrap();
    assert_eq!(root.status.code, StatusCode::Error);
    assert_eq!(root.status.message, "RateLimited: 429 Too Many Requests");
    assert_eq!(
        event_names(&t, "flaky"),
        ["mlflow.chunk.item.0", "exception", "mlflow.chunk.item.1"]
    );
    // The `Err` is an exception only (as a Python generator that raised), not an output.
    assert_eq!(root.outputs(), Some(json!([1, 2])));
}

#[trace(stream, chunk_events = false)]
fn subscribe(rx: mpsc::UnboundedReceiver<Value>) -> mpsc::UnboundedReceiver<Value> {
    rx
}

#[tokio::test]
async fn stream_marks_a_named_stream_type_and_the_function_returns_traced_stream() {
    let (tx, rx) = mpsc::unbounded();
    let s: TracedStream<mpsc::UnboundedReceiver<Value>> = subscribe(rx);
    let producer = tokio::spawn(async move {
        for i in 0..3 {
            tx.unbounded_send(json!({"i": i})).unwrap();
            tokio::task::yield_now().await;
        }
    });
    let got: Vec<Value> = s.collect().await;
    producer.await.unwrap();
    assert_eq!(got.len(), 3);
    let root = last().root().unwrap().clone();
    assert_eq!(root.name, "subscribe");
    // The receiver is not serializable: the inputs hold its debug text.
    assert!(root.inputs().unwrap()["rx"].is_string());
    assert!(root.events.is_empty());
    assert_eq!(root.outputs(), Some(json!([{"i": 0}, {"i": 1}, {"i": 2}])));
}

#[trace(name = "lines")]
fn io_lines() -> impl futures::TryStream<Ok = String, Error = std::io::Error> {
    futures::stream::iter([Ok("a".to_string()), Err(std::io::Error::other("disk gone"))])
}

#[tokio::test]
async fn try_stream_items_are_results() {
    use futures::TryStreamExt;
    let first = io_lines().try_next().await.unwrap();
    assert_eq!(first.as_deref(), Some("a"));
    let root = last().root().unwrap().clone();
    assert_eq!(root.outputs(), Some(json!(["a"])));
    assert_eq!(root.events.last().unwrap().name, "stopped_early");

    let all: Vec<_> = io_lines().into_stream().collect().await;
    assert!(all[1].is_err());
    let root = last().root().unwrap().clone();
    assert_eq!(root.status.message, "Error: disk gone");
}

#[trace]
fn fused() -> impl futures::stream::FusedStream<Item = u8> {
    futures::stream::iter([1u8]).fuse()
}

#[tokio::test]
async fn fused_streams_stay_fused_and_select_macro_accepts_them() {
    use futures::stream::FusedStream;
    let mut s = fused();
    let mut never = futures::stream::pending::<u8>().fuse();
    let mut got = Vec::new();
    loop {
        futures::select! {
            x = s.next() => match x {
                Some(x) => got.push(x),
                None => break,
            },
            _ = never.next() => unreachable!(),
        }
    }
    assert!(s.is_terminated());
    assert_eq!(got, [1]);
    assert_eq!(last().root().unwrap().outputs(), Some(json!([1])));
}

/// Records that it ran; the `#[decorate]` wrapper of this test.
fn note<R>(name: &str, body: impl FnOnce() -> R) -> R {
    spanwise::start_span(format!("wrapper of {name}")).set_outputs("ran");
    body()
}

/// `#[trace]` written first is the outermost layer, also for a stream function: what the
/// other macro adds runs at the call (making the stream), so it is not inside the stream's span.
#[trace(name = "decorated")]
#[spanwise_decorate_demo::decorate(note)]
fn decorated_stream() -> impl Stream<Item = u8> {
    futures::stream::iter([7u8])
}

#[tokio::test]
async fn other_attribute_macros_keep_the_stream_traced() {
    let s = decorated_stream();
    assert_eq!(last().root().unwrap().name, "wrapper of decorated_stream");
    let items: Vec<u8> = s.collect().await;
    assert_eq!(items, [7]);
    let t = last();
    assert_eq!(t.root().unwrap().name, "decorated");
    assert_eq!(t.root().unwrap().outputs(), Some(json!([7])));
}

#[trace(output_reducer = |v: &[u8]| v.len())]
async fn load_rows(table: &str) -> Box<dyn Iterator<Item = u8> + Send> {
    tokio::task::yield_now().await;
    let n = table.len() as u8;
    Box::new(0..n)
}

#[tokio::test]
async fn an_async_fn_returning_an_iterator_is_traced_item_by_item() {
    let rows = load_rows("users").await;
    assert_eq!(rows.sum::<u8>(), 10);
    let root = last().root().unwrap().clone();
    assert_eq!(root.name, "load_rows");
    assert_eq!(root.inputs(), Some(json!({"table": "users"})));
    assert_eq!(root.outputs(), Some(json!(5)));
    assert_eq!(root.events.len(), 5);
}
