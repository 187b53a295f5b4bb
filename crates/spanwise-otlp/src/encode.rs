//! From spanwise's [`Trace`] to an OTLP `ExportTraceServiceRequest`, and from that to the bytes
//! of a request body (protobuf or OTLP JSON, optionally gzip).
//!
//! Attribute values are stored JSON-encoded in the model; OTLP carries them as native values,
//! as MLflow's own exporter sends them, so each one is decoded here.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status, span, status};
use serde_json::Value;
use spanwise_core::{Span, StatusCode, Trace, keys};

use crate::http::Failure;

/// Prefix of the root-span attributes that MLflow's server turns into trace tags.
pub const TRACE_TAG_PREFIX: &str = "mlflow.traceTag.";
/// Root-span attribute that MLflow's server stores as the trace's session.
pub const SESSION_ID: &str = "session.id";
/// Root-span attribute that MLflow's server stores as the trace's user.
pub const USER_ID: &str = "user.id";

/// The wire format of OTLP/HTTP request bodies.
///
/// ```
/// use spanwise_otlp::Protocol;
/// assert_eq!("http/json".parse::<Protocol>().unwrap(), Protocol::HttpJson);
/// assert!("grpc".parse::<Protocol>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// `application/x-protobuf` (the default).
    #[default]
    HttpProtobuf,
    /// `application/json`, OTLP's JSON mapping (hex ids).
    HttpJson,
}

impl std::str::FromStr for Protocol {
    type Err = spanwise_core::Error;
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`'s values: `http/protobuf` or `http/json`, in any case
    /// (OpenTelemetry's configuration specification reads enum values case-insensitively, as
    /// the compression's are read here).
    fn from_str(s: &str) -> Result<Protocol, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            "http/json" => Ok(Protocol::HttpJson),
            _ => Err(spanwise_core::Error::Config {
                key: "OTEL_EXPORTER_OTLP_PROTOCOL".into(),
                message: format!(
                    "{:?} is not supported; use http/protobuf or http/json (grpc is not available)",
                    s.trim()
                ),
            }),
        }
    }
}

/// Compression of request bodies.
///
/// ```
/// let c = spanwise_otlp::Compression::default();
/// assert_eq!(c, spanwise_otlp::Compression::None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Bodies are sent as they are.
    #[default]
    None,
    /// `Content-Encoding: gzip` (needs the `gzip` feature).
    #[cfg(feature = "gzip")]
    Gzip,
}

/// Resource facts put on every request, and what the destination needs on the root span.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    /// The resource's attributes the user set: `service.name` (given, or from the
    /// environment) and the rest of `OTEL_RESOURCE_ATTRIBUTES`.
    resource: Vec<(String, String)>,
    /// The destination is MLflow's server: it turns every resource attribute into a trace tag
    /// and takes tags, session and user from the trace info request, so neither a default
    /// `service.name` nor root-span copies of those are sent.
    mlflow: bool,
}

impl Origin {
    /// `service.name` from the argument, else `OTEL_SERVICE_NAME`, else the `service.name` of
    /// `OTEL_RESOURCE_ATTRIBUTES`, else (not for MLflow) `unknown_service:<executable>`, as
    /// OpenTelemetry's SDKs do.
    pub(crate) fn new(service_name: Option<String>) -> Origin {
        let env = |k: &str| std::env::var(k).ok().filter(|s| !s.trim().is_empty());
        let mut resource = env("OTEL_RESOURCE_ATTRIBUTES")
            .map(|v| resource_attributes(&v))
            .unwrap_or_default();
        if let Some(name) = service_name.or_else(|| env("OTEL_SERVICE_NAME")) {
            resource.retain(|(k, _)| k != "service.name");
            resource.insert(0, ("service.name".into(), name));
        }
        Origin {
            resource,
            mlflow: false,
        }
    }

    /// The same, for MLflow's server.
    pub(crate) fn for_mlflow(mut self) -> Origin {
        self.mlflow = true;
        self
    }

    /// The resource's attributes, `service.name` first.
    fn attributes(&self) -> Vec<KeyValue> {
        let mut out = Vec::with_capacity(self.resource.len() + 4);
        if !self.mlflow && !self.resource.iter().any(|(k, _)| k == "service.name") {
            out.push(kv_str("service.name", &unknown_service()));
        }
        out.extend(self.resource.iter().map(|(k, v)| kv_str(k, v)));
        out
    }
}

/// OpenTelemetry's default `service.name`: `unknown_service:` and the executable's name.
fn unknown_service() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    format!("unknown_service:{exe}")
}

/// `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs separated by commas, values percent-encoded;
/// malformed pairs are left out, as the specification allows.
fn resource_attributes(v: &str) -> Vec<(String, String)> {
    v.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_string(), crate::percent::decode(v.trim())))
        })
        .collect()
}

/// One request holding every span of `traces`.
pub(crate) fn request<'a>(
    origin: &Origin,
    traces: impl IntoIterator<Item = &'a Trace>,
) -> ExportTraceServiceRequest {
    let mut spans = Vec::new();
    for trace in traces {
        let root = trace.root().map(|r| r.span_id);
        for s in &trace.data.spans {
            let is_root = Some(s.span_id) == root && !origin.mlflow;
            spans.push(otlp_span(s, is_root.then_some(trace)));
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: {
                    // MLflow's server skips `telemetry.sdk.*` when it makes tags of these.
                    let mut a = origin.attributes();
                    a.push(kv_str("telemetry.sdk.name", "spanwise"));
                    a.push(kv_str("telemetry.sdk.language", "rust"));
                    a.push(kv_str("telemetry.sdk.version", env!("CARGO_PKG_VERSION")));
                    a
                },
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "spanwise".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// One span; `root_of` is its trace when it is the root and the destination is not MLflow's
/// server, which then carries the trace's tags (`mlflow.traceTag.<k>`), session and user (for
/// OTLP backends: MLflow takes them from the trace info request).
fn otlp_span(s: &Span, root_of: Option<&Trace>) -> opentelemetry_proto::tonic::trace::v1::Span {
    let mut attributes: Vec<KeyValue> = s
        .attributes
        .iter()
        .map(|(k, raw)| KeyValue {
            key: k.clone(),
            value: Some(any(&decode_attribute(raw))),
            ..Default::default()
        })
        .collect();
    if let Some(trace) = root_of {
        for (k, v) in &trace.info.tags {
            attributes.push(kv_str(&format!("{TRACE_TAG_PREFIX}{k}"), v));
        }
        let meta = &trace.info.trace_metadata;
        if let Some(session) = meta.get(keys::TRACE_SESSION) {
            attributes.push(kv_str(SESSION_ID, session));
        }
        if let Some(user) = meta.get(keys::TRACE_USER) {
            attributes.push(kv_str(USER_ID, user));
        }
    }
    let events = s
        .events
        .iter()
        .map(|e| span::Event {
            time_unix_nano: e.time_unix_nano,
            name: e.name.clone(),
            attributes: e
                .attributes
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(any(v)),
                    ..Default::default()
                })
                .collect(),
            dropped_attributes_count: 0,
        })
        .collect();
    let code = match s.status.code {
        StatusCode::Unset => status::StatusCode::Unset,
        StatusCode::Ok => status::StatusCode::Ok,
        StatusCode::Error => status::StatusCode::Error,
    };
    opentelemetry_proto::tonic::trace::v1::Span {
        trace_id: s.trace_id.to_bytes().to_vec(),
        span_id: s.span_id.to_bytes().to_vec(),
        trace_state: String::new(),
        parent_span_id: s
            .parent_span_id
            .map(|p| p.to_bytes().to_vec())
            .unwrap_or_default(),
        flags: 0,
        name: s.name.clone(),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: s.start_time_unix_nano,
        // An open span (a trace re-published while a late child runs) ends where it started.
        end_time_unix_nano: s.end_time_unix_nano.unwrap_or(s.start_time_unix_nano),
        attributes,
        dropped_attributes_count: 0,
        events,
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: Some(Status {
            message: s.status.message.clone(),
            code: code as i32,
        }),
    }
}

/// The JSON an attribute holds; a value that is not JSON (written by another tool) is a string.
fn decode_attribute(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

/// A JSON value as a native OTLP value.
pub(crate) fn any(v: &Value) -> AnyValue {
    let value = match v {
        Value::Null => None,
        Value::Bool(b) => Some(Any::BoolValue(*b)),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => Any::IntValue(i),
            // Beyond i64 (a large u64) or fractional: the nearest double.
            None => Any::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        }),
        Value::String(s) => Some(Any::StringValue(s.clone())),
        Value::Array(items) => Some(Any::ArrayValue(ArrayValue {
            values: items.iter().map(any).collect(),
        })),
        Value::Object(map) => Some(Any::KvlistValue(KeyValueList {
            values: map
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(any(v)),
                    ..Default::default()
                })
                .collect(),
        })),
    };
    AnyValue { value }
}

fn kv_str(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(Any::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

/// A request body ready to send.
pub(crate) struct Encoded {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub content_encoding: Option<&'static str>,
}

/// Serializes and, if asked, compresses a request.
pub(crate) fn encode(
    req: &ExportTraceServiceRequest,
    protocol: Protocol,
    compression: Compression,
) -> Result<Encoded, Failure> {
    let (bytes, content_type) = match protocol {
        Protocol::HttpProtobuf => (prost::Message::encode_to_vec(req), "application/x-protobuf"),
        Protocol::HttpJson => (
            serde_json::to_vec(req)
                .map_err(|e| Failure::fatal(format!("cannot encode OTLP JSON: {e}")))?,
            "application/json",
        ),
    };
    match compression {
        Compression::None => Ok(Encoded {
            bytes,
            content_type,
            content_encoding: None,
        }),
        #[cfg(feature = "gzip")]
        Compression::Gzip => {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(bytes.len() / 4),
                flate2::Compression::fast(),
            );
            gz.write_all(&bytes)
                .and_then(|_| gz.finish())
                .map(|bytes| Encoded {
                    bytes,
                    content_type,
                    content_encoding: Some("gzip"),
                })
                .map_err(|e| Failure::fatal(format!("cannot gzip the request: {e}")))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;
    use spanwise_core::{SpanEvent, SpanId, SpanStatus, TraceId, TraceInfo, TraceState};

    pub(crate) fn sample_trace() -> Trace {
        let tid = TraceId(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let mut root = Span::new(tid, SpanId(1), None, "agent", 1_000);
        root.end_time_unix_nano = Some(5_000);
        root.status = SpanStatus::ok();
        root.attributes
            .insert(keys::SPAN_INPUTS.into(), r#"{"q":"hi","n":3}"#.into());
        root.attributes
            .insert(keys::SPAN_OUTPUTS.into(), r#""hello""#.into());
        root.attributes.insert("count".into(), r#""7""#.into());
        root.attributes.insert("ratio".into(), "0.5".into());
        root.attributes.insert("raw".into(), "not json".into());
        let mut child = Span::new(tid, SpanId(2), Some(SpanId(1)), "tool", 2_000);
        child.end_time_unix_nano = Some(3_000);
        child.status = SpanStatus::error("ValueError: bad");
        child.events.push(SpanEvent {
            name: "exception".into(),
            time_unix_nano: 2_500,
            attributes: [("exception.type".to_string(), json!("ValueError"))].into(),
        });
        let info: TraceInfo = serde_json::from_value(json!({
            "trace_id": tid.to_string(),
            "request_time": "2026-01-01T00:00:00.000Z",
            "state": "OK",
            "trace_metadata": {"mlflow.trace.session": "s-1", "mlflow.trace.user": "ada"},
            "tags": {"mlflow.traceName": "agent", "fruit": "apple"},
        }))
        .unwrap();
        assert_eq!(info.state, TraceState::Ok);
        Trace {
            info,
            data: spanwise_core::TraceData {
                spans: vec![root, child],
            },
        }
    }

    fn attr<'a>(s: &'a opentelemetry_proto::tonic::trace::v1::Span, k: &str) -> Option<&'a Any> {
        s.attributes
            .iter()
            .find(|kv| kv.key == k)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
    }

    #[test]
    fn attributes_go_out_as_native_values() {
        let t = sample_trace();
        let req = request(&Origin::new(Some("svc".into())), [&t]);
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        let root = &spans[0];
        assert_eq!(attr(root, "count"), Some(&Any::StringValue("7".into())));
        assert_eq!(attr(root, "ratio"), Some(&Any::DoubleValue(0.5)));
        assert_eq!(
            attr(root, "raw"),
            Some(&Any::StringValue("not json".into()))
        );
        let Some(Any::KvlistValue(inputs)) = attr(root, keys::SPAN_INPUTS) else {
            panic!("inputs are not a kvlist");
        };
        let n = inputs.values.iter().find(|kv| kv.key == "n").unwrap();
        assert_eq!(n.value.as_ref().unwrap().value, Some(Any::IntValue(3)));
    }

    #[test]
    fn root_carries_tags_session_and_user() {
        let t = sample_trace();
        let req = request(&Origin::new(Some("svc".into())), [&t]);
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        let (root, child) = (&spans[0], &spans[1]);
        assert_eq!(
            attr(root, "mlflow.traceTag.fruit"),
            Some(&Any::StringValue("apple".into()))
        );
        assert_eq!(
            attr(root, "mlflow.traceTag.mlflow.traceName"),
            Some(&Any::StringValue("agent".into()))
        );
        assert_eq!(
            attr(root, SESSION_ID),
            Some(&Any::StringValue("s-1".into()))
        );
        assert_eq!(attr(root, USER_ID), Some(&Any::StringValue("ada".into())));
        assert_eq!(attr(child, "mlflow.traceTag.fruit"), None);
        assert_eq!(child.parent_span_id, 1u64.to_be_bytes().to_vec());
        assert!(root.parent_span_id.is_empty());
        assert_eq!(child.status.as_ref().unwrap().code, 2);
        assert_eq!(child.status.as_ref().unwrap().message, "ValueError: bad");
        assert_eq!(child.events[0].name, "exception");
        let res = req.resource_spans[0].resource.as_ref().unwrap();
        assert_eq!(res.attributes[0].key, "service.name");
    }

    #[test]
    fn for_mlflow_no_default_service_and_no_root_copies() {
        let t = sample_trace();
        let req = request(&Origin::new(None).for_mlflow(), [&t]);
        let root = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(attr(root, "mlflow.traceTag.fruit"), None);
        assert_eq!(attr(root, SESSION_ID), None);
        assert_eq!(attr(root, USER_ID), None);
        let res = req.resource_spans[0].resource.as_ref().unwrap();
        let keys: Vec<&str> = res.attributes.iter().map(|kv| kv.key.as_str()).collect();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none()
            && std::env::var_os("OTEL_RESOURCE_ATTRIBUTES").is_none()
        {
            assert!(
                keys.iter().all(|k| k.starts_with("telemetry.sdk.")),
                "{keys:?}"
            );
            let otlp = request(&Origin::new(None), [&t]);
            let res = otlp.resource_spans[0].resource.as_ref().unwrap();
            let Some(Any::StringValue(name)) =
                res.attributes[0].value.as_ref().unwrap().value.clone()
            else {
                panic!("no service.name");
            };
            assert!(name.starts_with("unknown_service:spanwise_otlp"), "{name}");
        }
        // A name the user gives goes to MLflow too.
        let named = request(&Origin::new(Some("svc".into())).for_mlflow(), [&t]);
        let res = named.resource_spans[0].resource.as_ref().unwrap();
        assert_eq!(res.attributes[0].key, "service.name");
    }

    #[test]
    fn resource_attributes_from_the_environment_form() {
        assert_eq!(
            resource_attributes("service.name=my%20app, deployment.environment=prod,broken,=x"),
            [
                ("service.name".to_string(), "my app".to_string()),
                ("deployment.environment".to_string(), "prod".to_string())
            ]
        );
    }

    #[test]
    fn protobuf_round_trips_and_json_uses_hex_ids() {
        let t = sample_trace();
        let req = request(&Origin::new(Some("svc".into())), [&t]);
        let pb = encode(&req, Protocol::HttpProtobuf, Compression::None).unwrap();
        let back: ExportTraceServiceRequest = prost::Message::decode(&pb.bytes[..]).unwrap();
        assert_eq!(back, req);
        let js = encode(&req, Protocol::HttpJson, Compression::None).unwrap();
        let text = String::from_utf8(js.bytes).unwrap();
        assert!(
            text.contains("\"traceId\":\"0123456789abcdef0123456789abcdef\""),
            "{text}"
        );
        assert_eq!(js.content_type, "application/json");
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn gzip_bodies_decompress_to_the_request() {
        use std::io::Read;
        let t = sample_trace();
        let req = request(&Origin::new(None), [&t]);
        let gz = encode(&req, Protocol::HttpProtobuf, Compression::Gzip).unwrap();
        assert_eq!(gz.content_encoding, Some("gzip"));
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gz.bytes[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, prost::Message::encode_to_vec(&req));
    }
}
