//! Completed traces: the bounded in-memory store, the filter to search it, and the reader of the
//! JSONL trace files.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::completed::CompletedTrace;
use crate::error::Error;
use crate::id::TraceId;
use crate::model::{Trace, TraceState};

thread_local! {
    static EVICTED: Cell<Vec<CompletedTrace>> = const { Cell::new(Vec::new()) };
}

/// Default number of completed traces kept in memory.
pub const DEFAULT_MEMORY_CAPACITY: usize = 1000;

/// Default bound of the estimated size of the traces kept in memory: 256 MiB.
pub const DEFAULT_MEMORY_CAPACITY_BYTES: usize = 256 << 20;

/// The bounds of the in-memory store: traces, and their estimated size
/// ([`CompletedTrace::estimated_bytes`]). 0 for either keeps nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Capacity {
    pub traces: usize,
    pub bytes: usize,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            traces: DEFAULT_MEMORY_CAPACITY,
            bytes: DEFAULT_MEMORY_CAPACITY_BYTES,
        }
    }
}

/// The last completed traces, within a number of traces and of (estimated) bytes, oldest
/// first. Inserting and evicting are a push and a pop; a lookup by id scans from the newest,
/// over entries that hold the id inline (a thousand entries are 32 KB to read). A map by id cost
/// an insertion and a removal per trace (measured: 2998 -> 2729 instructions per two-span trace
/// without it), for lookups that are rare (`get_trace`, a trace re-published with late spans).
pub(crate) struct MemoryStore {
    inner: Mutex<Inner>,
}

struct Entry {
    id: TraceId,
    bytes: usize,
    trace: CompletedTrace,
}

#[derive(Default)]
struct Inner {
    capacity: Capacity,
    /// The sum of the `bytes` of the entries.
    bytes: usize,
    entries: VecDeque<Entry>,
}

impl Inner {
    /// The position of the newest entry of `id`.
    fn find(&self, id: &TraceId) -> Option<usize> {
        self.entries.iter().rposition(|e| e.id == *id)
    }

    /// Removes the oldest traces while over a bound, keeping at least the newest one (so that a
    /// trace larger than the byte bound can still be read right after it ends). They are put in
    /// `evicted`, for the caller to drop once the lock is released.
    fn evict(&mut self, evicted: &mut Vec<CompletedTrace>) {
        while self.entries.len() > self.capacity.traces
            || (self.bytes > self.capacity.bytes && self.entries.len() > 1)
        {
            let Some(e) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= e.bytes;
            evicted.push(e.trace);
        }
    }
}

impl MemoryStore {
    /// A store of `traces` traces at most and the default byte bound.
    pub(crate) fn new(traces: usize) -> MemoryStore {
        MemoryStore {
            inner: Mutex::new(Inner {
                capacity: Capacity {
                    traces,
                    ..Capacity::default()
                },
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_capacity(&self, capacity: Capacity) {
        let mut evicted = Vec::new();
        let mut t = self.lock();
        t.capacity = capacity;
        if capacity.traces == 0 || capacity.bytes == 0 {
            evicted.extend(t.entries.drain(..).map(|e| e.trace));
            t.bytes = 0;
        }
        t.evict(&mut evicted);
        drop(t);
        drop(evicted);
    }

    /// Inserts a trace as the newest. A `new_version` of a trace (re-published with late spans
    /// or an update) replaces the version kept, if any; true if it did.
    pub(crate) fn insert(&self, trace: CompletedTrace, new_version: bool) -> bool {
        let mut evicted = EVICTED.try_with(Cell::take).unwrap_or_default();
        let mut t = self.lock();
        if t.capacity.traces == 0 || t.capacity.bytes == 0 {
            return false;
        }
        let id = trace.trace_id();
        let old = if new_version {
            t.find(&id).and_then(|i| t.entries.remove(i))
        } else {
            None
        };
        let replaced = old.is_some();
        if let Some(old) = old {
            t.bytes -= old.bytes;
            evicted.push(old.trace);
        }
        let bytes = trace.estimated_bytes();
        t.bytes += bytes;
        t.entries.push_back(Entry { id, bytes, trace });
        // Usually one trace out for one in; freed after the lock is released, so that other
        // threads publishing do not wait on it, through a list kept per thread (no allocation).
        t.evict(&mut evicted);
        drop(t);
        for trace in evicted.drain(..) {
            trace.release();
        }
        let _ = EVICTED.try_with(|e| e.set(evicted));
        replaced
    }

    pub(crate) fn get(&self, id: &TraceId) -> Option<CompletedTrace> {
        let t = self.lock();
        t.find(id).map(|i| t.entries[i].trace.clone())
    }

    pub(crate) fn search(&self, filter: &TraceFilter) -> Vec<Arc<Trace>> {
        let t = self.lock();
        // Newest inserted first, so that traces of the same millisecond keep that order in the
        // stable sort below.
        let candidates: Vec<CompletedTrace> =
            t.entries.iter().rev().map(|e| e.trace.clone()).collect();
        drop(t);
        // Models are built outside the lock (and kept: a searched trace is likely read again).
        let mut out: Vec<Arc<Trace>> = candidates
            .iter()
            .map(CompletedTrace::trace)
            .filter(|t| filter.matches(t))
            .collect();
        out.sort_by_key(|t| std::cmp::Reverse(t.info.request_time));
        if let Some(limit) = filter.limit {
            out.truncate(limit);
        }
        out
    }

    pub(crate) fn clear(&self) {
        let mut t = self.lock();
        let entries = std::mem::take(&mut t.entries);
        t.bytes = 0;
        drop(t);
        drop(entries);
    }
}

/// Which traces [`search_traces`](crate::search_traces) returns; all conditions must hold.
///
/// ```
/// use spanwise_core::{TraceFilter, TraceState};
/// let filter = TraceFilter::new().name("Trace Test").tag("fruit", "apple").state(TraceState::Ok).limit(10);
/// # let _ = filter;
/// ```
#[derive(Clone, Debug, Default)]
pub struct TraceFilter {
    name: Option<String>,
    tags: Vec<(String, String)>,
    state: Option<TraceState>,
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
    limit: Option<usize>,
}

impl TraceFilter {
    /// Matches every trace.
    pub fn new() -> TraceFilter {
        TraceFilter::default()
    }

    /// Traces with this name (the `mlflow.traceName` tag, i.e. the root span's name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Traces with this tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Traces in this state.
    pub fn state(mut self, state: TraceState) -> Self {
        self.state = Some(state);
        self
    }

    /// Traces that started at or after this time.
    pub fn started_after(mut self, t: DateTime<Utc>) -> Self {
        self.after = Some(t);
        self
    }

    /// Traces that started before this time.
    pub fn started_before(mut self, t: DateTime<Utc>) -> Self {
        self.before = Some(t);
        self
    }

    /// At most this many traces.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Whether a trace passes the filter (the limit aside).
    pub fn matches(&self, trace: &Trace) -> bool {
        if let Some(n) = &self.name
            && trace.name() != Some(n.as_str())
        {
            return false;
        }
        if self
            .tags
            .iter()
            .any(|(k, v)| trace.info.tags.get(k) != Some(v))
        {
            return false;
        }
        if self.state.is_some_and(|s| trace.info.state != s) {
            return false;
        }
        if self.after.is_some_and(|a| trace.info.request_time < a) {
            return false;
        }
        if self.before.is_some_and(|b| trace.info.request_time >= b) {
            return false;
        }
        true
    }
}

/// A line of a JSONL file that could not be read.
#[derive(Clone, Debug, PartialEq)]
pub struct LineProblem {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub message: String,
    /// Whether this is the file's last line without a newline (a write cut short).
    pub torn: bool,
}

/// What [`read_jsonl`] found: the traces, merged by id, in file order of first appearance, and the
/// lines it skipped.
#[derive(Clone, Debug, Default)]
pub struct JsonlContents {
    /// The traces.
    pub traces: Vec<Trace>,
    /// The skipped lines.
    pub problems: Vec<LineProblem>,
}

/// Reads a JSONL trace file (one MLflow JSON trace a line), as the JSONL destination writes it.
///
/// Lines with the same trace id (a trace re-written after a late span, or parts written by two
/// processes) are merged into one trace with [`merge_trace`]. Lines that do not parse are
/// skipped and reported, a torn last line (a crash mid-write) included.
///
/// ```no_run
/// let contents = spanwise_core::read_jsonl("spanwise-traces/traces.jsonl").unwrap();
/// for p in &contents.problems {
///     eprintln!("line {}: {}", p.line, p.message);
/// }
/// ```
pub fn read_jsonl(path: impl AsRef<Path>) -> Result<JsonlContents, Error> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let mut out = JsonlContents::default();
    let mut index: HashMap<TraceId, usize> = HashMap::new();
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let complete = buf.last() == Some(&b'\n');
        let text = match std::str::from_utf8(&buf) {
            Ok(text) => text.trim(),
            Err(e) => {
                // A corrupt line: its bytes are not guessed at (lossy decoding would keep a
                // trace with altered text and no word of it).
                out.problems.push(LineProblem {
                    line: line_no,
                    message: format!("not valid UTF-8 at byte {}", e.valid_up_to() + 1),
                    torn: !complete,
                });
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        match Trace::from_json(text) {
            Ok(trace) => match index.get(&trace.info.trace_id) {
                Some(&i) => merge_trace(&mut out.traces[i], trace),
                None => {
                    index.insert(trace.info.trace_id, out.traces.len());
                    out.traces.push(trace);
                }
            },
            Err(e) => out.problems.push(LineProblem {
                line: line_no,
                message: e.to_string(),
                torn: !complete,
            }),
        }
    }
    Ok(out)
}

/// Merges a later version or another part of the same trace into `into`.
///
/// Spans are united by span id (the later version of a span wins) and kept in start order; tags
/// and metadata are united (later values win); the trace info of the part that holds the true
/// root (a span with no parent) is kept, else the later one.
///
/// ```
/// # use spanwise_core::{merge_trace, Trace};
/// # let json = r#"{"info": {"trace_id": "tr-8069a0265eec15a1d9bbfa62bf64cbf6", "request_time": "2026-11-22T01:46:21.714Z", "state": "OK"}, "data": {"spans": []}}"#;
/// let mut a = Trace::from_json(json).unwrap();
/// let b = a.clone();
/// merge_trace(&mut a, b);
/// assert!(a.data.spans.is_empty());
/// ```
pub fn merge_trace(into: &mut Trace, other: Trace) {
    let other_has_root = other.data.spans.iter().any(|s| s.parent_span_id.is_none());
    let into_has_root = into.data.spans.iter().any(|s| s.parent_span_id.is_none());
    for span in other.data.spans {
        match into
            .data
            .spans
            .iter_mut()
            .find(|s| s.span_id == span.span_id)
        {
            Some(slot) => *slot = span,
            None => into.data.spans.push(span),
        }
    }
    into.data.spans.sort_by_key(|s| s.start_time_unix_nano);
    let mut info = other.info;
    if into_has_root && !other_has_root {
        std::mem::swap(&mut info, &mut into.info);
    }
    let mut tags = std::mem::take(&mut into.info.tags);
    let mut metadata = std::mem::take(&mut into.info.trace_metadata);
    tags.append(&mut info.tags);
    metadata.append(&mut info.trace_metadata);
    into.info = info;
    into.info.tags = tags;
    into.info.trace_metadata = metadata;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Span, TraceData, TraceInfo, TraceLocation};
    use crate::{SpanId, TraceState};

    /// A trace with `spans` spans; its estimated size grows with them.
    fn trace(id: u128, spans: usize) -> CompletedTrace {
        let trace_id = TraceId(id);
        CompletedTrace::from_trace(Trace {
            info: TraceInfo {
                trace_id,
                client_request_id: None,
                trace_location: TraceLocation::default(),
                request_time: DateTime::<Utc>::from_timestamp_millis(id as i64).unwrap(),
                state: TraceState::Ok,
                trace_metadata: Default::default(),
                tags: Default::default(),
                request_preview: None,
                response_preview: None,
                execution_duration_ms: None,
            },
            data: TraceData {
                spans: (0..spans)
                    .map(|i| Span::new(trace_id, SpanId(i as u64 + 1), None, "s", 0))
                    .collect(),
            },
        })
    }

    fn ids(store: &MemoryStore) -> Vec<u128> {
        let t = store.lock();
        let mut ids: Vec<u128> = t.entries.iter().map(|e| e.id.0).collect();
        ids.sort();
        ids
    }

    #[test]
    fn a_store_bounded_in_bytes_evicts_the_oldest_first_and_keeps_the_newest() {
        let one = trace(1, 0).estimated_bytes();
        let store = MemoryStore::new(1000);
        store.set_capacity(Capacity {
            traces: 1000,
            bytes: 3 * one,
        });
        for id in 1..=10 {
            store.insert(trace(id, 0), false);
        }
        assert_eq!(ids(&store), [8, 9, 10]);
        assert_eq!(store.lock().bytes, 3 * one);

        // A new version of a kept trace replaces it: its old size is not counted twice.
        for _ in 0..100 {
            assert!(store.insert(trace(9, 0), true));
        }
        assert_eq!(ids(&store), [8, 9, 10]);
        // Trace 9 is now the newest, so 8 and then 10 go first.
        store.insert(trace(11, 0), false);
        assert_eq!(ids(&store), [9, 10, 11]);

        // A trace larger than the whole bound is kept alone, being the newest.
        let big = trace(12, 50);
        assert!(big.estimated_bytes() > 3 * one);
        store.insert(big, false);
        assert_eq!(ids(&store), [12]);
        store.insert(trace(13, 0), false);
        assert_eq!(ids(&store), [13]);
        assert_eq!(store.lock().bytes, one);
        // A trace inserted as new (not a new version) is kept beside one of the same id
        // (two local roots of one distributed trace); lookups find the newest.
        let store = MemoryStore::new(10);
        let (a, b) = (trace(20, 0), trace(20, 3));
        assert!(!store.insert(a, false));
        assert!(!store.insert(b.clone(), false));
        assert_eq!(ids(&store), [20, 20]);
        assert_eq!(
            store.get(&TraceId(20)).unwrap().span_count(),
            b.span_count()
        );
        // A new version replaces the newest of them; a new version of an evicted trace is new.
        assert!(store.insert(trace(20, 5), true));
        assert_eq!(ids(&store), [20, 20]);
        assert_eq!(store.get(&TraceId(20)).unwrap().span_count(), 5);
        assert!(!store.insert(trace(21, 0), true));
        assert_eq!(ids(&store), [20, 20, 21]);
    }

    #[test]
    fn the_trace_bound_still_applies_and_zero_keeps_none() {
        let store = MemoryStore::new(2);
        for id in 1..=5 {
            store.insert(trace(id, 1), false);
        }
        assert_eq!(ids(&store), [4, 5]);
        store.set_capacity(Capacity {
            traces: 10,
            bytes: 0,
        });
        assert!(ids(&store).is_empty());
        assert!(!store.insert(trace(6, 1), false));
        assert!(store.get(&TraceId(6)).is_none());
    }
}
