//! The seeds' "Customizing Request and Response Previews": `summarize_document` sets what the
//! MLflow UI shows in its Request and Response columns.
//!
//! Run with `cargo run --example previews`.

use spanwise::{Trace, TraceUpdate, trace};

/// The first `n` characters of `s` (Python's `s[:n]`).
fn head(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[trace(name = "Summarization Pipeline")]
fn summarize_document(document_content: &str, user_instructions: &str) -> String {
    // A custom request preview: the start of the document and the instructions.
    let request_p = format!(
        "Doc: {}... Instr: {}...",
        head(document_content, 30),
        head(user_instructions, 30)
    );
    let _ = spanwise::update_current_trace(TraceUpdate::new().request_preview(request_p));

    // A simulated LLM call.
    let summary = format!(
        "Summary of document starting with '{}...' based on '{user_instructions}'",
        head(document_content, 20)
    );

    let response_p = format!("Summary: {}...", head(&summary, 50));
    let _ = spanwise::update_current_trace(TraceUpdate::new().response_preview(response_p));
    summary
}

/// Runs the example and returns its trace.
pub fn run() -> Trace {
    let long_document =
        "This is a very long document that contains many details about various topics..."
            .repeat(10);
    let instructions = "Focus on the key takeaways regarding topic X.";
    summarize_document(&long_document, instructions);
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

#[allow(dead_code)]
fn main() -> Result<(), spanwise::Error> {
    let _flush = spanwise::init()?;
    let trace = run();
    print!("{}", trace.render_tree());
    println!(
        "request preview:  {}",
        trace.info.request_preview.unwrap_or_default()
    );
    println!(
        "response preview: {}",
        trace.info.response_preview.unwrap_or_default()
    );
    Ok(())
}
