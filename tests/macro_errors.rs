//! `#[trace]` on functions returning `Result`: every kind of error type, and how errors
//! propagate through traced callers.

use serde_json::json;
use spanwise::{Span, StatusCode, Trace, trace};

fn last_trace() -> Trace {
    let id = spanwise::last_active_trace_id().expect("a trace ended on this thread");
    spanwise::get_trace(&id).expect("the trace is in the store")
}

fn exception(span: &Span) -> (String, String, String) {
    let ev = span.exceptions().next().expect("an exception event");
    let get = |k: &str| ev.attributes[k].as_str().unwrap().to_string();
    (
        get("exception.type"),
        get("exception.message"),
        get("exception.stacktrace"),
    )
}

#[derive(Debug)]
struct Inner;
impl std::fmt::Display for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused")
    }
}
impl std::error::Error for Inner {}

#[derive(Debug)]
enum LlmError {
    RateLimited(u32),
    Transport(Inner),
}
impl std::fmt::Display for LlmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LlmError::RateLimited(s) => write!(f, "rate limited, retry in {s}s"),
            LlmError::Transport(_) => f.write_str("transport failed"),
        }
    }
}
impl std::error::Error for LlmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LlmError::Transport(e) => Some(e),
            _ => None,
        }
    }
}

#[trace]
fn custom_enum(kind: u8) -> Result<String, LlmError> {
    match kind {
        0 => Ok("fine".into()),
        1 => Err(LlmError::RateLimited(3)),
        _ => Err(LlmError::Transport(Inner)),
    }
}

#[test]
fn custom_error_enum_with_source_chain() {
    assert!(custom_enum(0).is_ok());
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.status.code, StatusCode::Ok);
    assert_eq!(root.outputs(), Some(json!("fine")));
    assert!(root.events.is_empty());

    assert!(custom_enum(1).is_err());
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.status.code, StatusCode::Error);
    assert_eq!(root.status.message, "LlmError: rate limited, retry in 3s");
    assert_eq!(root.outputs(), None);
    assert_eq!(root.attribute("mlflow.spanLogLevel"), Some(json!(40)));
    let (ty, msg, stack) = exception(&root);
    assert_eq!(ty, "LlmError");
    assert_eq!(msg, "rate limited, retry in 3s");
    assert_eq!(stack, "LlmError: rate limited, retry in 3s");
    assert_eq!(last_trace().info.state, spanwise::TraceState::Error);

    assert!(custom_enum(2).is_err());
    let root = last_trace().root().unwrap().clone();
    let (_, msg, stack) = exception(&root);
    assert_eq!(msg, "transport failed");
    assert_eq!(
        stack,
        "LlmError: transport failed\nCaused by:\n  0: connection refused"
    );
}

#[trace]
fn with_anyhow(fail: bool) -> anyhow::Result<u8> {
    if fail {
        let e: anyhow::Error = Inner.into();
        return Err(e.context("loading the prompt"));
    }
    Ok(1)
}

#[test]
fn anyhow_error() {
    assert_eq!(with_anyhow(false).unwrap(), 1);
    assert_eq!(last_trace().root().unwrap().outputs(), Some(json!(1)));
    assert!(with_anyhow(true).is_err());
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.status.message, "Error: loading the prompt");
    let (ty, msg, stack) = exception(&root);
    assert_eq!(ty, "Error");
    assert_eq!(msg, "loading the prompt");
    // anyhow's Debug holds the cause chain.
    assert!(
        stack.starts_with("loading the prompt\n\nCaused by:\n    connection refused"),
        "{stack}"
    );
}

#[trace]
fn boxed(fail: bool) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if fail {
        Err(Box::new(LlmError::Transport(Inner)))
    } else {
        Ok(())
    }
}

#[trace]
fn boxed_plain() -> Result<(), Box<dyn std::error::Error>> {
    Err("plain message".into())
}

#[test]
fn boxed_dyn_errors() {
    boxed(false).unwrap();
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.attributes.get("mlflow.spanOutputs").unwrap(), "null");
    assert!(boxed(true).is_err());
    let root = last_trace().root().unwrap().clone();
    let (ty, msg, stack) = exception(&root);
    assert_eq!(ty, "dyn Error + Send + Sync");
    assert_eq!(msg, "transport failed");
    assert!(
        stack.ends_with("Caused by:\n  0: connection refused"),
        "{stack}"
    );
    assert!(boxed_plain().is_err());
    let root = last_trace().root().unwrap().clone();
    assert_eq!(exception(&root).1, "plain message");
}

#[derive(Debug)]
struct DebugOnly {
    #[allow(dead_code)]
    code: i32,
}

struct NothingAtAll;

#[trace]
fn debug_only() -> Result<u8, DebugOnly> {
    Err(DebugOnly { code: 7 })
}

#[trace]
fn no_traits() -> Result<u8, NothingAtAll> {
    Err(NothingAtAll)
}

#[test]
fn errors_with_only_debug_or_nothing() {
    assert!(debug_only().is_err());
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.status.message, "DebugOnly: DebugOnly { code: 7 }");
    assert_eq!(exception(&root).0, "DebugOnly");
    assert!(no_traits().is_err());
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.status.code, StatusCode::Error);
    assert_eq!(exception(&root).0, "NothingAtAll");
}

type MyResult<T> = Result<T, LlmError>;

#[trace]
fn io_alias(path: &str) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

#[trace]
fn own_alias() -> MyResult<u8> {
    Err(LlmError::RateLimited(1))
}

#[test]
fn result_aliases_are_recognized_by_type() {
    assert!(io_alias("/definitely/not/here").is_err());
    let root = last_trace().root().unwrap().clone();
    assert_eq!(exception(&root).0, "Error");
    assert!(
        root.status.message.starts_with("Error: No such file"),
        "{}",
        root.status.message
    );
    assert!(own_alias().is_err());
    assert_eq!(
        last_trace().root().unwrap().status.message,
        "LlmError: rate limited, retry in 1s"
    );
}

#[trace]
fn recovers() -> u8 {
    let _ = custom_enum(1).map(|s| s.len()).unwrap_or(0);
    5
}

#[trace]
fn propagates() -> Result<String, LlmError> {
    let s = custom_enum(1)?;
    Ok(s)
}

#[test]
fn a_caller_records_the_error_again_only_if_it_fails_too() {
    recovers();
    let t = last_trace();
    let root = t.root().unwrap();
    assert_eq!(root.status.code, StatusCode::Ok);
    assert!(root.events.is_empty());
    let child = &t.children(&root.span_id)[0];
    assert_eq!(child.status.code, StatusCode::Error);
    assert_eq!(t.info.state, spanwise::TraceState::Ok);

    assert!(propagates().is_err());
    let t = last_trace();
    let root = t.root().unwrap();
    assert_eq!(root.status.code, StatusCode::Error);
    assert_eq!(exception(root).0, "LlmError");
    assert_eq!(t.children(&root.span_id)[0].status.code, StatusCode::Error);
}

#[trace(capture_output = false)]
fn no_output_but_errors(fail: bool) -> Result<u8, LlmError> {
    if fail {
        Err(LlmError::RateLimited(2))
    } else {
        Ok(9)
    }
}

#[test]
fn capture_output_false_still_records_errors() {
    no_output_but_errors(false).unwrap();
    assert_eq!(last_trace().root().unwrap().outputs(), None);
    no_output_but_errors(true).unwrap_err();
    assert_eq!(last_trace().root().unwrap().status.code, StatusCode::Error);
}
