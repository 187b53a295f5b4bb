//! The seeds' "Adding Trace Tags": a traced function tags its trace.
//!
//! Run with `cargo run --example trace_tags`.

use spanwise::{Trace, TraceUpdate, trace};

#[trace]
fn my_func(x: i64) -> i64 {
    // Tags go on the trace the current span belongs to. The result says whether there was one;
    // inside a traced function there always is.
    let _ = spanwise::update_current_trace(TraceUpdate::new().tag("fruit", "apple"));
    x + 1
}

/// Runs the example and returns its trace.
pub fn run() -> Trace {
    assert_eq!(my_func(1), 2);
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

#[allow(dead_code)]
fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    let trace = run();
    print!("{}", trace.render_tree());
    println!("tags: {:?}", trace.info.tags);
    Ok(())
}
