//! What the example tests share.

use spanwise::{SpanType, Trace};

/// `(name, parent name, span type)` of every span, in start order.
pub fn shape(t: &Trace) -> Vec<(String, Option<String>, SpanType)> {
    t.data
        .spans
        .iter()
        .map(|s| {
            let parent = s
                .parent_span_id
                .and_then(|p| t.span(&p))
                .map(|p| p.name.clone());
            (s.name.clone(), parent, s.span_type())
        })
        .collect()
}
