//! Panics in user code that spanwise calls: `Serialize`, `Debug` and `Display` of captured
//! values and errors, output reducers, span processors, `Drop` of a value handed to spanwise.
//! Each is contained (the application's call returns normally), counted in `stats()`, and the
//! span is still recorded with a note of what failed.
//!
//! One test: the counters are process-wide, and each step checks that they moved by exactly one.

use std::fmt;

use serde::{Serialize, Serializer};
use spanwise::{IteratorExt, Span, StreamOptions, Trace, trace};

const NOTE: &str = "spanwise.user_code_panicked";

struct PanicSerialize;
impl Serialize for PanicSerialize {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("serialize boom")
    }
}

struct PanicDebug;
impl fmt::Debug for PanicDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("debug boom")
    }
}

#[derive(Debug)]
struct PanicDisplay;
impl fmt::Display for PanicDisplay {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("display boom")
    }
}
impl std::error::Error for PanicDisplay {}

#[derive(Serialize)]
struct PanicDrop(u8);
impl Drop for PanicDrop {
    fn drop(&mut self) {
        panic!("drop boom")
    }
}

#[trace]
fn takes_debug_only(_value: PanicDebug) -> u8 {
    1
}

#[trace]
fn fails_with_bad_display() -> Result<u8, PanicDisplay> {
    Err(PanicDisplay)
}

fn last_trace() -> Trace {
    let id = spanwise::last_active_trace_id().unwrap();
    spanwise::get_trace(&id).unwrap()
}

fn root() -> Span {
    last_trace().root().unwrap().clone()
}

fn panics() -> u64 {
    spanwise::stats().user_code_panics
}

/// The note left on the span: `(what, message)`.
fn note(span: &Span) -> Option<(String, String)> {
    let e = span.events.iter().find(|e| e.name == NOTE)?;
    Some((
        e.attributes["what"].as_str()?.to_string(),
        e.attributes["message"].as_str()?.to_string(),
    ))
}

#[test]
fn panics_in_user_code_are_contained_counted_and_noted() {
    let _guard = spanwise::init_with(spanwise::Config::new().no_destination().span_processor(
        |span| {
            if span.name == "redact_me" {
                panic!("processor boom")
            }
        },
    ))
    .unwrap();

    // Serialize of a captured value: the value is a marker, counted as a capture error too.
    let (before, errors) = (panics(), spanwise::stats().capture_errors);
    {
        let span = spanwise::start_span("serialize");
        span.set_inputs(PanicSerialize);
    }
    assert_eq!(panics(), before + 1);
    assert_eq!(spanwise::stats().capture_errors, errors + 1);
    let inputs = root().inputs().unwrap();
    assert!(
        inputs
            .as_str()
            .unwrap()
            .contains("Serialize panicked: serialize boom"),
        "{inputs}"
    );

    // Debug of an argument `#[trace]` captures by Debug.
    let before = panics();
    assert_eq!(takes_debug_only(PanicDebug), 1);
    assert_eq!(panics(), before + 1);
    let span = root();
    assert_eq!(span.outputs(), Some(serde_json::json!(1)));
    let args = span.inputs().unwrap();
    assert!(
        args["_value"]
            .as_str()
            .unwrap()
            .contains("Debug panicked: debug boom"),
        "{args}"
    );

    // Display of a returned error: recorded as an error with a marker message.
    let before = panics();
    assert!(fails_with_bad_display().is_err());
    assert_eq!(panics(), before + 1);
    let span = root();
    let ev = span
        .exceptions()
        .next()
        .expect("the error is still recorded");
    let message = ev.attributes["exception.message"].as_str().unwrap();
    assert!(
        message.contains("Display panicked: display boom"),
        "{message}"
    );
    assert_eq!(last_trace().info.state, spanwise::TraceState::Error);

    // Drop of a value handed to a setter: the value is recorded, the drop's panic noted.
    let before = panics();
    {
        let span = spanwise::start_span("drop");
        span.set_outputs(PanicDrop(7));
    }
    assert_eq!(panics(), before + 1);
    let span = root();
    assert_eq!(span.outputs(), Some(serde_json::json!(7)));
    assert_eq!(
        note(&span),
        Some(("Drop".to_string(), "drop boom".to_string()))
    );

    // An output reducer.
    let before = panics();
    let items: Vec<u8> = [1u8, 2, 3]
        .into_iter()
        .traced_with(
            "reduced",
            StreamOptions::new().output_reducer(|_: &[u8]| -> u8 { panic!("reducer boom") }),
        )
        .collect();
    assert_eq!(items, [1, 2, 3]);
    assert_eq!(panics(), before + 1);
    let span = root();
    assert!(
        span.events
            .iter()
            .any(|e| e.name == "output_reducer_failed")
    );
    assert!(span.status.message.contains("reducer boom"));

    // A span processor: the span is kept, with the note (each time the model is built), and
    // without its values (a half-done redaction could have left them).
    let (before, processors) = (panics(), spanwise::stats().processor_panics);
    {
        let span = spanwise::start_span("redact_me").inputs("secret input");
        span.set_attribute("token", "secret attribute");
        span.add_event(spanwise::SpanEvent::new("secret event"));
    }
    let span = root();
    assert_eq!(span.name, "redact_me");
    assert_eq!(span.inputs(), None);
    assert_eq!(span.attribute("token"), None);
    assert_eq!(span.events.len(), 1, "only the note: {:?}", span.events);
    assert_eq!(
        note(&span),
        Some(("span processor".to_string(), "processor boom".to_string()))
    );
    assert!(panics() > before);
    assert_eq!(
        spanwise::stats().processor_panics - processors,
        panics() - before,
        "every processor panic is a user-code panic"
    );
}
