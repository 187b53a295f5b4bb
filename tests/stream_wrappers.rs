//! Traced iterators and streams without the macro: chunk events, outputs, reducers, early stop,
//! error items, nesting, Send.

use futures::StreamExt as _;
use serde_json::json;
use spanwise::{
    FutureExt, IteratorExt, Reducer, StatusCode, StreamExt, StreamOptions, Trace, get_trace,
    last_active_trace_id, span, start_span,
};

fn last() -> Trace {
    get_trace(&last_active_trace_id().unwrap()).unwrap()
}

fn chunk_values(t: &Trace) -> Vec<String> {
    t.root()
        .unwrap()
        .events
        .iter()
        .filter(|e| e.name.starts_with("mlflow.chunk.item."))
        .map(|e| {
            e.attributes["mlflow.chunk.value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn items_become_chunk_events_and_the_list_is_the_output() {
    let collected: Vec<i32> = (0..3).traced("stream_ints").collect();
    assert_eq!(collected, [0, 1, 2]);
    let t = last();
    let root = t.root().unwrap();
    assert_eq!(root.name, "stream_ints");
    let names: Vec<&str> = root.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "mlflow.chunk.item.0",
            "mlflow.chunk.item.1",
            "mlflow.chunk.item.2"
        ]
    );
    assert_eq!(chunk_values(&t), ["0", "1", "2"]);
    assert_eq!(root.outputs(), Some(json!([0, 1, 2])));
    assert_eq!(root.status.code, StatusCode::Ok);
    assert_eq!(t.info.response_preview.as_deref(), Some("[0, 1, 2]"));
}

#[test]
fn a_slice_reducer_makes_the_output_and_events_keep_the_chunks() {
    let s: String = "hello"
        .chars()
        .map(String::from)
        .traced_with(
            "stream_data",
            StreamOptions::new().output_reducer(|c: &[String]| c.join(",")),
        )
        .collect();
    assert_eq!(s, "hello");
    let t = last();
    assert_eq!(t.root().unwrap().outputs(), Some(json!("h,e,l,l,o")));
    assert_eq!(
        chunk_values(&t),
        ["\"h\"", "\"e\"", "\"l\"", "\"l\"", "\"o\""]
    );
}

/// Running mean and count, keeping nothing.
#[derive(Default)]
struct Mean {
    n: u64,
    sum: f64,
}
impl Reducer<f64> for Mean {
    type Output = serde_json::Value;
    fn push(&mut self, x: &f64) {
        self.n += 1;
        self.sum += x;
    }
    fn finish(self) -> serde_json::Value {
        json!({"count": self.n, "mean": self.sum / self.n as f64})
    }
}

#[test]
fn an_incremental_reducer_without_chunk_events_keeps_nothing() {
    let n = (1..=100_000)
        .map(|i| i as f64)
        .traced_with(
            "long",
            StreamOptions::new()
                .reducer(Mean::default())
                .chunk_events(false),
        )
        .count();
    assert_eq!(n, 100_000);
    let root = last().root().unwrap().clone();
    assert!(root.events.is_empty());
    assert_eq!(
        root.outputs(),
        Some(json!({"count": 100000, "mean": 50000.5}))
    );
}

#[test]
fn stopping_early_ends_the_span_with_what_was_seen() {
    // Leaving after the first item is the point.
    #[allow(clippy::never_loop)]
    for _ in (0..10).traced("ten") {
        break;
    }
    let t = last();
    let root = t.root().unwrap();
    assert_eq!(root.outputs(), Some(json!([0])));
    assert_eq!(root.events.last().unwrap().name, "stopped_early");
    assert!(root.end_time_unix_nano.is_some());

    let firsts: Vec<_> = (0..10)
        .traced_with(
            "reduced",
            StreamOptions::new().output_reducer(|x: &[i32]| x.iter().sum::<i32>()),
        )
        .take(3)
        .collect();
    assert_eq!(firsts, [0, 1, 2]);
    let root = last().root().unwrap().clone();
    assert_eq!(
        root.outputs(),
        Some(json!(3)),
        "the reducer ran over the items seen"
    );
    assert_eq!(root.events.last().unwrap().name, "stopped_early");
}

#[test]
fn an_iterator_never_polled_records_nothing() {
    let before = last_active_trace_id();
    drop((0..3).traced("never"));
    assert_eq!(last_active_trace_id(), before);
}

#[test]
fn err_items_are_exceptions_and_pass_through() {
    let items = vec![Ok(1), "x".parse::<i32>(), Ok(3)];
    let out: Vec<_> = items
        .into_iter()
        .traced_results("parse", StreamOptions::new())
        .collect();
    assert!(
        out[1].is_err(),
        "the error item reaches the consumer unchanged"
    );
    let t = last();
    let root = t.root().unwrap();
    assert_eq!(root.status.code, StatusCode::Error);
    assert_eq!(
        root.status.message,
        "ParseIntError: invalid digit found in string"
    );
    let ev = root.exceptions().next().unwrap();
    assert_eq!(ev.attributes["exception.type"], "ParseIntError");
    // Not a chunk, not an output: what MLflow records for a generator that raised.
    assert_eq!(root.outputs(), Some(json!([1, 3])));
    let chunks: Vec<&str> = root
        .events
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| n.starts_with("mlflow.chunk"))
        .collect();
    assert_eq!(chunks, ["mlflow.chunk.item.0", "mlflow.chunk.item.1"]);
}

#[test]
fn a_panicking_reducer_is_recorded_and_the_iteration_goes_on() {
    let v: Vec<i32> = (0..4)
        .traced_with(
            "bad-reducer",
            StreamOptions::new().output_reducer(|_: &[i32]| -> i32 { panic!("reducer bug") }),
        )
        .collect();
    assert_eq!(v, [0, 1, 2, 3]);
    let root = last().root().unwrap().clone();
    assert_eq!(root.status.code, StatusCode::Error);
    assert!(
        root.events
            .iter()
            .any(|e| e.name == "output_reducer_failed")
    );
    assert_eq!(root.outputs(), None);
}

#[test]
fn spans_made_while_producing_items_nest_under_the_stream_span() {
    let outer = start_span("consumer");
    let produced: Vec<u32> = (0..2)
        .inspect(|i| {
            let _s = start_span(format!("produce-{i}"));
        })
        .traced("producer")
        .collect();
    assert_eq!(produced, [0, 1]);
    let id = outer.trace_id().unwrap();
    drop(outer);
    let t = get_trace(&id).unwrap();
    let parent = |n: &str| {
        let s = t.spans_named(n).next().unwrap();
        t.span(&s.parent_span_id.unwrap()).unwrap().name.clone()
    };
    assert_eq!(parent("producer"), "consumer");
    assert_eq!(parent("produce-0"), "producer");
    assert_eq!(parent("produce-1"), "producer");
}

fn assert_send<T: Send>(_: &T) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traced_stream_is_send_and_nests_under_the_polling_task_span() {
    let handle = tokio::spawn(
        async {
            let stream = futures::stream::unfold(0u32, |n| async move {
                tokio::task::yield_now().await;
                (n < 3).then_some((n, n + 1))
            })
            .traced_with(
                "tokens",
                StreamOptions::new().output_reducer(|v: &[u32]| v.iter().sum::<u32>()),
            );
            assert_send(&stream);
            let items: Vec<u32> = stream.collect().await;
            (items, spanwise::current_trace_id().unwrap())
        }
        .in_span(span("request")),
    );
    let (items, id) = handle.await.unwrap();
    assert_eq!(items, [0, 1, 2]);
    let t = get_trace(&id).unwrap();
    let tokens = t.spans_named("tokens").next().unwrap();
    assert_eq!(
        t.span(&tokens.parent_span_id.unwrap()).unwrap().name,
        "request"
    );
    assert_eq!(tokens.outputs(), Some(json!(3)));
    assert_eq!(tokens.events.len(), 3);
}

#[tokio::test]
async fn a_stream_dropped_by_select_ends_with_stopped_early() {
    let slow = futures::stream::unfold(0u32, |n| async move {
        tokio::time::sleep(std::time::Duration::from_millis(if n == 0 {
            0
        } else {
            10_000
        }))
        .await;
        Some((n, n + 1))
    })
    .traced("slow");
    let mut slow = Box::pin(slow);
    assert_eq!(slow.next().await, Some(0));
    tokio::select! {
        _ = slow.next() => unreachable!("the second item takes 10 s"),
        _ = tokio::time::sleep(std::time::Duration::from_millis(10)) => {}
    }
    drop(slow);
    let root = last().root().unwrap().clone();
    assert_eq!(root.name, "slow");
    assert_eq!(root.outputs(), Some(json!([0])));
    assert_eq!(root.events.last().unwrap().name, "stopped_early");
}
