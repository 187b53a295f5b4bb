//! What the example tests share.

use spanwise::{SpanType, Trace};

/// `(name, parent name, span type)` of every span, in start order.
pub fn shape(t: &Trace) -> Vec<(String, Option<String>, SpanType)> {
    t.data
        .spans
        .iter()
        .map(|s| {
            let parent = t.parent(s).map(|p| p.name.clone());
            (s.name.clone(), parent, s.span_type())
        })
        .collect()
}
