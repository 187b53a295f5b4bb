//! The spans of a trace as MLflow's span JSON, each with its size as MLflow measures it.
//!
//! What is the same for many spans is written once per trace into a table of literals: the
//! trace id's base64, the `mlflow.traceRequestId` value, each span type's, function name's and
//! span name's JSON. No map and no string is built per span (a span with streamed chunks gets
//! one list to order its events).

use std::borrow::Cow;
use std::collections::HashMap;

use super::text::{
    copy_short, span_id_base64, structure, trace_id_base64, trace_id_text, write_str,
    write_str_of_str, write_u64,
};
use crate::finalize::NameHasher;
use crate::id::TraceId;
use crate::model::{StatusCode, keys};
use crate::pyjson::dumps_ascii_len;
use crate::record::SpanRecord;

/// A piece of JSON in [`Tables::lits`], with its Python extra.
#[derive(Clone, Copy)]
struct Lit {
    start: u32,
    end: u32,
    extra: u32,
}

/// A span type of the trace: a record of that type, its literal, its default log level.
struct TypeUse {
    span: u32,
    lit: Lit,
    level: u8,
}

/// A span name of the trace: a record of that name, its literal, how many spans use it, how
/// many of them were written so far.
struct NameUse {
    span: u32,
    lit: Lit,
    uses: u32,
    written: u32,
}

/// The per-trace tables, kept by the writer's thread from one trace to the next (emptied, not
/// freed).
#[derive(Default)]
pub(super) struct Tables {
    /// The literals, and [`PAD`] bytes after the last one (see [`copy_short`]).
    lits: Vec<u8>,
    /// `{"trace_id":"<base64>","span_id":"`: how every span of the trace starts.
    prefix: Option<Lit>,
    request_id: Option<Lit>,
    /// The last parent written, and its base64.
    last_parent: Option<(u64, [u8; 12])>,
    types: Vec<TypeUse>,
    functions: Vec<(&'static str, Lit)>,
    /// Per span (start order): its name's index in `names`.
    name_of: Vec<u32>,
    names: Vec<NameUse>,
    /// Scratch: the indices of the application's attributes of one span, sorted by key.
    attrs: Vec<u32>,
    /// Scratch: the inner literal of a literal of a literal.
    tmp: Vec<u8>,
    /// The literals of static strings (span types and function names), from one trace to the
    /// next: [`StaticLit`]s and their bytes.
    statics: Vec<StaticLit>,
    static_lits: Vec<u8>,
}

/// Which literal of a static string: its JSON string (a span name), or the JSON string of that
/// (a span type or function name, as MLflow keeps them in attributes).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Str,
    StrOfStr,
}

/// A literal of a static string, kept across traces.
struct StaticLit {
    text: &'static str,
    kind: Kind,
    start: u32,
    end: u32,
    extra: u32,
    /// The span type's default log level (for a span type).
    level: u8,
}

/// At most this many static literals, of this many bytes, are kept (then they are forgotten
/// and made again).
const STATICS: usize = 256;
const STATIC_BYTES: usize = 1 << 16;

/// Distinct names above which they are found through a map rather than by a scan.
const SCAN_NAMES: usize = 8;

/// Bytes kept after the last literal of the table, so that any literal can be copied by a copy
/// of fixed size.
const PAD: usize = 32;

/// A JSON value of an attribute: a literal (its bytes and Python extra), or a JSON text to
/// write as a JSON string (escaped).
#[derive(Clone, Copy)]
enum Val<'a> {
    Literal(&'a [u8], usize),
    Text(&'a str),
}

/// An attribute key: the literal `"key":` of a derived key, or the application's key.
#[derive(Clone, Copy)]
enum Key<'a> {
    Literal(&'a [u8]),
    Text(&'a str),
}

/// Writes the spans of one trace, in start order.
pub(super) struct SpanWriter<'a, 't> {
    spans: &'a [SpanRecord],
    t: &'t mut Tables,
}

impl<'a, 't> SpanWriter<'a, 't> {
    /// Ready to write `spans` (the trace's records) in the start order `order` (indices).
    pub(super) fn new(
        trace_id: TraceId,
        spans: &'a [SpanRecord],
        order: &[u32],
        name_suffixes: bool,
        t: &'t mut Tables,
    ) -> SpanWriter<'a, 't> {
        t.lits.clear();
        t.types.clear();
        t.functions.clear();
        t.name_of.clear();
        t.names.clear();
        let mut w = SpanWriter { spans, t };
        let id = trace_id_base64(trace_id.0);
        w.t.prefix = Some(w.lit(|out| {
            let mut py = 0;
            structure!(out, py, b"{\"trace_id\":\"");
            out.extend_from_slice(&id);
            structure!(out, py, b"\",\"span_id\":\"");
            py
        }));
        let text = trace_id_text(trace_id.0);
        w.t.request_id = Some(w.lit(|out| {
            out.extend_from_slice(b"\"\\\"");
            out.extend_from_slice(&text);
            out.extend_from_slice(b"\\\"\"");
            0
        }));
        w.count_names(order, name_suffixes);
        w
    }

    /// Appends a literal to the table, written by `write` (which returns its Python extra).
    fn lit(&mut self, write: impl FnOnce(&mut Vec<u8>) -> usize) -> Lit {
        let lits = &mut self.t.lits;
        // The padding after the last literal is where this one goes.
        lits.truncate(lits.len().saturating_sub(PAD));
        let start = lits.len() as u32;
        let extra = write(lits) as u32;
        let end = lits.len() as u32;
        lits.extend_from_slice(&[0; PAD]);
        Lit { start, end, extra }
    }

    /// Appends a literal of the table to `out`; returns its Python extra.
    #[inline]
    fn put(&self, out: &mut Vec<u8>, lit: Lit) -> usize {
        copy_short(
            out,
            &self.t.lits,
            lit.start as usize,
            (lit.end - lit.start) as usize,
        );
        lit.extra as usize
    }

    /// Appends the JSON string literal of the JSON string literal of `s` to the table.
    fn lit_of_str(&mut self, s: &str) -> Lit {
        let mut tmp = std::mem::take(&mut self.t.tmp);
        let lit = self.lit(|out| write_str_of_str(out, s, &mut tmp));
        self.t.tmp = tmp;
        lit
    }

    /// Each span's name index, and per distinct name its literal and number of uses.
    /// Consecutive spans usually share a name, so the previous span's name is tried first;
    /// then a scan of the few names seen, or a map once there are many.
    fn count_names(&mut self, order: &[u32], name_suffixes: bool) {
        let spans = self.spans;
        let mut by_name: HashMap<&str, u32, NameHasher> = HashMap::default();
        let mut last: Option<(&str, u32)> = None;
        for &s in order {
            let name = spans[s as usize].name.as_ref();
            let found = match last {
                Some((n, i)) if n == name => Some(i),
                _ if self.t.names.len() <= SCAN_NAMES => self
                    .t
                    .names
                    .iter()
                    .position(|u| spans[u.span as usize].name == name)
                    .map(|i| i as u32),
                _ => {
                    if by_name.is_empty() {
                        for (i, u) in self.t.names.iter().enumerate() {
                            by_name.insert(spans[u.span as usize].name.as_ref(), i as u32);
                        }
                    }
                    by_name.get(name).copied()
                }
            };
            let i = match found {
                Some(i) => i,
                None => {
                    let lit = match &spans[s as usize].name {
                        Cow::Borrowed(text) => self.static_lit(text, Kind::Str, || 0).0,
                        Cow::Owned(text) => self.lit(|out| write_str(out, text)),
                    };
                    let i = self.t.names.len() as u32;
                    self.t.names.push(NameUse {
                        span: s,
                        lit,
                        uses: 0,
                        written: 0,
                    });
                    if !by_name.is_empty() {
                        by_name.insert(name, i);
                    }
                    i
                }
            };
            last = Some((name, i));
            self.t.names[i as usize].uses += 1;
            self.t.name_of.push(i);
        }
        if !name_suffixes {
            // Counted once each, no name gets a suffix.
            self.t.names.iter_mut().for_each(|n| n.uses = 1);
        }
    }

    /// The span type's literal and default log level.
    fn span_type(&mut self, span: u32) -> (Lit, u8) {
        let spans = self.spans;
        let ty = &spans[span as usize].span_type;
        if let Some(u) = self
            .t
            .types
            .iter()
            .find(|u| spans[u.span as usize].span_type == *ty)
        {
            return (u.lit, u.level);
        }
        let level = || crate::model::SpanType::from(ty.as_ref()).default_log_level();
        let (lit, level) = match ty {
            Cow::Borrowed(text) => self.static_lit(text, Kind::StrOfStr, level),
            Cow::Owned(text) => (self.lit_of_str(text), level()),
        };
        self.t.types.push(TypeUse { span, lit, level });
        (lit, level)
    }

    fn function(&mut self, name: &'static str) -> Lit {
        // Function names are static strings: most spans of a trace share the same pointer.
        let same = |f: &&'static str| std::ptr::eq(*f, name) || *f == name;
        if let Some((_, lit)) = self.t.functions.iter().find(|(f, _)| same(f)) {
            return *lit;
        }
        let (lit, _) = self.static_lit(name, Kind::StrOfStr, || 0);
        self.t.functions.push((name, lit));
        lit
    }

    /// The literal of a static string, in the trace's table, from the literals kept across
    /// traces when it is there (with `level`, computed when it is not).
    fn static_lit(
        &mut self,
        text: &'static str,
        kind: Kind,
        level: impl FnOnce() -> u8,
    ) -> (Lit, u8) {
        let t = &mut *self.t;
        let found = t
            .statics
            .iter()
            .position(|s| std::ptr::eq(s.text, text) && s.kind == kind);
        let i = match found {
            Some(i) => i,
            None => {
                if t.statics.len() >= STATICS || t.static_lits.len() >= STATIC_BYTES {
                    t.statics.clear();
                    t.static_lits.clear();
                }
                let start = t.static_lits.len() as u32;
                let extra = match kind {
                    Kind::Str => write_str(&mut t.static_lits, text),
                    Kind::StrOfStr => write_str_of_str(&mut t.static_lits, text, &mut t.tmp),
                } as u32;
                t.statics.push(StaticLit {
                    text,
                    kind,
                    start,
                    end: t.static_lits.len() as u32,
                    extra,
                    level: level(),
                });
                t.statics.len() - 1
            }
        };
        let StaticLit {
            start,
            end,
            extra,
            level,
            ..
        } = self.t.statics[i];
        let mut statics = std::mem::take(&mut self.t.static_lits);
        let lit = self.lit(|out| {
            out.extend_from_slice(&statics[start as usize..end as usize]);
            extra as usize
        });
        std::mem::swap(&mut self.t.static_lits, &mut statics);
        (lit, level)
    }

    /// Appends the span at position `index` of the start order (record `span`); returns its
    /// size as MLflow measures it (see `size_stats`).
    pub(super) fn write_span(&mut self, out: &mut Vec<u8>, index: usize, span: u32) -> usize {
        let spans = self.spans;
        let rec = &spans[span as usize];
        let start = out.len();
        let mut py = self.put(out, self.t.prefix.unwrap_or(EMPTY));
        out.extend_from_slice(&span_id_base64(rec.span_id.0));
        structure!(out, py, b"\",\"parent_span_id\":");
        match rec.parent_id {
            Some(p) => {
                // Most spans of a trace share their parent with the span before them.
                let b64 = match self.t.last_parent {
                    Some((id, b64)) if id == p.0 => b64,
                    _ => {
                        let b64 = span_id_base64(p.0);
                        self.t.last_parent = Some((p.0, b64));
                        b64
                    }
                };
                out.push(b'"');
                out.extend_from_slice(&b64);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        structure!(out, py, b",\"name\":");
        py += self.write_name(out, index);
        structure!(out, py, b",\"start_time_unix_nano\":");
        write_u64(out, rec.start);
        structure!(out, py, b",\"end_time_unix_nano\":");
        match rec.end {
            Some(e) => write_u64(out, e),
            None => out.extend_from_slice(b"null"),
        }
        match rec.status.code {
            StatusCode::Unset => structure!(
                out,
                py,
                b",\"status\":{\"code\":\"STATUS_CODE_UNSET\",\"message\":"
            ),
            StatusCode::Ok => {
                structure!(
                    out,
                    py,
                    b",\"status\":{\"code\":\"STATUS_CODE_OK\",\"message\":"
                )
            }
            StatusCode::Error => structure!(
                out,
                py,
                b",\"status\":{\"code\":\"STATUS_CODE_ERROR\",\"message\":"
            ),
        }
        py += write_str(out, &rec.status.message);
        if rec.chunks.is_empty() && rec.events.is_empty() {
            structure!(out, py, b"},\"events\":[],\"attributes\":");
        } else {
            structure!(out, py, b"},\"events\":");
            py = (py as isize + write_events(out, rec)) as usize;
            structure!(out, py, b",\"attributes\":");
        }
        py += self.write_attributes(out, span);
        structure!(out, py, b",\"links\":[]}");
        let size = out.len() - start + py;
        debug_assert_eq!(
            size,
            dumps_ascii_len(std::str::from_utf8(&out[start..]).unwrap_or_default())
        );
        size
    }

    /// The name, with `_<n>` when several spans of the trace share it (in start order);
    /// returns its Python extra.
    fn write_name(&mut self, out: &mut Vec<u8>, index: usize) -> usize {
        let i = self.t.name_of[index] as usize;
        let NameUse { lit, uses, .. } = self.t.names[i];
        let len = (lit.end - lit.start) as usize;
        if uses > 1 {
            let name = &mut self.t.names[i];
            name.written += 1;
            let n = name.written;
            // The literal without its closing quote, then `_<n>"`.
            copy_short(out, &self.t.lits, lit.start as usize, len - 1);
            out.push(b'_');
            write_u64(out, u64::from(n));
            out.push(b'"');
        } else {
            copy_short(out, &self.t.lits, lit.start as usize, len);
        }
        lit.extra as usize
    }

    /// The application's attributes and the derived `mlflow.*` ones (which win on equal
    /// keys), in key order; returns their Python extra.
    fn write_attributes(&mut self, out: &mut Vec<u8>, span: u32) -> usize {
        let spans = self.spans;
        let rec = &spans[span as usize];
        let (type_lit, type_level) = self.span_type(span);
        let function = rec.function_name.map(|f| self.function(f));
        let level = if rec.has_exception { 40 } else { type_level };
        let mut level_lit = [0u8; 8];
        let level_len = level_literal(level, &mut level_lit);
        let request_id = self.t.request_id.unwrap_or(EMPTY);
        if rec.attributes.is_empty() {
            // The usual span: the derived attributes only, in key order (the log level is
            // always there, so every key after it has a comma before it).
            let mut py = 0;
            out.push(b'{');
            let mut first = true;
            if let Some(f) = function {
                structure!(out, py, b"\"mlflow.spanFunctionName\":");
                py += self.put(out, f);
                first = false;
            }
            if let Some(inputs) = rec.inputs.as_deref() {
                if !first {
                    structure!(out, py, b",");
                }
                structure!(out, py, b"\"mlflow.spanInputs\":");
                py += write_str(out, inputs);
                first = false;
            }
            if !first {
                structure!(out, py, b",");
            }
            match level {
                10 => structure!(out, py, b"\"mlflow.spanLogLevel\":\"10\""),
                20 => structure!(out, py, b"\"mlflow.spanLogLevel\":\"20\""),
                40 => structure!(out, py, b"\"mlflow.spanLogLevel\":\"40\""),
                _ => {
                    structure!(out, py, b"\"mlflow.spanLogLevel\":");
                    out.extend_from_slice(&level_lit[..level_len]);
                }
            }
            if let Some(outputs) = rec.outputs.as_deref() {
                structure!(out, py, b",\"mlflow.spanOutputs\":");
                py += write_str(out, outputs);
            }
            structure!(out, py, b",\"mlflow.spanType\":");
            py += self.put(out, type_lit);
            structure!(out, py, b",\"mlflow.traceRequestId\":");
            py += self.put(out, request_id);
            out.push(b'}');
            return py;
        }
        let t = &mut *self.t;
        let lits = &t.lits;
        let lit = |l: Lit| Val::Literal(&lits[l.start as usize..l.end as usize], l.extra as usize);

        // The derived attributes, in key order, each with its key's literal (`"key":`).
        let derived: [(&str, &[u8], Option<Val<'_>>); 6] = [
            (
                keys::SPAN_FUNCTION_NAME,
                b"\"mlflow.spanFunctionName\":",
                function.map(lit),
            ),
            (
                keys::SPAN_INPUTS,
                b"\"mlflow.spanInputs\":",
                rec.inputs.as_deref().map(Val::Text),
            ),
            (
                keys::SPAN_LOG_LEVEL,
                b"\"mlflow.spanLogLevel\":",
                Some(Val::Literal(&level_lit[..level_len], 0)),
            ),
            (
                keys::SPAN_OUTPUTS,
                b"\"mlflow.spanOutputs\":",
                rec.outputs.as_deref().map(Val::Text),
            ),
            (
                keys::SPAN_TYPE,
                b"\"mlflow.spanType\":",
                Some(lit(type_lit)),
            ),
            (
                keys::TRACE_REQUEST_ID,
                b"\"mlflow.traceRequestId\":",
                Some(lit(request_id)),
            ),
        ];
        debug_assert!(derived.windows(2).all(|w| w[0].0 < w[1].0));
        debug_assert!(derived.iter().all(|(k, lit, _)| {
            let mut l = Vec::new();
            write_str(&mut l, k);
            l.push(b':');
            l == *lit
        }));

        let mut py = 0;
        out.push(b'{');
        let mut first = true;
        {
            let attrs = &mut t.attrs;
            attrs.clear();
            attrs.extend(0..rec.attributes.len() as u32);
            let key = |i: u32| rec.attributes[i as usize].0.as_ref();
            // Stable: of equal keys the last one set wins, as in the model's map.
            attrs.sort_by(|a, b| key(*a).cmp(key(*b)));
            let mut app = attrs.iter().enumerate().filter_map(|(i, &a)| {
                let (k, v) = &rec.attributes[a as usize];
                let superseded = attrs.get(i + 1).is_some_and(|&next| key(next) == k);
                (!superseded).then_some((k.as_ref(), v.as_str()))
            });
            let mut derived = derived
                .into_iter()
                .filter_map(|(k, lit, v)| v.map(|v| (k, lit, v)))
                .peekable();
            let mut next_app = app.next();
            loop {
                match (next_app, derived.peek()) {
                    (Some((ak, av)), Some(&(dk, dlit, dv))) => {
                        if ak < dk {
                            py += write_entry(out, &mut first, Key::Text(ak), Val::Text(av));
                            next_app = app.next();
                        } else {
                            if ak == dk {
                                next_app = app.next();
                            }
                            py += write_entry(out, &mut first, Key::Literal(dlit), dv);
                            derived.next();
                        }
                    }
                    (Some((ak, av)), None) => {
                        py += write_entry(out, &mut first, Key::Text(ak), Val::Text(av));
                        next_app = app.next();
                    }
                    (None, Some(&(_, dlit, dv))) => {
                        py += write_entry(out, &mut first, Key::Literal(dlit), dv);
                        derived.next();
                    }
                    (None, None) => break,
                }
            }
        }
        out.push(b'}');
        py
    }
}

/// A literal of no bytes (never used: the trace's literals are set when the writer is made).
const EMPTY: Lit = Lit {
    start: 0,
    end: 0,
    extra: 0,
};

/// Writes `key: value` (after a comma unless first); returns its Python extra.
fn write_entry(out: &mut Vec<u8>, first: &mut bool, key: Key<'_>, value: Val<'_>) -> usize {
    // The `:`, and the `,` before all but the first.
    let mut py = 1;
    if !*first {
        out.push(b',');
        py += 1;
    }
    *first = false;
    match key {
        Key::Literal(lit) => out.extend_from_slice(lit),
        Key::Text(k) => {
            py += write_str(out, k);
            out.push(b':');
        }
    }
    match value {
        Val::Literal(lit, extra) => {
            out.extend_from_slice(lit);
            py += extra;
        }
        Val::Text(text) => py += write_str(out, text),
    }
    py
}

/// `"10"`, `"20"`, `"40"` (any u8): the log level as the JSON string of its decimal digits.
fn level_literal(level: u8, buf: &mut [u8; 8]) -> usize {
    let mut digits = [0u8; 20];
    let d = super::text::decimal(u64::from(level), &mut digits);
    buf[0] = b'"';
    buf[1..1 + d.len()].copy_from_slice(d);
    buf[1 + d.len()] = b'"';
    d.len() + 2
}

/// The events as the model has them: the streamed items as `mlflow.chunk.item.<i>` events
/// merged with the others in time order (a chunk first on equal times). Returns their Python
/// extra (a float in an event's attributes may make it shorter).
fn write_events(out: &mut Vec<u8>, rec: &SpanRecord) -> isize {
    if rec.chunks.is_empty() && rec.events.is_empty() {
        out.extend_from_slice(b"[]");
        return 0;
    }
    let start = out.len();
    let mut py = 0;
    let mut event_extra = 0;
    if rec.chunks.is_empty() {
        write_event_list(out, rec);
    } else {
        // (time, chunk?, index): a stable sort keeps chunks (listed first) before events of
        // the same nanosecond, as the model's `model_events` does.
        let mut order: Vec<(u64, bool, usize)> = rec
            .chunks
            .iter()
            .enumerate()
            .map(|(i, (t, _))| (*t, true, i))
            .chain(
                rec.events
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.time_unix_nano, false, i)),
            )
            .collect();
        order.sort_by_key(|(t, _, _)| *t);
        out.push(b'[');
        for (n, (time, is_chunk, i)) in order.into_iter().enumerate() {
            if n > 0 {
                structure!(out, py, b",");
            }
            if is_chunk {
                structure!(out, py, b"{\"name\":\"");
                out.extend_from_slice(keys::CHUNK_ITEM_PREFIX.as_bytes());
                write_u64(out, i as u64);
                structure!(out, py, b"\",\"time_unix_nano\":");
                write_u64(out, time);
                structure!(out, py, b",\"attributes\":{");
                py += write_str(out, keys::CHUNK_VALUE);
                structure!(out, py, b":");
                py += write_str(out, &rec.chunks[i].1);
                out.extend_from_slice(b"}}");
            } else {
                // Events are rare: measured by a pass over what serde_json wrote.
                let at = out.len();
                write_event(out, &rec.events[i]);
                event_extra += py_extra_of(&out[at..]);
            }
        }
        out.push(b']');
        return py as isize + event_extra;
    }
    // Events only: measured by a pass over what serde_json wrote (events are rare).
    py_extra_of(&out[start..])
}

/// The Python extra of a piece of JSON serde_json wrote (an event's).
fn py_extra_of(json: &[u8]) -> isize {
    dumps_ascii_len(std::str::from_utf8(json).unwrap_or_default()) as isize - json.len() as isize
}

fn write_event_list(out: &mut Vec<u8>, rec: &SpanRecord) {
    // Serializing names, numbers and plain JSON values into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &rec.events);
}

fn write_event(out: &mut Vec<u8>, event: &crate::model::SpanEvent) {
    let _ = serde_json::to_writer(&mut *out, event);
}
