//! The low-level client API (MLflow's `MlflowClient` tracing calls): spans started and ended by
//! explicit ids, from any function and any thread.
//!
//! A [`Client`] span is not pushed on the thread's stack: parent and child come only from the
//! ids given, and spans made with [`start_span`](crate::start_span) or `#[trace]` do not nest
//! under it unless the caller attaches its context ([`Client::context_of`]).
//!
//! Open client traces live in a process-wide registry until [`Client::end_trace`] (or
//! [`Client::end_span`] on the root) hands them to the collector. A trace that is never ended
//! stays in the registry and is never stored.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use serde::Serialize;

use crate::capture;
use crate::collector::TraceShared;
use crate::context::Context;
use crate::error::Error;
use crate::exception;
use crate::id::{SpanId, TraceId};
use crate::model::{SpanEvent, SpanStatus, SpanType, StatusCode, Trace};
use crate::record::{Json, SpanRecord};
use crate::runtime;
use crate::span::type_str;
use crate::update::TraceUpdate;

/// Name of the event added to a span that was still open when its trace ended.
pub const UNFINISHED_SPAN_EVENT: &str = "spanwise.span_unfinished";

/// Status message of a span that was still open when its trace ended.
pub const UNFINISHED_SPAN_MESSAGE: &str = "span was still open when its trace ended";

/// A handle to spanwise's global runtime for spans identified by explicit ids.
///
/// It is a zero-sized `Copy` value: make one wherever it is needed; every handle sees the same
/// open traces.
///
/// Ending a trace that still has open spans is not an error: each open span is ended at the
/// trace's end time with status ERROR ([`UNFINISHED_SPAN_MESSAGE`]) and an event
/// [`UNFINISHED_SPAN_EVENT`] saying why, so the stored trace shows what was cut short.
///
/// ```
/// use spanwise_core::{Client, EndOptions, SpanOptions, SpanType};
///
/// let client = Client::new();
/// let root = client.start_trace("predict", SpanOptions::new().inputs(serde_json::json!({"x": 2})));
/// let child = client
///     .start_span("double", root.trace_id, root.span_id, SpanOptions::new().span_type(SpanType::Tool))
///     .unwrap();
/// client.end_span(child.trace_id, child.span_id, EndOptions::new().outputs(4)).unwrap();
/// client.end_trace(root.trace_id, EndOptions::new().outputs(4)).unwrap();
///
/// let trace = client.get_trace(&root.trace_id).unwrap();
/// assert_eq!(trace.data.spans.len(), 2);
/// assert_eq!(trace.children(&root.span_id)[0].name, "double");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Client {
    _private: (),
}

/// The ids of a span started through the [`Client`]: what later calls refer to it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpanIds {
    /// The span's trace.
    pub trace_id: TraceId,
    /// The span.
    pub span_id: SpanId,
}

/// How a [`Client`] span starts: span type, inputs, attributes, trace tags and start time.
///
/// Values are encoded to JSON when set.
///
/// ```
/// use spanwise_core::{SpanOptions, SpanType};
/// let options = SpanOptions::new()
///     .span_type(SpanType::Llm)
///     .inputs(serde_json::json!({"prompt": "hi"}))
///     .attribute("model", "gpt-4o-mini")
///     .tag("fruit", "apple")
///     .start_time_ns(1_700_000_000_000_000_000);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default)]
pub struct SpanOptions {
    span_type: Option<Cow<'static, str>>,
    inputs: Option<Json>,
    attributes: Vec<(Cow<'static, str>, String)>,
    tags: BTreeMap<String, String>,
    start_time_ns: Option<u64>,
}

impl SpanOptions {
    /// No options: type `UNKNOWN`, no inputs, starting now.
    pub fn new() -> SpanOptions {
        SpanOptions::default()
    }

    /// Sets the span type (`mlflow.spanType`).
    pub fn span_type(mut self, span_type: SpanType) -> Self {
        self.span_type = Some(type_str(span_type));
        self
    }

    /// Sets the inputs (`mlflow.spanInputs`).
    pub fn inputs<T: Serialize>(mut self, inputs: T) -> Self {
        self.inputs = Some(Json::from(capture::to_json(&inputs)));
        self
    }

    /// Adds one attribute.
    pub fn attribute<T: Serialize>(mut self, key: impl Into<Cow<'static, str>>, value: T) -> Self {
        self.attributes.push((key.into(), capture::to_json(&value)));
        self
    }

    /// Adds the attributes of anything that serializes to a JSON object; other values are
    /// ignored.
    pub fn attributes<T: Serialize>(mut self, attributes: T) -> Self {
        push_object(&mut self.attributes, &attributes);
        self
    }

    /// Adds a tag to the trace (whichever span of it the option is given to).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Sets the start time, in nanoseconds since the Unix epoch (default: now).
    pub fn start_time_ns(mut self, unix_nanos: u64) -> Self {
        self.start_time_ns = Some(unix_nanos);
        self
    }

    fn record(
        self,
        span_id: SpanId,
        parent: Option<SpanId>,
        name: Cow<'static, str>,
    ) -> (SpanRecord, BTreeMap<String, String>) {
        let mut r = SpanRecord::new(span_id, parent, name);
        if let Some(t) = self.span_type {
            r.span_type = t;
        }
        r.inputs = self.inputs;
        for (k, v) in self.attributes {
            r.set_attribute(k, v);
        }
        if let Some(t) = self.start_time_ns {
            r.start = t;
        }
        (r, self.tags)
    }
}

/// How a [`Client`] span or trace ends: outputs, attributes, status, error and end time.
///
/// Without a status the span ends OK, or ERROR when an [`error`](EndOptions::error) was given;
/// an explicit [`status`](EndOptions::status) wins over both.
///
/// ```
/// use spanwise_core::{EndOptions, StatusCode};
/// let ok = EndOptions::new().outputs("done").attribute("tokens", 12);
/// let failed = EndOptions::new().error(&"x".parse::<i32>().unwrap_err());
/// let explicit = EndOptions::new().status(StatusCode::Error).end_time_ns(1_700_000_000_000_000_000);
/// # let _ = (ok, failed, explicit);
/// ```
#[derive(Clone, Debug, Default)]
pub struct EndOptions {
    outputs: Option<Json>,
    attributes: Vec<(Cow<'static, str>, String)>,
    status: Option<SpanStatus>,
    error: Option<(SpanEvent, SpanStatus)>,
    end_time_ns: Option<u64>,
}

impl EndOptions {
    /// No options: status OK, ending now.
    pub fn new() -> EndOptions {
        EndOptions::default()
    }

    /// Sets the outputs (`mlflow.spanOutputs`).
    pub fn outputs<T: Serialize>(mut self, outputs: T) -> Self {
        self.outputs = Some(Json::from(capture::to_json(&outputs)));
        self
    }

    /// Adds one attribute.
    pub fn attribute<T: Serialize>(mut self, key: impl Into<Cow<'static, str>>, value: T) -> Self {
        self.attributes.push((key.into(), capture::to_json(&value)));
        self
    }

    /// Adds the attributes of anything that serializes to a JSON object; other values are
    /// ignored.
    pub fn attributes<T: Serialize>(mut self, attributes: T) -> Self {
        push_object(&mut self.attributes, &attributes);
        self
    }

    /// Sets the status (a [`SpanStatus`] or a [`StatusCode`]).
    pub fn status(mut self, status: impl Into<SpanStatus>) -> Self {
        self.status = Some(status.into());
        self
    }

    /// Records an error as the span's exception (an `exception` event with type, message and
    /// `source()` chain, status ERROR), as [`ActiveSpan::record_error`](crate::ActiveSpan::record_error)
    /// does.
    pub fn error<E: std::error::Error + ?Sized>(mut self, error: &E) -> Self {
        // Recorded on a scratch record so that the event is built exactly as for live spans.
        let mut scratch = SpanRecord::new(SpanId(0), None, Cow::Borrowed(""));
        exception::record_std_error(&mut scratch, error);
        if let Some(event) = scratch.events.pop() {
            self.error = Some((event, scratch.status));
        }
        self
    }

    /// Sets the end time, in nanoseconds since the Unix epoch (default: now).
    pub fn end_time_ns(mut self, unix_nanos: u64) -> Self {
        self.end_time_ns = Some(unix_nanos);
        self
    }

    fn apply(self, r: &mut SpanRecord) {
        if self.outputs.is_some() {
            r.outputs = self.outputs;
        }
        for (k, v) in self.attributes {
            r.set_attribute(k, v);
        }
        if let Some((event, status)) = self.error {
            r.events.push(event);
            r.status = status;
            r.has_exception = true;
        }
        if let Some(s) = self.status {
            r.status = s;
        }
        if r.status.code == StatusCode::Unset {
            r.status = SpanStatus::ok();
        }
        r.end = Some(
            self.end_time_ns
                .unwrap_or_else(crate::clock::now_unix_nanos),
        );
    }
}

fn push_object<T: Serialize>(out: &mut Vec<(Cow<'static, str>, String)>, value: &T) {
    if let serde_json::Value::Object(map) = capture::to_value(value) {
        out.extend(
            map.into_iter()
                .map(|(k, v)| (Cow::Owned(k), capture::to_json(&v))),
        );
    }
}

/// One trace opened by [`Client::start_trace`] and not ended yet.
struct OpenTrace {
    /// `None` when the trace is not recorded (tracing off or not sampled): the ids still work,
    /// so the application's calls behave the same, but nothing is stored.
    shared: Option<Arc<TraceShared>>,
    root: SpanId,
    open: HashMap<SpanId, SpanRecord>,
    ended: HashSet<SpanId>,
    /// Ended spans, handed to the collector together with the root.
    done: Vec<SpanRecord>,
    /// The trace was started by `start_span` or `#[trace]` and client spans joined it: `root`
    /// is not a client span, each client span is handed to the collector when it ends, and the
    /// trace ends when its root does.
    joined: bool,
}

impl OpenTrace {
    fn joined(shared: Arc<TraceShared>) -> OpenTrace {
        OpenTrace {
            root: shared.root_span_id,
            shared: Some(shared),
            open: HashMap::new(),
            ended: HashSet::new(),
            done: Vec::new(),
            joined: true,
        }
    }
}

/// How many ended trace ids are remembered, to tell "already ended" from "unknown" in errors.
const REMEMBERED_ENDED: usize = 1024;

#[derive(Default)]
struct Registry {
    open: HashMap<TraceId, OpenTrace>,
    ended: HashSet<TraceId>,
    ended_order: VecDeque<TraceId>,
}

impl Registry {
    fn remember_ended(&mut self, id: TraceId) {
        if self.ended.insert(id) {
            self.ended_order.push_back(id);
            if self.ended_order.len() > REMEMBERED_ENDED
                && let Some(old) = self.ended_order.pop_front()
            {
                self.ended.remove(&old);
            }
        }
    }

    fn trace(&mut self, id: TraceId) -> Result<&mut OpenTrace, Error> {
        let ended = self.ended.contains(&id);
        self.open
            .get_mut(&id)
            .ok_or_else(|| unknown_trace(id, ended))
    }

    /// The open trace holding `span`, other than `except`.
    fn owner_of(&self, span: SpanId, except: TraceId) -> Option<TraceId> {
        self.open
            .iter()
            .find(|(id, t)| {
                **id != except && (t.open.contains_key(&span) || t.ended.contains(&span))
            })
            .map(|(id, _)| *id)
    }
}

fn unknown_trace(id: TraceId, ended: bool) -> Error {
    if ended {
        Error::InvalidSpan(format!("trace {id} already ended"))
    } else {
        Error::InvalidSpan(format!(
            "trace {id} is not open in the client: start it with Client::start_trace"
        ))
    }
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(|| Mutex::new(Registry::default()));

fn registry() -> MutexGuard<'static, Registry> {
    // A poisoned lock only means a panic elsewhere while holding it; the map is still usable.
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

impl Client {
    /// A handle to the global runtime.
    pub fn new() -> Client {
        Client { _private: () }
    }

    /// Starts a new trace with a root span named `name`; returns the root's ids.
    ///
    /// The trace is recorded unless tracing is disabled or the root is not sampled; either way
    /// the returned ids work with the other calls.
    pub fn start_trace(&self, name: impl Into<Cow<'static, str>>, options: SpanOptions) -> SpanIds {
        let span_id = SpanId::random();
        let trace_id = TraceId::random();
        let shared = if runtime::is_enabled() {
            runtime::ensure_started();
            runtime::sample().then(|| TraceShared::new(trace_id, span_id))
        } else {
            None
        };
        let (record, tags) = options.record(span_id, None, name.into());
        if let Some(s) = &shared
            && !tags.is_empty()
        {
            s.apply_update(tags_update(tags));
        }
        let trace = OpenTrace {
            shared,
            root: span_id,
            open: HashMap::from([(span_id, record)]),
            ended: HashSet::new(),
            done: Vec::new(),
            joined: false,
        };
        registry().open.insert(trace_id, trace);
        SpanIds { trace_id, span_id }
    }

    /// Starts a span named `name` in `trace_id`, as a child of `parent_id` (an open or ended
    /// span of that trace); returns its ids.
    ///
    /// The trace may also be one started by [`start_span`](crate::start_span) or `#[trace]`, with
    /// `parent_id` a span of it that is live on this thread (ids from
    /// [`current_span`](crate::current_span)), as MLflow's client joins a fluent-API span: the
    /// client span joins that trace, is stored when it ends, and the trace ends when its root
    /// does.
    ///
    /// Errors with [`Error::InvalidSpan`] when the trace is not open in the client, or the parent
    /// is not a span of it.
    ///
    /// ```
    /// use spanwise_core::{Client, EndOptions, SpanOptions};
    /// let client = Client::new();
    /// let trace_id = {
    ///     let parent = spanwise_core::start_span("parent");
    ///     let (trace_id, parent_id) = (parent.trace_id().unwrap(), parent.span_id().unwrap());
    ///     let child = client.start_span("child", trace_id, parent_id, SpanOptions::new()).unwrap();
    ///     client.end_span(child.trace_id, child.span_id, EndOptions::new()).unwrap();
    ///     trace_id
    /// };
    /// let trace = client.get_trace(&trace_id).unwrap();
    /// assert_eq!(trace.data.spans.len(), 2);
    /// ```
    ///
    /// ```
    /// use spanwise_core::{Client, Error, SpanOptions};
    /// let client = Client::new();
    /// let a = client.start_trace("a", SpanOptions::new());
    /// let b = client.start_trace("b", SpanOptions::new());
    /// let err = client.start_span("x", a.trace_id, b.span_id, SpanOptions::new()).unwrap_err();
    /// assert!(matches!(err, Error::InvalidSpan(_)));
    /// # client.end_trace(a.trace_id, Default::default()).unwrap();
    /// # client.end_trace(b.trace_id, Default::default()).unwrap();
    /// ```
    pub fn start_span(
        &self,
        name: impl Into<Cow<'static, str>>,
        trace_id: TraceId,
        parent_id: SpanId,
        options: SpanOptions,
    ) -> Result<SpanIds, Error> {
        let span_id = SpanId::random();
        let (record, tags) = options.record(span_id, Some(parent_id), name.into());
        // Looked up before the registry is locked: a span of this thread's stack.
        let live = crate::context::live_span_trace(trace_id, parent_id);
        let shared = {
            let mut reg = registry();
            if let Some(shared) = &live {
                reg.open
                    .entry(trace_id)
                    .or_insert_with(|| OpenTrace::joined(shared.clone()));
            }
            let trace = reg.trace(trace_id)?;
            let known = live.is_some()
                || trace.open.contains_key(&parent_id)
                || trace.ended.contains(&parent_id);
            if !known {
                return Err(match reg.owner_of(parent_id, trace_id) {
                    Some(other) => Error::InvalidSpan(format!(
                        "parent span {parent_id} belongs to trace {other}, not {trace_id}"
                    )),
                    None => Error::InvalidSpan(format!(
                        "parent span {parent_id} is not a span of trace {trace_id}"
                    )),
                });
            }
            trace.open.insert(span_id, record);
            trace.shared.clone()
        };
        if let Some(s) = shared
            && !tags.is_empty()
        {
            s.apply_update(tags_update(tags));
        }
        Ok(SpanIds { trace_id, span_id })
    }

    /// Ends a span with `options`. Ending the root ends the trace, as [`Client::end_trace`].
    ///
    /// Errors with [`Error::InvalidSpan`] when the trace is not open in the client, or the span
    /// is unknown or already ended.
    ///
    /// ```
    /// use spanwise_core::{Client, EndOptions, Error, SpanOptions};
    /// let client = Client::new();
    /// let root = client.start_trace("root", SpanOptions::new());
    /// let s = client.start_span("step", root.trace_id, root.span_id, SpanOptions::new()).unwrap();
    /// client.end_span(s.trace_id, s.span_id, EndOptions::new()).unwrap();
    /// let again = client.end_span(s.trace_id, s.span_id, EndOptions::new());
    /// assert!(matches!(again, Err(Error::InvalidSpan(_))));
    /// # client.end_trace(root.trace_id, EndOptions::new()).unwrap();
    /// ```
    pub fn end_span(
        &self,
        trace_id: TraceId,
        span_id: SpanId,
        options: EndOptions,
    ) -> Result<(), Error> {
        let finished = {
            let mut reg = registry();
            let trace = reg.trace(trace_id)?;
            if trace.joined {
                let ended = end_joined(&mut reg, trace_id, span_id, options)?;
                drop(reg);
                // Outside the registry lock, as `finish`: publication runs user processors.
                if let Some((shared, record)) = ended {
                    shared.hand_over(&mut vec![record]);
                }
                return Ok(());
            }
            if span_id == trace.root {
                let open = reg.open.remove(&trace_id);
                reg.remember_ended(trace_id);
                open
            } else {
                let Some(mut record) = trace.open.remove(&span_id) else {
                    return Err(if trace.ended.contains(&span_id) {
                        Error::InvalidSpan(format!(
                            "span {span_id} of trace {trace_id} already ended"
                        ))
                    } else {
                        Error::InvalidSpan(format!(
                            "span {span_id} is not a span of trace {trace_id}"
                        ))
                    });
                };
                options.apply(&mut record);
                trace.ended.insert(span_id);
                trace.done.push(record);
                return Ok(());
            }
        };
        if let Some(trace) = finished {
            finish(trace, options);
        }
        Ok(())
    }

    /// Ends the trace: its root gets `options`; spans still open are ended with status ERROR and
    /// an event saying why (see [`Client`]). The trace is then finalized and stored.
    ///
    /// Errors with [`Error::InvalidSpan`] when the trace is not open in the client.
    ///
    /// ```
    /// use spanwise_core::{Client, EndOptions, SpanOptions, StatusCode, UNFINISHED_SPAN_EVENT};
    /// let client = Client::new();
    /// let root = client.start_trace("root", SpanOptions::new());
    /// let left_open = client.start_span("forgotten", root.trace_id, root.span_id, SpanOptions::new()).unwrap();
    /// client.end_trace(root.trace_id, EndOptions::new().outputs("ok")).unwrap();
    /// let trace = client.get_trace(&root.trace_id).unwrap();
    /// let span = trace.span(&left_open.span_id).unwrap();
    /// assert_eq!(span.status.code, StatusCode::Error);
    /// assert_eq!(span.events[0].name, UNFINISHED_SPAN_EVENT);
    /// ```
    pub fn end_trace(&self, trace_id: TraceId, options: EndOptions) -> Result<(), Error> {
        let trace = {
            let mut reg = registry();
            if reg.trace(trace_id)?.joined {
                return Err(Error::InvalidSpan(format!(
                    "trace {trace_id} was started by start_span or #[trace]: it ends when its root span ends"
                )));
            }
            let open = reg.open.remove(&trace_id);
            reg.remember_ended(trace_id);
            open
        };
        if let Some(trace) = trace {
            finish(trace, options);
        }
        Ok(())
    }

    /// Merges `update` (tags, metadata, previews, state, ...) into an open client trace, as
    /// [`update_current_trace`](crate::update_current_trace) does for the current trace.
    ///
    /// ```
    /// use spanwise_core::{Client, EndOptions, SpanOptions, TraceUpdate};
    /// let client = Client::new();
    /// let root = client.start_trace("root", SpanOptions::new());
    /// client.update_trace(root.trace_id, TraceUpdate::new().tag("fruit", "apple")).unwrap();
    /// client.end_trace(root.trace_id, EndOptions::new()).unwrap();
    /// assert_eq!(client.get_trace(&root.trace_id).unwrap().info.tags["fruit"], "apple");
    /// ```
    pub fn update_trace(&self, trace_id: TraceId, update: TraceUpdate) -> Result<(), Error> {
        let shared = registry().trace(trace_id)?.shared.clone();
        if let Some(s) = shared {
            s.apply_update(update);
        }
        Ok(())
    }

    /// A completed trace from the in-memory store (`None` until the trace has ended).
    pub fn get_trace(&self, trace_id: &TraceId) -> Option<Trace> {
        runtime::get_trace(trace_id)
    }

    /// The context of a span of an open client trace: attach it to make spans started with
    /// [`start_span`](crate::start_span) or `#[trace]` its children, or pass it to
    /// [`propagation::inject_context`](crate::propagation::inject_context).
    ///
    /// ```
    /// use spanwise_core::{Client, EndOptions, SpanOptions};
    /// let client = Client::new();
    /// let root = client.start_trace("request", SpanOptions::new());
    /// {
    ///     let _attached = client.context_of(root.trace_id, root.span_id).unwrap().attach();
    ///     let _inner = spanwise_core::start_span("nested"); // a child of the client's root
    /// }
    /// client.end_trace(root.trace_id, EndOptions::new()).unwrap();
    /// let trace = client.get_trace(&root.trace_id).unwrap();
    /// assert_eq!(trace.children(&root.span_id)[0].name, "nested");
    /// ```
    pub fn context_of(&self, trace_id: TraceId, span_id: SpanId) -> Result<Context, Error> {
        let mut reg = registry();
        let trace = reg.trace(trace_id)?;
        if !trace.open.contains_key(&span_id) && !trace.ended.contains(&span_id) {
            return Err(Error::InvalidSpan(format!(
                "span {span_id} is not a span of trace {trace_id}"
            )));
        }
        Ok(match &trace.shared {
            Some(s) => Context::local(s.clone(), span_id),
            None => Context::unsampled(),
        })
    }
}

/// Ends a client span of a trace it joined; returns it with its trace, for the caller to hand
/// to the collector at once (the trace's own spans are not the client's to end). The entry
/// goes when no client span of it is open.
fn end_joined(
    reg: &mut Registry,
    trace_id: TraceId,
    span_id: SpanId,
    options: EndOptions,
) -> Result<Option<(Arc<TraceShared>, SpanRecord)>, Error> {
    let trace = reg.trace(trace_id)?;
    let Some(mut record) = trace.open.remove(&span_id) else {
        return Err(Error::InvalidSpan(if trace.ended.contains(&span_id) {
            format!("span {span_id} of trace {trace_id} already ended")
        } else {
            format!("span {span_id} is not a client span of trace {trace_id}")
        }));
    };
    options.apply(&mut record);
    trace.ended.insert(span_id);
    let shared = trace.shared.clone();
    if trace.open.is_empty() {
        reg.open.remove(&trace_id);
    }
    // A span ending after the trace's root is a late span: the trace is stored again with it.
    Ok(shared.map(|s| (s, record)))
}

fn tags_update(tags: BTreeMap<String, String>) -> TraceUpdate {
    let mut update = TraceUpdate::new();
    update.tags = tags;
    update
}

/// Ends a trace taken out of the registry: open spans first, then the root, then hands all of it
/// to the collector (outside the registry lock: finalization runs user processors).
fn finish(mut trace: OpenTrace, options: EndOptions) {
    let Some(mut root) = trace.open.remove(&trace.root) else {
        return;
    };
    options.apply(&mut root);
    let end = root.end.unwrap_or_else(crate::clock::now_unix_nanos);
    for (_, mut span) in trace.open.drain() {
        let mut event = SpanEvent::new(UNFINISHED_SPAN_EVENT);
        event.time_unix_nano = end;
        span.events
            .push(event.with_attribute("reason", UNFINISHED_SPAN_MESSAGE));
        span.status = SpanStatus::error(UNFINISHED_SPAN_MESSAGE);
        span.end = Some(end.max(span.start));
        trace.done.push(span);
    }
    trace.done.push(root);
    if let Some(shared) = trace.shared {
        shared.hand_over(&mut trace.done);
    }
}
