//! Assembly of finished spans into traces, and finalization when the root ends.
//!
//! Each trace has one shared record ([`TraceShared`]). Finished spans reach it in batches: a
//! thread keeps the spans it ends in a thread-local buffer and hands them over in one lock when
//! the trace leaves the top of that thread's stack (see `context`). When the root span ends, the
//! trace is published to the in-memory store and the destinations as a [`CompletedTrace`]: the
//! recorded spans, moved (not copied) into a shared snapshot. The MLflow model (names
//! de-duplicated, previews, metadata, state, attribute maps) is built from the snapshot only
//! where it is needed, on the thread that needs it: the JSONL writer's, an exporter's, or the
//! caller of `get_trace`. The application's thread pays for recording spans, not for the model.
//!
//! Late spans: a span that ends after its root (a task that outlived the request) is still
//! recorded. The trace is finalized again with it and re-published, replacing the stored trace;
//! the JSONL destination appends the new version as a new line, and readers keep the last line
//! of a trace id.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};

use crate::config::SpanProcessor;
use crate::id::{SpanId, TraceId};
use crate::model::{
    Span, SpanEvent, SpanStatus, StatusCode, Trace, TraceData, TraceInfo, TraceState, keys,
};
use crate::runtime;
use crate::update::TraceUpdate;

/// A JSON text as a span record keeps it: inline (no allocation) up to 24 bytes, which most
/// captured arguments and results are.
pub(crate) type Json = compact_str::CompactString;

mod json;
pub(crate) mod usage;

pub(crate) use json::write_u64;

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
    pub inputs: Option<Json>,
    pub outputs: Option<Json>,
    pub attributes: Vec<(Cow<'static, str>, String)>,
    pub events: Vec<SpanEvent>,
    /// Streamed items of a traced iterator or stream: (time, JSON), in order.
    pub chunks: Vec<(u64, String)>,
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
            chunks: Vec::new(),
            status: SpanStatus::default(),
            has_exception: false,
        }
    }

    /// Writes what [`SpanRecord::new`] gives into `at`, field by field: a record built elsewhere
    /// and moved in would be copied (it is large, and this runs for every span).
    ///
    /// # Safety
    /// `at` is valid for writes and aligned; whatever it held is overwritten without a drop.
    #[inline]
    pub(crate) unsafe fn init(
        at: *mut SpanRecord,
        span_id: SpanId,
        parent_id: Option<SpanId>,
        name: Cow<'static, str>,
    ) {
        // SAFETY: the caller's contract; each field is written once.
        unsafe {
            (&raw mut (*at).span_id).write(span_id);
            (&raw mut (*at).parent_id).write(parent_id);
            (&raw mut (*at).name).write(name);
            (&raw mut (*at).span_type).write(Cow::Borrowed("UNKNOWN"));
            (&raw mut (*at).function_name).write(None);
            (&raw mut (*at).start).write(crate::clock::now_unix_nanos());
            (&raw mut (*at).end).write(None);
            (&raw mut (*at).inputs).write(None);
            (&raw mut (*at).outputs).write(None);
            (&raw mut (*at).attributes).write(Vec::new());
            (&raw mut (*at).events).write(Vec::new());
            (&raw mut (*at).chunks).write(Vec::new());
            (&raw mut (*at).status).write(SpanStatus::default());
            (&raw mut (*at).has_exception).write(false);
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
    /// Spans handed over since the last publication.
    pub spans: Vec<SpanRecord>,
    /// The last publication (late spans are added to a copy of its spans).
    pub published: Option<CompletedTrace>,
    /// Set by `update_current_trace`; most traces have none.
    pub update: Option<Arc<TraceUpdate>>,
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
            // Copied only if a published version still shares it.
            Arc::make_mut(inner.update.get_or_insert_default()).merge(update);
            inner.finalized
        };
        if republish {
            self.publish(None);
        }
    }

    /// Hands over a batch of finished spans; finalizes when the batch holds the root, or
    /// re-finalizes when the trace was already finalized (late spans).
    pub(crate) fn hand_over(self: &Arc<Self>, spans: &mut Vec<SpanRecord>) {
        if spans.iter().any(|s| s.span_id == self.root_span_id) {
            // Taken and published under one lock.
            self.publish(Some(spans));
            return;
        }
        let late = {
            let mut inner = self.lock();
            add_batch(&mut inner.spans, spans);
            inner.finalized
        };
        if late {
            self.publish(None);
        }
    }

    /// Publishes the trace as it is now: a snapshot of its spans (moved on the first
    /// publication, copied only when late spans come) to the store and the destinations.
    fn publish(self: &Arc<Self>, batch: Option<&mut Vec<SpanRecord>>) {
        runtime::set_last_active(self.trace_id);
        runtime::publish(|processors| {
            let mut inner = self.lock();
            if let Some(batch) = batch {
                add_batch(&mut inner.spans, batch);
            }
            inner.finalized = true;
            let pending = std::mem::take(&mut inner.spans);
            let new_version = inner.published.is_some();
            let spans = match inner.published.take() {
                None => pending,
                Some(prev) => {
                    let mut all = Vec::with_capacity(prev.0.spans.len() + pending.len());
                    all.extend(prev.0.spans.iter().cloned());
                    all.extend(pending);
                    all
                }
            };
            // Computed here, while the records are in cache (a lazily set field cost a `Once`
            // per trace).
            let estimated_bytes = estimate_records(&spans);
            let trace = CompletedTrace(Arc::new(Completed {
                trace_id: self.trace_id,
                root_span_id: self.root_span_id,
                spans,
                update: inner.update.clone(),
                processors: processors.clone(),
                model: OnceLock::new(),
                estimated_bytes,
            }));
            inner.published = Some(trace.clone());
            (trace, new_version)
        });
    }
}

/// [`CompletedTrace::estimated_bytes`] of recorded spans.
fn estimate_records(spans: &[SpanRecord]) -> usize {
    512 + spans
        .iter()
        .map(|r| {
            400 + r.name.len()
                + r.inputs.as_ref().map_or(0, |s| s.len())
                + r.outputs.as_ref().map_or(0, |s| s.len())
                + attributes_bytes(r.attributes.iter().map(|(k, v)| (&**k, &**v)))
                + r.events.len() * 96
        })
        .sum::<usize>()
}

/// The part of the estimate for attributes: keys, values, quotes and separators.
fn attributes_bytes<'a>(attributes: impl Iterator<Item = (&'a str, &'a str)>) -> usize {
    attributes.map(|(k, v)| k.len() + v.len() + 8).sum()
}

/// Moves a thread's batch into the trace's list.
fn add_batch(spans: &mut Vec<SpanRecord>, batch: &mut Vec<SpanRecord>) {
    if spans.is_empty() {
        // The usual case (one batch per trace): take the buffer instead of copying.
        std::mem::swap(spans, batch);
    } else {
        spans.append(batch);
    }
}

/// A trace whose root has ended, as handed to the in-memory store and to each
/// [`Destination`](crate::Destination): the recorded spans, with the MLflow [`Trace`] built from
/// them on first use, on the thread that asks.
///
/// Cloning is cheap (a reference count). Span processors run when the model is built, so they
/// may run once per destination that builds it (a JSONL writer, an exporter) and once for
/// `get_trace`: write them to give the same result when run again (redaction does).
///
/// ```
/// use std::sync::Arc;
/// let trace = spanwise_core::Trace::from_json(r#"{"info": {"trace_id": "tr-8069a0265eec15a1d9bbfa62bf64cbf6",
///   "request_time": "2026-11-22T01:46:21.714Z", "state": "OK"}, "data": {"spans": []}}"#).unwrap();
/// let completed = spanwise_core::CompletedTrace::from_trace(trace.clone());
/// assert_eq!(completed.trace_id(), trace.info.trace_id);
/// assert_eq!(*completed.trace(), trace);
/// ```
#[derive(Clone)]
pub struct CompletedTrace(Arc<Completed>);

struct Completed {
    trace_id: TraceId,
    root_span_id: SpanId,
    spans: Vec<SpanRecord>,
    update: Option<Arc<TraceUpdate>>,
    processors: Arc<Vec<SpanProcessor>>,
    model: OnceLock<Arc<Trace>>,
    /// [`CompletedTrace::estimated_bytes`], computed when the trace is made (the store and
    /// the JSONL queue both ask, and must see the same value to release what they counted).
    estimated_bytes: usize,
}

impl Drop for Completed {
    fn drop(&mut self) {
        // The last holder lets go (usually the store, evicting): free the records elsewhere.
        crate::reclaim::dispose(std::mem::take(&mut self.spans));
    }
}

impl std::fmt::Debug for CompletedTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CompletedTrace({}, {} spans)",
            self.0.trace_id,
            self.span_count()
        )
    }
}

impl CompletedTrace {
    /// Wraps an already built trace (to replay stored traces into a destination, or in tests).
    pub fn from_trace(trace: Trace) -> CompletedTrace {
        let trace_id = trace.info.trace_id;
        let estimated_bytes = estimate_model(&trace);
        let model = OnceLock::new();
        let _ = model.set(Arc::new(trace));
        CompletedTrace(Arc::new(Completed {
            trace_id,
            root_span_id: SpanId(0),
            spans: Vec::new(),
            update: None,
            processors: Arc::new(Vec::new()),
            model,
            estimated_bytes,
        }))
    }

    /// The trace's id.
    pub fn trace_id(&self) -> TraceId {
        self.0.trace_id
    }

    /// The number of spans.
    pub fn span_count(&self) -> usize {
        match self.0.model.get() {
            Some(t) => t.data.spans.len(),
            None => self.0.spans.len(),
        }
    }

    /// The MLflow trace, built on the first call and shared by later ones (and kept as long as
    /// this trace is). Use [`CompletedTrace::to_trace`] for a one-off copy that is not kept.
    pub fn trace(&self) -> Arc<Trace> {
        self.0
            .model
            .get_or_init(|| Arc::new(finalize(&self.0)))
            .clone()
    }

    /// A freshly built MLflow trace, not kept here: for destinations that serialize it and
    /// drop it, so that the in-memory store does not keep both forms.
    pub fn to_trace(&self) -> Trace {
        match self.0.model.get() {
            Some(t) => (**t).clone(),
            None => finalize(&self.0),
        }
    }

    /// Writes MLflow's JSON of this trace (as `to_trace().to_json()` would) straight from the
    /// recorded spans, without building the model, unless span processors must see it.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), crate::Error> {
        let c = &*self.0;
        if let Some(t) = c.model.get() {
            serde_json::to_writer(out, &**t)?;
        } else if !c.processors.is_empty() {
            serde_json::to_writer(out, &finalize(c))?;
        } else {
            json::write_trace(out, c)?;
        }
        Ok(())
    }

    /// A cheap estimate of the trace's size in JSON, in bytes, computed from the recorded
    /// values without building the model: what the bounds of the JSONL queue and of the
    /// in-memory store count (the records take somewhat less memory than this).
    pub fn estimated_bytes(&self) -> usize {
        self.0.estimated_bytes
    }
}

/// [`CompletedTrace::estimated_bytes`] of a built trace.
fn estimate_model(t: &Trace) -> usize {
    512 + t
        .data
        .spans
        .iter()
        .map(|s| {
            256 + s.name.len()
                + attributes_bytes(s.attributes.iter().map(|(k, v)| (&**k, &**v)))
                + s.events.len() * 96
        })
        .sum::<usize>()
}

/// The spans in start order.
fn start_order(c: &Completed) -> Vec<&SpanRecord> {
    let mut order: Vec<&SpanRecord> = c.spans.iter().collect();
    order.sort_by_key(|s| s.start);
    order
}

/// The span names: names used more than once get _1, _2, ... in start order. One hash per span:
/// each span keeps the index of its name's counters.
fn span_names<'a>(order: &[&'a SpanRecord]) -> Vec<Cow<'a, str>> {
    if !crate::trace_settings::current().name_suffixes {
        return order
            .iter()
            .map(|s| Cow::Borrowed(s.name.as_ref()))
            .collect();
    }
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
    order
        .iter()
        .zip(&name_idx)
        .map(|(rec, &i)| {
            if counts[i].0 > 1 {
                counts[i].1 += 1;
                Cow::Owned(numbered(&rec.name, counts[i].1))
            } else {
                Cow::Borrowed(rec.name.as_ref())
            }
        })
        .collect()
}

/// Builds the MLflow trace from the recorded spans.
fn finalize(c: &Completed) -> Trace {
    let trace_id = c.trace_id;
    let order = start_order(c);
    let names = span_names(&order);
    let request_id_json = format!("\"{trace_id}\"");
    let mut types = TypeCache::default();
    let mut spans = Vec::with_capacity(order.len());
    for (rec, name) in order.iter().zip(names) {
        let mut span = to_model_span(
            trace_id,
            rec,
            name.into_owned(),
            &request_id_json,
            &mut types,
        );
        for p in c.processors.iter() {
            p.run(&mut span);
        }
        spans.push(span);
    }
    let mut info = trace_info(c, order.first().map(|s| s.start));
    crate::size_stats::add_for_spans(&mut info, &spans);
    Trace {
        info,
        data: TraceData { spans },
    }
}

static NO_UPDATE: TraceUpdate = TraceUpdate::EMPTY;

/// The trace-level facts: metadata, tags, state, previews, times.
fn trace_info(c: &Completed, first_start: Option<u64>) -> TraceInfo {
    let trace_id = c.trace_id;
    let root_rec = c.spans.iter().find(|s| s.span_id == c.root_span_id);
    let update = c.update.as_deref().unwrap_or(&NO_UPDATE);
    let settings = crate::trace_settings::current();
    let mut metadata: BTreeMap<String, String> = BTreeMap::new();
    metadata.insert(keys::SCHEMA_VERSION.into(), "3".into());
    for (k, v) in &settings.source {
        metadata.insert((*k).into(), v.clone());
    }
    // In the text form MLflow's Python SDK writes (`json.dumps`).
    let (inputs, outputs) = match root_rec {
        Some(r) => (
            r.inputs.as_deref().map(crate::pyjson::dumps),
            r.outputs.as_deref().map(crate::pyjson::dumps),
        ),
        None => (None, None),
    };
    metadata.insert(
        keys::TRACE_INPUTS.into(),
        crate::preview::metadata_value(inputs.as_deref()),
    );
    metadata.insert(
        keys::TRACE_OUTPUTS.into(),
        crate::preview::metadata_value(outputs.as_deref()),
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
    usage::insert_totals(&c.spans, &mut metadata);

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
    let start = root_rec.map(|r| r.start).or(first_start).unwrap_or(0);
    let duration_ms = root_rec
        .and_then(|r| r.end)
        .map(|e| e.saturating_sub(start) / 1_000_000);

    TraceInfo {
        trace_id,
        client_request_id: update.client_request_id.clone(),
        trace_location: settings.location(),
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
pub(crate) struct NameHasher;

impl std::hash::BuildHasher for NameHasher {
    type Hasher = Fnv;
    fn build_hasher(&self) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

pub(crate) struct Fnv(u64);

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

fn level_str(level: u8) -> Cow<'static, str> {
    match level {
        10 => Cow::Borrowed("10"),
        20 => Cow::Borrowed("20"),
        40 => Cow::Borrowed("40"),
        other => Cow::Owned(other.to_string()),
    }
}

/// A span's values that are not in its record: the `mlflow.*` attribute values MLflow derives.
struct Derived<'a> {
    request_id: &'a str,
    type_json: &'a str,
    function_json: Option<String>,
    level: Cow<'static, str>,
}

impl<'a> Derived<'a> {
    fn new(rec: &SpanRecord, request_id: &'a str, type_json: &'a str, type_level: u8) -> Self {
        Derived {
            request_id,
            type_json,
            function_json: rec.function_name.map(crate::capture::to_json),
            level: level_str(if rec.has_exception { 40 } else { type_level }),
        }
    }

    /// The span's attributes as MLflow keeps them: the application's, then the derived ones
    /// (which win over an application attribute of the same key).
    fn attributes<'b>(&'b self, rec: &'b SpanRecord) -> BTreeMap<&'b str, &'b str> {
        let mut attributes: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in &rec.attributes {
            attributes.insert(k.as_ref(), v.as_str());
        }
        attributes.insert(keys::TRACE_REQUEST_ID, self.request_id);
        attributes.insert(keys::SPAN_TYPE, self.type_json);
        if let Some(i) = &rec.inputs {
            attributes.insert(keys::SPAN_INPUTS, i);
        }
        if let Some(o) = &rec.outputs {
            attributes.insert(keys::SPAN_OUTPUTS, o);
        }
        if let Some(f) = &self.function_json {
            attributes.insert(keys::SPAN_FUNCTION_NAME, f);
        }
        attributes.insert(keys::SPAN_LOG_LEVEL, &self.level);
        attributes
    }
}

fn to_model_span<'a>(
    trace_id: TraceId,
    rec: &'a SpanRecord,
    name: String,
    request_id: &str,
    types: &mut TypeCache<'a>,
) -> Span {
    let (type_json, type_level) = types.get(rec.span_type.as_ref());
    let derived = Derived::new(rec, request_id, type_json, type_level);
    let attributes = derived
        .attributes(rec)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Span {
        trace_id,
        span_id: rec.span_id,
        parent_span_id: rec.parent_id,
        name,
        start_time_unix_nano: rec.start,
        end_time_unix_nano: rec.end,
        status: rec.status.clone(),
        events: model_events(rec),
        attributes,
        links: Vec::new(),
    }
}

/// The span's events with its streamed items as `mlflow.chunk.item.<i>` events, in time order.
fn model_events(rec: &SpanRecord) -> Vec<SpanEvent> {
    if rec.chunks.is_empty() {
        return rec.events.clone();
    }
    let mut events = Vec::with_capacity(rec.events.len() + rec.chunks.len());
    events.extend(rec.chunks.iter().enumerate().map(|(i, (time, json))| {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            keys::CHUNK_VALUE.to_string(),
            serde_json::Value::String(json.clone()),
        );
        SpanEvent {
            name: format!("{}{i}", keys::CHUNK_ITEM_PREFIX),
            time_unix_nano: *time,
            attributes,
        }
    }));
    events.extend(rec.events.iter().cloned());
    // Stable: a chunk and an event of the same nanosecond keep chunk-first order.
    events.sort_by_key(|e| e.time_unix_nano);
    events
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
    fn write_json_gives_the_model_json_byte_for_byte() {
        use crate::stream::IteratorExt;
        let id = {
            let root = crate::start_span("root").inputs(serde_json::json!({"x": 1}));
            root.record_error(&std::io::Error::other("boom"));
            root.set_attribute("mlflow.spanType", "overridden by the derived value");
            drop(crate::start_span("dup"));
            drop(crate::start_span("dup").span_type(crate::SpanType::Llm));
            let mut b = crate::span("fn-span");
            b.function_name = Some("my_fn");
            drop(b.start());
            let items: Vec<u32> = (0..3).traced("items").collect();
            assert_eq!(items.len(), 3);
            crate::update_current_trace(TraceUpdate::new().tag("fruit", "apple").user("ada"))
                .unwrap();
            root.trace_id().unwrap()
        };
        let c = runtime::completed(&id).unwrap();
        assert!(c.0.model.get().is_none(), "not built yet");
        let mut direct = Vec::new();
        c.write_json(&mut direct).unwrap();
        assert!(
            c.0.model.get().is_none(),
            "write_json did not build the model"
        );
        let model = serde_json::to_vec(&c.to_trace()).unwrap();
        assert_eq!(
            String::from_utf8(direct).unwrap(),
            String::from_utf8(model).unwrap()
        );
        let t = c.trace();
        assert_eq!(
            t.data
                .spans
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            ["root", "dup_1", "dup_2", "fn-span", "items"]
        );
        assert_eq!(t.spans_named("items").next().unwrap().events.len(), 3);
    }

    /// A trace of hand-made records with what is hard to serialize: control characters and
    /// unicode in names, values and keys, attributes colliding with the derived `mlflow.*`
    /// keys or repeated, events with nested values, chunks at the time of an event, errors,
    /// an open span, custom span types, function names, repeated names.
    fn tricky_trace(processors: Vec<SpanProcessor>) -> CompletedTrace {
        let trace_id = TraceId(0x8069_a026_5eec_15a1_d9bb_fa62_bf64_cbf6);
        let mut spans = Vec::new();
        let mut root = SpanRecord::new(SpanId(1), None, Cow::Borrowed("root \"quoted\" \u{1}\t"));
        root.start = 1_000;
        root.end = Some(9_000_000_000);
        root.inputs = Some(r#"{"messages":[{"role":"user","content":"héllo\n"}]}"#.into());
        root.outputs = Some("\"ünïcödé 中 😀 \u{7f}\"".into());
        root.status = SpanStatus::error("ValueError: bad \"thing\"\n");
        root.has_exception = true;
        root.events.push(
            SpanEvent::new("exception")
                .with_attribute("exception.type", "ValueError")
                .with_attribute("z", serde_json::json!({"b": 1, "a": [1, "x\u{2}"]})),
        );
        root.events[0].time_unix_nano = 5_000;
        root.set_attribute(Cow::Borrowed(keys::SPAN_TYPE), "\"mine\"".into());
        root.set_attribute(
            Cow::Borrowed(keys::SPAN_INPUTS),
            "\"not the inputs\"".into(),
        );
        root.set_attribute(Cow::Borrowed("mlflow.spanA"), "1".into());
        root.set_attribute(Cow::Borrowed("mlflow.spanZ"), "2".into());
        root.set_attribute(Cow::Borrowed("zzz"), "3".into());
        root.set_attribute(Cow::Owned("ключ\u{1f}".into()), "\"значение\"".into());
        root.set_attribute(Cow::Borrowed("A"), "null".into());
        // Pushed twice (as the span builder may): the last one wins, as in a map.
        root.attributes
            .push((Cow::Borrowed("dup"), "\"first\"".into()));
        root.attributes
            .push((Cow::Borrowed("dup"), "\"second\"".into()));
        spans.push(root);
        for i in 0..4u64 {
            let mut r = SpanRecord::new(SpanId(10 + i), Some(SpanId(1)), Cow::Borrowed("dup"));
            r.start = 2_000 + i;
            r.end = Some(3_000 + i);
            r.function_name = Some(if i % 2 == 0 { "my_fn" } else { "other_fn\"" });
            r.span_type = Cow::Borrowed(if i == 1 { "LLM" } else { "my \"custom\" type" });
            r.status = SpanStatus::ok();
            spans.push(r);
        }
        let mut taken = SpanRecord::new(SpanId(20), Some(SpanId(1)), Cow::Borrowed("dup_1"));
        taken.start = 2_500;
        taken.end = Some(2_600);
        spans.push(taken);
        let mut stream = SpanRecord::new(SpanId(30), Some(SpanId(1)), Cow::Borrowed("items"));
        stream.start = 4_000;
        stream.end = None;
        stream.chunks = vec![
            (4_100, "1".into()),
            (4_200, "\"two\\n\"".into()),
            (4_300, "{}".into()),
        ];
        let mut ev = SpanEvent::new("tick");
        ev.time_unix_nano = 4_200;
        stream.events.push(ev);
        let mut early = SpanEvent::new("early");
        early.time_unix_nano = 4_000;
        stream.events.push(early);
        spans.push(stream);
        // Records arrive in end order: the root last.
        spans.rotate_left(1);
        let estimated_bytes = estimate_records(&spans);
        CompletedTrace(Arc::new(Completed {
            trace_id,
            root_span_id: SpanId(1),
            spans,
            update: Some(Arc::new(
                TraceUpdate::new().tag("fruit", "apple").user("ada\u{0}"),
            )),
            processors: Arc::new(processors),
            model: OnceLock::new(),
            estimated_bytes,
        }))
    }

    #[test]
    fn write_json_of_tricky_records_gives_the_model_json_byte_for_byte() {
        let c = tricky_trace(Vec::new());
        let mut direct = Vec::new();
        c.write_json(&mut direct).unwrap();
        assert!(c.0.model.get().is_none(), "the model was not built");
        let model = serde_json::to_string(&c.to_trace()).unwrap();
        assert_eq!(String::from_utf8(direct).unwrap(), model);
        // The cases the records were made for are really in the output.
        let t = c.to_trace();
        let names: Vec<&str> = t.data.spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "root \"quoted\" \u{1}\t",
                "dup_1",
                "dup_2",
                "dup_3",
                "dup_4",
                "dup_1",
                "items"
            ]
        );
        let root = t.root().unwrap();
        assert_eq!(root.attributes["dup"], "\"second\"");
        assert_eq!(root.attributes[keys::SPAN_TYPE], "\"UNKNOWN\"");
        assert_eq!(root.attributes[keys::SPAN_LOG_LEVEL], "40");
        let items = t.spans_named("items").next().unwrap();
        let events: Vec<&str> = items.events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            events,
            [
                "early",
                "mlflow.chunk.item.0",
                "mlflow.chunk.item.1",
                "tick",
                "mlflow.chunk.item.2"
            ]
        );
    }

    #[test]
    fn write_json_with_span_processors_writes_what_they_made() {
        let config = crate::Config::new().span_processor(|span| {
            span.attributes.remove(keys::SPAN_INPUTS);
            span.name.push_str(" (redacted)");
        });
        let c = tricky_trace(config.processors);
        let mut written = Vec::new();
        c.write_json(&mut written).unwrap();
        let written = String::from_utf8(written).unwrap();
        assert_eq!(written, serde_json::to_string(&c.to_trace()).unwrap());
        let t = Trace::from_json(&written).unwrap();
        assert!(t.data.spans.iter().all(|s| s.name.ends_with(" (redacted)")));
        assert!(
            t.data
                .spans
                .iter()
                .all(|s| !s.attributes.contains_key(keys::SPAN_INPUTS))
        );
    }

    #[test]
    fn write_json_of_a_built_model_is_its_json() {
        let c = tricky_trace(Vec::new());
        let t = c.trace();
        let mut written = Vec::new();
        c.write_json(&mut written).unwrap();
        assert_eq!(String::from_utf8(written).unwrap(), t.to_json());
    }

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
