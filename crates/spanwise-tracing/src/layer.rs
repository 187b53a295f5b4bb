//! [`SpanwiseLayer`]: each `tracing` span a spanwise span of the current trace.
//!
//! How a `tracing` span maps:
//! - **Start** (`on_new_span`): a [`DetachedSpan`] under the spanwise position current on this
//!   thread (the top of its stack: a `#[trace]` span, an attached `Context`, or a `tracing` span
//!   entered here), or under its explicit `parent:` when that span is bridged. An explicit
//!   `parent: None` nests under the current spanwise span too, unless that is a `tracing` span
//!   entered here (then it starts a trace of its own). With nothing current, the span starts a
//!   new trace or is ignored ([`Unparented`]).
//!
//! [`DetachedSpan`]: spanwise_core::DetachedSpan
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

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::bridged::{Bridged, Unparented};
use crate::entered;
use crate::event::BridgedEvent;

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
        let explicit = attrs
            .parent()
            .and_then(|p| ctx.span(p))
            .and_then(|p| p.extensions().get::<Bridged>().map(|b| b.context().clone()));
        if let Some(bridged) = Bridged::start(attrs, explicit, self.unparented) {
            // `replace`, not `insert`: never a panic, even if a span id were reused oddly.
            span_ref.extensions_mut().replace(bridged);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        if let Some(bridged) = span_ref.extensions().get::<Bridged>() {
            bridged.record(values);
        }
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        if let Some(bridged) = span_ref.extensions().get::<Bridged>() {
            entered::enter(id, bridged.context(), span_ref.metadata());
        }
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        entered::exit(id);
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span_ref) = ctx.span(&id) else {
            return;
        };
        let ending = match span_ref.extensions().get::<Bridged>() {
            Some(bridged) => bridged.take(),
            None => return,
        };
        // Ends here, outside the extension lock.
        ending.end();
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        if !spanwise_core::is_enabled() {
            return;
        }
        let Some(for_span) = BridgedEvent::new(event).add_to_current_native() else {
            return;
        };
        let Some(span_ref) = ctx.event_span(event) else {
            return;
        };
        if let Some(bridged) = span_ref.extensions().get::<Bridged>() {
            bridged.add_event(for_span);
        }
    }
}
