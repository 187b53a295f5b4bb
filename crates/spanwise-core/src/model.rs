//! The trace data model, in MLflow's JSON form (`Trace.to_json()`).
//!
//! A [`Trace`] is a [`TraceInfo`] plus the [`Span`]s of its [`TraceData`]. Span attributes are
//! kept as MLflow keeps them, JSON-encoded strings; the helpers on [`Span`] decode them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::Error;
use crate::id::{SpanId, TraceId};

/// Attribute, event and metadata keys that MLflow gives a meaning to.
pub mod keys {
    /// Span attribute: the `tr-…` id of the span's trace.
    pub const TRACE_REQUEST_ID: &str = "mlflow.traceRequestId";
    /// Span attribute: the span type.
    pub const SPAN_TYPE: &str = "mlflow.spanType";
    /// Span attribute: the inputs.
    pub const SPAN_INPUTS: &str = "mlflow.spanInputs";
    /// Span attribute: the outputs.
    pub const SPAN_OUTPUTS: &str = "mlflow.spanOutputs";
    /// Span attribute: the traced function's name.
    pub const SPAN_FUNCTION_NAME: &str = "mlflow.spanFunctionName";
    /// Span attribute: the log level (10 debug, 20 info, 40 error).
    pub const SPAN_LOG_LEVEL: &str = "mlflow.spanLogLevel";
    /// Span attribute: token usage of a model call.
    pub const TOKEN_USAGE: &str = "mlflow.chat.tokenUsage";
    /// Span attribute: the tool definitions offered to a model.
    pub const CHAT_TOOLS: &str = "mlflow.chat.tools";
    /// Span attribute: the model that served a call.
    pub const LLM_MODEL: &str = "mlflow.llm.model";
    /// Span attribute: the provider of a model (`"openai"`, …).
    pub const LLM_PROVIDER: &str = "mlflow.llm.provider";
    /// Span attribute: the cost of a model call.
    pub const LLM_COST: &str = "mlflow.llm.cost";
    /// Span attribute: the format of a chat span's inputs and outputs (`"openai"`).
    pub const MESSAGE_FORMAT: &str = "mlflow.message.format";
    /// Trace metadata: the token usage summed over the trace's spans.
    pub const TRACE_TOKEN_USAGE: &str = "mlflow.trace.tokenUsage";
    /// Trace metadata: the cost summed over the trace's spans.
    pub const TRACE_COST: &str = "mlflow.trace.cost";
    /// Trace metadata: the trace schema version (`"3"`).
    pub const SCHEMA_VERSION: &str = "mlflow.trace_schema.version";
    /// Trace metadata: the root span's inputs.
    pub const TRACE_INPUTS: &str = "mlflow.traceInputs";
    /// Trace metadata: the root span's outputs.
    pub const TRACE_OUTPUTS: &str = "mlflow.traceOutputs";
    /// Trace metadata: the session id.
    pub const TRACE_SESSION: &str = "mlflow.trace.session";
    /// Trace metadata: the user.
    pub const TRACE_USER: &str = "mlflow.trace.user";
    /// Trace tag: the trace's name (the root span's name).
    pub const TRACE_NAME: &str = "mlflow.traceName";
    /// Event name of a recorded error or panic.
    pub const EXCEPTION_EVENT: &str = "exception";
    /// Event attribute: the error's type.
    pub const EXCEPTION_TYPE: &str = "exception.type";
    /// Event attribute: the error's message.
    pub const EXCEPTION_MESSAGE: &str = "exception.message";
    /// Event attribute: the error's source chain, location or backtrace.
    pub const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";
    /// Prefix of the per-item event of a traced iterator or stream.
    pub const CHUNK_ITEM_PREFIX: &str = "mlflow.chunk.item.";
    /// Event attribute: the JSON of one streamed item.
    pub const CHUNK_VALUE: &str = "mlflow.chunk.value";
}

/// A whole trace: its info and its spans.
///
/// ```
/// # use spanwise_core::Trace;
/// let json = r#"{"info": {"trace_id": "tr-8069a0265eec15a1d9bbfa62bf64cbf6",
///   "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "1"}},
///   "request_time": "2026-11-22T01:46:21.714Z", "state": "OK", "trace_metadata": {}, "tags": {},
///   "execution_duration_ms": 34}, "data": {"spans": []}}"#;
/// let trace = Trace::from_json(json).unwrap();
/// assert_eq!(trace.info.execution_duration_ms, Some(34));
/// assert!(trace.root().is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Trace-level facts: id, state, previews, tags, metadata.
    pub info: TraceInfo,
    /// The spans.
    pub data: TraceData,
}

/// The spans of a trace, in start order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceData {
    /// The spans, in start order.
    pub spans: Vec<Span>,
}

/// Trace-level facts, as MLflow's `TraceInfo`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceInfo {
    /// The trace id.
    pub trace_id: TraceId,
    /// An id the application gave the request, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<String>,
    /// Where the trace lives: an MLflow experiment.
    #[serde(default)]
    pub trace_location: TraceLocation,
    /// When the root span started.
    #[serde(with = "rfc3339_millis")]
    pub request_time: DateTime<Utc>,
    /// The trace's state.
    pub state: TraceState,
    /// Key-value metadata (MLflow's and the application's).
    #[serde(default)]
    pub trace_metadata: BTreeMap<String, String>,
    /// Tags: `mlflow.traceName` and the application's.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// What the UI shows in its Request column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_preview: Option<String>,
    /// What the UI shows in its Response column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_preview: Option<String>,
    /// The root span's duration in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_duration_ms: Option<u64>,
}

/// Where a trace is kept in MLflow. spanwise writes MLflow's Default experiment, `"0"`, unless
/// told otherwise ([`Config::experiment_id`](crate::Config::experiment_id), `MLFLOW_EXPERIMENT_ID`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceLocation {
    /// The location's kind, `"MLFLOW_EXPERIMENT"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The experiment, for an experiment location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlflow_experiment: Option<ExperimentLocation>,
}

/// An MLflow experiment id, inside [`TraceLocation`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentLocation {
    /// The experiment id.
    pub experiment_id: String,
}

impl Default for TraceLocation {
    fn default() -> Self {
        TraceLocation::experiment("0")
    }
}

impl TraceLocation {
    /// An MLflow experiment location.
    ///
    /// ```
    /// let loc = spanwise_core::TraceLocation::experiment("7");
    /// assert_eq!(loc.mlflow_experiment.unwrap().experiment_id, "7");
    /// ```
    pub fn experiment(id: impl Into<String>) -> TraceLocation {
        TraceLocation {
            kind: "MLFLOW_EXPERIMENT".to_string(),
            mlflow_experiment: Some(ExperimentLocation {
                experiment_id: id.into(),
            }),
        }
    }
}

/// The state of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum TraceState {
    /// Finished without error.
    #[serde(rename = "OK")]
    Ok,
    /// The root span failed, or the application said so.
    #[serde(rename = "ERROR")]
    Error,
    /// Not finished.
    #[serde(rename = "IN_PROGRESS")]
    InProgress,
    /// Unknown.
    #[default]
    #[serde(rename = "STATE_UNSPECIFIED")]
    Unspecified,
}

impl TraceState {
    /// MLflow's string for this state.
    pub fn as_str(&self) -> &'static str {
        match self {
            TraceState::Ok => "OK",
            TraceState::Error => "ERROR",
            TraceState::InProgress => "IN_PROGRESS",
            TraceState::Unspecified => "STATE_UNSPECIFIED",
        }
    }
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TraceState {
    type Err = Error;
    /// Parses MLflow's strings (`OK`, `ERROR`, `IN_PROGRESS`, `STATE_UNSPECIFIED`), ignoring case.
    ///
    /// ```
    /// use spanwise_core::TraceState;
    /// assert_eq!("error".parse::<TraceState>().unwrap(), TraceState::Error);
    /// assert!("done".parse::<TraceState>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<TraceState, Error> {
        match s.to_ascii_uppercase().as_str() {
            "OK" => Ok(TraceState::Ok),
            "ERROR" => Ok(TraceState::Error),
            "IN_PROGRESS" => Ok(TraceState::InProgress),
            "STATE_UNSPECIFIED" | "UNSPECIFIED" => Ok(TraceState::Unspecified),
            _ => Err(Error::Config {
                key: "state".into(),
                message: format!("{s:?} is not one of OK, ERROR, IN_PROGRESS, STATE_UNSPECIFIED"),
            }),
        }
    }
}

/// One span of a trace, as in MLflow's span JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// The trace's id (base64 in the JSON).
    #[serde(with = "b64_trace_id")]
    pub trace_id: TraceId,
    /// This span's id.
    pub span_id: SpanId,
    /// The parent's id; `None` for the root.
    pub parent_span_id: Option<SpanId>,
    /// The span's name (after duplicate names got their `_1`, `_2` suffixes).
    pub name: String,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End, in nanoseconds since the Unix epoch; `None` while the span is open.
    pub end_time_unix_nano: Option<u64>,
    /// Status code and message.
    #[serde(default)]
    pub status: SpanStatus,
    /// Events: exceptions, stream chunks, and what the application added.
    #[serde(default)]
    pub events: Vec<SpanEvent>,
    /// Attributes: key → JSON-encoded value (a string `x` is stored as `"\"x\""`).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Links to other spans (kept as read; spanwise writes none).
    #[serde(default)]
    pub links: Vec<Value>,
}

impl Span {
    /// Decodes one attribute.
    ///
    /// ```
    /// # use spanwise_core::{Span, SpanId, TraceId};
    /// let mut span = Span::new(TraceId(1), SpanId(2), None, "s", 0);
    /// span.attributes.insert("model".into(), "\"gpt\"".into());
    /// assert_eq!(span.attribute("model"), Some(serde_json::json!("gpt")));
    /// assert_eq!(span.attribute("missing"), None);
    /// ```
    pub fn attribute(&self, key: &str) -> Option<Value> {
        let raw = self.attributes.get(key)?;
        Some(serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone())))
    }

    /// A bare span with no attributes, events, or end; a starting point for building spans by hand.
    pub fn new(
        trace_id: TraceId,
        span_id: SpanId,
        parent_span_id: Option<SpanId>,
        name: impl Into<String>,
        start_time_unix_nano: u64,
    ) -> Span {
        Span {
            trace_id,
            span_id,
            parent_span_id,
            name: name.into(),
            start_time_unix_nano,
            end_time_unix_nano: None,
            status: SpanStatus::default(),
            events: Vec::new(),
            attributes: BTreeMap::new(),
            links: Vec::new(),
        }
    }

    /// The decoded `mlflow.spanInputs`.
    pub fn inputs(&self) -> Option<Value> {
        self.attribute(keys::SPAN_INPUTS)
    }

    /// The decoded `mlflow.spanOutputs`.
    pub fn outputs(&self) -> Option<Value> {
        self.attribute(keys::SPAN_OUTPUTS)
    }

    /// The span type; [`SpanType::Unknown`] when none is recorded.
    pub fn span_type(&self) -> SpanType {
        match self.attribute(keys::SPAN_TYPE) {
            Some(Value::String(s)) => s.parse().unwrap_or(SpanType::Unknown),
            _ => SpanType::Unknown,
        }
    }

    /// End minus start; `None` while the span is open.
    pub fn duration(&self) -> Option<Duration> {
        let end = self.end_time_unix_nano?;
        Some(Duration::from_nanos(
            end.saturating_sub(self.start_time_unix_nano),
        ))
    }

    /// The events named `exception`.
    pub fn exceptions(&self) -> impl Iterator<Item = &SpanEvent> {
        self.events
            .iter()
            .filter(|e| e.name == keys::EXCEPTION_EVENT)
    }
}

/// A span's status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanStatus {
    /// OK, ERROR or UNSET.
    pub code: StatusCode,
    /// For an error, `"<Type>: <message>"`.
    #[serde(default)]
    pub message: String,
}

impl SpanStatus {
    /// An OK status.
    pub fn ok() -> SpanStatus {
        SpanStatus {
            code: StatusCode::Ok,
            message: String::new(),
        }
    }

    /// An error status with a message.
    ///
    /// ```
    /// let s = spanwise_core::SpanStatus::error("ValueError: bad");
    /// assert_eq!(s.code, spanwise_core::StatusCode::Error);
    /// ```
    pub fn error(message: impl Into<String>) -> SpanStatus {
        SpanStatus {
            code: StatusCode::Error,
            message: message.into(),
        }
    }
}

/// A span's status code, as OpenTelemetry's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StatusCode {
    /// Not set.
    #[default]
    #[serde(rename = "STATUS_CODE_UNSET", alias = "UNSET")]
    Unset,
    /// Succeeded.
    #[serde(rename = "STATUS_CODE_OK", alias = "OK")]
    Ok,
    /// Failed.
    #[serde(rename = "STATUS_CODE_ERROR", alias = "ERROR")]
    Error,
}

/// Something that happened during a span, with plain (not JSON-encoded) attribute values.
///
/// ```
/// let ev = spanwise_core::SpanEvent::new("retry").with_attribute("attempt", 2);
/// assert_eq!(ev.attributes["attempt"], serde_json::json!(2));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    /// The event's name.
    pub name: String,
    /// When it happened, in nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Plain values.
    #[serde(default)]
    pub attributes: BTreeMap<String, Value>,
}

impl SpanEvent {
    /// An event named `name`, timed now.
    pub fn new(name: impl Into<String>) -> SpanEvent {
        SpanEvent {
            name: name.into(),
            time_unix_nano: crate::clock::now_unix_nanos(),
            attributes: BTreeMap::new(),
        }
    }

    /// Adds an attribute; a value that cannot be serialized becomes an error marker string.
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Serialize) -> SpanEvent {
        self.attributes
            .insert(key.into(), crate::capture::to_value(&value));
        self
    }
}

/// The kind of a span, as MLflow's `SpanType`.
///
/// ```
/// use spanwise_core::SpanType;
/// assert_eq!(SpanType::ChatModel.to_string(), "CHAT_MODEL");
/// assert_eq!("func".parse::<SpanType>().unwrap(), SpanType::Custom("func".into()));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpanType {
    /// A call to a language model.
    Llm,
    /// A chain of steps.
    Chain,
    /// An agent.
    Agent,
    /// A tool call.
    Tool,
    /// A call to a chat model.
    ChatModel,
    /// A retrieval.
    Retriever,
    /// A parser.
    Parser,
    /// An embedding call.
    Embedding,
    /// A reranker.
    Reranker,
    /// Memory access.
    Memory,
    /// The default.
    #[default]
    Unknown,
    /// A workflow.
    Workflow,
    /// A task.
    Task,
    /// A guardrail.
    Guardrail,
    /// An evaluator.
    Evaluator,
    /// Any other string.
    Custom(String),
}

impl SpanType {
    /// MLflow's string for this type.
    pub fn as_str(&self) -> &str {
        match self {
            SpanType::Custom(s) => s,
            builtin => builtin.static_str().unwrap_or("UNKNOWN"),
        }
    }

    /// MLflow's string for a built-in type; `None` for `Custom`. The one table of the built-in
    /// strings (spans keep them borrowed, without allocating).
    pub(crate) fn static_str(&self) -> Option<&'static str> {
        Some(match self {
            SpanType::Llm => "LLM",
            SpanType::Chain => "CHAIN",
            SpanType::Agent => "AGENT",
            SpanType::Tool => "TOOL",
            SpanType::ChatModel => "CHAT_MODEL",
            SpanType::Retriever => "RETRIEVER",
            SpanType::Parser => "PARSER",
            SpanType::Embedding => "EMBEDDING",
            SpanType::Reranker => "RERANKER",
            SpanType::Memory => "MEMORY",
            SpanType::Unknown => "UNKNOWN",
            SpanType::Workflow => "WORKFLOW",
            SpanType::Task => "TASK",
            SpanType::Guardrail => "GUARDRAIL",
            SpanType::Evaluator => "EVALUATOR",
            SpanType::Custom(_) => return None,
        })
    }

    /// MLflow's default log level for spans of this type: 20 for model, tool, retriever, agent
    /// and embedding spans, 10 otherwise.
    pub fn default_log_level(&self) -> u8 {
        match self {
            SpanType::Llm
            | SpanType::ChatModel
            | SpanType::Tool
            | SpanType::Retriever
            | SpanType::Agent
            | SpanType::Embedding => 20,
            _ => 10,
        }
    }
}

impl fmt::Display for SpanType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SpanType {
    type Err = std::convert::Infallible;
    /// Built-in names map to their variants; anything else is [`SpanType::Custom`].
    fn from_str(s: &str) -> Result<SpanType, Self::Err> {
        Ok(match s {
            "LLM" => SpanType::Llm,
            "CHAIN" => SpanType::Chain,
            "AGENT" => SpanType::Agent,
            "TOOL" => SpanType::Tool,
            "CHAT_MODEL" => SpanType::ChatModel,
            "RETRIEVER" => SpanType::Retriever,
            "PARSER" => SpanType::Parser,
            "EMBEDDING" => SpanType::Embedding,
            "RERANKER" => SpanType::Reranker,
            "MEMORY" => SpanType::Memory,
            "UNKNOWN" => SpanType::Unknown,
            "WORKFLOW" => SpanType::Workflow,
            "TASK" => SpanType::Task,
            "GUARDRAIL" => SpanType::Guardrail,
            "EVALUATOR" => SpanType::Evaluator,
            other => SpanType::Custom(other.to_string()),
        })
    }
}

impl From<&str> for SpanType {
    fn from(s: &str) -> SpanType {
        s.parse().unwrap_or(SpanType::Unknown)
    }
}

impl From<String> for SpanType {
    fn from(s: String) -> SpanType {
        SpanType::from(s.as_str())
    }
}

impl Serialize for SpanType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SpanType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SpanType, D::Error> {
        let s = String::deserialize(d)?;
        Ok(SpanType::from(s))
    }
}

impl Serialize for SpanId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for SpanId {
    /// Reads base64 (what MLflow writes); 16 hex digits are accepted too.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SpanId, D::Error> {
        let s = String::deserialize(d)?;
        SpanId::from_base64(&s)
            .or_else(|e| {
                if s.len() == 16 {
                    SpanId::from_hex(&s)
                } else {
                    Err(e)
                }
            })
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for TraceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TraceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TraceId, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

mod b64_trace_id {
    use super::*;

    pub fn serialize<S: Serializer>(id: &TraceId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&id.to_base64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TraceId, D::Error> {
        let s = String::deserialize(d)?;
        TraceId::from_base64(&s)
            .or_else(|e| s.parse().map_err(|_| e))
            .map_err(serde::de::Error::custom)
    }
}

mod rfc3339_millis {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        // The same text as the format string `%Y-%m-%dT%H:%M:%S%.3fZ`, by chrono's direct
        // RFC 3339 writer: the format string was parsed again for every trace written.
        s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

impl Trace {
    /// MLflow's JSON for this trace (`Trace.to_json()`), on one line.
    pub fn to_json(&self) -> String {
        // Serializing plain maps, strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// MLflow's JSON, indented.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads MLflow's JSON (`Trace.to_json()`).
    pub fn from_json(json: &str) -> Result<Trace, Error> {
        Ok(serde_json::from_str(json)?)
    }

    /// The root span: the first span without a parent in this trace.
    ///
    /// A trace continued from another process has a root whose parent is remote; then the first
    /// span whose parent is not among this trace's spans is returned.
    pub fn root(&self) -> Option<&Span> {
        self.data
            .spans
            .iter()
            .find(|s| s.parent_span_id.is_none())
            .or_else(|| {
                self.data
                    .spans
                    .iter()
                    .find(|s| s.parent_span_id.is_some_and(|p| self.span(&p).is_none()))
            })
    }

    /// The earliest start and the latest end of the trace's spans, in Unix nanoseconds (a span
    /// still open counts up to its start); `(0, 0)` for a trace without spans. What a timeline
    /// of the trace spans.
    ///
    /// ```
    /// let root = spanwise_core::start_span("root");
    /// drop(spanwise_core::start_span("child"));
    /// let id = root.trace_id().unwrap();
    /// drop(root);
    /// let trace = spanwise_core::get_trace(&id).unwrap();
    /// let (start, end) = trace.time_range();
    /// assert_eq!(start, trace.root().unwrap().start_time_unix_nano);
    /// assert!(end >= start);
    /// ```
    pub fn time_range(&self) -> (u64, u64) {
        let spans = &self.data.spans;
        let start = spans
            .iter()
            .map(|s| s.start_time_unix_nano)
            .min()
            .unwrap_or(0);
        let end = spans
            .iter()
            .map(|s| s.end_time_unix_nano.unwrap_or(s.start_time_unix_nano))
            .max()
            .unwrap_or(start);
        (start, end)
    }

    /// The span with this id.
    pub fn span(&self, id: &SpanId) -> Option<&Span> {
        self.data.spans.iter().find(|s| s.span_id == *id)
    }

    /// The parent of `span` within this trace (`None` for a root, or a parent in another
    /// process).
    ///
    /// ```
    /// let root = spanwise_core::start_span("root");
    /// drop(spanwise_core::start_span("child"));
    /// let id = root.trace_id().unwrap();
    /// drop(root);
    /// let trace = spanwise_core::get_trace(&id).unwrap();
    /// let child = trace.data.spans.iter().find(|s| s.name == "child").unwrap();
    /// assert_eq!(trace.parent(child).map(|p| p.name.as_str()), Some("root"));
    /// ```
    pub fn parent(&self, span: &Span) -> Option<&Span> {
        self.span(span.parent_span_id.as_ref()?)
    }

    /// The direct children of a span, in start order.
    pub fn children(&self, id: &SpanId) -> Vec<&Span> {
        self.data
            .spans
            .iter()
            .filter(|s| s.parent_span_id == Some(*id))
            .collect()
    }

    /// The spans with this name (after de-duplication, `"red_1"` not `"red"`).
    pub fn spans_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Span> + 'a {
        self.data.spans.iter().filter(move |s| s.name == name)
    }

    /// The trace's name: the `mlflow.traceName` tag, else the root's name.
    pub fn name(&self) -> Option<&str> {
        self.info
            .tags
            .get(keys::TRACE_NAME)
            .map(String::as_str)
            .or_else(|| self.root().map(|s| s.name.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_time_is_written_with_three_digits_of_milliseconds_and_z() {
        let at = |ms: i64| {
            let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
            serde_json::to_value(TraceInfo {
                request_time: t,
                ..Trace::from_json(
                    r#"{"info": {"trace_id": "tr-8069a0265eec15a1d9bbfa62bf64cbf6",
                    "request_time": "2026-11-22T01:46:21.714Z", "state": "OK"}, "data": {"spans": []}}"#,
                )
                .unwrap()
                .info
            })
            .unwrap()["request_time"]
                .clone()
        };
        assert_eq!(at(1_795_311_981_714), "2026-11-22T01:46:21.714Z");
        // Whole seconds keep their `.000`, as MLflow writes them.
        assert_eq!(at(1_795_311_981_000), "2026-11-22T01:46:21.000Z");
        assert_eq!(at(5), "1970-01-01T00:00:00.005Z");
    }
}
