//! The bridged spans entered on this thread, innermost last, each with its context attached
//! while it is entered (so that spans started inside, by either library, are its children).

use std::cell::RefCell;

use spanwise_core::{Context, ContextGuard, SpanId};
use tracing_core::Metadata;
use tracing_core::span::Id;

/// One entered span.
struct Entered {
    id: u64,
    /// Its spanwise span (`None` when its trace is not sampled).
    span_id: Option<SpanId>,
    metadata: &'static Metadata<'static>,
    /// Detaches the span's context when dropped.
    _attached: ContextGuard,
}

thread_local! {
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

/// Span `id` (whose position is `context`) is entered on this thread: its context is attached.
pub(crate) fn enter(id: &Id, context: &Context, metadata: &'static Metadata<'static>) {
    let entry = Entered {
        id: id.into_u64(),
        span_id: context.span_id(),
        metadata,
        _attached: context.attach(),
    };
    let _ = ENTERED.try_with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            e.push(entry);
        }
    });
}

/// Span `id` is exited on this thread (its innermost entry, if it was entered here).
pub(crate) fn exit(id: &Id) {
    let id = id.into_u64();
    let entry = ENTERED
        .try_with(|e| {
            let mut e = e.try_borrow_mut().ok()?;
            // Usually the innermost: exits come in the reverse order of entries.
            if e.last().is_some_and(|s| s.id == id) {
                return e.pop();
            }
            let pos = e.iter().rposition(|s| s.id == id)?;
            Some(e.remove(pos))
        })
        .ok()
        .flatten();
    // Dropped outside the borrow: it may hand a trace over, which runs destinations.
    drop(entry);
}

/// The innermost bridged span entered on this thread: its id and metadata.
pub(crate) fn innermost() -> Option<(Id, &'static Metadata<'static>)> {
    ENTERED
        .try_with(|e| {
            let e = e.try_borrow().ok()?;
            e.last().map(|s| (Id::from_u64(s.id), s.metadata))
        })
        .ok()
        .flatten()
}

/// Whether the spanwise position current on this thread is a `tracing` span entered here.
pub(crate) fn top_is_entered_bridged() -> bool {
    let last = ENTERED
        .try_with(|e| e.try_borrow().ok()?.last().map(|s| s.span_id))
        .ok()
        .flatten();
    // The innermost entered bridged span is current unless a `#[trace]` span or a `Context`
    // is above it: compare the span ids.
    last.is_some_and(|s| {
        spanwise_core::current_span().is_none() && Context::current().span_id() == s
    })
}
