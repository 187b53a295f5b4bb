//! The one error type of spanwise.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in a fallible spanwise call.
///
/// Tracing itself never fails into the application: spans that cannot be recorded are counted in
/// [`stats()`](crate::stats). This error comes from the calls that configure or query spanwise.
///
/// ```
/// let err = "tr-not-hex".parse::<spanwise_core::TraceId>().unwrap_err();
/// assert!(err.to_string().contains("32 hex digits"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value could not be used; names the variable or setting.
    Config {
        /// The environment variable or setting at fault.
        key: String,
        /// What was wrong and what is allowed.
        message: String,
    },
    /// A directory or file of the trace store could not be created or written.
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A trace or span id could not be parsed.
    InvalidId(String),
    /// A trace's JSON could not be read.
    Json(serde_json::Error),
    /// There is no active trace on this thread to update.
    NoActiveTrace,
    /// A trace, span or parent id given to the client API is unknown, ended, or from another trace.
    InvalidSpan(String),
    /// A destination failed.
    Destination {
        /// The destination's name.
        name: String,
        /// What happened.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config { key, message } => {
                write!(f, "invalid spanwise setting {key}: {message}")
            }
            Error::Io { path, source } => {
                write!(f, "spanwise cannot use {}: {source}", path.display())
            }
            Error::InvalidId(m) => write!(f, "invalid id: {m}"),
            Error::Json(e) => write!(f, "invalid trace JSON: {e}"),
            Error::NoActiveTrace => write!(
                f,
                "no active trace on this thread: call this inside a traced function or a span"
            ),
            Error::InvalidSpan(m) => write!(f, "invalid span: {m}"),
            Error::Destination { name, message } => {
                write!(f, "destination {name} failed: {message}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Json(e) => Some(e),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Json(e)
    }
}
