//! W3C Trace Context propagation: continue a trace in another process.
//!
//! The calling process [`inject`]s a `traceparent` header (`00-<trace id>-<span id>-<flags>`)
//! for its current span into the outgoing request; the called process [`extract`]s it into a
//! [`Context`] and starts its spans under it (attach the context, or
//! [`SpanBuilder::remote_parent`](crate::SpanBuilder::remote_parent)). Both processes' spans then
//! carry the same trace id, so a backend that receives both (an MLflow server, an OTLP
//! collector) shows one trace.
//!
//! Each process still finalizes and stores its own part: the called process's part is a trace
//! whose root has a parent that is not in it (the caller's span). Until both parts reach the same
//! place, each local store holds only its part; [`read_jsonl`](crate::read_jsonl) merges the
//! parts of a trace written to the same file, and [`merge_trace`](crate::merge_trace) merges parts
//! read elsewhere.
//!
//! Sampling follows the caller: a `traceparent` without the sampled flag gives a context whose
//! spans are not recorded, and an unsampled trace injects a `traceparent` without the flag.
//!
//! `tracestate` is passed through: when a trace was continued from an extracted context, the
//! `tracestate` that came with it (if valid) is written again by every [`inject`] in that trace.
//! It is kept per trace id for the last 1024 extracted traces.
//!
//! ```
//! use std::collections::HashMap;
//! use spanwise_core::{propagation, span, start_span};
//!
//! // Process A: inject the current span into the request headers.
//! let mut headers = HashMap::new();
//! let caller = start_span("call_service");
//! assert!(propagation::inject(&mut headers));
//!
//! // Process B: continue the trace under the caller's span.
//! let ctx = propagation::extract(&headers).unwrap();
//! let handler = span("handle").remote_parent(ctx).start();
//! assert_eq!(handler.trace_id(), caller.trace_id());
//! ```

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{LazyLock, Mutex};

use crate::context::Context;
use crate::error::Error;
use crate::id::{SpanId, TraceId};

/// The name of the W3C `traceparent` header.
pub const TRACEPARENT: &str = "traceparent";

/// The name of the W3C `tracestate` header.
pub const TRACESTATE: &str = "tracestate";

/// Where propagation headers are read from and written to: a map of header names to values.
///
/// Header names are case-insensitive: implementations should find `Traceparent` when asked for
/// `traceparent`. A name given several times should read as its values joined by `,`, as HTTP
/// does (a repeated `traceparent` then fails to parse and is ignored, as the W3C specification
/// requires).
///
/// ```
/// use std::borrow::Cow;
/// use spanwise_core::propagation::Carrier;
///
/// struct Pairs(Vec<(String, String)>);
/// impl Carrier for Pairs {
///     fn get(&self, key: &str) -> Option<Cow<'_, str>> {
///         let mut found = self.0.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str());
///         let first = found.next()?;
///         let rest: Vec<&str> = found.collect();
///         Some(if rest.is_empty() { Cow::Borrowed(first) } else { Cow::Owned([first].into_iter().chain(rest).collect::<Vec<_>>().join(",")) })
///     }
///     fn set(&mut self, key: &str, value: String) {
///         self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
///         self.0.push((key.to_string(), value));
///     }
/// }
/// let mut pairs = Pairs(Vec::new());
/// let _span = spanwise_core::start_span("s");
/// spanwise_core::propagation::inject(&mut pairs);
/// assert!(spanwise_core::propagation::extract(&pairs).is_some());
/// ```
pub trait Carrier {
    /// The value of header `key`, if present.
    fn get(&self, key: &str) -> Option<Cow<'_, str>>;
    /// Sets header `key` to `value`, replacing any value it had.
    fn set(&mut self, key: &str, value: String);
}

impl<S: BuildHasher> Carrier for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        if let Some(v) = HashMap::get(self, key) {
            return Some(Cow::Borrowed(v));
        }
        // Header names are case-insensitive; maps built from requests keep whatever case came.
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| Cow::Borrowed(v.as_str()))
    }

    fn set(&mut self, key: &str, value: String) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(key));
        self.insert(key.to_string(), value);
    }
}

#[cfg(feature = "http")]
impl Carrier for http::HeaderMap {
    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        let mut values = self.get_all(key).iter().map(|v| v.to_str().ok());
        let first = values.next()??;
        let mut joined: Option<String> = None;
        for v in values {
            let s = joined.get_or_insert_with(|| first.to_string());
            s.push(',');
            s.push_str(v?);
        }
        Some(joined.map_or(Cow::Borrowed(first), Cow::Owned))
    }

    fn set(&mut self, key: &str, value: String) {
        // Our header names and values are plain ASCII; anything else is not a header to send.
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::header::HeaderValue::from_str(&value),
        ) {
            self.insert(name, value);
        }
    }
}

/// A parsed W3C `traceparent` value.
///
/// Parsing follows the W3C Trace Context specification: lowercase hex only, version `ff`
/// rejected, version `00` with exactly four fields, later versions read by their first four
/// fields, all-zero trace and parent ids rejected. Spaces and tabs around the value (HTTP
/// whitespace) are ignored.
///
/// ```
/// use spanwise_core::propagation::TraceParent;
/// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap();
/// assert_eq!(tp.trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(tp.sampled);
/// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// assert!("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".parse::<TraceParent>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace id.
    pub trace_id: TraceId,
    /// The id of the calling span (the parent of the spans started under it).
    pub span_id: SpanId,
    /// The sampled flag: whether the caller records this trace.
    pub sampled: bool,
}

const VERSION_00_LEN: usize = 55;

impl TraceParent {
    /// Parses a `traceparent` value; the error says what is wrong with it.
    pub fn parse(value: &str) -> Result<TraceParent, Error> {
        let bad = |why: &str| Error::InvalidId(format!("traceparent {value:?} {why}"));
        let s = value.trim_matches([' ', '\t']);
        if s.is_empty() {
            return Err(bad("is empty"));
        }
        if !s.is_ascii() {
            return Err(bad("holds non-ASCII characters"));
        }
        if s.len() < VERSION_00_LEN {
            return Err(bad("is shorter than 55 characters"));
        }
        let b = s.as_bytes();
        let version = &s[0..2];
        if !is_lower_hex(version) {
            return Err(bad("has a version that is not 2 lowercase hex digits"));
        }
        if version == "ff" {
            return Err(bad("has the forbidden version ff"));
        }
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return Err(bad(
                "does not have the form version-traceid(32)-parentid(16)-flags(2)",
            ));
        }
        let trace = &s[3..35];
        let span = &s[36..52];
        let flags = &s[53..55];
        if !is_lower_hex(trace) {
            return Err(bad("has a trace id that is not 32 lowercase hex digits"));
        }
        if !is_lower_hex(span) {
            return Err(bad("has a parent id that is not 16 lowercase hex digits"));
        }
        if !is_lower_hex(flags) {
            return Err(bad("has flags that are not 2 lowercase hex digits"));
        }
        if version == "00" && s.len() != VERSION_00_LEN {
            return Err(bad("has more than the 4 fields of version 00"));
        }
        // A later version may add fields after a dash; only the first four are read.
        if s.len() > VERSION_00_LEN && b[VERSION_00_LEN] != b'-' {
            return Err(bad("has flags longer than 2 digits"));
        }
        let trace_id = TraceId::from_hex(trace)?;
        let span_id = SpanId::from_hex(span)?;
        if trace_id.0 == 0 {
            return Err(bad("has an all-zero trace id"));
        }
        if span_id.0 == 0 {
            return Err(bad("has an all-zero parent id"));
        }
        let flags = u8::from_str_radix(flags, 16).map_err(|_| bad("has invalid flags"))?;
        Ok(TraceParent {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }
}

impl std::str::FromStr for TraceParent {
    type Err = Error;
    fn from_str(s: &str) -> Result<TraceParent, Error> {
        TraceParent::parse(s)
    }
}

impl fmt::Display for TraceParent {
    /// Writes version `00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id.to_hex(),
            self.span_id.to_hex(),
            u8::from(self.sampled)
        )
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Writes `traceparent` (and `tracestate`, when the trace came from an extracted context) for the
/// current span of this thread into `carrier`. Returns false, writing nothing, when nothing is
/// current.
///
/// In a trace that is not recorded (not sampled), it writes a `traceparent` without the sampled
/// flag, so that the called process does not record its part either.
///
/// ```
/// use std::collections::HashMap;
/// let mut headers: HashMap<String, String> = HashMap::new();
/// assert!(!spanwise_core::propagation::inject(&mut headers)); // nothing current
/// let span = spanwise_core::start_span("call");
/// assert!(spanwise_core::propagation::inject(&mut headers));
/// let tp = &headers["traceparent"];
/// assert!(tp.contains(&span.trace_id().unwrap().to_hex()));
/// assert!(tp.ends_with("-01"));
/// ```
pub fn inject<C: Carrier + ?Sized>(carrier: &mut C) -> bool {
    inject_context(&Context::current(), carrier)
}

/// [`inject`] for a given context instead of the current one (for example a
/// [`Client`](crate::Client) span's, from [`Client::context_of`](crate::Client::context_of)).
///
/// ```
/// use std::collections::HashMap;
/// use spanwise_core::{Client, EndOptions, SpanOptions, propagation};
/// let client = Client::new();
/// let root = client.start_trace("request", SpanOptions::new());
/// let mut headers = HashMap::new();
/// propagation::inject_context(&client.context_of(root.trace_id, root.span_id).unwrap(), &mut headers);
/// let ctx = propagation::extract(&headers).unwrap();
/// assert_eq!(ctx.span_id(), Some(root.span_id));
/// # client.end_trace(root.trace_id, EndOptions::new()).unwrap();
/// ```
pub fn inject_context<C: Carrier + ?Sized>(context: &Context, carrier: &mut C) -> bool {
    let parent = match (context.trace_id(), context.span_id()) {
        (Some(trace_id), Some(span_id)) => TraceParent {
            trace_id,
            span_id,
            sampled: true,
        },
        // An unsampled context has no ids; the called process only needs the flag, so fresh
        // ids carry it (nothing of this trace is recorded anywhere).
        _ if !context.is_sampled() => TraceParent {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            sampled: false,
        },
        _ => return false,
    };
    carrier.set(TRACEPARENT, parent.to_string());
    if parent.sampled
        && let Some(state) = states().get(&parent.trace_id)
    {
        carrier.set(TRACESTATE, state);
    }
    true
}

/// Reads `traceparent` (and `tracestate`) from `carrier`: a context to continue the caller's
/// trace under, or `None` when the header is missing or malformed (as the W3C specification
/// requires, a malformed header is ignored; [`TraceParent::parse`] tells why).
///
/// A caller that does not record the trace (sampled flag off) gives a context whose spans are
/// not recorded either.
///
/// ```
/// use std::collections::HashMap;
/// use spanwise_core::propagation::extract;
/// let mut headers = HashMap::new();
/// headers.insert("traceparent".to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string());
/// let ctx = extract(&headers).unwrap();
/// assert_eq!(ctx.trace_id().unwrap().to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// headers.insert("traceparent".to_string(), "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string());
/// assert!(extract(&headers).is_none());
/// ```
pub fn extract<C: Carrier + ?Sized>(carrier: &C) -> Option<Context> {
    let parent = TraceParent::parse(&carrier.get(TRACEPARENT)?).ok()?;
    if !parent.sampled {
        return Some(Context::unsampled());
    }
    if let Some(state) = carrier
        .get(TRACESTATE)
        .and_then(|s| normalize_tracestate(&s))
    {
        states().insert(parent.trace_id, state);
    }
    Some(Context::remote(parent.trace_id, parent.span_id))
}

/// Most list-members a `tracestate` may hold.
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// Validates a `tracestate` value and returns it without empty members and whitespace; `None`
/// when it is empty or invalid (an invalid `tracestate` is dropped whole, not passed on).
fn normalize_tracestate(raw: &str) -> Option<String> {
    let mut keys = HashSet::new();
    let mut members = Vec::new();
    for member in raw.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let (key, value) = member.split_once('=')?;
        if !valid_key(key) || !valid_value(value) || !keys.insert(key) {
            return None;
        }
        members.push(member);
    }
    if members.is_empty() || members.len() > MAX_TRACESTATE_MEMBERS {
        return None;
    }
    Some(members.join(","))
}

fn key_char(c: u8) -> bool {
    matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/')
}

/// `simple-key` or `tenant-id@system-id`, as the W3C grammar defines them.
fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    match key.split_once('@') {
        None => {
            (1..=256).contains(&b.len())
                && b[0].is_ascii_lowercase()
                && b.iter().all(|&c| key_char(c))
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            (1..=241).contains(&t.len())
                && (t[0].is_ascii_lowercase() || t[0].is_ascii_digit())
                && t.iter().all(|&c| key_char(c))
                && (1..=14).contains(&s.len())
                && s[0].is_ascii_lowercase()
                && s.iter().all(|&c| key_char(c))
        }
    }
}

/// Printable ASCII except `,` and `=`, at most 256 characters, not ending in a space.
fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    (1..=256).contains(&b.len())
        && b.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
        && b[b.len() - 1] != b' '
}

/// How many traces' `tracestate` are remembered.
const REMEMBERED_STATES: usize = 1024;

/// The `tracestate` of extracted traces, by trace id, oldest evicted first.
#[derive(Default)]
struct States {
    map: HashMap<TraceId, String>,
    order: VecDeque<TraceId>,
}

impl States {
    fn get(&self, id: &TraceId) -> Option<String> {
        self.map.get(id).cloned()
    }

    fn insert(&mut self, id: TraceId, state: String) {
        if self.map.insert(id, state).is_none() {
            self.order.push_back(id);
            if self.order.len() > REMEMBERED_STATES
                && let Some(old) = self.order.pop_front()
            {
                self.map.remove(&old);
            }
        }
    }
}

static STATES: LazyLock<Mutex<States>> = LazyLock::new(|| Mutex::new(States::default()));

fn states() -> std::sync::MutexGuard<'static, States> {
    // A poisoned lock only means a panic elsewhere while holding it; the map is still usable.
    STATES.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracestate_is_normalized_or_dropped() {
        assert_eq!(
            normalize_tracestate("rojo=00f067aa0ba902b7, ,congo=t61rcWkgMzE").as_deref(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        assert_eq!(
            normalize_tracestate("fw529a3039@dt=abc").as_deref(),
            Some("fw529a3039@dt=abc")
        );
        assert_eq!(normalize_tracestate(""), None);
        assert_eq!(normalize_tracestate("Rojo=1"), None, "uppercase key");
        assert_eq!(normalize_tracestate("rojo=1,rojo=2"), None, "duplicate key");
        assert_eq!(normalize_tracestate("rojo"), None, "no value");
        assert_eq!(normalize_tracestate("rojo=a=b"), None, "= in value");
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert_eq!(normalize_tracestate(&many.join(",")), None, "33 members");
        assert!(normalize_tracestate(&many[..32].join(",")).is_some());
    }
}
