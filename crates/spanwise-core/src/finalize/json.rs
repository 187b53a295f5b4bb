//! MLflow's trace JSON written by hand, straight from the span records into the caller's buffer.
//!
//! The output is byte for byte what serde_json gives for the model ([`Trace`](crate::Trace)) that
//! `finalize` would build: same fields in the same order, attributes in the `BTreeMap` order of
//! their keys, strings escaped as serde_json escapes them. What is the same for many spans is
//! computed once per trace: the trace id's base64, the `mlflow.traceRequestId` value, each span
//! type's and function name's JSON. No map and no string is built per span (a span with
//! streamed chunks gets one list to order its events); per trace there are the start order,
//! the name counters and a scratch list of attributes.

use std::collections::HashMap;

use crate::finalize::NameHasher;
use crate::id::TraceId;
use crate::model::{StatusCode, TraceInfo, keys};
use crate::record::SpanRecord;

/// Appends `{"info":…,"data":{"spans":[…]}}` for the spans in start order, with the size
/// statistics of the written spans added to `info` (see `size_stats`).
pub(super) fn write_trace(
    out: &mut Vec<u8>,
    trace_id: TraceId,
    order: &[&SpanRecord],
    info: &mut TraceInfo,
) -> Result<(), serde_json::Error> {
    out.extend_from_slice(b"{\"info\":");
    // The info goes here once the spans are written and measured.
    let info_at = out.len();
    out.extend_from_slice(b",\"data\":{\"spans\":[");
    let mut w = TraceWriter::new(trace_id, order);
    let mut sizes = Vec::with_capacity(order.len());
    for (i, rec) in order.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let start = out.len();
        w.write_span(out, i, rec)?;
        // Written from `&str`s and ASCII: valid UTF-8.
        if let Ok(json) = std::str::from_utf8(&out[start..]) {
            sizes.push(crate::size_stats::span_size(json));
        }
    }
    out.extend_from_slice(b"]}}");
    if sizes.len() == order.len() {
        crate::size_stats::add(info, &mut sizes);
    }
    // Once per trace: the generic path is cheap enough here.
    let info_json = serde_json::to_vec(info)?;
    out.splice(info_at..info_at, info_json);
    Ok(())
}

/// A JSON value of an attribute: already a complete JSON string literal, or a JSON text to
/// write as a JSON string (escaped).
#[derive(Clone, Copy)]
enum Val<'a> {
    Literal(&'a [u8]),
    Text(&'a str),
}

/// An attribute key: the literal `"key":` of a derived key, or the application's key.
#[derive(Clone, Copy)]
enum Key<'a> {
    Literal(&'a [u8]),
    Text(&'a str),
}

/// A span name of a trace: its JSON string literal, how many spans use it, how many of them
/// were written so far.
struct NameUse {
    literal: Vec<u8>,
    uses: u32,
    written: u32,
}

/// What is shared by the spans of one trace.
struct TraceWriter<'a> {
    /// `"<base64 of the trace id>"`.
    trace_id: Vec<u8>,
    /// The `mlflow.traceRequestId` value as a JSON string literal: `"\"tr-…\""`.
    request_id: Vec<u8>,
    /// Per span type: the type's JSON as a JSON string literal, and its default log level.
    types: Vec<(&'a str, Vec<u8>, u8)>,
    /// Per function name (a static string): its JSON as a JSON string literal.
    functions: Vec<(&'static str, Vec<u8>)>,
    /// Per span (start order): its name's index in `names`.
    name_of: Vec<u32>,
    /// Per distinct name.
    names: Vec<NameUse>,
    /// Scratch: the application's attributes of one span, sorted.
    attrs: Vec<(&'a str, &'a str)>,
}

impl<'a> TraceWriter<'a> {
    fn new(trace_id: TraceId, order: &[&'a SpanRecord]) -> TraceWriter<'a> {
        let mut quoted_id = Vec::with_capacity(26);
        quoted_id.push(b'"');
        quoted_id.extend_from_slice(trace_id.to_base64().as_bytes());
        quoted_id.push(b'"');
        let mut request_id = Vec::with_capacity(40);
        write_str(&mut request_id, &format!("\"{trace_id}\""));
        let (name_of, names) = count_names(order);
        TraceWriter {
            trace_id: quoted_id,
            request_id,
            types: Vec::new(),
            functions: Vec::new(),
            name_of,
            names,
            attrs: Vec::new(),
        }
    }

    /// The span type's JSON string literal and default log level.
    fn span_type(&mut self, span_type: &'a str) -> (usize, u8) {
        let i = match self.types.iter().position(|(t, _, _)| *t == span_type) {
            Some(i) => i,
            None => {
                let level = crate::model::SpanType::from(span_type).default_log_level();
                let mut lit = Vec::new();
                write_str(&mut lit, &crate::capture::to_json(span_type));
                self.types.push((span_type, lit, level));
                self.types.len() - 1
            }
        };
        (i, self.types[i].2)
    }

    fn function(&mut self, name: &'static str) -> usize {
        // Function names are static strings: most spans of a trace share the same pointer.
        let same = |f: &&'static str| std::ptr::eq(*f, name) || *f == name;
        match self.functions.iter().position(|(f, _)| same(f)) {
            Some(i) => i,
            None => {
                let mut lit = Vec::new();
                write_str(&mut lit, &crate::capture::to_json(name));
                self.functions.push((name, lit));
                self.functions.len() - 1
            }
        }
    }

    fn write_span(
        &mut self,
        out: &mut Vec<u8>,
        index: usize,
        rec: &'a SpanRecord,
    ) -> Result<(), serde_json::Error> {
        out.extend_from_slice(b"{\"trace_id\":");
        out.extend_from_slice(&self.trace_id);
        out.extend_from_slice(b",\"span_id\":\"");
        out.extend_from_slice(&span_id_base64(rec.span_id.0));
        out.extend_from_slice(b"\",\"parent_span_id\":");
        match rec.parent_id {
            Some(p) => {
                out.push(b'"');
                out.extend_from_slice(&span_id_base64(p.0));
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"name\":");
        self.write_name(out, index);
        out.extend_from_slice(b",\"start_time_unix_nano\":");
        write_u64(out, rec.start);
        out.extend_from_slice(b",\"end_time_unix_nano\":");
        match rec.end {
            Some(e) => write_u64(out, e),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"status\":{\"code\":\"");
        out.extend_from_slice(match rec.status.code {
            StatusCode::Unset => b"STATUS_CODE_UNSET",
            StatusCode::Ok => b"STATUS_CODE_OK",
            StatusCode::Error => b"STATUS_CODE_ERROR",
        });
        out.extend_from_slice(b"\",\"message\":");
        write_str(out, &rec.status.message);
        out.extend_from_slice(b"},\"events\":");
        write_events(out, rec)?;
        out.extend_from_slice(b",\"attributes\":");
        self.write_attributes(out, rec);
        out.extend_from_slice(b",\"links\":[]}");
        Ok(())
    }

    /// The name, with `_<n>` when several spans of the trace share it (in start order).
    fn write_name(&mut self, out: &mut Vec<u8>, index: usize) {
        let name = &mut self.names[self.name_of[index] as usize];
        if name.uses > 1 {
            name.written += 1;
            // The literal without its closing quote, then `_<n>"`.
            out.extend_from_slice(&name.literal[..name.literal.len() - 1]);
            out.push(b'_');
            write_u64(out, u64::from(name.written));
            out.push(b'"');
        } else {
            out.extend_from_slice(&name.literal);
        }
    }

    /// The application's attributes and the derived `mlflow.*` ones (which win on equal keys),
    /// in key order.
    fn write_attributes(&mut self, out: &mut Vec<u8>, rec: &'a SpanRecord) {
        let (type_idx, type_level) = self.span_type(rec.span_type.as_ref());
        let function_idx = rec.function_name.map(|f| self.function(f));
        let level = if rec.has_exception { 40 } else { type_level };
        let mut level_lit = [0u8; 8];
        let level_len = level_literal(level, &mut level_lit);

        // The derived attributes, in key order, each with its key's literal (`"key":`).
        let derived: [(&str, &[u8], Option<Val<'_>>); 6] = [
            (
                keys::SPAN_FUNCTION_NAME,
                b"\"mlflow.spanFunctionName\":",
                function_idx.map(|i| Val::Literal(&self.functions[i].1)),
            ),
            (
                keys::SPAN_INPUTS,
                b"\"mlflow.spanInputs\":",
                rec.inputs.as_deref().map(Val::Text),
            ),
            (
                keys::SPAN_LOG_LEVEL,
                b"\"mlflow.spanLogLevel\":",
                Some(Val::Literal(&level_lit[..level_len])),
            ),
            (
                keys::SPAN_OUTPUTS,
                b"\"mlflow.spanOutputs\":",
                rec.outputs.as_deref().map(Val::Text),
            ),
            (
                keys::SPAN_TYPE,
                b"\"mlflow.spanType\":",
                Some(Val::Literal(&self.types[type_idx].1)),
            ),
            (
                keys::TRACE_REQUEST_ID,
                b"\"mlflow.traceRequestId\":",
                Some(Val::Literal(&self.request_id)),
            ),
        ];
        debug_assert!(derived.windows(2).all(|w| w[0].0 < w[1].0));
        debug_assert!(derived.iter().all(|(k, lit, _)| {
            let mut l = Vec::new();
            write_str(&mut l, k);
            l.push(b':');
            l == *lit
        }));

        out.push(b'{');
        let mut first = true;
        if rec.attributes.is_empty() {
            for (_, lit, v) in derived {
                if let Some(v) = v {
                    write_entry(out, &mut first, Key::Literal(lit), v);
                }
            }
        } else {
            let attrs = &mut self.attrs;
            attrs.clear();
            attrs.extend(rec.attributes.iter().map(|(k, v)| (k.as_ref(), v.as_str())));
            // Stable: of equal keys the last one set wins, as in the model's map.
            attrs.sort_by(|a, b| a.0.cmp(b.0));
            let mut app = attrs.iter().enumerate().filter_map(|(i, &(k, v))| {
                let superseded = attrs.get(i + 1).is_some_and(|next| next.0 == k);
                (!superseded).then_some((k, v))
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
                            write_entry(out, &mut first, Key::Text(ak), Val::Text(av));
                            next_app = app.next();
                        } else {
                            if ak == dk {
                                next_app = app.next();
                            }
                            write_entry(out, &mut first, Key::Literal(dlit), dv);
                            derived.next();
                        }
                    }
                    (Some((ak, av)), None) => {
                        write_entry(out, &mut first, Key::Text(ak), Val::Text(av));
                        next_app = app.next();
                    }
                    (None, Some(&(_, dlit, dv))) => {
                        write_entry(out, &mut first, Key::Literal(dlit), dv);
                        derived.next();
                    }
                    (None, None) => break,
                }
            }
        }
        out.push(b'}');
    }
}

fn write_entry(out: &mut Vec<u8>, first: &mut bool, key: Key<'_>, value: Val<'_>) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    match key {
        Key::Literal(lit) => out.extend_from_slice(lit),
        Key::Text(k) => {
            write_str(out, k);
            out.push(b':');
        }
    }
    match value {
        Val::Literal(lit) => out.extend_from_slice(lit),
        Val::Text(text) => write_str(out, text),
    }
}

/// `"10"`, `"20"`, `"40"` (any u8): the log level as the JSON string of its decimal digits.
fn level_literal(level: u8, buf: &mut [u8; 8]) -> usize {
    let mut digits = [0u8; 20];
    let d = decimal(u64::from(level), &mut digits);
    buf[0] = b'"';
    buf[1..1 + d.len()].copy_from_slice(d);
    buf[1 + d.len()] = b'"';
    d.len() + 2
}

/// Each span's name index, and per distinct name its literal and number of uses. Consecutive
/// spans usually share a name, so the previous span's name is tried before the map.
fn count_names(order: &[&SpanRecord]) -> (Vec<u32>, Vec<NameUse>) {
    let mut by_name: HashMap<&str, u32, NameHasher> = HashMap::default();
    let mut names: Vec<NameUse> = Vec::new();
    let mut name_of = Vec::with_capacity(order.len());
    let mut last: Option<(&str, u32)> = None;
    for rec in order {
        let name = rec.name.as_ref();
        let i = match last {
            Some((n, i)) if n == name => i,
            _ => *by_name.entry(name).or_insert_with(|| {
                let mut lit = Vec::with_capacity(name.len() + 2);
                write_str(&mut lit, name);
                names.push(NameUse {
                    literal: lit,
                    uses: 0,
                    written: 0,
                });
                (names.len() - 1) as u32
            }),
        };
        last = Some((name, i));
        names[i as usize].uses += 1;
        name_of.push(i);
    }
    if !crate::trace_settings::current().name_suffixes {
        // Counted once each, no name gets a suffix.
        names.iter_mut().for_each(|n| n.uses = 1);
    }
    (name_of, names)
}

/// The events as the model has them: the streamed items as `mlflow.chunk.item.<i>` events
/// merged with the others in time order (a chunk first on equal times).
fn write_events(out: &mut Vec<u8>, rec: &SpanRecord) -> Result<(), serde_json::Error> {
    if rec.chunks.is_empty() {
        if rec.events.is_empty() {
            out.extend_from_slice(b"[]");
            return Ok(());
        }
        return serde_json::to_writer(&mut *out, &rec.events);
    }
    // (time, chunk?, index): a stable sort keeps chunks (listed first) before events of the
    // same nanosecond, as the model's `model_events` does.
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
            out.push(b',');
        }
        if is_chunk {
            out.extend_from_slice(b"{\"name\":\"");
            out.extend_from_slice(keys::CHUNK_ITEM_PREFIX.as_bytes());
            write_u64(out, i as u64);
            out.extend_from_slice(b"\",\"time_unix_nano\":");
            write_u64(out, time);
            out.extend_from_slice(b",\"attributes\":{");
            write_str(out, keys::CHUNK_VALUE);
            out.push(b':');
            write_str(out, &rec.chunks[i].1);
            out.extend_from_slice(b"}}");
        } else {
            serde_json::to_writer(&mut *out, &rec.events[i])?;
        }
    }
    out.push(b']');
    Ok(())
}

fn write_u64(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    out.extend_from_slice(decimal(n, &mut digits));
}

/// The decimal digits of `n`, written at the end of `buf`: eight digits at a time in 32-bit
/// arithmetic, two digits a step (timestamps have 19 digits).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut i = buf.len();
    let mut put_pair = |i: &mut usize, pair: u32| {
        let p = pair as usize * 2;
        *i -= 2;
        buf[*i..*i + 2].copy_from_slice(&PAIRS[p..p + 2]);
    };
    while n >= 100_000_000 {
        let mut chunk = (n % 100_000_000) as u32;
        n /= 100_000_000;
        for _ in 0..4 {
            put_pair(&mut i, chunk % 100);
            chunk /= 100;
        }
    }
    let mut n = n as u32;
    while n >= 100 {
        put_pair(&mut i, n % 100);
        n /= 100;
    }
    if n >= 10 {
        put_pair(&mut i, n);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    &buf[i..]
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (with padding) of the 8 big-endian bytes: 12 characters.
fn span_id_base64(id: u64) -> [u8; 12] {
    let b = id.to_be_bytes();
    let mut out = [b'='; 12];
    // Two groups of 3 bytes, then 2 bytes (3 characters and one `=`).
    for g in 0..2 {
        let n =
            (u32::from(b[3 * g]) << 16) | (u32::from(b[3 * g + 1]) << 8) | u32::from(b[3 * g + 2]);
        for c in 0..4 {
            out[4 * g + c] = B64[((n >> (18 - 6 * c)) & 63) as usize];
        }
    }
    let n = (u32::from(b[6]) << 16) | (u32::from(b[7]) << 8);
    for c in 0..3 {
        out[8 + c] = B64[((n >> (18 - 6 * c)) & 63) as usize];
    }
    out
}

/// What serde_json writes for each byte: 0 for itself, else the letter after `\` (`u` for
/// `\u00XX`).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Whether any of the 8 bytes is a control character, `"` or `\` (exact for "any").
#[inline]
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (below_space | has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\'))))
        != 0
}

/// Appends `s` as a JSON string literal, escaped exactly as serde_json escapes it.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Bytes from `start` to `i` need no escaping and are not copied yet.
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none needs escaping (the usual case).
        if let Some(word) = bytes[i..].first_chunk::<8>()
            && !word_needs_escape(u64::from_le_bytes(*word))
        {
            i += 8;
            continue;
        }
        // A block with something to escape (or the short end): copy the pending run once,
        // then the block byte by byte (escapes in JSON values come in clusters: `{"a":"b"}`).
        out.extend_from_slice(&bytes[start..i]);
        let end = (i + 8).min(bytes.len());
        for &b in &bytes[i..end] {
            match ESCAPE[b as usize] {
                0 => out.push(b),
                b'u' => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[(b >> 4) as usize],
                        HEX[(b & 0xf) as usize],
                    ]);
                }
                e => out.extend_from_slice(&[b'\\', e]),
            }
        }
        i = end;
        start = end;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é中😀\u{7f}\u{2028}\"\\ end");
        let samples = [
            "",
            "plain",
            "exactly8",
            "sixteen chars ok",
            "\"",
            "\\",
            "a\"b\\c\nd\te\u{1}f\u{1f}",
            "{\"a\":0,\"b\":\"hello\"}",
            "long text without anything to escape in it at all, more than eight bytes",
            "ünïcödé \u{0} nul",
            &all,
        ];
        for s in samples {
            let mut mine = Vec::new();
            write_str(&mut mine, s);
            assert_eq!(
                String::from_utf8(mine).unwrap(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        let mut n = 1u64;
        let mut cases = vec![0, 9, 10, 99, 100, 101, u64::MAX, 1_779_000_000_123_456_789];
        while let Some(m) = n.checked_mul(7) {
            cases.push(m);
            cases.push(m - 1);
            n = m;
        }
        for n in cases {
            let mut out = Vec::new();
            write_u64(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }

    #[test]
    fn span_ids_are_standard_base64() {
        for id in [0, 1, u64::MAX, 0x44d6_05a9_6678_fdd2, 0x0123_4567_89ab_cdef] {
            let sid = crate::SpanId(id);
            assert_eq!(
                std::str::from_utf8(&span_id_base64(id)).unwrap(),
                sid.to_base64()
            );
        }
    }

    #[test]
    fn the_escape_test_of_a_word_finds_every_special_byte() {
        for b in 0..=255u8 {
            let special = b < 0x20 || b == b'"' || b == b'\\';
            for pos in 0..8 {
                let mut word = [b'a'; 8];
                word[pos] = b;
                assert_eq!(
                    word_needs_escape(u64::from_le_bytes(word)),
                    special,
                    "{b} at {pos}"
                );
                // Next to bytes with the high bit set (UTF-8), too.
                let mut word = [0xc3; 8];
                word[pos] = b;
                let high_special = special;
                assert_eq!(word_needs_escape(u64::from_le_bytes(word)), high_special);
            }
        }
    }
}
