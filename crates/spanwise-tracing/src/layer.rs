//! [`SpanwiseLayer`]: each `tracing` span a spanwise span of the current trace.
//!
//! How a `tracing` span maps:
//! - **Start** (`on_new_span`): a [`DetachedSpan`] under the spanwise position current on this
//!   thread (the top of its stack: a `#[trace]` span, an attached `Context`, or a `tracing` span
//!   entered here), or under its explicit `parent:` when that span is bridged. An explicit
//!   `parent: None` nests under the current spanwise span too, unless that is a `tracing` span
//!   entered here (then it starts a trace of its own). With nothing current, the span starts a
//!   new trace or is ignored ([`Unparented`]).
//! - **Enter / exit**: the span's context is attached on the entering thread while it is
//!   entered, so spans started inside, by either library, are its children; on several threads
//!   at once, or on each poll of an `.instrument(..)`ed future, alike.
//! - **Fields** (at creation and with `Span::record`): attributes; see [`crate::genai`] for the
//!   `gen_ai.*` mapping, and the crate docs for `otel.name`, `otel.status_code` and `error`.
//! - **Events**: span events of the innermost span (a `#[trace]` span when one is current,
//!   else the event's `tracing` span); `ERROR` events and events with an `error` field are
//!   `exception` events and set status ERROR.
//! - **Close**: the span ends (its trace is finalized when it was the root).
//! - **`follows_from`**: not recorded; a spanwise span has no links yet (see the crate README).

use std::cell::RefCell;
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;
use spanwise_core::{Context, ContextGuard, DetachedSpan, SpanEvent, SpanId};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::fields::{Meaning, SpanFields, record_exception, source_chain};
use crate::genai::GenAi;
use crate::value::FieldValue;

/// What a `tracing` span with no spanwise parent does (nothing traced is current on its thread,
/// and its `tracing` parent, if any, is not recorded).
///
/// ```
/// use spanwise_tracing::{SpanwiseLayer, Unparented};
/// // Only spans inside a spanwise trace (a `#[trace]` function, ...) are recorded.
/// let layer = SpanwiseLayer::new().unparented(Unparented::Ignore);
/// # let _ = layer;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unparented {
    /// It starts a trace of its own (the default: a program traced only through `tracing`,
    /// e.g. by the LLM library it uses, is traced).
    #[default]
    StartTrace,
    /// It is not recorded, nor are spans inside it.
    Ignore,
}

/// A [`tracing_subscriber::Layer`] that records `tracing` spans and events in spanwise traces.
///
/// Add it to a registry like any layer; filters (`LevelFilter`, `Targets`, `EnvFilter`, ...)
/// work as usual, globally or on this layer alone (`.with_filter(..)`).
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let subscriber = tracing_subscriber::registry().with(spanwise_tracing::layer());
/// tracing::subscriber::with_default(subscriber, || {
///     let root = spanwise_core::start_span("handler");
///     tracing::info_span!("db.query", table = "users").in_scope(|| {
///         tracing::info!(rows = 3, "fetched");
///     });
///     let id = root.trace_id().unwrap();
///     drop(root);
///     let trace = spanwise_core::get_trace(&id).unwrap();
///     let query = trace.data.spans.iter().find(|s| s.name == "db.query").unwrap();
///     assert_eq!(query.parent_span_id, Some(trace.root().unwrap().span_id));
///     assert_eq!(query.attribute("table"), Some(serde_json::json!("users")));
///     assert_eq!(query.events[0].name, "fetched");
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SpanwiseLayer {
    unparented: Unparented,
}

/// A [`SpanwiseLayer`] with the default settings.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// let _subscriber = tracing_subscriber::registry().with(spanwise_tracing::layer());
/// ```
pub fn layer() -> SpanwiseLayer {
    SpanwiseLayer::new()
}

impl SpanwiseLayer {
    /// The default layer: unparented spans start traces of their own.
    pub fn new() -> SpanwiseLayer {
        SpanwiseLayer::default()
    }

    /// Sets what a span with no spanwise parent does (see [`Unparented`]).
    pub fn unparented(mut self, unparented: Unparented) -> SpanwiseLayer {
        self.unparented = unparented;
        self
    }
}

/// The bridge's record of one `tracing` span, in the span's extensions.
struct Bridged {
    /// Attached while the span is entered.
    context: Context,
    state: Mutex<State>,
}

struct State {
    /// Taken when the span closes.
    span: Option<DetachedSpan>,
    /// An `otel.status_*` field's status, once one is recorded.
    meaning: Option<Box<Meaning>>,
    /// The `gen_ai.*` values applied at the close, once one is recorded.
    genai: Option<Box<GenAi>>,
}

impl Bridged {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic in a setter elsewhere; the state is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

thread_local! {
    /// The bridged spans entered on this thread, innermost last, with their attached contexts.
    static ENTERED: RefCell<Vec<(u64, Option<SpanId>, ContextGuard)>> = const { RefCell::new(Vec::new()) };
}

/// Whether the spanwise position current on this thread is a `tracing` span entered here.
fn top_is_entered_bridged() -> bool {
    let last = ENTERED
        .try_with(|e| e.try_borrow().ok()?.last().map(|(_, s, _)| *s))
        .ok()
        .flatten();
    // The innermost entered bridged span is current unless a `#[trace]` span or a `Context`
    // is above it: compare the span ids.
    last.is_some_and(|s| {
        spanwise_core::current_span().is_none() && Context::current().span_id() == s
    })
}

impl<S> Layer<S> for SpanwiseLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        if !spanwise_core::is_enabled() {
            return;
        }
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let meta = attrs.metadata();
        let explicit = attrs
            .parent()
            .and_then(|p| ctx.span(p))
            .and_then(|p| p.extensions().get::<Bridged>().map(|b| b.context.clone()));
        // `None`: under the current position of this thread's stack.
        let parent = match explicit {
            Some(ctx) => Some(ctx),
            None if attrs.is_root() && top_is_entered_bridged() => Some(Context::empty()),
            None => None,
        };
        if self.unparented == Unparented::Ignore {
            let has_parent = match &parent {
                Some(p) => !p.is_empty(),
                None => !Context::current().is_empty(),
            };
            if !has_parent {
                return;
            }
        }
        let mut builder = spanwise_core::span(meta.name());
        if let Some(p) = parent {
            builder = builder.remote_parent(p);
        }
        let span = builder.start_detached();
        if !span.is_recording() && span.context().is_empty() {
            return;
        }
        let fields = meta.fields().len();
        if fields > 0 {
            // Room for the fields and what GenAI ones map to, in one allocation.
            span.reserve_attributes(fields + fields / 2);
        }
        let (mut meaning, mut genai) = (None, None);
        attrs.record(&mut SpanFields {
            span: &span,
            meaning: &mut meaning,
            genai: &mut genai,
        });
        let bridged = Bridged {
            context: span.context().clone(),
            state: Mutex::new(State {
                span: Some(span),
                meaning,
                genai,
            }),
        };
        // `replace`, not `insert`: never a panic, even if a span id were reused oddly.
        span_ref.extensions_mut().replace(bridged);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let ext = span_ref.extensions();
        let Some(bridged) = ext.get::<Bridged>() else {
            return;
        };
        values.record(&mut Recorder {
            bridged,
            state: None,
        });
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let entry = match span_ref.extensions().get::<Bridged>() {
            Some(b) => (id.into_u64(), b.context.span_id(), b.context.attach()),
            None => return,
        };
        let _ = ENTERED.try_with(|e| {
            if let Ok(mut e) = e.try_borrow_mut() {
                e.push(entry);
            }
        });
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        let id = id.into_u64();
        let guard = ENTERED
            .try_with(|e| {
                let mut e = e.try_borrow_mut().ok()?;
                let pos = e.iter().rposition(|(i, _, _)| *i == id)?;
                Some(e.remove(pos))
            })
            .ok()
            .flatten();
        // Dropped outside the borrow: it may hand a trace over, which runs destinations.
        drop(guard);
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span_ref) = ctx.span(&id) else {
            return;
        };
        let (span, meaning, genai) = {
            let ext = span_ref.extensions();
            let Some(bridged) = ext.get::<Bridged>() else {
                return;
            };
            let mut state = bridged.lock();
            (state.span.take(), state.meaning.take(), state.genai.take())
        };
        if let Some(span) = span {
            if meaning.is_some() || genai.is_some() {
                span.with(|s| {
                    if let Some(genai) = genai {
                        genai.apply(s);
                    }
                    if let Some(meaning) = meaning {
                        meaning.apply(s);
                    }
                });
            }
            // Ends here, outside the extension lock.
            drop(span);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        if !spanwise_core::is_enabled() {
            return;
        }
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let is_error = *meta.level() == Level::ERROR || fields.error.is_some();
        let level = meta.level().as_str();
        let build = |fields: EventFields, s: &spanwise_core::ActiveSpan| {
            let EventFields {
                message,
                mut attributes,
                error,
                error_type,
            } = fields;
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
                record_exception(s, &ty, &err_message, &stack, attributes);
            } else {
                let mut e = SpanEvent::new(message.unwrap_or_else(|| meta.name().to_owned()));
                for (k, v) in attributes {
                    e.attributes.insert(k.to_owned(), v);
                }
                e.attributes.insert("level".to_owned(), Value::from(level));
                s.add_event(e);
            }
        };
        // An explicit parent; else the innermost span: a `#[trace]` span when one is current
        // above the event's `tracing` span.
        if event.is_contextual()
            && let Some(native) = spanwise_core::current_span()
        {
            build(fields, &native);
            return;
        }
        let Some(span_ref) = ctx.event_span(event) else {
            return;
        };
        let ext = span_ref.extensions();
        let Some(bridged) = ext.get::<Bridged>() else {
            return;
        };
        let state = bridged.lock();
        if let Some(span) = &state.span {
            span.with(|s| build(fields, s));
        }
    }
}

/// Records the fields of a `Span::record` on a bridged span. Scalar values are set under the
/// span's lock, taken once for all of them; a value that must be formatted first (`?x`, `%x`,
/// an error) is formatted with the lock released, since formatting runs the application's
/// `Debug`/`Display` code, which may log (its event would want this lock).
struct Recorder<'a> {
    bridged: &'a Bridged,
    state: Option<MutexGuard<'a, State>>,
}

impl Recorder<'_> {
    fn apply(&mut self, f: impl FnOnce(&mut SpanFields<'_>)) {
        let bridged = self.bridged;
        let state = self.state.get_or_insert_with(|| bridged.lock());
        let State {
            span,
            meaning,
            genai,
        } = &mut **state;
        if let Some(span) = span {
            f(&mut SpanFields {
                span,
                meaning,
                genai,
            });
        }
    }
}

impl tracing_core::field::Visit for Recorder<'_> {
    fn record_str(&mut self, field: &tracing_core::Field, value: &str) {
        self.apply(|f| f.field(field, FieldValue::Str(value)));
    }
    fn record_i64(&mut self, field: &tracing_core::Field, value: i64) {
        self.apply(|f| f.field(field, FieldValue::I64(value)));
    }
    fn record_u64(&mut self, field: &tracing_core::Field, value: u64) {
        self.apply(|f| f.field(field, FieldValue::U64(value)));
    }
    fn record_f64(&mut self, field: &tracing_core::Field, value: f64) {
        self.apply(|f| f.field(field, FieldValue::F64(value)));
    }
    fn record_bool(&mut self, field: &tracing_core::Field, value: bool) {
        self.apply(|f| f.field(field, FieldValue::Bool(value)));
    }
    fn record_error(
        &mut self,
        field: &tracing_core::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        self.state = None;
        if field.name() == "error" {
            let (message, chain) = (value.to_string(), source_chain(value));
            self.apply(|f| f.error(&message, &chain));
        } else {
            let text = value.to_string();
            self.apply(|f| f.field(field, FieldValue::Text(text)));
        }
    }
    fn record_debug(&mut self, field: &tracing_core::Field, value: &dyn std::fmt::Debug) {
        self.state = None;
        let text = format!("{value:?}");
        self.apply(|f| f.field(field, FieldValue::Text(text)));
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
