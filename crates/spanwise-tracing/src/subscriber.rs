//! [`SpanwiseSubscriber`]: the bridge as a [`Subscriber`] of its own, with no Registry, for
//! programs where spanwise is the only consumer of `tracing` spans.
//!
//! It maps spans and events exactly as [`SpanwiseLayer`](crate::SpanwiseLayer) does (the same
//! code: [`Bridged`]), and keeps only what that needs: per span, its [`Bridged`] record and a
//! reference count, in a generation-checked table whose key is the span's [`Id`]; per thread,
//! the stack of spans entered there. What the Registry keeps besides (each span's parent id and
//! a reference to it, the extension map, the stack of every entered span) is not kept, nor are
//! spans that are not recorded: they all get one reserved id that every method ignores.
//!
//! An [`Id`] that the subscriber did not hand out (a stale one, or one forged with
//! [`Id::from_u64`]) is looked up like any other: the table's generation check finds no span
//! (or, for a forged id that happens to name a live span, that span), so it does nothing or
//! acts on a real span; it is never read as a pointer.

use std::sync::atomic::{AtomicUsize, Ordering, fence};

use sharded_slab::Slab;
use tracing_core::span::{Attributes, Current, Id, Record};
use tracing_core::subscriber::Interest;
use tracing_core::{Event, LevelFilter, Metadata, Subscriber};

use crate::bridged::{Bridged, Unparented};
use crate::entered;
use crate::event::BridgedEvent;

/// The id of every span the subscriber does not record (tracing off, or unparented and
/// [`Unparented::Ignore`]): never a key of the table (keys stay below 2^63, see [`Keys`]).
const UNRECORDED: u64 = u64::MAX;

/// The table's layout: sharded-slab's defaults, with the top bit of every key kept clear, so
/// that `key + 1` (a span's id) is never [`UNRECORDED`].
struct Keys;

impl sharded_slab::Config for Keys {
    const RESERVED_BITS: usize = 1;
}

/// One recorded span.
struct Slot {
    bridged: Bridged,
    metadata: &'static Metadata<'static>,
    /// The span's handles (`Span` values and clones); it closes when the last one drops.
    handles: AtomicUsize,
}

/// A [`tracing_core::Subscriber`] that records `tracing` spans and events in spanwise traces
/// by itself, with no Registry underneath: cheaper per span than
/// [`SpanwiseLayer`](crate::SpanwiseLayer) over `tracing_subscriber::registry()`, for programs
/// where spanwise is the only consumer of `tracing` spans (no `fmt` layer, no second bridge).
///
/// Spans, fields, events, the GenAI mapping, parents in both directions with `#[trace]` and
/// [`Unparented`] behave as with the layer. Global filters compose on top with
/// [`SubscriberExt::with`](tracing_subscriber::layer::SubscriberExt::with) (`LevelFilter`,
/// `Targets`, `EnvFilter`); layers that need a Registry (`fmt`, per-layer filters) do not: use
/// the layer for those.
///
/// ```
/// use tracing_subscriber::filter::LevelFilter;
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = spanwise_tracing::subscriber().with(LevelFilter::INFO);
/// tracing::subscriber::with_default(subscriber, || {
///     let root = spanwise_core::start_span("handler");
///     tracing::info_span!("db.query", table = "users").in_scope(|| {
///         tracing::info!(rows = 3, "fetched");
///         drop(tracing::debug_span!("filtered out"));
///     });
///     let id = root.trace_id().unwrap();
///     drop(root);
///     let trace = spanwise_core::get_trace(&id).unwrap();
///     assert_eq!(trace.data.spans.len(), 2);
///     let query = &trace.data.spans[1];
///     assert_eq!(query.parent_span_id, Some(trace.root().unwrap().span_id));
///     assert_eq!(query.attribute("table"), Some(serde_json::json!("users")));
///     assert_eq!(query.events[0].name, "fetched");
/// });
/// ```
pub struct SpanwiseSubscriber {
    unparented: Unparented,
    spans: Slab<Slot, Keys>,
}

/// A [`SpanwiseSubscriber`] with the default settings.
///
/// ```
/// tracing::subscriber::set_global_default(spanwise_tracing::subscriber()).unwrap();
/// ```
pub fn subscriber() -> SpanwiseSubscriber {
    SpanwiseSubscriber::new()
}

impl Default for SpanwiseSubscriber {
    fn default() -> SpanwiseSubscriber {
        SpanwiseSubscriber {
            unparented: Unparented::default(),
            spans: Slab::new_with_config::<Keys>(),
        }
    }
}

impl std::fmt::Debug for SpanwiseSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanwiseSubscriber")
            .field("unparented", &self.unparented)
            .finish_non_exhaustive()
    }
}

impl SpanwiseSubscriber {
    /// The default subscriber: unparented spans start traces of their own.
    ///
    /// ```
    /// let _subscriber = spanwise_tracing::SpanwiseSubscriber::new();
    /// ```
    pub fn new() -> SpanwiseSubscriber {
        SpanwiseSubscriber::default()
    }

    /// Sets what a span with no spanwise parent does (see [`Unparented`]).
    ///
    /// ```
    /// use spanwise_tracing::{SpanwiseSubscriber, Unparented};
    /// let _subscriber = SpanwiseSubscriber::new().unparented(Unparented::Ignore);
    /// ```
    pub fn unparented(mut self, unparented: Unparented) -> SpanwiseSubscriber {
        self.unparented = unparented;
        self
    }

    /// The recorded span `id` names, if any.
    fn slot(&self, id: &Id) -> Option<sharded_slab::Entry<'_, Slot, Keys>> {
        let id = id.into_u64();
        if id == UNRECORDED {
            return None;
        }
        // Ids are `key + 1`; an id too large for a key (on 32-bit targets) names nothing.
        self.spans.get(usize::try_from(id - 1).ok()?)
    }
}

/// The id of a span that is not recorded.
fn unrecorded() -> Id {
    Id::from_u64(UNRECORDED)
}

impl Subscriber for SpanwiseSubscriber {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // Every span and event is wanted (whether tracing is on is asked per span, since it can
        // change at run time), unless spanwise is compiled out.
        if spanwise_core::__private::COMPILED_OUT {
            Interest::never()
        } else {
            Interest::always()
        }
    }

    fn enabled(&self, _metadata: &Metadata<'_>) -> bool {
        !spanwise_core::__private::COMPILED_OUT
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        // No opinion (every level is recorded), so that a filter composed on top (which
        // `Layered` combines with this hint, taking the more verbose one) sets the maximum.
        spanwise_core::__private::COMPILED_OUT.then_some(LevelFilter::OFF)
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        if !spanwise_core::is_enabled() {
            return unrecorded();
        }
        let explicit = attrs
            .parent()
            .and_then(|p| self.slot(p))
            .map(|p| p.bridged.context().clone());
        let Some(bridged) = Bridged::start(attrs, explicit, self.unparented) else {
            return unrecorded();
        };
        let slot = Slot {
            bridged,
            metadata: attrs.metadata(),
            handles: AtomicUsize::new(1),
        };
        match self.spans.insert(slot) {
            Some(key) => Id::from_u64(key as u64 + 1),
            // The table is full: the span (dropped with the slot) ends now.
            None => unrecorded(),
        }
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(slot) = self.slot(span) {
            slot.bridged.record(values);
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {
        // Not recorded: a spanwise span has no links yet (as with the layer).
    }

    fn event(&self, event: &Event<'_>) {
        if !spanwise_core::is_enabled() {
            return;
        }
        let Some(for_span) = BridgedEvent::new(event).add_to_current_native() else {
            return;
        };
        let span = if event.is_contextual() {
            entered::innermost().map(|(id, _)| id)
        } else {
            event.parent().cloned()
        };
        if let Some(slot) = span.as_ref().and_then(|id| self.slot(id)) {
            slot.bridged.add_event(for_span);
        }
    }

    fn enter(&self, span: &Id) {
        if let Some(slot) = self.slot(span) {
            entered::enter(span, slot.bridged.context(), slot.metadata);
        }
    }

    fn exit(&self, span: &Id) {
        entered::exit(span);
    }

    fn clone_span(&self, id: &Id) -> Id {
        if let Some(slot) = self.slot(id) {
            slot.handles.fetch_add(1, Ordering::Relaxed);
        }
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        let Some(slot) = self.slot(&id) else {
            return false;
        };
        // Never below zero, even when a forged id closes a span more times than it was cloned.
        let last = slot
            .handles
            .fetch_update(Ordering::Release, Ordering::Relaxed, |n| n.checked_sub(1));
        if last != Ok(1) {
            return false;
        }
        // Every other handle's changes to the span happen before its close.
        fence(Ordering::Acquire);
        let ending = slot.bridged.take();
        drop(slot);
        // The id names nothing from here on (the table's generation moves on).
        self.spans.remove(id.into_u64() as usize - 1);
        // Ends outside the table's entry: ending a root hands its trace over.
        ending.end();
        true
    }

    fn current_span(&self) -> Current {
        match entered::innermost() {
            Some((id, metadata)) => Current::new(id, metadata),
            None => Current::none(),
        }
    }
}
