//! The seeds' "Function Wrapping": tracing functions you do not own (`f64::powf` and a
//! factorial) with `trace_fn!`, without changing their definitions.
//!
//! Run with `cargo run --example function_wrapping`.

use spanwise::{Trace, trace, trace_fn};

/// A function from "another crate".
fn factorial(n: u64) -> u64 {
    (1..=n).product()
}

#[trace]
fn invocation(x: f64, exp: f64) -> u64 {
    // Wrap an external function: `(x, exp)` names the inputs; an arity (`1`) names them
    // `arg0`, `arg1`...
    let traced_pow = trace_fn!("pow", f64::powf, (x, exp));
    let raised = traced_pow(x, exp);
    let traced_factorial = trace_fn!("factorial", factorial, 1);
    traced_factorial(raised as u64)
}

/// Runs the example and returns its trace.
pub fn run() -> Trace {
    assert_eq!(invocation(4.0, 2.0), 20_922_789_888_000);
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

#[allow(dead_code)]
fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    print!("{}", run().render_tree());
    Ok(())
}
