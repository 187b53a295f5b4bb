//! Building the MLflow [`Trace`] from a completed trace's recorded spans: span names
//! de-duplicated, previews, metadata and tags, state, attribute maps, trace-level token usage
//! and cost (`usage`), size statistics; or writing its JSON straight from the records (`json`)
//! when no span processor must see the model. Runs where the model is needed (the JSONL
//! writer's thread, an exporter's, the caller of `get_trace`), not on the application's thread.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::id::{SpanId, TraceId};
use crate::model::{Span, SpanEvent, StatusCode, Trace, TraceData, TraceInfo, TraceState, keys};
use crate::processor::SpanProcessor;
use crate::record::SpanRecord;
use crate::update::TraceUpdate;

pub(crate) mod json;
pub(crate) mod usage;

/// What a completed trace holds before its model is built: the recorded spans and what applies
/// to them.
pub(crate) struct Recorded {
    pub(crate) trace_id: TraceId,
    /// The span whose end finalized the trace.
    pub(crate) root_span_id: SpanId,
    pub(crate) spans: Vec<SpanRecord>,
    /// Set by `update_current_trace`; most traces have none.
    pub(crate) update: Option<Arc<TraceUpdate>>,
    pub(crate) processors: Arc<Vec<SpanProcessor>>,
}

/// Writes the trace's JSON straight from its records (no span processor to run).
pub(crate) fn write_json(c: &Recorded, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    json::write_trace(out, c)
}

/// The spans in start order.
fn start_order(c: &Recorded) -> Vec<&SpanRecord> {
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
pub(crate) fn finalize(c: &Recorded) -> Trace {
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
fn trace_info(c: &Recorded, first_start: Option<u64>) -> TraceInfo {
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
    let mut out = Vec::with_capacity(name.len() + 21);
    out.extend_from_slice(name.as_bytes());
    out.push(b'_');
    crate::scalar::push_digits(&mut out, n as u64);
    // SAFETY: a `str`, then ASCII.
    unsafe { String::from_utf8_unchecked(out) }
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
