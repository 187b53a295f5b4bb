//! The seeds' first example: `trace_test(4)` calls `add_1` and `minus_1`, each traced with
//! `#[trace]`.
//!
//! Run with `cargo run --example quickstart`; the trace is printed as a tree and appended to
//! `./spanwise-traces/traces.jsonl` (or `$SPANWISE_TRACE_DIR/traces.jsonl`).

use spanwise::trace;

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

fn main() -> Result<(), spanwise::Error> {
    // Reads SPANWISE_TRACE_DIR / SPANWISE_DESTINATION; flushes the store when finished.
    let guard = spanwise::init()?;

    let result = trace_test(4);
    println!("trace_test(4) = {result}\n");

    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    let trace = spanwise::get_trace(&id).expect("completed traces are kept in memory");
    print!("{}", trace.render_tree());

    // Says so when the traces could not all be written (a full disk, a vanished directory).
    if let Err(e) = guard.finish() {
        eprintln!("\ntraces not stored: {e}");
        std::process::exit(1);
    }
    if std::env::var("SPANWISE_DESTINATION").as_deref() == Ok("none") {
        println!("\n(not written to disk: SPANWISE_DESTINATION=none)");
    } else {
        let dir = std::env::var("SPANWISE_TRACE_DIR")
            .unwrap_or_else(|_| spanwise::DEFAULT_TRACE_DIR.into());
        println!("\nstored in {dir}/{}", spanwise::JSONL_FILE_NAME);
    }
    Ok(())
}
