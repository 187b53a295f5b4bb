//! The seeds' "Streaming" and "Using Output Reducers": `#[trace]` on functions that return
//! iterators (Python's generators). One span covers the whole iteration; each item is an event
//! `mlflow.chunk.item.<i>`; the output is the list of items, or what `output_reducer` makes of
//! them. Also the seeds' "Testing Output Reducers": the reducers are plain functions, tested on
//! their own at the end of this file.
//!
//! Run with `cargo run --example streaming`.

use serde::Serialize;
use serde_json::{Value, json};
use spanwise::{Trace, trace};

/// Without a reducer, the output is the list of items: `[0, 1, 2, 3, 4]`.
#[trace]
pub fn stream_data() -> impl Iterator<Item = i32> {
    0..5
}

/// A closure reducer: the output is `"h,e,l,l,o"`; the chunks stay in the span's events.
#[trace(name = "stream_data", output_reducer = |x: &[String]| x.join(","))]
pub fn stream_letters() -> impl Iterator<Item = String> {
    "hello".chars().map(String::from)
}

/// Concatenates streaming tokens into complete text.
pub fn aggregate_tokens(chunks: &[String]) -> String {
    chunks.concat()
}

#[trace(output_reducer = aggregate_tokens)]
pub fn stream_text() -> impl Iterator<Item = String> {
    ["Hello", " ", "World", "!"].into_iter().map(String::from)
}

/// One streamed measurement.
#[derive(Clone, Serialize)]
pub struct Metric {
    /// The measured value.
    pub value: f64,
    /// When it was measured (seconds since the epoch).
    pub timestamp: f64,
}

/// Aggregates streaming metrics into summary statistics.
pub fn aggregate_metrics(chunks: &[Metric]) -> Value {
    let values: Vec<f64> = chunks.iter().map(|c| c.value).collect();
    let sum: f64 = values.iter().sum();
    let max = values.iter().copied().reduce(f64::max);
    let min = values.iter().copied().reduce(f64::min);
    json!({
        "count": values.len(),
        "sum": sum,
        "average": if values.is_empty() { 0.0 } else { sum / values.len() as f64 },
        "max": max,
        "min": min,
    })
}

#[trace(output_reducer = aggregate_metrics)]
pub fn stream_metrics() -> impl Iterator<Item = Metric> {
    (0..10).map(|i| Metric {
        value: f64::from(i * 2),
        timestamp: 1_763_000_000.0 + f64::from(i),
    })
}

/// Separates successful results from errors.
pub fn collect_results_and_errors(chunks: &[Value]) -> Value {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for chunk in chunks {
        match chunk.get("error").filter(|e| !e.is_null()) {
            Some(e) => errors.push(e.clone()),
            None => results.push(chunk.get("data").cloned().unwrap_or(Value::Null)),
        }
    }
    json!({
        "success_rate": if chunks.is_empty() { 0.0 } else { results.len() as f64 / chunks.len() as f64 },
        "has_errors": !errors.is_empty(),
        "results": results,
        "errors": errors,
    })
}

/// Fetches each document; a missing one is reported in the stream, not raised.
#[trace(output_reducer = collect_results_and_errors)]
pub fn fetch_documents(ids: Vec<u32>) -> impl Iterator<Item = Value> {
    ids.into_iter().map(|id| {
        if id % 3 == 0 {
            json!({"error": format!("document {id} not found")})
        } else {
            json!({"data": format!("document {id}")})
        }
    })
}

/// The example reducer of the seeds' "Testing Output Reducers".
pub fn my_reducer(chunks: &[Value]) -> Value {
    if chunks.is_empty() {
        return json!({"status": "empty", "total": 0});
    }
    let total: f64 = chunks
        .iter()
        .map(|c| c.get("value").and_then(Value::as_f64).unwrap_or(0.0))
        .sum();
    let errors = chunks.iter().filter(|c| c.get("error").is_some()).count();
    json!({
        "status": if errors > 0 { "error" } else { "success" },
        "total": total,
        "count": chunks.len(),
        "average": total / chunks.len() as f64,
        "error_count": errors,
    })
}

/// Runs each traced stream and returns their traces, in this order: `stream_data`, the
/// `"h,e,l,l,o"` stream, `stream_text`, `stream_metrics`, `fetch_documents`.
pub fn run() -> Vec<Trace> {
    let last = || {
        let id = spanwise::last_active_trace_id().expect("the trace just ended");
        spanwise::get_trace(&id).expect("completed traces are kept in memory")
    };
    let mut traces = Vec::new();

    assert_eq!(stream_data().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    traces.push(last());

    for c in stream_letters() {
        print!("{c}");
    }
    println!();
    traces.push(last());

    assert_eq!(stream_text().collect::<String>(), "Hello World!");
    traces.push(last());

    assert_eq!(stream_metrics().count(), 10);
    traces.push(last());

    assert_eq!(fetch_documents(vec![1, 2, 3]).count(), 3);
    traces.push(last());
    traces
}

#[allow(dead_code)]
fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    for trace in run() {
        let root = trace.root().expect("one span");
        println!("{}: {}", root.name, root.outputs().unwrap_or_default());
    }
    Ok(())
}

/// The seeds' "Testing Output Reducers": reducers are plain functions, tested without tracing.
#[cfg(test)]
mod reducer_tests {
    use super::*;

    #[test]
    fn normal_case() {
        let result = my_reducer(&[
            json!({"value": 10}),
            json!({"value": 20}),
            json!({"value": 30}),
        ]);
        assert_eq!(result["status"], "success");
        assert_eq!(result["total"], 60.0);
        assert_eq!(result["average"], 20.0);
    }

    #[test]
    fn empty_input() {
        let result = my_reducer(&[]);
        assert_eq!(result["status"], "empty");
        assert_eq!(result["total"], 0);
    }

    #[test]
    fn error_handling() {
        let result = my_reducer(&[
            json!({"value": 10}),
            json!({"error": "Network timeout"}),
            json!({"value": 20}),
        ]);
        assert_eq!(result["status"], "error");
        assert_eq!(result["total"], 30.0);
        assert_eq!(result["error_count"], 1);
    }

    #[test]
    fn missing_values() {
        let result = my_reducer(&[
            json!({"value": 10}),
            json!({"metadata": "some info"}),
            json!({"value": 20}),
        ]);
        assert_eq!(result["total"], 30.0);
        assert_eq!(result["count"], 3);
    }

    #[test]
    fn the_pattern_reducers_on_their_own() {
        assert_eq!(aggregate_tokens(&[]), "");
        assert_eq!(aggregate_tokens(&["a".into(), "b".into()]), "ab");
        assert_eq!(
            aggregate_metrics(&[]),
            json!({"count": 0, "sum": 0.0, "average": 0.0, "max": null, "min": null})
        );
        assert_eq!(
            collect_results_and_errors(&[]),
            json!({"results": [], "errors": [], "success_rate": 0.0, "has_errors": false})
        );
        assert_eq!(
            collect_results_and_errors(&[json!({"data": 1, "error": null})]),
            json!({"results": [1], "errors": [], "success_rate": 1.0, "has_errors": false})
        );
    }
}
