//! `#[trace]` on functions returning iterators: the span over the iteration, chunk events,
//! list and reducer outputs, incremental reducers, early stop, `Err` items, nesting, and the
//! return shapes (`impl Iterator`, `Box<dyn Iterator>`, a named type with `iter`).

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};
use spanwise::{Reducer, Span, SpanType, StatusCode, Trace, TracedIter, start_span, trace};

fn last() -> Trace {
    spanwise::get_trace(&spanwise::last_active_trace_id().unwrap()).unwrap()
}

/// `(event name, mlflow.chunk.value)` of every event, in order (value empty for other events).
fn events(s: &Span) -> Vec<(String, String)> {
    s.events
        .iter()
        .map(|e| {
            let v = e
                .attributes
                .get("mlflow.chunk.value")
                .and_then(Value::as_str)
                .unwrap_or("");
            (e.name.clone(), v.to_string())
        })
        .collect()
}

fn chunks(values: &[&str]) -> Vec<(String, String)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("mlflow.chunk.item.{i}"), v.to_string()))
        .collect()
}

fn attribute_keys(s: &Span) -> BTreeSet<&str> {
    s.attributes.keys().map(String::as_str).collect()
}

// ---- The seeds' "Streaming" and "Using Output Reducers" ----

#[trace]
fn stream_data() -> impl Iterator<Item = i32> {
    0..5
}

#[test]
fn stream_data_records_every_item_and_the_list() {
    let items: Vec<i32> = stream_data().collect();
    assert_eq!(items, [0, 1, 2, 3, 4]);
    let t = last();
    assert_eq!(t.data.spans.len(), 1);
    let root = t.root().unwrap();
    assert_eq!(root.name, "stream_data");
    assert_eq!(root.span_type(), SpanType::Unknown);
    assert_eq!(root.inputs(), Some(json!({})));
    assert_eq!(root.outputs(), Some(json!([0, 1, 2, 3, 4])));
    assert_eq!(root.status.code, StatusCode::Ok);
    assert_eq!(events(root), chunks(&["0", "1", "2", "3", "4"]));
    // The attributes MLflow 3.17.2 writes on a generator span (fixture stream_list.json): no
    // `mlflow.spanFunctionName`, which MLflow sets only for functions that are not generators.
    assert_eq!(
        attribute_keys(root),
        BTreeSet::from([
            "mlflow.traceRequestId",
            "mlflow.spanType",
            "mlflow.spanInputs",
            "mlflow.spanOutputs",
            "mlflow.spanLogLevel",
        ])
    );
    assert_eq!(t.info.request_preview.as_deref(), Some("{}"));
    assert_eq!(t.info.response_preview.as_deref(), Some("[0, 1, 2, 3, 4]"));
}

#[trace(output_reducer = |x: &[String]| x.join(","))]
fn stream_letters() -> impl Iterator<Item = String> {
    "hello".chars().map(String::from)
}

#[test]
fn a_closure_reducer_makes_h_e_l_l_o_and_the_chunks_stay_in_events() {
    assert_eq!(stream_letters().collect::<String>(), "hello");
    let t = last();
    let root = t.root().unwrap();
    assert_eq!(root.outputs(), Some(json!("h,e,l,l,o")));
    assert_eq!(
        events(root),
        chunks(&["\"h\"", "\"e\"", "\"l\"", "\"l\"", "\"o\""])
    );
    assert_eq!(t.info.response_preview.as_deref(), Some("\"h,e,l,l,o\""));
}

// A closure whose argument type is left to inference: the macro types the options after the
// returned iterator.
#[trace(output_reducer = |x| x.len())]
fn count_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split_whitespace().map(String::from)
}

// Borrowed items: recorded as usual (a slice reducer would need owned items, see `reducer`).
#[trace]
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
}

#[test]
fn a_reducer_closure_needs_no_annotation_and_borrowed_items_work() {
    assert_eq!(count_words("a b c").count(), 3);
    let root = last().root().unwrap().clone();
    assert_eq!(root.inputs(), Some(json!({"text": "a b c"})));
    assert_eq!(root.outputs(), Some(json!(3)));

    let w: Vec<&str> = words("x y").collect();
    assert_eq!(w, ["x", "y"]);
    assert_eq!(last().root().unwrap().outputs(), Some(json!(["x", "y"])));
}

/// Concatenates streaming tokens into complete text (the seeds' `aggregate_tokens`).
fn aggregate_tokens(chunks: &[String]) -> String {
    chunks.concat()
}

#[trace(output_reducer = aggregate_tokens)]
fn stream_text() -> impl Iterator<Item = String> {
    ["Hello", " ", "World", "!"].into_iter().map(String::from)
}

#[test]
fn token_aggregation_with_a_function_path() {
    assert_eq!(stream_text().count(), 4);
    let root = last().root().unwrap().clone();
    assert_eq!(root.outputs(), Some(json!("Hello World!")));
    assert_eq!(root.events.len(), 4);
}

#[derive(Clone, Serialize)]
struct Metric {
    value: i64,
    timestamp: u64,
}

/// Summary statistics of the metrics (the seeds' `aggregate_metrics`).
fn aggregate_metrics(chunks: &[Metric]) -> Value {
    let values: Vec<i64> = chunks.iter().map(|c| c.value).collect();
    let sum: i64 = values.iter().sum();
    json!({
        "count": values.len(),
        "sum": sum,
        "average": if values.is_empty() { 0.0 } else { sum as f64 / values.len() as f64 },
        "max": values.iter().max(),
        "min": values.iter().min(),
    })
}

#[trace(output_reducer = aggregate_metrics)]
fn stream_metrics() -> impl Iterator<Item = Metric> {
    (0..10).map(|i| Metric {
        value: i * 2,
        timestamp: 1_700_000_000 + i as u64,
    })
}

#[test]
fn metrics_aggregation() {
    assert_eq!(stream_metrics().count(), 10);
    let root = last().root().unwrap().clone();
    assert_eq!(
        root.outputs(),
        Some(json!({"count": 10, "sum": 90, "average": 9.0, "max": 18, "min": 0}))
    );
    assert_eq!(events(&root)[0].1, r#"{"value":0,"timestamp":1700000000}"#);
}

/// Successful results apart from errors (the seeds' `collect_results_and_errors`).
fn collect_results_and_errors(chunks: &[Value]) -> Value {
    let (errors, results): (Vec<&Value>, Vec<&Value>) =
        chunks.iter().partition(|c| c.get("error").is_some());
    let errors: Vec<&Value> = errors.iter().map(|c| &c["error"]).collect();
    let results: Vec<&Value> = results.iter().map(|c| &c["data"]).collect();
    json!({
        "results": results,
        "errors": errors,
        "success_rate": if chunks.is_empty() { 0.0 } else { results.len() as f64 / chunks.len() as f64 },
        "has_errors": !errors.is_empty(),
    })
}

#[trace(output_reducer = collect_results_and_errors)]
fn fetch_all(ids: Vec<u32>) -> impl Iterator<Item = Value> {
    ids.into_iter().map(|id| {
        if id % 2 == 0 {
            json!({"data": id * 10})
        } else {
            json!({"error": format!("id {id} not found")})
        }
    })
}

#[test]
fn error_collection() {
    assert_eq!(fetch_all(vec![2, 3, 4, 6]).count(), 4);
    let root = last().root().unwrap().clone();
    assert_eq!(root.inputs(), Some(json!({"ids": [2, 3, 4, 6]})));
    assert_eq!(
        root.outputs(),
        Some(json!({
            "results": [20, 40, 60],
            "errors": ["id 3 not found"],
            "success_rate": 0.75,
            "has_errors": true,
        }))
    );
    // Errors carried as data are not exceptions.
    assert_eq!(root.status.code, StatusCode::Ok);
}

// ---- Incremental reducers ----

/// Running count and sum, keeping nothing.
struct Stats {
    n: u64,
    sum: u64,
}

impl Reducer<u64> for Stats {
    type Output = Value;
    fn push(&mut self, x: &u64) {
        self.n += 1;
        self.sum += x;
    }
    fn finish(self) -> Value {
        json!({"count": self.n, "sum": self.sum})
    }
}

#[trace(reducer = Stats { n: 0, sum: 0 }, chunk_events = false, span_type = "metrics")]
fn long_stream(n: u64) -> impl Iterator<Item = u64> {
    1..=n
}

#[test]
fn an_incremental_reducer_without_chunk_events() {
    assert_eq!(long_stream(100_000).count(), 100_000);
    let root = last().root().unwrap().clone();
    assert!(root.events.is_empty(), "chunk_events = false");
    assert_eq!(root.span_type(), SpanType::Custom("metrics".into()));
    assert_eq!(
        root.outputs(),
        Some(json!({"count": 100000, "sum": 5000050000u64}))
    );
}

/// Items are not `Clone` and not kept: the incremental form needs neither.
struct Token(String);

#[derive(Default)]
struct Concat(String);

impl Reducer<Token> for Concat {
    type Output = String;
    fn push(&mut self, t: &Token) {
        self.0.push_str(&t.0);
    }
    fn finish(self) -> String {
        self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({:?})", self.0)
    }
}

#[trace(reducer = Concat::default())]
fn tokens() -> impl Iterator<Item = Token> {
    ["a", "b"].into_iter().map(|s| Token(s.into()))
}

#[test]
fn items_that_are_neither_clone_nor_serialize_are_recorded_by_debug() {
    assert_eq!(tokens().count(), 2);
    let root = last().root().unwrap().clone();
    assert_eq!(root.outputs(), Some(json!("ab")));
    assert_eq!(
        events(&root),
        chunks(&["\"Token(\\\"a\\\")\"", "\"Token(\\\"b\\\")\""])
    );
}

#[trace(output_reducer = |_: &[u8]| -> u8 { panic!("reducer bug") })]
fn bytes() -> impl Iterator<Item = u8> {
    [1u8, 2].into_iter()
}

#[test]
fn a_panicking_reducer_is_recorded_and_the_items_still_flow() {
    assert_eq!(bytes().collect::<Vec<_>>(), [1, 2]);
    let root = last().root().unwrap().clone();
    assert_eq!(root.status.code, StatusCode::Error);
    assert_eq!(root.status.message, "output_reducer_failed: reducer bug");
    let names: Vec<&str> = root.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "mlflow.chunk.item.0",
            "mlflow.chunk.item.1",
            "output_reducer_failed"
        ]
    );
    assert_eq!(root.outputs(), None);
}

#[trace(capture_output = false)]
fn secrets() -> impl Iterator<Item = &'static str> {
    ["hunter2", "swordfish"].into_iter()
}

#[test]
fn capture_output_false_records_neither_items_nor_output() {
    assert_eq!(secrets().count(), 2);
    let root = last().root().unwrap().clone();
    assert_eq!(root.outputs(), None);
    assert!(root.events.is_empty());
    assert_eq!(root.status.code, StatusCode::Ok);
}

// ---- Early stop ----

#[test]
fn break_ends_the_span_with_the_items_seen() {
    for i in stream_data() {
        if i == 1 {
            break;
        }
    }
    let root = last().root().unwrap().clone();
    assert_eq!(root.outputs(), Some(json!([0, 1])));
    assert_eq!(
        events(&root),
        [
            chunks(&["0", "1"]),
            vec![("stopped_early".into(), String::new())]
        ]
        .concat()
    );
    assert_eq!(root.status.code, StatusCode::Ok);
    assert!(root.end_time_unix_nano.is_some());
}

#[test]
fn take_n_applies_the_reducer_to_the_items_seen() {
    let first: String = stream_letters().take(2).collect();
    assert_eq!(first, "he");
    let root = last().root().unwrap().clone();
    assert_eq!(root.outputs(), Some(json!("h,e")));
    assert_eq!(root.events.last().unwrap().name, "stopped_early");
}

#[test]
fn an_iterator_made_but_never_used_records_nothing() {
    let before = spanwise::last_active_trace_id();
    drop(stream_data());
    assert_eq!(spanwise::last_active_trace_id(), before);
}

// ---- Err items ----

#[derive(Debug)]
struct Timeout {
    after_ms: u32,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no answer after {} ms", self.after_ms)
    }
}

impl std::error::Error for Timeout {}

#[trace]
fn answers() -> impl Iterator<Item = Result<String, Timeout>> {
    vec![
        Ok("first".to_string()),
        Err(Timeout { after_ms: 500 }),
        Ok("third".to_string()),
    ]
    .into_iter()
}

#[test]
fn err_items_are_exceptions_and_reach_the_consumer_unchanged() {
    let got: Vec<Result<String, Timeout>> = answers().collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got[1].as_ref().unwrap_err().after_ms, 500);
    let root = last().root().unwrap().clone();
    assert_eq!(root.status.code, StatusCode::Error);
    assert_eq!(root.status.message, "Timeout: no answer after 500 ms");
    let names: Vec<&str> = root.events.iter().map(|e| e.name.as_str()).collect();
    // As a Python generator that raised: the `Err` is an exception, not a chunk; the item
    // after it is recorded as usual.
    assert_eq!(
        names,
        ["mlflow.chunk.item.0", "exception", "mlflow.chunk.item.1"]
    );
    let ex = root.exceptions().next().unwrap();
    assert_eq!(ex.attributes["exception.type"], "Timeout");
    assert_eq!(ex.attributes["exception.message"], "no answer after 500 ms");
    assert_eq!(
        ex.attributes["exception.stacktrace"],
        "Timeout: no answer after 500 ms"
    );
    // `Ok` values are recorded without the `Ok` wrapper; an `Err` is not part of the outputs.
    assert_eq!(root.outputs(), Some(json!(["first", "third"])));
    assert_eq!(root.attribute("mlflow.spanLogLevel"), Some(json!(40)));
}

#[derive(Debug)]
enum DebugOnly {
    Broken,
}

type Boxed = Box<dyn std::error::Error + Send + Sync>;

#[trace(reducer = Concat::default(), chunk_events = false)]
fn debug_errors() -> impl Iterator<Item = Result<Token, DebugOnly>> {
    [Ok(Token("x".into())), Err(DebugOnly::Broken)].into_iter()
}

impl Reducer<Result<Token, DebugOnly>> for Concat {
    type Output = String;
    fn push(&mut self, t: &Result<Token, DebugOnly>) {
        if let Ok(t) = t {
            self.0.push_str(&t.0);
        }
    }
    fn finish(self) -> String {
        self.0
    }
}

#[trace]
fn boxed_errors() -> Box<dyn Iterator<Item = Result<u8, Boxed>>> {
    Box::new([Ok(1), Err("disk full".into())].into_iter())
}

#[test]
fn err_items_of_every_kind_are_recorded_even_without_chunk_events() {
    assert_eq!(debug_errors().count(), 2);
    let root = last().root().unwrap().clone();
    // The stream ended on an `Err`: no outputs, as MLflow records a generator that raised.
    assert_eq!(root.outputs(), None);
    let names: Vec<&str> = root.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["exception"], "no chunk events, the error still");
    assert_eq!(root.status.message, "DebugOnly: Broken");

    assert_eq!(boxed_errors().count(), 2);
    let root = last().root().unwrap().clone();
    let ex = root.exceptions().next().unwrap();
    assert_eq!(ex.attributes["exception.message"], "disk full");
    // Ended on the `Err`: no outputs; the item before it is still a chunk.
    assert_eq!(root.outputs(), None);
    let names: Vec<&str> = root.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["mlflow.chunk.item.0", "exception"]);
}

// ---- Nesting ----

#[trace]
fn tokenize(n: u32) -> u32 {
    n * 10
}

#[trace(name = "producer", span_type = spanwise::SpanType::Retriever)]
fn produce(n: u32) -> impl Iterator<Item = u32> {
    (0..n).map(tokenize)
}

#[trace]
fn consume(it: Vec<u32>) -> u32 {
    it.iter().sum()
}

#[test]
fn spans_made_while_producing_nest_under_the_stream_span_whose_parent_is_the_consumer() {
    // Made outside any span, consumed inside one: the parent is the span current at the first
    // `next`, as in MLflow where the generator's span starts at its first item.
    let it = produce(2);
    let outer = start_span("request");
    let items: Vec<u32> = it.collect();
    let total = consume(items);
    assert_eq!(total, 10);
    let id = outer.trace_id().unwrap();
    drop(outer);
    let t = spanwise::get_trace(&id).unwrap();
    let shape: Vec<(String, Option<String>)> = t
        .data
        .spans
        .iter()
        .map(|s| {
            let p = s
                .parent_span_id
                .and_then(|p| t.span(&p))
                .map(|p| p.name.clone());
            (s.name.clone(), p)
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("request".to_string(), None),
            ("producer".into(), Some("request".into())),
            ("tokenize_1".into(), Some("producer".into())),
            ("tokenize_2".into(), Some("producer".into())),
            ("consume".into(), Some("request".into())),
        ]
    );
    let producer = t.spans_named("producer").next().unwrap();
    assert_eq!(producer.span_type(), SpanType::Retriever);
    assert_eq!(producer.inputs(), Some(json!({"n": 2})));
    assert_eq!(producer.outputs(), Some(json!([0, 10])));
    assert!(
        producer.end_time_unix_nano
            <= t.spans_named("consume")
                .next()
                .unwrap()
                .start_time_unix_nano
                .into()
    );
}

// ---- Return shapes ----

/// Counts down; a named iterator type.
struct Countdown(u32);

impl Iterator for Countdown {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        self.0 = self.0.checked_sub(1)?;
        Some(self.0)
    }
}

#[trace(iter, attributes(kind = "countdown"))]
fn countdown(from: u32) -> Countdown {
    Countdown(from)
}

#[test]
fn iter_marks_a_named_iterator_type_and_the_function_returns_traced_iter() {
    let it: TracedIter<Countdown> = countdown(3);
    assert_eq!(it.collect::<Vec<_>>(), [2, 1, 0]);
    let root = last().root().unwrap().clone();
    assert_eq!(root.name, "countdown");
    assert_eq!(root.attribute("kind"), Some(json!("countdown")));
    assert_eq!(root.outputs(), Some(json!([2, 1, 0])));
}

#[trace(skip(secret))]
fn boxed(n: u8, secret: &str) -> Box<dyn Iterator<Item = u8> + Send + '_> {
    Box::new((0..n).map(move |i| i + secret.len() as u8))
}

#[test]
fn box_dyn_iterator_is_wrapped_and_stays_send() {
    let it = boxed(2, "xyz");
    fn is_send<T: Send>(_: &T) {}
    is_send(&it);
    assert_eq!(it.collect::<Vec<_>>(), [3, 4]);
    let root = last().root().unwrap().clone();
    assert_eq!(root.inputs(), Some(json!({"n": 2})));
    assert_eq!(root.outputs(), Some(json!([3, 4])));
}

struct Corpus {
    text: String,
}

impl Corpus {
    #[trace]
    fn lines(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + '_ {
        self.text.split('\n').collect::<Vec<_>>().into_iter()
    }
}

#[test]
fn methods_and_double_ended_exact_size_iterators() {
    let c = Corpus {
        text: "a\nb\nc".into(),
    };
    let it = c.lines();
    assert_eq!(it.len(), 3);
    assert_eq!(it.rev().collect::<Vec<_>>(), ["c", "b", "a"]);
    let root = last().root().unwrap().clone();
    assert_eq!(root.inputs(), Some(json!({})));
    assert_eq!(
        root.outputs(),
        Some(json!(["c", "b", "a"])),
        "in the order taken"
    );
}

#[trace]
fn generic<T: fmt::Debug>(items: Vec<T>) -> impl Iterator<Item = T> {
    items.into_iter()
}

#[test]
fn generic_items_use_the_bounds_in_scope() {
    let n = generic(vec![1, 2]).count();
    assert_eq!(n, 2);
    let root = last().root().unwrap().clone();
    // `T: Debug` only: items and inputs are their debug text.
    assert_eq!(root.outputs(), Some(json!(["1", "2"])));
    assert_eq!(root.inputs(), Some(json!({"items": "[1, 2]"})));
}

#[test]
fn the_trace_round_trips_through_mlflow_json() {
    let _ = stream_letters().count();
    let t = last();
    let back = Trace::from_json(&t.to_json()).unwrap();
    assert_eq!(back.root().unwrap().outputs(), Some(json!("h,e,l,l,o")));
    assert_eq!(back.root().unwrap().events.len(), 5);
}
