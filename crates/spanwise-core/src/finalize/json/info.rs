//! The trace's `info` as MLflow's JSON, written straight from the records: byte for byte what
//! serde_json writes for the [`TraceInfo`](crate::TraceInfo) that `trace_info` builds and
//! `size_stats::add` completes, without building it (no map, no string per entry).
//!
//! The size statistics are computed from the info's JSON without them: the info is written
//! without the two keys, measured as it is written, and the two entries are then put in at the
//! place their keys take in the metadata's order.

use std::ops::Range;
use std::sync::Arc;

use super::text::{rfc3339_millis, structure, trace_id_text, write_str, write_u64};
use crate::finalize::{NO_UPDATE, Recorded, request_preview, response_preview};
use crate::model::{StatusCode, TraceState, keys};
use crate::record::SpanRecord;
use crate::size_stats::{SIZE_BYTES, SIZE_STATS, Stats, info_size};
use crate::trace_settings::TraceSettings;

/// What the info writer keeps from one trace to the next (emptied, not freed).
#[derive(Default)]
pub(super) struct InfoScratch {
    /// The root's inputs and outputs in Python's form.
    py_inputs: Vec<u8>,
    py_outputs: Vec<u8>,
    /// The same as JSON string literals, when each serves as both metadata and preview.
    quoted_inputs: Vec<u8>,
    quoted_outputs: Vec<u8>,
    /// Emptied between traces (see [`recycle`]).
    entries: Vec<Entry<'static>>,
    sizes_text: Vec<u8>,
    /// What the settings in force make the same in every trace.
    fixed: Option<Fixed>,
}

/// The parts of the info that come from the trace settings, written once for the settings
/// in force: the experiment id's literal, and the metadata every trace has, in key order.
struct Fixed {
    settings: Arc<TraceSettings>,
    lits: Vec<u8>,
    /// The experiment id as a JSON string, and its Python extra.
    experiment: (Range<usize>, usize),
    /// The metadata every trace has (its schema version, the source, the root's inputs and
    /// outputs, where the size statistics go), sorted by key, the last of equal keys kept.
    metadata: Vec<(&'static str, FixedValue)>,
}

#[derive(Clone)]
enum FixedValue {
    /// The whole `"key":"value"` in [`Fixed::lits`], and its Python extra.
    Written(Range<usize>, usize),
    Inputs,
    Outputs,
    SizeStats,
}

impl Fixed {
    fn new(settings: Arc<TraceSettings>) -> Fixed {
        let mut lits = Vec::new();
        let extra = write_str(&mut lits, &settings.experiment_id);
        let experiment = (0..lits.len(), extra);
        let mut written = |key: &str, value: &str| {
            let start = lits.len();
            let mut extra = write_str(&mut lits, key);
            lits.push(b':');
            extra += 1 + write_str(&mut lits, value);
            FixedValue::Written(start..lits.len(), extra)
        };
        // In the order `trace_info` inserts them.
        let mut metadata = vec![(keys::SCHEMA_VERSION, written(keys::SCHEMA_VERSION, "3"))];
        for (k, v) in &settings.source {
            metadata.push((*k, written(k, v)));
        }
        metadata.push((keys::TRACE_INPUTS, FixedValue::Inputs));
        metadata.push((keys::TRACE_OUTPUTS, FixedValue::Outputs));
        metadata.push((SIZE_BYTES, FixedValue::SizeStats));
        // Stable: of equal keys the last one inserted stays last, and is kept.
        metadata.sort_by(|a, b| a.0.cmp(b.0));
        let mut kept: Vec<(&'static str, FixedValue)> = Vec::with_capacity(metadata.len());
        for e in metadata {
            match kept.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => kept.push(e),
            }
        }
        Fixed {
            settings,
            lits,
            experiment,
            metadata: kept,
        }
    }
}

/// A value of a metadata or tag entry.
#[derive(Clone, Copy)]
enum Value<'a> {
    /// `"key":"value"` already written, and its Python extra.
    Written(&'a [u8], usize),
    /// A text cut to `max_chars` characters (the first `max_chars - 3` and `...`) when longer.
    Text(&'a str, usize),
    /// A JSON string literal, and its Python extra.
    Quoted(&'a [u8], usize),
    /// Where the size statistics go.
    SizeStats,
}

#[derive(Clone, Copy)]
struct Entry<'a> {
    key: &'a str,
    /// `"key":`, for a key known in advance (no Python extra but the `:`).
    key_lit: Option<&'static [u8]>,
    value: Value<'a>,
}

impl<'a> Entry<'a> {
    fn text(key: &'a str, value: &'a str) -> Entry<'a> {
        Entry {
            key,
            key_lit: None,
            value: Value::Text(value, usize::MAX),
        }
    }
}

/// An empty list with the room of `v` (the entries of one trace borrow from it, so the list
/// kept between traces holds none). `collect` reuses the allocation of an emptied vector.
// `filter_map` changes the element type (its lifetime), which `filter` cannot.
#[allow(clippy::unnecessary_filter_map)]
fn recycle<'b>(mut v: Vec<Entry<'_>>) -> Vec<Entry<'b>> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// The most characters MLflow keeps in `mlflow.traceInputs` / `traceOutputs`.
const METADATA_CHARS: usize = 250;
/// The most characters of a preview.
const PREVIEW_CHARS: usize = 1000;

/// Whether [`write_info`] writes this trace's info as the model would be written: not when the
/// application's metadata has a key from `mlflow.trace.sizeBytes` to `mlflow.trace.sizeStats`
/// (MLflow measures the info with such a key, then replaces or surrounds it).
pub(super) fn can_write(c: &Recorded) -> bool {
    use std::ops::Bound::Included;
    c.update.as_deref().is_none_or(|u| {
        u.metadata
            .range::<str, _>((Included(SIZE_BYTES), Included(SIZE_STATS)))
            .next()
            .is_none()
    })
}

/// Appends the info of the trace `c`, whose spans (if any) have the sizes `span_sizes`
/// (sorted here), with its size statistics.
pub(super) fn write_info(
    out: &mut Vec<u8>,
    c: &Recorded,
    settings: &Arc<TraceSettings>,
    first_start: Option<u64>,
    span_sizes: &mut [usize],
    s: &mut InfoScratch,
) {
    let start = out.len();
    let root = c.spans.iter().find(|r| r.span_id == c.root_span_id);
    let update = c.update.as_deref().unwrap_or(&NO_UPDATE);
    let mut py = 0;

    structure!(out, py, b"{\"trace_id\":\"");
    out.extend_from_slice(&trace_id_text(c.trace_id.0));
    out.push(b'"');
    if let Some(id) = &update.client_request_id {
        structure!(out, py, b",\"client_request_id\":");
        py += write_str(out, id);
    }
    let fixed = match s.fixed.take() {
        Some(f) if Arc::ptr_eq(&f.settings, settings) => f,
        _ => Fixed::new(settings.clone()),
    };
    structure!(
        out,
        py,
        b",\"trace_location\":{\"type\":\"MLFLOW_EXPERIMENT\",\"mlflow_experiment\":{\"experiment_id\":"
    );
    out.extend_from_slice(&fixed.lits[fixed.experiment.0.clone()]);
    py += fixed.experiment.1;
    let start_ns = root.map(|r| r.start).or(first_start).unwrap_or(0);
    // MLflow keeps milliseconds.
    let ms = start_ns / 1_000_000;
    structure!(out, py, b"}},\"request_time\":\"");
    out.extend_from_slice(&rfc3339_millis(ms));
    structure!(out, py, b"\",\"state\":\"");
    out.extend_from_slice(state(update.state, root).as_str().as_bytes());

    // The root's inputs and outputs in the text form MLflow's Python SDK writes.
    let inputs = root
        .and_then(|r| r.inputs.as_deref())
        .map(|json| RootValue::new(json, &mut s.py_inputs, &mut s.quoted_inputs));
    let outputs = root
        .and_then(|r| r.outputs.as_deref())
        .map(|json| RootValue::new(json, &mut s.py_outputs, &mut s.quoted_outputs));

    // The metadata, in the order `trace_info` inserts it (the last of equal keys wins).
    let totals = super::super::usage::totals(&c.spans);
    let mut entries = recycle(std::mem::take(&mut s.entries));
    for (key, v) in &fixed.metadata {
        let value = match v {
            FixedValue::Written(r, extra) => Value::Written(&fixed.lits[r.clone()], *extra),
            FixedValue::Inputs => {
                entries.push(Entry {
                    key,
                    key_lit: Some(b"\"mlflow.traceInputs\":"),
                    value: RootValue::metadata(inputs),
                });
                continue;
            }
            FixedValue::Outputs => {
                entries.push(Entry {
                    key,
                    key_lit: Some(b"\"mlflow.traceOutputs\":"),
                    value: RootValue::metadata(outputs),
                });
                continue;
            }
            // A trace without spans has no statistics.
            FixedValue::SizeStats if span_sizes.is_empty() => continue,
            FixedValue::SizeStats => Value::SizeStats,
        };
        entries.push(Entry {
            key,
            key_lit: None,
            value,
        });
    }
    // Sorted already, unless the trace adds to it.
    let mut sorted = true;
    for (k, v) in &update.metadata {
        entries.push(Entry::text(k, v));
        sorted = false;
    }
    let more = [
        (keys::TRACE_SESSION, update.session_id.as_deref()),
        (keys::TRACE_USER, update.user.as_deref()),
    ];
    for (k, v) in more
        .into_iter()
        .chain(totals.iter().flatten().map(|(k, v)| (*k, Some(v.as_str()))))
    {
        if let Some(v) = v {
            entries.push(Entry::text(k, v));
            sorted = false;
        }
    }
    structure!(out, py, b"\",\"trace_metadata\":");
    let sizes_at = write_map(out, &mut py, &mut entries, sorted);

    // The tags.
    entries.clear();
    if let Some(r) = root {
        entries.push(Entry {
            key_lit: Some(b"\"mlflow.traceName\":"),
            ..Entry::text(keys::TRACE_NAME, &r.name)
        });
    }
    for (k, v) in &update.tags {
        entries.push(Entry::text(k, v));
    }
    structure!(out, py, b",\"tags\":");
    write_map(out, &mut py, &mut entries, update.tags.is_empty());
    s.entries = recycle(entries);
    s.fixed = Some(fixed);

    let previews = [
        (
            &b",\"request_preview\":"[..],
            update.request_preview.as_deref(),
            inputs,
            request_preview as fn(&str) -> String,
        ),
        (
            b",\"response_preview\":",
            update.response_preview.as_deref(),
            outputs,
            response_preview,
        ),
    ];
    for (key, set, root_value, chat) in previews {
        if let Some(p) = set {
            out.extend_from_slice(key);
            py += 2 + write_str(out, p);
        } else if let Some(v) = root_value {
            out.extend_from_slice(key);
            py += 2;
            py += match v.quoted {
                Some((bytes, extra)) => {
                    out.extend_from_slice(bytes);
                    extra
                }
                None => write_preview(out, v.text, chat),
            };
        }
    }
    if let Some(end) = root.and_then(|r| r.end) {
        structure!(out, py, b",\"execution_duration_ms\":");
        write_u64(out, end.saturating_sub(start_ns) / 1_000_000);
    }
    out.push(b'}');

    let python_len = out.len() - start + py;
    debug_assert_eq!(
        python_len,
        crate::pyjson::dumps_ascii_len(std::str::from_utf8(&out[start..]).unwrap_or_default())
    );
    let (Some(at), Some(stats)) = (
        sizes_at,
        Stats::of(info_size(python_len, ms % 1000 == 0), span_sizes),
    ) else {
        return;
    };
    // `"mlflow.trace.sizeBytes":"<total>","mlflow.trace.sizeStats":"<stats>"`, with the comma
    // it needs before or after.
    let text = &mut s.sizes_text;
    text.clear();
    if at.after_entry {
        text.push(b',');
    }
    write_str(text, SIZE_BYTES);
    text.extend_from_slice(b":\"");
    write_u64(text, stats.total as u64);
    text.extend_from_slice(b"\",");
    write_str(text, SIZE_STATS);
    text.push(b':');
    // ASCII, its quotes escaped as they are written.
    text.push(b'"');
    stats.write(text, true);
    text.push(b'"');
    if !at.after_entry && at.before_entry {
        text.push(b',');
    }
    insert(out, at.pos, text);
}

/// The root's inputs or outputs in Python's form, and as a JSON string literal (with its Python
/// extra) when that is both its metadata value and its preview (short, and no chat).
#[derive(Clone, Copy)]
struct RootValue<'a> {
    text: &'a str,
    quoted: Option<(&'a [u8], usize)>,
}

impl<'a> RootValue<'a> {
    fn new(json: &str, py_form: &'a mut Vec<u8>, quoted: &'a mut Vec<u8>) -> RootValue<'a> {
        let text = crate::pyjson::dumps_into(json, py_form);
        // No more bytes than characters kept by either: the whole text in both.
        let quoted = (text.len() <= METADATA_CHARS && !may_be_chat(text)).then(|| {
            quoted.clear();
            let extra = write_str(quoted, text);
            (&quoted[..], extra)
        });
        RootValue { text, quoted }
    }

    /// Its metadata value (`""` when there is none).
    fn metadata(v: Option<RootValue<'a>>) -> Value<'a> {
        match v {
            Some(RootValue {
                quoted: Some((bytes, extra)),
                ..
            }) => Value::Quoted(bytes, extra),
            Some(v) => Value::Text(v.text, METADATA_CHARS),
            None => Value::Text("", METADATA_CHARS),
        }
    }
}

/// The trace's state: the application's, else from the root span.
fn state(set: Option<TraceState>, root: Option<&SpanRecord>) -> TraceState {
    match (set, root) {
        (Some(s), _) => s,
        (None, Some(r)) if r.end.is_none() => TraceState::InProgress,
        (None, Some(r)) if r.status.code == StatusCode::Error => TraceState::Error,
        (None, Some(_)) => TraceState::Ok,
        (None, None) => TraceState::InProgress,
    }
}

/// Where the size statistics go in the written metadata: the position, whether an entry was
/// written before it (it then goes in with a comma before), or after it (a comma after).
#[derive(Clone, Copy)]
struct SizesAt {
    pos: usize,
    after_entry: bool,
    before_entry: bool,
}

/// Writes the entries as a JSON object in key order (they are already when `sorted`), the last
/// of equal keys winning as in a map; adds its Python extra to `py`. Returns where the size
/// statistics go, if they are among the entries.
fn write_map(
    out: &mut Vec<u8>,
    py: &mut usize,
    entries: &mut [Entry<'_>],
    sorted: bool,
) -> Option<SizesAt> {
    if !sorted {
        // Stable: of equal keys the last one inserted stays last.
        entries.sort_by(|a, b| a.key.cmp(b.key));
    }
    out.push(b'{');
    let mut written = false;
    let mut sizes_at: Option<SizesAt> = None;
    for (i, e) in entries.iter().enumerate() {
        if !sorted && entries.get(i + 1).is_some_and(|next| next.key == e.key) {
            continue;
        }
        if let Value::SizeStats = e.value {
            sizes_at = Some(SizesAt {
                pos: out.len(),
                after_entry: written,
                before_entry: false,
            });
            continue;
        }
        if written {
            out.push(b',');
            *py += 1;
        } else if let Some(at) = &mut sizes_at {
            at.before_entry = true;
        }
        written = true;
        match e.value {
            Value::Written(bytes, extra) => {
                out.extend_from_slice(bytes);
                *py += extra;
            }
            Value::Text(text, max_chars) => {
                *py += write_key(out, e);
                *py += write_cut(out, text, max_chars);
            }
            Value::Quoted(bytes, extra) => {
                *py += write_key(out, e);
                out.extend_from_slice(bytes);
                *py += extra;
            }
            Value::SizeStats => {}
        }
    }
    out.push(b'}');
    sizes_at
}

/// Writes the entry's `"key":`; returns its Python extra.
fn write_key(out: &mut Vec<u8>, e: &Entry<'_>) -> usize {
    match e.key_lit {
        Some(lit) => {
            debug_assert!({
                let mut l = Vec::new();
                write_str(&mut l, e.key);
                l.push(b':');
                l == lit
            });
            out.extend_from_slice(lit);
            1
        }
        None => {
            let extra = write_str(out, e.key);
            out.push(b':');
            extra + 1
        }
    }
}

/// Writes `text` as a JSON string cut to `max_chars` characters (the first `max_chars - 3`
/// and `...`) when longer; returns its Python extra.
fn write_cut(out: &mut Vec<u8>, text: &str, max_chars: usize) -> usize {
    // No more bytes than characters allowed: short enough, without counting.
    if text.len() <= max_chars {
        return write_str(out, text);
    }
    match text.char_indices().nth(max_chars) {
        None => write_str(out, text),
        Some(_) => {
            let cut = text
                .char_indices()
                .nth(max_chars - 3)
                .map_or(text.len(), |(i, _)| i);
            out.push(b'"');
            let extra = super::text::escape(out, &text[..cut]);
            out.extend_from_slice(b"...\"");
            extra
        }
    }
}

/// The preview of the root's inputs or outputs (`json`, in Python's form), as `chat`
/// (`request_preview` / `response_preview`) makes it; returns its Python extra. Only a text
/// with a chat key in it (`"messages"`, `"choices"`, or any `\u` escape that could spell one)
/// is parsed: any other is its own preview, cut.
fn write_preview(out: &mut Vec<u8>, json: &str, chat: fn(&str) -> String) -> usize {
    if may_be_chat(json) {
        write_str(out, &chat(json))
    } else {
        write_cut(out, json, PREVIEW_CHARS)
    }
}

/// Whether `json` has `"messages"`, `"choices"` or a `\u` escape in it.
fn may_be_chat(json: &str) -> bool {
    let b = json.as_bytes();
    b.iter().enumerate().any(|(i, &c)| match c {
        b'"' => {
            let rest = &b[i + 1..];
            rest.starts_with(b"messages\"") || rest.starts_with(b"choices\"")
        }
        b'\\' => b.get(i + 1) == Some(&b'u'),
        _ => false,
    })
}

/// Puts `text` in `out` at `pos`, moving what follows.
fn insert(out: &mut Vec<u8>, pos: usize, text: &[u8]) {
    let end = out.len();
    out.extend_from_slice(text);
    out.copy_within(pos..end, pos + text.len());
    out[pos..pos + text.len()].copy_from_slice(text);
}
