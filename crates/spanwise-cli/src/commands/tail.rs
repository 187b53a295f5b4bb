//! `spanwise tail`: follows the JSONL store like `tail -f` and prints each trace as it lands.
//!
//! The file is polled: new bytes after the last complete line are read, a line still being
//! written waits for its newline, and a file that shrank (rotated or truncated) is read again
//! from its start. Lines of a trace seen before are merged into it, and the merged trace printed.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use spanwise_core::{LineProblem, Trace, TraceId};

use crate::cli::TailArgs;
use crate::commands::list::Table;
use crate::error::CliError;
use crate::style::Style;

pub fn run(args: &TailArgs, dir: &Path, style: &Style) -> Result<(), CliError> {
    let filter = super::parse_filter(args.filter.as_deref())?;
    let file = crate::store::file_of(dir);
    if !file.is_file() {
        eprintln!("waiting for {} to appear (Ctrl-C to stop)", file.display());
        while !file.is_file() {
            std::thread::sleep(args.interval);
        }
    }
    let mut follower = Follower::new(file.clone());
    let mut printer = Printer {
        out: std::io::stdout().lock(),
        table: Table::new(*style, &[]),
        json: args.json,
        header_done: false,
    };
    let existing = follower.poll()?;
    let mut seen: Vec<&Trace> = Vec::new();
    for id in &existing {
        if let Some(t) = follower.traces.get(id)
            && filter.matches(t)
            && !seen.iter().any(|s| s.info.trace_id == *id)
        {
            seen.push(t);
        }
    }
    for t in &seen[seen.len().saturating_sub(args.last)..] {
        printer.print(t)?;
    }
    if !args.json {
        printer.header()?;
    }
    eprintln!("following {} (Ctrl-C to stop)", file.display());
    let mut printed = 0;
    loop {
        if args.count.is_some_and(|n| printed >= n) {
            return Ok(());
        }
        std::thread::sleep(args.interval);
        for id in follower.poll()? {
            if let Some(t) = follower.traces.get(&id)
                && filter.matches(t)
                && args.count.is_none_or(|n| printed < n)
            {
                printer.print(t)?;
                printed += 1;
            }
        }
    }
}

struct Printer<W: Write> {
    out: W,
    table: Table,
    json: bool,
    header_done: bool,
}

impl<W: Write> Printer<W> {
    fn header(&mut self) -> std::io::Result<()> {
        if !self.header_done {
            self.header_done = true;
            writeln!(self.out, "{}", self.table.header())?;
        }
        Ok(())
    }

    fn print(&mut self, t: &Trace) -> std::io::Result<()> {
        if self.json {
            writeln!(self.out, "{}", t.to_json())?;
        } else {
            self.header()?;
            writeln!(self.out, "{}", self.table.row(t))?;
        }
        self.out.flush()
    }
}

/// Reads what was appended to the store since the last poll.
struct Follower {
    path: PathBuf,
    /// Bytes consumed: everything up to and including the last complete line.
    offset: u64,
    /// Lines consumed, for warnings with line numbers.
    line: usize,
    /// Every trace seen, merged by id.
    traces: HashMap<TraceId, Trace>,
}

impl Follower {
    fn new(path: PathBuf) -> Follower {
        Follower {
            path,
            offset: 0,
            line: 0,
            traces: HashMap::new(),
        }
    }

    /// The ids of the traces new or changed since the last poll, in file order.
    fn poll(&mut self) -> Result<Vec<TraceId>, CliError> {
        let io =
            |e: std::io::Error| CliError::user(format!("cannot read {}: {e}", self.path.display()));
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            // Between a rotation's rename and the new file's creation: try again next time.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(e)),
        };
        let len = file.metadata().map_err(io)?.len();
        if len < self.offset {
            eprintln!(
                "{} shrank; reading it again from the start",
                self.path.display()
            );
            self.offset = 0;
            self.line = 0;
        }
        if len == self.offset {
            return Ok(Vec::new());
        }
        file.seek(SeekFrom::Start(self.offset)).map_err(io)?;
        let mut buf = Vec::new();
        file.take(len - self.offset)
            .read_to_end(&mut buf)
            .map_err(io)?;
        // Only complete lines; the rest is read again once its newline is written.
        let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        self.offset += end as u64 + 1;
        let mut changed = Vec::new();
        let mut problems = Vec::new();
        for raw in buf[..end].split(|&b| b == b'\n') {
            self.line += 1;
            let text = String::from_utf8_lossy(raw);
            if text.trim().is_empty() {
                continue;
            }
            match Trace::from_json(text.trim()) {
                Ok(t) => {
                    let id = t.info.trace_id;
                    match self.traces.get_mut(&id) {
                        Some(known) => spanwise_core::merge_trace(known, t),
                        None => {
                            self.traces.insert(id, t);
                        }
                    }
                    changed.retain(|c| *c != id);
                    changed.push(id);
                }
                Err(e) => problems.push(LineProblem {
                    line: self.line,
                    message: e.to_string(),
                    torn: false,
                }),
            }
        }
        crate::store::report_problems(&self.path, &problems);
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"{"info": {"trace_id": "tr-8069a0265eec15a1d9bbfa62bf64cbf6", "request_time": "2026-11-22T01:46:21.714Z", "state": "OK"}, "data": {"spans": []}}"#;

    #[test]
    fn reads_only_complete_lines_and_restarts_after_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.jsonl");
        std::fs::write(&path, "").unwrap();
        let mut f = Follower::new(path.clone());
        assert!(f.poll().unwrap().is_empty());

        let (head, tail) = TRACE.split_at(40);
        std::fs::write(&path, head).unwrap();
        assert!(
            f.poll().unwrap().is_empty(),
            "a line without its newline waits"
        );
        std::fs::write(&path, format!("{head}{tail}\n")).unwrap();
        assert_eq!(f.poll().unwrap().len(), 1);
        assert!(f.poll().unwrap().is_empty());

        std::fs::write(&path, "x\n").unwrap();
        assert!(f.poll().unwrap().is_empty(), "a corrupt line is skipped");
        assert_eq!(f.offset, 2, "a shorter file is read from its start");
        std::fs::write(&path, format!("x\n{TRACE}\n{TRACE}\n")).unwrap();
        assert_eq!(
            f.poll().unwrap().len(),
            1,
            "two lines of one trace report it once"
        );
        assert_eq!(f.line, 3);
    }
}
