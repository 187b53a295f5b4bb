//! The viewer's index of the store file: one light entry per trace (what the list and the
//! filter need) and the byte ranges of the trace's lines, so that a whole trace is read back
//! from the file only when it is opened.
//!
//! Lines are parsed with the same reader as every other command (`Trace::from_json`, lines of
//! one trace merged with `merge_trace`); only the heavy parts (inputs, outputs, events, most
//! attributes) are dropped from the kept copy. The file is read once from its start and then
//! followed: [`Follower::poll`] reads what was appended since, in bounded chunks, so a large
//! store is indexed while the page is already being served.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use spanwise_core::{LineProblem, Trace, TraceId, keys};

/// At most this many bytes are read and parsed per step, so that the index lock is released
/// often while a large file is read.
const CHUNK: u64 = 4 << 20;

/// The skipped lines kept with their message (the count is always exact).
const PROBLEMS_KEPT: usize = 100;

/// One trace of the store.
pub struct Entry {
    /// The merged trace without inputs, outputs, events and attributes other than the span
    /// type and token usage: enough for the list and for every filter condition.
    pub light: Trace,
    /// The `(offset, length)` of each of the trace's lines, in file order.
    pub lines: Vec<(u64, u32)>,
    /// The index generation at which this trace last changed.
    pub changed: u64,
}

/// Everything known about the store file so far.
#[derive(Default)]
pub struct Index {
    /// The traces in order of first appearance.
    pub entries: Vec<Entry>,
    by_id: HashMap<TraceId, usize>,
    /// Lines that are not traces: how many, and the first few.
    pub problem_count: usize,
    pub problems: Vec<LineProblem>,
    /// Bumped whenever a trace is added or changes, or the file starts over.
    pub generation: u64,
    /// Bytes of the file indexed so far, and its size when last looked at.
    pub indexed_bytes: u64,
    pub file_bytes: u64,
    /// Whether the file existed when last looked at.
    pub file_present: bool,
    /// Time spent reading the file up to its end the first time, once it was reached.
    pub first_pass: Option<std::time::Duration>,
}

impl Index {
    /// The entry of a full id (`tr-…` or its hex digits) or of a unique prefix of one.
    pub fn find(&self, query: &str) -> Option<&Entry> {
        let q = query.trim().to_ascii_lowercase();
        let hex = q.strip_prefix("tr-").unwrap_or(&q);
        if let Ok(id) = format!("tr-{hex}").parse::<TraceId>()
            && let Some(&i) = self.by_id.get(&id)
        {
            return Some(&self.entries[i]);
        }
        if hex.is_empty() {
            return None;
        }
        let mut found = self
            .entries
            .iter()
            .filter(|e| e.light.info.trace_id.to_hex().starts_with(hex));
        match (found.next(), found.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    }

    fn start_over(&mut self) {
        *self = Index {
            generation: self.generation + 1,
            first_pass: self.first_pass,
            ..Index::default()
        };
    }

    fn add(&mut self, parsed: Parsed) {
        match parsed {
            Parsed::Trace {
                trace: light,
                offset,
                len,
            } => {
                self.generation += 1;
                let light = *light;
                match self.by_id.get(&light.info.trace_id) {
                    Some(&i) => {
                        let e = &mut self.entries[i];
                        spanwise_core::merge_trace(&mut e.light, light);
                        e.lines.push((offset, len));
                        e.changed = self.generation;
                    }
                    None => {
                        self.by_id.insert(light.info.trace_id, self.entries.len());
                        self.entries.push(Entry {
                            light,
                            lines: vec![(offset, len)],
                            changed: self.generation,
                        });
                    }
                }
            }
            Parsed::Problem(p) => {
                self.generation += 1;
                self.problem_count += 1;
                if self.problems.len() < PROBLEMS_KEPT {
                    self.problems.push(p);
                }
            }
        }
    }
}

/// Drops what neither the list nor a filter reads.
fn lighten(mut trace: Trace) -> Trace {
    for span in &mut trace.data.spans {
        span.events = Vec::new();
        span.links = Vec::new();
        span.attributes
            .retain(|k, _| k == keys::SPAN_TYPE || k == keys::TOKEN_USAGE);
    }
    trace
}

/// A line as read: a trace (already lightened) and where it is, or why it is not one.
enum Parsed {
    Trace {
        trace: Box<Trace>,
        offset: u64,
        len: u32,
    },
    Problem(LineProblem),
}

/// Reads the store file from where it stopped last time.
pub struct Follower {
    path: PathBuf,
    offset: u64,
    line: usize,
    started: std::time::Instant,
}

impl Follower {
    pub fn new(path: PathBuf) -> Follower {
        Follower {
            path,
            offset: 0,
            line: 0,
            started: std::time::Instant::now(),
        }
    }

    /// Reads at most one chunk of new complete lines into the index; returns whether there may
    /// be more to read right away. The parsing happens without the lock.
    pub fn poll(&mut self, index: &std::sync::RwLock<Index>) -> bool {
        let len = match std::fs::metadata(&self.path) {
            Ok(m) => m.len(),
            Err(_) => {
                let mut ix = write(index);
                ix.file_present = false;
                return false;
            }
        };
        if len < self.offset {
            // Truncated or replaced: read again from the start.
            self.offset = 0;
            self.line = 0;
            write(index).start_over();
        }
        let (parsed, more) = if len > self.offset {
            // A read error (the file went away mid-read) is tried again at the next poll.
            self.read_chunk(len).unwrap_or_default()
        } else {
            (Vec::new(), false)
        };
        let mut ix = write(index);
        ix.file_present = true;
        ix.file_bytes = len;
        for p in parsed {
            ix.add(p);
        }
        ix.indexed_bytes = self.offset;
        if !more && ix.first_pass.is_none() {
            ix.first_pass = Some(self.started.elapsed());
        }
        more
    }

    fn read_chunk(&mut self, len: u64) -> std::io::Result<(Vec<Parsed>, bool)> {
        let mut file = std::fs::File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.offset))?;
        let want = (len - self.offset).min(CHUNK);
        let mut buf = Vec::with_capacity(want as usize);
        (&mut file).take(want).read_to_end(&mut buf)?;
        let end = match buf.iter().rposition(|&b| b == b'\n') {
            Some(end) => end + 1,
            // A line longer than a chunk: read up to its newline (or the end of the file).
            None if want == CHUNK => {
                file.read_until_newline(&mut buf)?;
                match buf.last() {
                    Some(b'\n') => buf.len(),
                    _ => return Ok((Vec::new(), false)),
                }
            }
            // The last line is still being written: wait for its newline.
            None => return Ok((Vec::new(), false)),
        };
        // Split into lines first (numbered, with their offsets), then parse them on every
        // core: parsing is nearly all of the time a large store takes to open.
        let mut lines = Vec::new();
        let mut start = 0;
        for raw in buf[..end].split_inclusive(|&b| b == b'\n') {
            self.line += 1;
            lines.push((self.line, self.offset + start as u64, raw));
            start += raw.len();
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let per = lines.len().div_ceil(threads).max(1);
        let out: Vec<Parsed> = std::thread::scope(|scope| {
            let handles: Vec<_> = lines
                .chunks(per)
                .map(|part| {
                    scope.spawn(move || part.iter().filter_map(|l| parse(*l)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        self.offset += end as u64;
        Ok((out, self.offset < len))
    }
}

/// One line: a trace, a problem, or nothing (a blank line).
fn parse((line, offset, raw): (usize, u64, &[u8])) -> Option<Parsed> {
    let text = String::from_utf8_lossy(raw);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(match Trace::from_json(text) {
        Ok(trace) => Parsed::Trace {
            trace: Box::new(lighten(trace)),
            offset,
            len: raw.len() as u32,
        },
        Err(e) => Parsed::Problem(LineProblem {
            line,
            message: e.to_string(),
            torn: false,
        }),
    })
}

trait ReadUntilNewline {
    fn read_until_newline(&mut self, buf: &mut Vec<u8>) -> std::io::Result<()>;
}

impl ReadUntilNewline for std::fs::File {
    fn read_until_newline(&mut self, buf: &mut Vec<u8>) -> std::io::Result<()> {
        use std::io::BufRead;
        std::io::BufReader::new(self).read_until(b'\n', buf)?;
        Ok(())
    }
}

/// The whole trace of an entry, read back from its lines and merged as the CLI merges them.
pub fn read_trace(path: &Path, entry_lines: &[(u64, u32)]) -> std::io::Result<Option<Trace>> {
    let mut file = std::fs::File::open(path)?;
    let mut whole: Option<Trace> = None;
    for &(offset, len) in entry_lines {
        file.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0; len as usize];
        file.read_exact(&mut buf)?;
        let Ok(part) = Trace::from_json(String::from_utf8_lossy(&buf).trim()) else {
            // The file changed under us; the follower will start over.
            continue;
        };
        match &mut whole {
            Some(t) => spanwise_core::merge_trace(t, part),
            None => whole = Some(part),
        }
    }
    Ok(whole)
}

/// The index lock, also after a panic elsewhere (the index stays consistent per step).
pub fn write(index: &std::sync::RwLock<Index>) -> std::sync::RwLockWriteGuard<'_, Index> {
    index.write().unwrap_or_else(|e| e.into_inner())
}

/// The index for reading.
pub fn read(index: &std::sync::RwLock<Index>) -> std::sync::RwLockReadGuard<'_, Index> {
    index.read().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::RwLock;

    const A: &str = r#"{"info": {"trace_id": "tr-8069a0265eec15a1d9bbfa62bf64cbf6", "request_time": "2026-11-22T01:46:21.714Z", "state": "OK"}, "data": {"spans": []}}"#;
    const B: &str = r#"{"info": {"trace_id": "tr-0000a0265eec15a1d9bbfa62bf64cbf6", "request_time": "2026-11-22T01:46:22.714Z", "state": "ERROR"}, "data": {"spans": []}}"#;

    fn drain(f: &mut Follower, ix: &RwLock<Index>) {
        while f.poll(ix) {}
    }

    #[test]
    fn follows_appends_merges_versions_counts_problems_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.jsonl");
        let (head, tail) = B.split_at(30);
        std::fs::write(&path, format!("{A}\nnot json\n\n{head}")).unwrap();
        let ix = RwLock::new(Index::default());
        let mut f = Follower::new(path.clone());
        drain(&mut f, &ix);
        {
            let r = read(&ix);
            assert_eq!(r.entries.len(), 1, "the unfinished line waits");
            assert_eq!((r.problem_count, r.problems[0].line), (1, 2));
            assert!(r.first_pass.is_some());
        }
        std::fs::write(&path, format!("{A}\nnot json\n\n{head}{tail}\n{A}\n")).unwrap();
        drain(&mut f, &ix);
        {
            let r = read(&ix);
            assert_eq!(r.entries.len(), 2);
            let a = r.find("8069a0").unwrap();
            assert_eq!(a.lines.len(), 2, "a re-published version joins its trace");
            let whole = read_trace(&path, &a.lines).unwrap().unwrap();
            assert_eq!(whole.info.trace_id, a.light.info.trace_id);
            assert!(r.find("tr-0000a0265eec15a1d9bbfa62bf64cbf6").is_some());
            assert!(r.find("ffff").is_none());
        }
        std::fs::write(&path, format!("{B}\n")).unwrap();
        drain(&mut f, &ix);
        let r = read(&ix);
        assert_eq!(r.entries.len(), 1, "a shorter file is read from its start");
        assert_eq!(r.problem_count, 0);
    }
}
