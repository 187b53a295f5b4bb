//! Hand-written `tracing` spans under the layer over a Registry: the cases of
//! `shared/spans.rs` (the tree in sync, async, multi-thread and multi-task code, both
//! directions of nesting with `#[trace]`, fields recorded later, events, errors, GenAI fields, a
//! span that outlives its parent), which `tests/subscriber.rs` runs under `SpanwiseSubscriber`.

use std::sync::Once;

use tracing_subscriber::prelude::*;

/// One global subscriber for the whole test binary (threads and tasks see it too).
fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(spanwise_tracing::layer());
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

#[path = "shared/spans.rs"]
mod cases;
