//! The seeds' "Automatic Exception Handling": a traced function that fails gets status ERROR
//! and an `exception` event; its caller, which recovers, stays OK. A panic is recorded too.
//!
//! Run with `cargo run --example exceptions`.

use std::fmt;

use spanwise::{Trace, trace};

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub enum ConfigError {
    /// The text is not `key=value` lines.
    Syntax {
        /// The offending line (1-based).
        line: usize,
    },
    /// A value did not parse.
    Value(std::num::ParseIntError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Syntax { line } => write!(f, "line {line} is not `key=value`"),
            ConfigError::Value(_) => f.write_str("a value is not a number"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Value(e) => Some(e),
            ConfigError::Syntax { .. } => None,
        }
    }
}

#[trace]
fn parse_config(text: &str) -> Result<Vec<(String, u32)>, ConfigError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let (k, v) = line
            .split_once('=')
            .ok_or(ConfigError::Syntax { line: i + 1 })?;
        out.push((k.to_string(), v.parse().map_err(ConfigError::Value)?));
    }
    Ok(out)
}

#[trace]
fn load_with_default(text: &str) -> Vec<(String, u32)> {
    match parse_config(text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("falling back to defaults: {e}");
            vec![("retries".to_string(), 3)]
        }
    }
}

#[trace]
fn divide(a: i32, b: i32) -> i32 {
    a / b
}

fn last_trace() -> Trace {
    let id = spanwise::last_active_trace_id().expect("the trace just ended");
    spanwise::get_trace(&id).expect("completed traces are kept in memory")
}

/// Runs the example: a recovered error, an error returned to the top, and a panic.
pub fn run() -> (Trace, Trace, Trace) {
    load_with_default("retries=x");
    let recovered = last_trace();
    let _ = parse_config("retries");
    let failed = last_trace();
    let panicked = std::panic::catch_unwind(|| divide(1, 0));
    assert!(panicked.is_err());
    (recovered, failed, last_trace())
}

#[allow(dead_code)]
fn main() -> Result<(), spanwise::Error> {
    // A one-line panic message instead of the default hook's backtrace; spanwise's own hook,
    // installed by `init`, records the panic and then calls this one.
    std::panic::set_hook(Box::new(|info| eprintln!("(expected) {info}")));
    let _flush = spanwise::init()?;
    let (recovered, failed, panicked) = run();
    print!(
        "{}\n{}\n{}",
        recovered.render_tree(),
        failed.render_tree(),
        panicked.render_tree()
    );
    Ok(())
}
