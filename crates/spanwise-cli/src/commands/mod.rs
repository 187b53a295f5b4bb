//! One module per subcommand.

pub mod list;
pub mod push;
pub mod show;
pub mod stats;
pub mod tail;

use crate::error::CliError;
use crate::filter::Filter;

/// Parses `--filter`; a malformed one is a usage error (exit code 2).
pub fn parse_filter(text: Option<&str>) -> Result<Filter, CliError> {
    match text {
        None => Ok(Filter::default()),
        Some(t) => Filter::parse(t).map_err(|e| CliError::usage(e.to_string())),
    }
}
