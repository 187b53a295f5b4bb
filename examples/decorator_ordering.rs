//! The seeds' "Using @mlflow.trace with Other Decorators", in Rust.
//!
//! `#[decorate(simple_timing)]` (from the small `spanwise-decorate-demo` crate) plays the
//! Python decorator: it runs the function's body through `simple_timing`. Rust expands
//! attribute macros first-written first, so a body-wrapping macro written first would normally
//! end up inside the ones below it; `#[trace]` moves itself behind the other attribute macros,
//! so written first it is the outermost layer, as `@mlflow.trace` should be in Python. Written
//! second it is outermost too, because `#[decorate]` keeps it on the function it emits.
//! The order that does hide the decorator is wrapping by hand with the tracing layer inside.
//!
//! Run with `cargo run --example decorator_ordering`.

use std::time::{Duration, Instant};

use spanwise::{Trace, trace, trace_fn};
use spanwise_decorate_demo::decorate;

/// A hypothetical additional decorator: times the body, prints it, and notes it on the current
/// span (when the span is outside the decorator, that is the function's span).
fn simple_timing<R>(name: &str, body: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let result = body();
    let secs = start.elapsed().as_secs_f64();
    println!("{name} executed in {secs:.4} seconds by simple_timing");
    if let Some(span) = spanwise::current_span() {
        span.set_attribute("simple_timing.seconds", secs);
    }
    result
}

// Correct order: #[trace] is outermost.
#[trace(name = "my_decorated_function_correct_order")]
#[decorate(simple_timing)]
fn my_complex_function(x: i64, y: i64) -> i64 {
    std::thread::sleep(Duration::from_millis(20)); // Simulate work
    x + y
}

// Written second, still outermost in Rust.
#[decorate(simple_timing)]
#[trace(name = "my_decorated_function_trace_second")]
fn my_other_complex_function(x: i64, y: i64) -> i64 {
    std::thread::sleep(Duration::from_millis(20));
    x * y
}

fn multiply(x: i64, y: i64) -> i64 {
    std::thread::sleep(Duration::from_millis(20));
    x * y
}

fn last_trace() -> Trace {
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

/// Runs the three orders and returns their traces.
pub fn run() -> (Trace, Trace, Trace) {
    println!("Calling function with correct decorator order:");
    assert_eq!(my_complex_function(5, 3), 8);
    let correct = last_trace();
    println!("\nCalling function with #[trace] written second:");
    assert_eq!(my_other_complex_function(5, 3), 15);
    let second = last_trace();
    println!("\nWrapping by hand, tracing layer inside (the incorrect order):");
    let traced = trace_fn!("my_decorated_function_incorrect_order", multiply, (x, y));
    assert_eq!(simple_timing("multiply", || traced(5, 3)), 15);
    (correct, second, last_trace())
}

#[allow(dead_code)]
fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    let (correct, second, incorrect) = run();
    print!(
        "\n{}\n{}\n{}",
        correct.render_tree(),
        second.render_tree(),
        incorrect.render_tree()
    );
    Ok(())
}
