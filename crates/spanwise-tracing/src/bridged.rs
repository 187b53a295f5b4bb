//! The bridge's record of one `tracing` span ([`Bridged`]): how it starts (its spanwise parent,
//! its fields), takes later fields and events, and ends. [`SpanwiseLayer`] keeps one in each
//! span's extensions, [`SpanwiseSubscriber`] in its own table: both run this code.
//!
//! [`SpanwiseLayer`]: crate::SpanwiseLayer
//! [`SpanwiseSubscriber`]: crate::SpanwiseSubscriber

use std::sync::{Mutex, MutexGuard};

use spanwise_core::{Context, DetachedSpan};
use tracing_core::span::{Attributes, Record};

use crate::entered;
use crate::event::BridgedEvent;
use crate::fields::{Meaning, SpanFields, source_chain};
use crate::genai::GenAi;
use crate::value::FieldValue;

/// What a `tracing` span with no spanwise parent does (nothing traced is current on its thread,
/// and its `tracing` parent, if any, is not recorded). A setting of [`SpanwiseLayer`] and of
/// [`SpanwiseSubscriber`] alike.
///
/// ```
/// use spanwise_tracing::{SpanwiseLayer, SpanwiseSubscriber, Unparented};
/// // Only spans inside a spanwise trace (a `#[trace]` function, ...) are recorded.
/// let layer = SpanwiseLayer::new().unparented(Unparented::Ignore);
/// let subscriber = SpanwiseSubscriber::new().unparented(Unparented::Ignore);
/// # let _ = (layer, subscriber);
/// ```
///
/// [`SpanwiseLayer`]: crate::SpanwiseLayer
/// [`SpanwiseSubscriber`]: crate::SpanwiseSubscriber
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unparented {
    /// It starts a trace of its own (the default: a program traced only through `tracing`,
    /// e.g. by the LLM library it uses, is traced).
    #[default]
    StartTrace,
    /// It is not recorded, nor are spans inside it.
    Ignore,
}

/// The bridge's record of one `tracing` span.
pub(crate) struct Bridged {
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
    /// Starts the spanwise span of a new `tracing` span: under `explicit` (the context of its
    /// explicit `parent:`, when that span is bridged), else under the spanwise position current
    /// on this thread; an explicit `parent: None` nests under it too, unless that is a
    /// `tracing` span entered here (then it starts a trace of its own). `None` when nothing is
    /// recorded (tracing off, or no parent and [`Unparented::Ignore`]).
    pub(crate) fn start(
        attrs: &Attributes<'_>,
        explicit: Option<Context>,
        unparented: Unparented,
    ) -> Option<Bridged> {
        let meta = attrs.metadata();
        // `None`: under the current position of this thread's stack.
        let parent = match explicit {
            Some(ctx) => Some(ctx),
            None if attrs.is_root() && entered::top_is_entered_bridged() => Some(Context::empty()),
            None => None,
        };
        if unparented == Unparented::Ignore {
            let has_parent = match &parent {
                Some(p) => !p.is_empty(),
                None => !Context::current().is_empty(),
            };
            if !has_parent {
                return None;
            }
        }
        let mut builder = spanwise_core::span(meta.name());
        if let Some(p) = parent {
            builder = builder.remote_parent(p);
        }
        let span = builder.start_detached();
        if !span.is_recording() && span.context().is_empty() {
            return None;
        }
        let fields = meta.fields().len();
        let (mut meaning, mut genai) = (None, None);
        if fields > 0 {
            // Room for the fields and what GenAI ones map to, in one allocation.
            span.reserve_attributes(fields * 2);
            attrs.record(&mut SpanFields {
                span: &span,
                meaning: &mut meaning,
                genai: &mut genai,
            });
        }
        Some(Bridged {
            context: span.context().clone(),
            state: Mutex::new(State {
                span: Some(span),
                meaning,
                genai,
            }),
        })
    }

    /// The span's position: attached while it is entered, the parent of explicit children.
    pub(crate) fn context(&self) -> &Context {
        &self.context
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic in a setter elsewhere; the state is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the fields of a `Span::record`.
    pub(crate) fn record(&self, values: &Record<'_>) {
        values.record(&mut Recorder {
            bridged: self,
            state: None,
        });
    }

    /// Adds an event whose span this is.
    pub(crate) fn add_event(&self, event: BridgedEvent) {
        let state = self.lock();
        if let Some(span) = &state.span {
            span.with(|s| event.add_to(s));
        }
    }

    /// Takes the span out for its close; [`Ending::end`] ends it (call it with no lock of the
    /// caller's held: ending a root hands its trace over, which runs destinations).
    pub(crate) fn take(&self) -> Ending {
        let mut state = self.lock();
        Ending {
            span: state.span.take(),
            meaning: state.meaning.take(),
            genai: state.genai.take(),
        }
    }
}

/// A closing span, taken out of its [`Bridged`].
pub(crate) struct Ending {
    span: Option<DetachedSpan>,
    meaning: Option<Box<Meaning>>,
    genai: Option<Box<GenAi>>,
}

impl Ending {
    /// Applies what the fields meant (GenAI mapping, `otel.status_code`) and ends the span.
    pub(crate) fn end(self) {
        let Some(span) = self.span else {
            return;
        };
        if self.meaning.is_some() || self.genai.is_some() {
            span.with(|s| {
                if let Some(genai) = self.genai {
                    genai.apply(s);
                }
                if let Some(meaning) = self.meaning {
                    meaning.apply(s);
                }
            });
        }
        drop(span);
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
