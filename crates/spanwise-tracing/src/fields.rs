//! What the bridge does with each field of a span: a plain attribute, plus the meaning of a few
//! names (`otel.name`, `otel.status_code`,
//! `otel.status_message`, `error`, the `gen_ai.*` conventions).

use std::fmt;

use serde_json::Value;
use spanwise_core::{ActiveSpan, DetachedSpan};
use tracing_core::field::{Field, Visit};

use crate::genai::{self, GenAi};
use crate::value::FieldValue;

/// What a span's fields say beyond its attributes, applied when the span closes.
#[derive(Default, Debug)]
pub(crate) struct Meaning {
    /// `otel.status_code = "ERROR"` was recorded (`Some`), with this `otel.status_message`.
    otel_error: Option<String>,
    otel_message: Option<String>,
    otel_ok: bool,
}

impl Meaning {
    /// Applies the GenAI mapping and an `otel.status_code`. An error recorded as an exception
    /// keeps its status.
    pub(crate) fn apply(self, span: &ActiveSpan) {
        if let Some(code_message) = self.otel_error {
            let message = self.otel_message.or(Some(code_message)).unwrap_or_default();
            span.set_status(spanwise_core::SpanStatus::error(message));
        } else if self.otel_ok {
            span.set_status(spanwise_core::StatusCode::Ok);
        }
    }
}

/// Records a span's fields (at creation, and each `Span::record`) on the spanwise span.
pub(crate) struct SpanFields<'a> {
    pub(crate) span: &'a DetachedSpan,
    /// Created on the first `otel.status_*` field.
    pub(crate) meaning: &'a mut Option<Box<Meaning>>,
    /// Created on the first `gen_ai.*` field kept for the close.
    pub(crate) genai: &'a mut Option<Box<GenAi>>,
}

impl SpanFields<'_> {
    /// Records one field: its attribute, and what its name means.
    pub(crate) fn field(&mut self, field: &Field, value: FieldValue<'_>) {
        let name = field.name();
        if let Some(otel) = name.strip_prefix("otel.") {
            match otel {
                "name" => {
                    if let Some(t) = value.text() {
                        self.span.set_name(t.to_owned());
                    }
                }
                "status_code" => {
                    let m = self.meaning.get_or_insert_default();
                    match value.text().map(str::to_ascii_uppercase).as_deref() {
                        Some("ERROR") => m.otel_error = Some(String::new()),
                        Some("OK") => m.otel_ok = true,
                        _ => {}
                    }
                }
                "status_message" => {
                    self.meaning.get_or_insert_default().otel_message =
                        value.text().map(str::to_owned)
                }
                // `otel.kind` and the like: OpenTelemetry's, no meaning in MLflow.
                _ => {}
            }
            return;
        }
        self.span.set_scalar_attribute(name, value.scalar());
        if name == "error" {
            let message = match value.text() {
                Some(t) => t.to_owned(),
                None => value.to_value().to_string(),
            };
            let stack = format!("Error: {message}");
            self.span
                .with(|s| record_exception(s, "Error", &message, &stack, Vec::new()));
        } else if name.starts_with("gen_ai.") {
            genai::field(self.span, self.genai, name, &value);
        }
    }
}

impl SpanFields<'_> {
    /// An `error` field holding a `&dyn Error`: the attribute, an exception, status ERROR.
    pub(crate) fn error(&mut self, message: &str, chain: &str) {
        self.span.with(|s| {
            s.set_attribute("error", message);
            record_exception(s, "Error", message, chain, Vec::new());
        });
    }
}

impl Visit for SpanFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, FieldValue::Str(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, FieldValue::U64(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, FieldValue::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, FieldValue::Bool(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if field.name() == "error" {
            self.error(&value.to_string(), &source_chain(value));
        } else {
            self.field(field, FieldValue::Text(value.to_string()));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, FieldValue::Text(format!("{value:?}")));
    }
}

/// An error's message then its `source()` chain, as spanwise records a Rust error's stack
/// (core's own formatting: `Error` stands for the type, which a `dyn Error` does not give).
pub(crate) fn source_chain(err: &(dyn std::error::Error + 'static)) -> String {
    spanwise_core::__private::source_chain("Error", err)
}

/// Adds an `exception` event (type, message, stack trace, and `extra` attributes) and sets
/// status ERROR with `"<type>: <message>"`, as spanwise records an error.
pub(crate) fn record_exception(
    span: &ActiveSpan,
    ty: &str,
    message: &str,
    stack: &str,
    extra: Vec<(&'static str, Value)>,
) {
    use spanwise_core::keys;
    let mut event = spanwise_core::SpanEvent::new(keys::EXCEPTION_EVENT)
        .with_attribute(keys::EXCEPTION_TYPE, ty)
        .with_attribute(keys::EXCEPTION_MESSAGE, message)
        .with_attribute(keys::EXCEPTION_STACKTRACE, stack);
    for (k, v) in extra {
        event.attributes.insert(k.to_owned(), v);
    }
    span.add_event(event);
    span.set_status(spanwise_core::SpanStatus::error(format!("{ty}: {message}")));
}
