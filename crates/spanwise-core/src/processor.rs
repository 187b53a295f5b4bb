//! A span processor: the user's function that sees (and may change) each span before it is
//! stored or exported, run with its panics contained. A leaf: the collector runs processors,
//! the configuration holds them, neither is needed to define one.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::model::Span;

/// A span processor (see [`Config::span_processor`](crate::Config::span_processor)).
#[derive(Clone)]
pub(crate) struct SpanProcessor(pub(crate) Arc<dyn Fn(&mut Span) + Send + Sync>);

impl SpanProcessor {
    pub(crate) fn run(&self, span: &mut Span) {
        let f = &self.0;
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(span))) {
            let message = crate::capture::panic_text(&*p);
            crate::counters::user_code_panic(crate::counters::UserCode::SpanProcessor);
            // A redaction that stopped half-way may have left what it was meant to remove:
            // only the span's structure is kept.
            const STRUCTURE: [&str; 4] = [
                crate::model::keys::TRACE_REQUEST_ID,
                crate::model::keys::SPAN_TYPE,
                crate::model::keys::SPAN_FUNCTION_NAME,
                crate::model::keys::SPAN_LOG_LEVEL,
            ];
            span.attributes
                .retain(|k, _| STRUCTURE.contains(&k.as_str()));
            span.events.clear();
            span.events.push(crate::exception::user_code_panic_event(
                crate::counters::UserCode::SpanProcessor,
                &message,
            ));
            crate::warning::warn_once(
                "processor-panic",
                &format!(
                    "a span processor panicked ({message}); the span was kept without its values (inputs, outputs, attributes, events), with a {} event",
                    crate::counters::USER_CODE_PANIC_EVENT
                ),
            );
        }
    }
}
