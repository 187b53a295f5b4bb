//! The JSON API under `/api/` that the page reads: the store's status, the filtered, sorted,
//! paged trace list, and one trace laid out for viewing (spans in tree order, attributes
//! decoded). Filters are the CLI's own filter language, parsed by the same parser.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};
use spanwise_core::{Span, SpanId, Trace, keys};

use crate::filter::Filter;
use crate::trace_view;
use crate::ui::index::{self, Entry, Index};

/// Previews longer than this many characters are cut in the list (the whole text is one
/// `/api/traces/<id>` away).
pub const PREVIEW_CHARS: usize = 200;

/// The list's page size when none is asked for, and the largest one served.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

/// An API answer: an HTTP status and a JSON body.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer {
            status: 200,
            body: body.to_string(),
        }
    }

    fn error(status: u16, message: impl Into<String>) -> Answer {
        Answer {
            status,
            body: json!({ "error": message.into() }).to_string(),
        }
    }
}

/// `GET /api/status`: how far the store is indexed, how many traces and skipped lines.
pub fn status(ix: &Index) -> Answer {
    Answer::ok(status_value(ix))
}

fn status_value(ix: &Index) -> Value {
    json!({
        "generation": ix.generation,
        "traces": ix.entries.len(),
        "corrupt_lines": ix.problem_count,
        "corrupt": ix.problems.iter().map(|p| json!({"line": p.line, "message": p.message})).collect::<Vec<_>>(),
        "file_present": ix.file_present,
        "indexed_bytes": ix.indexed_bytes,
        "file_bytes": ix.file_bytes,
        "indexing": ix.indexed_bytes < ix.file_bytes,
        "first_pass_ms": ix.first_pass.map(|d| d.as_secs_f64() * 1000.0),
    })
}

/// The sort keys of the list.
#[derive(Clone, Copy, PartialEq)]
enum SortKey {
    Start,
    Duration,
    Name,
    State,
    Spans,
    Tokens,
}

/// `GET /api/traces?filter=&sort=&order=&offset=&limit=`.
pub fn list(ix: &Index, query: &BTreeMap<String, String>) -> Answer {
    let filter_text = query.get("filter").map(String::as_str).unwrap_or("");
    let filter = match Filter::parse(filter_text) {
        Ok(f) => f,
        Err(e) => {
            return Answer {
                status: 400,
                body: json!({
                    "error": "invalid filter",
                    "message": e.message,
                    "position": e.position,
                    "display": e.to_string(),
                })
                .to_string(),
            };
        }
    };
    let sort = match query.get("sort").map(String::as_str).unwrap_or("start") {
        "start" => SortKey::Start,
        "duration" => SortKey::Duration,
        "name" => SortKey::Name,
        "state" => SortKey::State,
        "spans" => SortKey::Spans,
        "tokens" => SortKey::Tokens,
        other => {
            return Answer::error(
                400,
                format!(
                    "unknown sort {other:?}: use start, duration, name, state, spans or tokens"
                ),
            );
        }
    };
    let ascending = match query.get("order").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => return Answer::error(400, format!("unknown order {other:?}: asc or desc")),
    };
    let number = |key: &str, default: usize| -> Result<usize, Answer> {
        match query.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| Answer::error(400, format!("{key} must be a whole number"))),
        }
    };
    let offset = match number("offset", 0) {
        Ok(n) => n,
        Err(a) => return a,
    };
    let limit = match number("limit", DEFAULT_LIMIT) {
        Ok(n) => n.min(MAX_LIMIT),
        Err(a) => return a,
    };

    // Newest first by default; file order (reversed) breaks ties, as in `spanwise list`.
    let mut matching: Vec<(usize, &Entry)> = ix
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| filter.matches(&e.light))
        .collect();
    matching.reverse();
    match sort {
        SortKey::Start => matching.sort_by_key(|(_, e)| Reverse(e.light.info.request_time)),
        SortKey::Duration => matching.sort_by_key(|(_, e)| Reverse(trace_view::duration(&e.light))),
        SortKey::Name => {
            matching.sort_by(|(_, a), (_, b)| b.light.name().cmp(&a.light.name()));
        }
        SortKey::State => matching.sort_by_key(|(_, e)| Reverse(e.light.info.state.as_str())),
        SortKey::Spans => matching.sort_by_key(|(_, e)| Reverse(e.light.data.spans.len())),
        SortKey::Tokens => matching.sort_by_key(|(_, e)| {
            Reverse(
                token_usage(&e.light)
                    .and_then(|u| u.get("total_tokens").and_then(Value::as_u64))
                    .unwrap_or(0),
            )
        }),
    }
    if ascending {
        matching.reverse();
    }
    let total = matching.len();
    let rows: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(_, e)| row(e))
        .collect();
    Answer::ok(json!({
        "filter": filter_text,
        "total": total,
        "offset": offset,
        "limit": limit,
        "traces": rows,
        "status": status_value(ix),
    }))
}

/// One row of the list.
fn row(e: &Entry) -> Value {
    let t = &e.light;
    let tags: Map<String, Value> = t
        .info
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with("mlflow."))
        .map(|(k, v)| (k.clone(), Value::String(cut(v, PREVIEW_CHARS).0)))
        .collect();
    let (request, request_cut) = cut(
        t.info.request_preview.as_deref().unwrap_or(""),
        PREVIEW_CHARS,
    );
    let (response, response_cut) = cut(
        t.info.response_preview.as_deref().unwrap_or(""),
        PREVIEW_CHARS,
    );
    json!({
        "trace_id": t.info.trace_id.to_string(),
        "name": t.name(),
        "request_time": t.info.request_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "duration_ns": trace_view::duration(t).map(|d| d.as_nanos() as u64),
        "state": t.info.state.as_str(),
        "spans": t.data.spans.len(),
        "request_preview": request,
        "request_truncated": request_cut,
        "response_preview": response,
        "response_truncated": response_cut,
        "tokens": token_usage(t),
        "tags": tags,
        "changed": e.changed,
    })
}

/// The first `max` characters of `text`, and whether anything was cut.
fn cut(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((i, _)) => (format!("{}…", &text[..i]), true),
        None => (text.to_string(), false),
    }
}

/// The trace's token usage: its `mlflow.trace.tokenUsage` metadata, else the sum of its spans'
/// `mlflow.chat.tokenUsage`.
fn token_usage(t: &Trace) -> Option<Value> {
    if let Some(v) = t
        .info
        .trace_metadata
        .get(keys::TRACE_TOKEN_USAGE)
        .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
        .filter(Value::is_object)
    {
        return Some(v);
    }
    let mut sum = [0u64; 3];
    let mut any = false;
    for s in &t.data.spans {
        if let Some(Value::Object(u)) = s.attribute(keys::TOKEN_USAGE) {
            any = true;
            for (i, k) in ["input_tokens", "output_tokens", "total_tokens"]
                .iter()
                .enumerate()
            {
                sum[i] += u.get(*k).and_then(Value::as_u64).unwrap_or(0);
            }
        }
    }
    any.then(|| json!({"input_tokens": sum[0], "output_tokens": sum[1], "total_tokens": sum[2]}))
}

/// `GET /api/traces/<id>`: the whole trace, read back from the store file.
pub fn trace(file: &Path, ix: &Index, id: &str) -> Answer {
    let Some(entry) = ix.find(id) else {
        return Answer::error(404, format!("no trace with id {id}"));
    };
    match index::read_trace(file, &entry.lines) {
        Ok(Some(t)) => Answer::ok(view(&t, entry.changed)),
        Ok(None) => Answer::error(409, "the store changed; reload"),
        Err(e) => Answer::error(500, format!("cannot read the store: {e}")),
    }
}

/// `GET /api/traces/<id>/mlflow`: MLflow's JSON of the trace, as `spanwise show --json` prints it.
pub fn trace_json(file: &Path, ix: &Index, id: &str) -> Answer {
    let Some(entry) = ix.find(id) else {
        return Answer::error(404, format!("no trace with id {id}"));
    };
    match index::read_trace(file, &entry.lines) {
        Ok(Some(t)) => Answer {
            status: 200,
            body: t.to_json(),
        },
        Ok(None) => Answer::error(409, "the store changed; reload"),
        Err(e) => Answer::error(500, format!("cannot read the store: {e}")),
    }
}

/// The trace laid out for the page: spans depth-first with their depth, times relative to the
/// trace's first span, attribute values decoded from their JSON strings.
fn view(t: &Trace, changed: u64) -> Value {
    let (origin, end) = t.time_range();
    let mut ordered: Vec<(usize, &Span)> = Vec::new();
    let roots = t
        .data
        .spans
        .iter()
        .filter(|s| s.parent_span_id.is_none_or(|p| t.span(&p).is_none()));
    for root in roots {
        walk(t, root, 0, &mut ordered);
    }
    let spans: Vec<Value> = ordered
        .iter()
        .map(|(depth, s)| span_view(s, *depth, origin))
        .collect();
    json!({
        "trace_id": t.info.trace_id.to_string(),
        "name": t.name(),
        "state": t.info.state.as_str(),
        "request_time": t.info.request_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "duration_ns": trace_view::duration(t).map(|d| d.as_nanos() as u64),
        "span_ns": end - origin,
        "tokens": token_usage(t),
        "tags": t.info.tags,
        "metadata": t.info.trace_metadata,
        "request_preview": t.info.request_preview,
        "response_preview": t.info.response_preview,
        "spans": spans,
        "changed": changed,
    })
}

fn walk<'a>(t: &'a Trace, span: &'a Span, depth: usize, out: &mut Vec<(usize, &'a Span)>) {
    // A cycle of parents in a hand-edited file must not loop forever.
    if out.iter().any(|(_, s)| s.span_id == span.span_id) {
        return;
    }
    out.push((depth, span));
    for child in t.children(&span.span_id) {
        walk(t, child, depth + 1, out);
    }
}

fn span_view(s: &Span, depth: usize, origin: u64) -> Value {
    let hex = |id: &SpanId| id.to_hex();
    let attributes: Map<String, Value> = s
        .attributes
        .iter()
        .filter(|(k, _)| *k != keys::SPAN_INPUTS && *k != keys::SPAN_OUTPUTS)
        .map(|(k, v)| (k.clone(), decode(v)))
        .collect();
    let events: Vec<Value> = s
        .events
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "time_ns": e.time_unix_nano.saturating_sub(origin),
                "attributes": e.attributes,
            })
        })
        .collect();
    json!({
        "span_id": hex(&s.span_id),
        "parent_id": s.parent_span_id.as_ref().map(hex),
        "depth": depth,
        "name": s.name,
        "type": s.span_type().as_str(),
        "start_ns": s.start_time_unix_nano.saturating_sub(origin),
        "end_ns": s.end_time_unix_nano.map(|e| e.saturating_sub(origin)),
        "status": {"code": status_label(s), "message": s.status.message},
        "inputs": s.inputs(),
        "outputs": s.outputs(),
        "attributes": attributes,
        "events": events,
    })
}

fn status_label(s: &Span) -> &'static str {
    match s.status.code {
        spanwise_core::StatusCode::Ok => "OK",
        spanwise_core::StatusCode::Error => "ERROR",
        spanwise_core::StatusCode::Unset => "UNSET",
    }
}

/// An attribute's JSON value, or the raw text when it is not JSON.
fn decode(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}
