//! Completed traces: the bounded in-memory store, the filter to search it, and the reader of the
//! JSONL trace files.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::collector::CompletedTrace;
use crate::error::Error;
use crate::id::TraceId;
use crate::model::{Trace, TraceState};

/// Hashing for trace ids: they are random already (W3C asks it of every producer), so one
/// multiply mixes them enough; SipHash was a tenth of the cost of a two-span trace. Ids chosen
/// to collide could only slow lookups in a store of a bounded number of traces.
#[derive(Clone, Copy, Default)]
struct IdHash;

impl std::hash::BuildHasher for IdHash {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // The table uses both the low bits (bucket) and the top 7 (tag): spread into both.
        let x = self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^ (x >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 ^= (v as u64) ^ ((v >> 64) as u64).rotate_left(32);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
}

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

/// The last completed traces, within a number of traces and of (estimated) bytes. A map gives
/// lookups by id; a queue of (sequence, id) keeps the insertion order, where entries of
/// replaced versions are skipped as stale. Eviction pops the oldest entries: amortized O(1) per
/// insertion.
pub(crate) struct MemoryStore {
    inner: Mutex<Inner>,
}

struct Entry {
    seq: u64,
    bytes: usize,
    trace: CompletedTrace,
}

#[derive(Default)]
struct Inner {
    capacity: Capacity,
    seq: u64,
    /// The sum of the `bytes` of the entries of `by_id`.
    bytes: usize,
    by_id: HashMap<TraceId, Entry, IdHash>,
    order: VecDeque<(u64, TraceId)>,
}

impl Inner {
    fn is_current(&self, seq: u64, id: &TraceId) -> bool {
        self.by_id.get(id).is_some_and(|e| e.seq == seq)
    }

    /// Removes the oldest traces while over a bound, keeping at least the newest one (so that a
    /// trace larger than the byte bound can still be read right after it ends). They are put in
    /// `evicted`, for the caller to drop once the lock is released.
    fn evict(&mut self, evicted: &mut Vec<CompletedTrace>) {
        while self.by_id.len() > self.capacity.traces
            || (self.bytes > self.capacity.bytes && self.by_id.len() > 1)
        {
            let Some((seq, id)) = self.order.pop_front() else {
                break;
            };
            if self.is_current(seq, &id)
                && let Some(e) = self.by_id.remove(&id)
            {
                self.bytes -= e.bytes;
                evicted.push(e.trace);
            }
        }
        // Keep stale entries from piling up when the same traces are replaced often.
        if self.order.len() > 2 * self.by_id.len() + 64 {
            let by_id = &self.by_id;
            self.order
                .retain(|(seq, id)| by_id.get(id).is_some_and(|e| e.seq == *seq));
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
            t.by_id.clear();
            t.order.clear();
            t.bytes = 0;
        }
        t.evict(&mut evicted);
        drop(t);
        drop(evicted);
    }

    /// Inserts a trace, replacing an earlier version of the same trace; true if it replaced one.
    pub(crate) fn insert(&self, trace: CompletedTrace) -> bool {
        let mut t = self.lock();
        if t.capacity.traces == 0 || t.capacity.bytes == 0 {
            return false;
        }
        t.seq += 1;
        let seq = t.seq;
        let id = trace.trace_id();
        let bytes = trace.estimated_bytes();
        t.bytes += bytes;
        let old = t.by_id.insert(id, Entry { seq, bytes, trace });
        if let Some(old) = &old {
            t.bytes -= old.bytes;
        }
        t.order.push_back((seq, id));
        // Usually one trace out for one in; freed after the lock is released, so that other
        // threads publishing do not wait on it, through a list kept per thread (no allocation).
        let mut evicted = EVICTED.try_with(Cell::take).unwrap_or_default();
        t.evict(&mut evicted);
        drop(t);
        evicted.clear();
        let _ = EVICTED.try_with(|e| e.set(evicted));
        old.is_some()
    }

    pub(crate) fn get(&self, id: &TraceId) -> Option<CompletedTrace> {
        self.lock().by_id.get(id).map(|e| e.trace.clone())
    }

    pub(crate) fn search(&self, filter: &TraceFilter) -> Vec<Arc<Trace>> {
        let t = self.lock();
        // Newest inserted first, so that traces of the same millisecond keep that order in the
        // stable sort below.
        let candidates: Vec<CompletedTrace> = t
            .order
            .iter()
            .rev()
            .filter_map(|(seq, id)| match t.by_id.get(id) {
                Some(e) if e.seq == *seq => Some(e.trace.clone()),
                _ => None,
            })
            .collect();
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
        t.by_id.clear();
        t.order.clear();
        t.bytes = 0;
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
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim();
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
        let mut ids: Vec<u128> = t.by_id.keys().map(|id| id.0).collect();
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
            store.insert(trace(id, 0));
        }
        assert_eq!(ids(&store), [8, 9, 10]);
        assert_eq!(store.lock().bytes, 3 * one);

        // A new version of a kept trace replaces it: its old size is not counted twice.
        for _ in 0..100 {
            assert!(store.insert(trace(9, 0)));
        }
        assert_eq!(ids(&store), [8, 9, 10]);
        // Trace 9 is now the newest, so 8 and then 10 go first.
        store.insert(trace(11, 0));
        assert_eq!(ids(&store), [9, 10, 11]);

        // A trace larger than the whole bound is kept alone, being the newest.
        let big = trace(12, 50);
        assert!(big.estimated_bytes() > 3 * one);
        store.insert(big);
        assert_eq!(ids(&store), [12]);
        store.insert(trace(13, 0));
        assert_eq!(ids(&store), [13]);
        assert_eq!(store.lock().bytes, one);
        // The order queue does not grow without bound with replaced entries.
        let t = store.lock();
        assert!(t.order.len() <= 2 * t.by_id.len() + 64);
    }

    #[test]
    fn the_trace_bound_still_applies_and_zero_keeps_none() {
        let store = MemoryStore::new(2);
        for id in 1..=5 {
            store.insert(trace(id, 1));
        }
        assert_eq!(ids(&store), [4, 5]);
        store.set_capacity(Capacity {
            traces: 10,
            bytes: 0,
        });
        assert!(ids(&store).is_empty());
        assert!(!store.insert(trace(6, 1)));
        assert!(store.get(&TraceId(6)).is_none());
    }
}
