//! The trace store as the CLI reads it: finding the JSONL file, loading it with its problems
//! reported, and resolving what the user typed (`last`, an id, a prefix) to one trace.

use std::io::Write;
use std::path::{Path, PathBuf};

use spanwise_core::{JSONL_FILE_NAME, LineProblem, Trace};

use crate::error::CliError;

/// The JSONL file of a store: `<dir>/traces.jsonl`, or `dir` itself when it names a file.
pub fn file_of(dir: &Path) -> PathBuf {
    if dir.is_file() {
        dir.to_path_buf()
    } else {
        dir.join(JSONL_FILE_NAME)
    }
}

/// The message for a store that is not there.
pub fn missing(file: &Path) -> CliError {
    CliError::user(format!(
        "no trace store at {}: record some traces first, or point --dir (or SPANWISE_TRACE_DIR) \
         at the directory that holds {JSONL_FILE_NAME}",
        file.display()
    ))
}

/// Reads every trace of the store (lines of one trace merged), in file order. Unreadable lines
/// are reported on stderr with file and line number and skipped.
pub fn load(dir: &Path) -> Result<Vec<Trace>, CliError> {
    let file = file_of(dir);
    if !file.is_file() {
        return Err(missing(&file));
    }
    let contents = spanwise_core::read_jsonl(&file)
        .map_err(|e| CliError::user(format!("cannot read the trace store: {e}")))?;
    report_problems(&file, &contents.problems);
    Ok(contents.traces)
}

/// One warning line per skipped line, on stderr.
pub fn report_problems(file: &Path, problems: &[LineProblem]) {
    let mut err = std::io::stderr().lock();
    for p in problems {
        let what = if p.torn {
            "skipped a torn last line (a write cut short)"
        } else {
            "skipped a line that is not a trace"
        };
        // Nothing sensible to do if stderr itself is gone.
        let _ = writeln!(
            err,
            "warning: {}:{}: {what}: {}",
            file.display(),
            p.line,
            p.message
        );
    }
}

/// The trace `query` names: `last` (the newest), a full id (`tr-…` or 32 hex digits), or a
/// unique prefix of one.
pub fn resolve<'a>(traces: &'a [Trace], query: &str) -> Result<&'a Trace, CliError> {
    if query.eq_ignore_ascii_case("last") {
        // The newest start wins; among equal starts, the one written last.
        return traces
            .iter()
            .rev()
            .max_by_key(|t| t.info.request_time)
            .ok_or_else(|| CliError::user("the trace store holds no traces yet"));
    }
    let q = query.trim().to_ascii_lowercase();
    let hex = q.strip_prefix("tr-").unwrap_or(&q);
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CliError::user(format!(
            "{query:?} is not a trace id: give `last`, an id like tr-8069a026… or a prefix of \
             its hex digits"
        )));
    }
    let found: Vec<&Trace> = traces
        .iter()
        .filter(|t| t.info.trace_id.to_hex().starts_with(hex))
        .collect();
    match found.as_slice() {
        [] => Err(CliError::user(format!(
            "no trace with id {query}; `spanwise list` shows the ids"
        ))),
        [one] => Ok(one),
        many => {
            let mut msg = format!(
                "{query} is ambiguous: {} traces start with it; give more digits:",
                many.len()
            );
            const SHOWN: usize = 10;
            for t in many.iter().take(SHOWN) {
                msg.push_str(&format!(
                    "\n  {}  {}  {}",
                    t.info.trace_id,
                    crate::trace_view::start_time(t),
                    t.name().unwrap_or("")
                ));
            }
            if many.len() > SHOWN {
                msg.push_str(&format!("\n  … and {} more", many.len() - SHOWN));
            }
            Err(CliError::user(msg))
        }
    }
}
