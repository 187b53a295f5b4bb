//! The CLI's failure kinds and the exit code each one maps to.

use std::fmt;

/// Why a command failed. The exit code follows the kind: 1 for a user error (missing store,
/// unknown id, server refused), 2 for a usage error (a malformed argument such as a filter).
#[derive(Debug)]
pub enum CliError {
    /// The command was well formed but could not be carried out.
    User(String),
    /// An argument was malformed; the message explains where.
    Usage(String),
    /// The reader of our output went away (`spanwise list | head`): stop quietly, exit 0.
    ClosedOutput,
}

impl CliError {
    pub fn user(message: impl Into<String>) -> CliError {
        CliError::User(message.into())
    }

    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::Usage(message.into())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::User(_) => 1,
            CliError::Usage(_) => 2,
            CliError::ClosedOutput => 0,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::User(m) | CliError::Usage(m) => f.write_str(m),
            CliError::ClosedOutput => Ok(()),
        }
    }
}

impl From<std::io::Error> for CliError {
    /// Only output errors reach here: reading the store has its own messages.
    fn from(e: std::io::Error) -> CliError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::ClosedOutput
        } else {
            CliError::User(format!("cannot write output: {e}"))
        }
    }
}
