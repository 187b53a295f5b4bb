//! The seeds' "Decorator" example: `#[trace]` on `add_1`, `minus_1` and `trace_test`.
//!
//! Run with `cargo run --example decorator`: the trace is printed as a tree and appended to
//! `./spanwise-traces/traces.jsonl`.

use spanwise::{Trace, trace};

#[trace(span_type = "func", attributes(key = "value"))]
fn add_1(x: i64) -> i64 {
    x + 1
}

#[trace(span_type = "func", attributes(key1 = "value1"))]
fn minus_1(x: i64) -> i64 {
    x - 1
}

#[trace(name = "Trace Test")]
fn trace_test(x: i64) -> i64 {
    let step1 = add_1(x);
    minus_1(step1)
}

/// Runs the example and returns its trace.
pub fn run() -> Trace {
    assert_eq!(trace_test(4), 4);
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

#[allow(dead_code)]
fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    print!("{}", run().render_tree());
    Ok(())
}
