//! Assembly of finished spans into traces, and finalization when the root ends.
//!
//! Each trace has one shared record ([`TraceShared`]). Finished spans reach it in batches: a
//! thread keeps the spans it ends in a thread-local buffer and hands them over in one lock when
//! the trace leaves the top of that thread's stack (see `context`). When the root span ends, the
//! trace is finalized (names de-duplicated, previews, metadata, state) and published to the
//! in-memory store and the destinations.
//!
//! Late spans: a span that ends after its root (a task that outlived the request) is still
//! recorded. The trace is finalized again with it and re-published, replacing the stored trace;
//! the JSONL destination appends the new version as a new line, and readers keep the last line
//! of a trace id.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::id::{SpanId, TraceId};
use crate::model::{
    Span, SpanEvent, SpanStatus, StatusCode, Trace, TraceData, TraceInfo, TraceLocation,
    TraceState, keys,
};
use crate::runtime;
use crate::update::TraceUpdate;

/// A span as the runtime records it: values already JSON-encoded, keys mostly static.
#[derive(Debug, Clone)]
pub(crate) struct SpanRecord {
    pub span_id: SpanId,
    pub parent_id: Option<SpanId>,
    pub name: Cow<'static, str>,
    pub span_type: Cow<'static, str>,
    pub function_name: Option<&'static str>,
    pub start: u64,
    pub end: Option<u64>,
    pub inputs: Option<String>,
    pub outputs: Option<String>,
    pub attributes: Vec<(Cow<'static, str>, String)>,
    pub events: Vec<SpanEvent>,
    pub status: SpanStatus,
    pub has_exception: bool,
}

impl SpanRecord {
    pub(crate) fn new(span_id: SpanId, parent_id: Option<SpanId>, name: Cow<'static, str>) -> Self {
        SpanRecord {
            span_id,
            parent_id,
            name,
            span_type: Cow::Borrowed("UNKNOWN"),
            function_name: None,
            start: crate::clock::now_unix_nanos(),
            end: None,
            inputs: None,
            outputs: None,
            attributes: Vec::new(),
            events: Vec::new(),
            status: SpanStatus::default(),
            has_exception: false,
        }
    }

    pub(crate) fn set_attribute(&mut self, key: Cow<'static, str>, json: String) {
        if let Some(slot) = self.attributes.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = json;
        } else {
            self.attributes.push((key, json));
        }
    }
}

/// The shared record of one trace.
pub(crate) struct TraceShared {
    pub trace_id: TraceId,
    /// The span whose end finalizes the trace (the local root, for a trace continued from
    /// another process).
    pub root_span_id: SpanId,
    pub inner: Mutex<TraceInner>,
}

#[derive(Default)]
pub(crate) struct TraceInner {
    pub spans: Vec<SpanRecord>,
    pub update: TraceUpdate,
    pub finalized: bool,
}

impl TraceShared {
    pub(crate) fn new(trace_id: TraceId, root_span_id: SpanId) -> Arc<TraceShared> {
        Arc::new(TraceShared {
            trace_id,
            root_span_id,
            inner: Mutex::new(TraceInner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TraceInner> {
        // A poisoned lock only means a panic elsewhere while holding it; the data is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Merges a trace update (from `update_current_trace`); re-publishes if already finalized.
    pub(crate) fn apply_update(self: &Arc<Self>, update: TraceUpdate) {
        let republish = {
            let mut inner = self.lock();
            inner.update.merge(update);
            inner.finalized
        };
        if republish {
            self.publish();
        }
    }

    /// Hands over a batch of finished spans; finalizes when the batch holds the root, or
    /// re-finalizes when the trace was already finalized (late spans).
    pub(crate) fn hand_over(self: &Arc<Self>, spans: &mut Vec<SpanRecord>) {
        let has_root = spans.iter().any(|s| s.span_id == self.root_span_id);
        let publish = {
            let mut inner = self.lock();
            if inner.spans.is_empty() {
                // The usual case (one batch per trace): take the buffer instead of copying.
                std::mem::swap(&mut inner.spans, spans);
            } else {
                inner.spans.append(spans);
            }
            if has_root {
                inner.finalized = true;
            }
            inner.finalized
        };
        if publish {
            self.publish();
        }
    }

    /// Queues the trace for finalization. The trace's id becomes this thread's last active
    /// trace at once; the conversion to the MLflow model runs on the finalizer thread.
    fn publish(self: &Arc<Self>) {
        runtime::set_last_active(self.trace_id);
        finalizer::submit(self.clone());
    }

    /// Finalizes the trace as it is now and publishes it (on the finalizer thread).
    fn finalize_and_publish(&self) {
        let trace = {
            let inner = self.lock();
            finalize(self, &inner)
        };
        runtime::publish(trace);
    }
}

/// Finalization off the application's thread.
///
/// Converting a trace to the MLflow model (names, previews, attribute maps) costs more than
/// recording its spans, so the thread that ends a root only queues the trace; one background
/// thread finalizes queued traces in order and publishes them to the in-memory store and the
/// destinations. The queue is bounded: when the finalizer falls behind, the application waits
/// (memory stays bounded and nothing is lost).
///
/// The finalizer polls its queue, napping 1 to 50 ms when it is empty, instead of blocking on
/// it: a blocked receiver makes every send a futex wake-up (a system call on the application's
/// thread per trace). It is woken explicitly only when the queue is full or a reader waits.
///
/// Reads of the results (`get_trace`, `search_traces`, `stats`, `flush`) first call [`sync`],
/// which waits until every trace queued before the call is published, so a trace is readable
/// as soon as its root has ended, as when finalization was inline.
pub(crate) mod finalizer {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
    use std::sync::{Arc, Condvar, Mutex, OnceLock};
    use std::thread::Thread;
    use std::time::{Duration, Instant};

    use super::TraceShared;

    /// Traces waiting to be finalized, at most.
    const QUEUE_TRACES: usize = 1024;
    /// Naps of the finalizer when its queue is empty: doubling from the first to the last.
    const FIRST_NAP: Duration = Duration::from_millis(1);
    const LAST_NAP: Duration = Duration::from_millis(50);

    struct Finalizer {
        tx: Mutex<SyncSender<Arc<TraceShared>>>,
        /// Traces queued so far (incremented before each send).
        queued: AtomicU64,
        /// Traces published so far, with a condition variable for [`sync`].
        done: Mutex<u64>,
        done_cv: Condvar,
        /// Threads waiting in [`sync_until`]: the finalizer notifies only when there are some.
        waiters: AtomicUsize,
        thread: Thread,
    }

    thread_local! {
        // True on the finalizer thread: work it causes itself (a span processor that makes
        // spans or reads traces) is done inline instead of waiting on its own queue.
        static ON_FINALIZER: Cell<bool> = const { Cell::new(false) };
    }

    static FINALIZER: OnceLock<Option<Finalizer>> = OnceLock::new();

    fn get() -> Option<&'static Finalizer> {
        FINALIZER
            .get_or_init(|| {
                let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_TRACES);
                std::thread::Builder::new()
                    .name("spanwise-finalize".into())
                    .spawn(move || run(rx))
                    .ok()
                    .map(|handle| Finalizer {
                        tx: Mutex::new(tx),
                        queued: AtomicU64::new(0),
                        done: Mutex::new(0),
                        done_cv: Condvar::new(),
                        waiters: AtomicUsize::new(0),
                        thread: handle.thread().clone(),
                    })
            })
            .as_ref()
    }

    fn on_finalizer() -> bool {
        ON_FINALIZER.try_with(Cell::get).unwrap_or(false)
    }

    fn run(rx: Receiver<Arc<TraceShared>>) {
        ON_FINALIZER.with(|f| f.set(true));
        let mut nap = FIRST_NAP;
        loop {
            let trace = match rx.try_recv() {
                Ok(trace) => trace,
                Err(TryRecvError::Empty) => {
                    std::thread::park_timeout(nap);
                    nap = (nap * 2).min(LAST_NAP);
                    continue;
                }
                Err(TryRecvError::Disconnected) => return,
            };
            nap = FIRST_NAP;
            // A panic here (a bug, or a processor escaping its catch) must not stop the thread
            // nor leave `sync` waiting: count the trace as done either way.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                trace.finalize_and_publish()
            }));
            drop(trace);
            if let Some(f) = FINALIZER.get().and_then(Option::as_ref) {
                mark_done(f);
            }
        }
    }

    fn mark_done(f: &Finalizer) {
        let mut done = f.done.lock().unwrap_or_else(|p| p.into_inner());
        *done += 1;
        // A waiter registers before it reads `done` under the lock, so none is missed.
        if f.waiters.load(Ordering::SeqCst) > 0 {
            f.done_cv.notify_all();
        }
    }

    /// Queues `trace`; finalizes inline when there is no finalizer thread (it could not be
    /// started) or when called from it.
    pub(crate) fn submit(trace: Arc<TraceShared>) {
        let f = match get() {
            Some(f) if !on_finalizer() => f,
            _ => return trace.finalize_and_publish(),
        };
        f.queued.fetch_add(1, Ordering::SeqCst);
        // The sender is cloned out of the lock so that a full queue blocks only this thread.
        let tx = f.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let unsent = match tx.try_send(trace) {
            Ok(()) => None,
            Err(TrySendError::Full(trace)) => {
                // The finalizer may be napping: wake it, then wait for room.
                f.thread.unpark();
                tx.send(trace).err().map(|e| e.0)
            }
            Err(TrySendError::Disconnected(trace)) => Some(trace),
        };
        if let Some(trace) = unsent {
            // The thread is gone (it never is while the process runs): do the work here.
            trace.finalize_and_publish();
            mark_done(f);
        }
    }

    /// Waits until every trace queued before this call is published. Returns false if
    /// `deadline` passed first.
    pub(crate) fn sync_until(deadline: Option<Instant>) -> bool {
        let Some(f) = FINALIZER.get().and_then(Option::as_ref) else {
            return true;
        };
        if on_finalizer() {
            return true;
        }
        // Traces are finalized in queue order, and every trace queued before this load counts
        // in `target`, so `done >= target` covers all of them.
        let target = f.queued.load(Ordering::SeqCst);
        f.waiters.fetch_add(1, Ordering::SeqCst);
        let _registered = Waiter(f);
        let mut done = f.done.lock().unwrap_or_else(|p| p.into_inner());
        if *done < target {
            f.thread.unpark();
        }
        while *done < target {
            done = match deadline {
                None => f.done_cv.wait(done).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    f.done_cv
                        .wait_timeout(done, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
        true
    }

    /// Unregisters a waiter of [`sync_until`], on every way out.
    struct Waiter(&'static Finalizer);

    impl Drop for Waiter {
        fn drop(&mut self) {
            self.0.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// [`sync_until`] without a deadline.
    pub(crate) fn sync() {
        sync_until(None);
    }
}

/// Builds the MLflow trace from the recorded spans.
fn finalize(shared: &TraceShared, inner: &TraceInner) -> Trace {
    let trace_id = shared.trace_id;
    let mut order: Vec<&SpanRecord> = inner.spans.iter().collect();
    order.sort_by_key(|s| s.start);

    // Names used more than once get _1, _2, ... in start order. One hash per span: each span
    // keeps the index of its name's counters.
    let mut by_name: HashMap<&str, usize, NameHasher> = HashMap::default();
    let mut counts: Vec<(usize, usize)> = Vec::new(); // (uses, seen so far) per distinct name
    let name_idx: Vec<usize> = order
        .iter()
        .map(|s| {
            let i = *by_name.entry(s.name.as_ref()).or_insert_with(|| {
                counts.push((0, 0));
                counts.len() - 1
            });
            counts[i].0 += 1;
            i
        })
        .collect();
    let request_id_json = format!("\"{trace_id}\"");
    let processors = runtime::processors();
    let mut types = TypeCache::default();

    let mut spans = Vec::with_capacity(order.len());
    for (rec, &i) in order.iter().zip(&name_idx) {
        let name = if counts[i].0 > 1 {
            counts[i].1 += 1;
            numbered(&rec.name, counts[i].1)
        } else {
            rec.name.to_string()
        };
        let mut span = to_model_span(trace_id, rec, name, &request_id_json, &mut types);
        for p in processors.iter() {
            p.run(&mut span);
        }
        spans.push(span);
    }

    let root_rec = inner
        .spans
        .iter()
        .find(|s| s.span_id == shared.root_span_id);
    let update = &inner.update;
    let mut metadata: BTreeMap<String, String> = BTreeMap::new();
    metadata.insert(keys::SCHEMA_VERSION.into(), "3".into());
    let (inputs, outputs) = match root_rec {
        Some(r) => (r.inputs.clone(), r.outputs.clone()),
        None => (None, None),
    };
    metadata.insert(
        keys::TRACE_INPUTS.into(),
        inputs.clone().unwrap_or_default(),
    );
    metadata.insert(
        keys::TRACE_OUTPUTS.into(),
        outputs.clone().unwrap_or_default(),
    );
    for (k, v) in &update.metadata {
        metadata.insert(k.clone(), v.clone());
    }
    if let Some(s) = &update.session_id {
        metadata.insert(keys::TRACE_SESSION.into(), s.clone());
    }
    if let Some(u) = &update.user {
        metadata.insert(keys::TRACE_USER.into(), u.clone());
    }

    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    if let Some(r) = root_rec {
        tags.insert(keys::TRACE_NAME.into(), r.name.to_string());
    }
    for (k, v) in &update.tags {
        tags.insert(k.clone(), v.clone());
    }

    let state = match (&update.state, root_rec) {
        (Some(s), _) => *s,
        (None, Some(r)) if r.end.is_none() => TraceState::InProgress,
        (None, Some(r)) if r.status.code == StatusCode::Error => TraceState::Error,
        (None, Some(_)) => TraceState::Ok,
        (None, None) => TraceState::InProgress,
    };
    let start = root_rec
        .map(|r| r.start)
        .or_else(|| order.first().map(|s| s.start))
        .unwrap_or(0);
    let duration_ms = root_rec
        .and_then(|r| r.end)
        .map(|e| e.saturating_sub(start) / 1_000_000);

    Trace {
        info: TraceInfo {
            trace_id,
            client_request_id: update.client_request_id.clone(),
            trace_location: TraceLocation::default(),
            // MLflow keeps milliseconds.
            request_time: DateTime::<Utc>::from_timestamp_millis((start / 1_000_000) as i64)
                .unwrap_or_default(),
            state,
            trace_metadata: metadata,
            tags,
            request_preview: update
                .request_preview
                .clone()
                .or_else(|| inputs.as_deref().map(request_preview)),
            response_preview: update
                .response_preview
                .clone()
                .or_else(|| outputs.as_deref().map(response_preview)),
            execution_duration_ms: duration_ms,
        },
        data: TraceData { spans },
    }
}

/// `name_n`, without the formatting machinery (it runs for every span of a repeated name).
fn numbered(name: &str, n: usize) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut out = String::with_capacity(name.len() + 1 + digits.len() - i);
    out.push_str(name);
    out.push('_');
    // ASCII digits only.
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
    out
}

/// FNV-1a: span names are short and not attacker-chosen keys of a long-lived map, so a cheap
/// hash beats SipHash here.
#[derive(Default)]
struct NameHasher;

impl std::hash::BuildHasher for NameHasher {
    type Hasher = Fnv;
    fn build_hasher(&self) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The JSON and default log level of each span type seen in a trace, computed once per type.
#[derive(Default)]
struct TypeCache<'a>(Vec<(&'a str, String, u8)>);

impl<'a> TypeCache<'a> {
    fn get(&mut self, span_type: &'a str) -> (&str, u8) {
        let i = match self.0.iter().position(|(t, _, _)| *t == span_type) {
            Some(i) => i,
            None => {
                let level = crate::model::SpanType::from(span_type).default_log_level();
                let json = crate::capture::to_json(span_type);
                self.0.push((span_type, json, level));
                self.0.len() - 1
            }
        };
        let (_, json, level) = &self.0[i];
        (json, *level)
    }
}

fn level_str(level: u8) -> String {
    match level {
        10 => "10".into(),
        20 => "20".into(),
        40 => "40".into(),
        other => other.to_string(),
    }
}

fn to_model_span<'a>(
    trace_id: TraceId,
    rec: &'a SpanRecord,
    name: String,
    request_id: &str,
    types: &mut TypeCache<'a>,
) -> Span {
    let mut attributes: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &rec.attributes {
        attributes.insert(k.to_string(), v.clone());
    }
    attributes.insert(keys::TRACE_REQUEST_ID.into(), request_id.to_string());
    let (type_json, type_level) = types.get(rec.span_type.as_ref());
    attributes.insert(keys::SPAN_TYPE.into(), type_json.to_string());
    if let Some(i) = &rec.inputs {
        attributes.insert(keys::SPAN_INPUTS.into(), i.clone());
    }
    if let Some(o) = &rec.outputs {
        attributes.insert(keys::SPAN_OUTPUTS.into(), o.clone());
    }
    if let Some(f) = rec.function_name {
        attributes.insert(keys::SPAN_FUNCTION_NAME.into(), crate::capture::to_json(f));
    }
    let level = if rec.has_exception { 40 } else { type_level };
    attributes.insert(keys::SPAN_LOG_LEVEL.into(), level_str(level));
    Span {
        trace_id,
        span_id: rec.span_id,
        parent_span_id: rec.parent_id,
        name,
        start_time_unix_nano: rec.start,
        end_time_unix_nano: rec.end,
        status: rec.status.clone(),
        events: rec.events.clone(),
        attributes,
        links: Vec::new(),
    }
}

const PREVIEW_CHARS: usize = 1000;

/// Cuts a preview to 1000 characters: the first 997 and `...`.
pub(crate) fn cut_preview(s: &str) -> String {
    if s.chars().count() <= PREVIEW_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(PREVIEW_CHARS - 3).collect();
    out.push_str("...");
    out
}

/// The request preview: the last user message of chat inputs, else the inputs' JSON.
pub(crate) fn request_preview(inputs_json: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(inputs_json)
        && let Some(msgs) = v.get("messages").and_then(|m| m.as_array())
        && let Some(content) = msgs
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(|r| r.as_str()) == Some("user"))
            .and_then(|m| m.get("content"))
    {
        return cut_preview(&content_text(content));
    }
    cut_preview(inputs_json)
}

/// The response preview: `choices[0].message.content` of chat outputs, else the outputs' JSON.
pub(crate) fn response_preview(outputs_json: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(outputs_json)
        && let Some(content) = v.pointer("/choices/0/message/content")
    {
        return cut_preview(&content_text(content));
    }
    cut_preview(outputs_json)
}

fn content_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names() {
        assert_eq!(numbered("child", 1), "child_1");
        assert_eq!(numbered("child", 1000), "child_1000");
        assert_eq!(numbered("é", 0), "é_0");
    }

    #[test]
    fn previews_are_cut_to_1000_chars() {
        let long = "é".repeat(1500);
        let p = cut_preview(&long);
        assert_eq!(p.chars().count(), 1000);
        assert!(p.ends_with("..."));
        assert_eq!(cut_preview("short"), "short");
    }

    #[test]
    fn chat_previews_use_message_content() {
        let inputs = r#"{"messages":[{"role":"system","content":"be nice"},{"role":"user","content":"Hi bot"},{"role":"assistant","content":"x"}]}"#;
        assert_eq!(request_preview(inputs), "Hi bot");
        let outputs = r#"{"choices":[{"message":{"role":"assistant","content":"Hello there"}}]}"#;
        assert_eq!(response_preview(outputs), "Hello there");
        assert_eq!(request_preview(r#"{"x":4}"#), r#"{"x":4}"#);
    }
}
