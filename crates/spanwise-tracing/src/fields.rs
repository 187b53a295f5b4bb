//! `tracing` field values, and what the bridge does with each field of a span: a plain
//! attribute, plus the meaning of a few names (`otel.name`, `otel.status_code`,
//! `otel.status_message`, `error`, the `gen_ai.*` conventions).

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;
use spanwise_core::{ActiveSpan, DetachedSpan};
use tracing_core::field::{Field, Visit};

use crate::genai::GenAi;

/// One field's value, as `tracing` hands it over.
#[derive(Debug)]
pub(crate) enum FieldValue<'a> {
    Str(&'a str),
    /// A `?value` / `%value` field (or any other type), formatted.
    Text(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl FieldValue<'_> {
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) => Some(s),
            FieldValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A count: a non-negative integer, or a string of one (MLflow reads `"26"` as 26).
    pub(crate) fn count(&self) -> Option<u64> {
        match self {
            FieldValue::U64(n) => Some(*n),
            FieldValue::I64(n) => u64::try_from(*n).ok(),
            _ => self.text()?.trim().parse().ok(),
        }
    }

    /// The value a JSON text encodes; `None` when it is not a JSON text.
    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_str(self.text()?).ok()
    }

    /// The value a JSON text encodes, or the text itself; numbers and booleans as they are.
    pub(crate) fn json_or_text(&self) -> Option<Value> {
        Some(match self {
            FieldValue::Str(_) | FieldValue::Text(_) => {
                let t = self.text()?;
                serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned()))
            }
            FieldValue::I64(n) => Value::from(*n),
            FieldValue::U64(n) => Value::from(*n),
            FieldValue::F64(n) => Value::from(*n),
            FieldValue::Bool(b) => Value::from(*b),
        })
    }

    fn set_on(&self, span: &ActiveSpan, key: &'static str) {
        let key = Cow::Borrowed(key);
        match self {
            FieldValue::Str(s) => span.set_attribute(key, s),
            FieldValue::Text(s) => span.set_attribute(key, s),
            FieldValue::I64(n) => span.set_attribute(key, n),
            FieldValue::U64(n) => span.set_attribute(key, n),
            FieldValue::F64(n) => span.set_attribute(key, n),
            FieldValue::Bool(b) => span.set_attribute(key, b),
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        match self {
            FieldValue::Str(s) => Value::from(*s),
            FieldValue::Text(s) => Value::from(s.as_str()),
            FieldValue::I64(n) => Value::from(*n),
            FieldValue::U64(n) => Value::from(*n),
            FieldValue::F64(n) => Value::from(*n),
            FieldValue::Bool(b) => Value::from(*b),
        }
    }
}

/// What a span's fields say beyond its attributes, applied when the span closes.
#[derive(Default, Debug)]
pub(crate) struct Meaning {
    pub(crate) genai: GenAi,
    /// `otel.status_code = "ERROR"` was recorded (`Some`), with this `otel.status_message`.
    otel_error: Option<String>,
    otel_message: Option<String>,
    otel_ok: bool,
}

impl Meaning {
    /// Applies the GenAI mapping and an `otel.status_code`. An error recorded as an exception
    /// keeps its status.
    pub(crate) fn apply(self, span: &ActiveSpan) {
        self.genai.apply(span, false);
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
    /// Created on the first field that means something beyond an attribute.
    pub(crate) meaning: &'a mut Option<Box<Meaning>>,
}

impl SpanFields<'_> {
    fn field(&mut self, field: &Field, value: FieldValue<'_>) {
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
        self.span.with(|s| value.set_on(s, name));
        if name == "error" {
            let message = match value.text() {
                Some(t) => t.to_owned(),
                None => value.to_value().to_string(),
            };
            let stack = format!("Error: {message}");
            self.span
                .with(|s| record_exception(s, "Error", &message, &stack, Vec::new()));
        } else if name.starts_with("gen_ai.") {
            self.meaning
                .get_or_insert_default()
                .genai
                .note(name, &value);
        }
    }
}

impl SpanFields<'_> {
    /// An `error` field holding a `&dyn Error`: the attribute, an exception, status ERROR.
    fn error(&mut self, message: &str, chain: &str) {
        self.span.with(|s| {
            s.set_attribute("error", message);
            record_exception(s, "Error", message, chain, Vec::new());
        });
    }

    /// Records fields collected beforehand (see [`Collected`]).
    pub(crate) fn apply(&mut self, collected: Collected) {
        for (field, value) in collected.0 {
            match value {
                Owned::Value(v) => self.field(&field, v),
                Owned::Error(message, chain) => self.error(&message, &chain),
            }
        }
    }
}

/// A field's value taken out of `tracing`'s visit.
pub(crate) enum Owned {
    Value(FieldValue<'static>),
    /// An `error` field holding a `&dyn Error`: its message and `source()` chain.
    Error(String, String),
}

/// The fields of a `Span::record`, owned: formatting them runs the application's `Debug` and
/// `Display` code (which may log), so it is done before the span's lock is taken.
#[derive(Default)]
pub(crate) struct Collected(Vec<(Field, Owned)>);

impl Visit for Collected {
    fn record_str(&mut self, field: &Field, value: &str) {
        let v = FieldValue::Text(value.to_owned());
        self.0.push((field.clone(), Owned::Value(v)));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0
            .push((field.clone(), Owned::Value(FieldValue::I64(value))));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0
            .push((field.clone(), Owned::Value(FieldValue::U64(value))));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0
            .push((field.clone(), Owned::Value(FieldValue::F64(value))));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0
            .push((field.clone(), Owned::Value(FieldValue::Bool(value))));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let owned = if field.name() == "error" {
            Owned::Error(value.to_string(), source_chain(value))
        } else {
            Owned::Value(FieldValue::Text(value.to_string()))
        };
        self.0.push((field.clone(), owned));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let v = FieldValue::Text(format!("{value:?}"));
        self.0.push((field.clone(), Owned::Value(v)));
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

/// An error's message then its `source()` chain, as spanwise records a Rust error's stack.
pub(crate) fn source_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("Error: {err}");
    let mut source = err.source();
    if source.is_some() {
        out.push_str("\nCaused by:");
    }
    let mut i = 0;
    while let Some(s) = source {
        out.push_str(&format!("\n  {i}: {s}"));
        i += 1;
        source = s.source();
    }
    out
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
