//! A `tracing` event as a span event: its message, fields and level; `ERROR` events and events
//! with an `error` field are `exception` events and set status ERROR, as `#[trace]` records an
//! `Err`.

use serde_json::Value;
use spanwise_core::{ActiveSpan, SpanEvent};
use tracing_core::{Event, Level, Metadata};

use crate::fields::{record_exception, source_chain};
use crate::value::FieldValue;

/// An event read, waiting for the span it goes to.
pub(crate) struct BridgedEvent {
    meta: &'static Metadata<'static>,
    fields: EventFields,
    is_error: bool,
    contextual: bool,
}

impl BridgedEvent {
    /// Reads the event's fields.
    pub(crate) fn new(event: &Event<'_>) -> BridgedEvent {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let is_error = *meta.level() == Level::ERROR || fields.error.is_some();
        BridgedEvent {
            meta,
            fields,
            is_error,
            contextual: event.is_contextual(),
        }
    }

    /// Adds the event to the `#[trace]` span current on this thread when the event is
    /// contextual and one is current (it is the innermost span then, above any `tracing` span
    /// entered here); else hands the event back, for its `tracing` span.
    pub(crate) fn add_to_current_native(self) -> Option<BridgedEvent> {
        if self.contextual
            && let Some(native) = spanwise_core::current_span()
        {
            self.add_to(&native);
            return None;
        }
        Some(self)
    }

    /// Adds the event to `span`.
    pub(crate) fn add_to(self, span: &ActiveSpan) {
        let BridgedEvent {
            meta,
            fields,
            is_error,
            ..
        } = self;
        let EventFields {
            message,
            mut attributes,
            error,
            error_type,
        } = fields;
        let level = meta.level().as_str();
        if is_error {
            let (err_message, stack) = match error {
                Some((m, stack)) => (m, stack),
                None => {
                    let m = message.clone().unwrap_or_else(|| meta.name().to_owned());
                    let stack = format!("Error: {m}");
                    (m, stack)
                }
            };
            if let Some(m) = message {
                attributes.push(("message", Value::String(m)));
            }
            attributes.push(("level", Value::from(level)));
            let ty = error_type.unwrap_or_else(|| "Error".to_owned());
            record_exception(span, &ty, &err_message, &stack, attributes);
        } else {
            let mut e = SpanEvent::new(message.unwrap_or_else(|| meta.name().to_owned()));
            for (k, v) in attributes {
                e.attributes.insert(k.to_owned(), v);
            }
            e.attributes.insert("level".to_owned(), Value::from(level));
            span.add_event(e);
        }
    }
}

/// An event's fields: its message, its `error` (message and chain), `error.type`, the rest.
#[derive(Default)]
struct EventFields {
    message: Option<String>,
    attributes: Vec<(&'static str, Value)>,
    error: Option<(String, String)>,
    error_type: Option<String>,
}

impl EventFields {
    fn field(&mut self, name: &'static str, value: FieldValue<'_>) {
        match name {
            "message" => self.message = value.text().map(str::to_owned),
            "error" => {
                let m = value
                    .text()
                    .map(str::to_owned)
                    .unwrap_or_else(|| value.to_value().to_string());
                let stack = format!("Error: {m}");
                self.error = Some((m, stack));
            }
            "error.type" => self.error_type = value.text().map(str::to_owned),
            _ => self.attributes.push((name, value.to_value())),
        }
    }
}

impl tracing_core::field::Visit for EventFields {
    fn record_str(&mut self, field: &tracing_core::Field, value: &str) {
        self.field(field.name(), FieldValue::Str(value));
    }
    fn record_i64(&mut self, field: &tracing_core::Field, value: i64) {
        self.field(field.name(), FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &tracing_core::Field, value: u64) {
        self.field(field.name(), FieldValue::U64(value));
    }
    fn record_f64(&mut self, field: &tracing_core::Field, value: f64) {
        self.field(field.name(), FieldValue::F64(value));
    }
    fn record_bool(&mut self, field: &tracing_core::Field, value: bool) {
        self.field(field.name(), FieldValue::Bool(value));
    }
    fn record_error(
        &mut self,
        field: &tracing_core::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        if field.name() == "error" {
            self.error = Some((value.to_string(), source_chain(value)));
        } else {
            self.field(field.name(), FieldValue::Text(value.to_string()));
        }
    }
    fn record_debug(&mut self, field: &tracing_core::Field, value: &dyn std::fmt::Debug) {
        self.field(field.name(), FieldValue::Text(format!("{value:?}")));
    }
}
