//! Sums of per-span values over a trace (token usage, cost), where a span counts only when
//! none of its ancestors has a value of its own: a wrapper span that reports the total of its
//! nested LLM calls is not counted twice (MLflow's rule). A leaf: the finalization sums records,
//! `llm` sums a built trace.

use std::collections::HashMap;

use crate::id::SpanId;

/// A value the sum adds up.
pub(crate) trait Summable: serde::de::DeserializeOwned + Default {
    fn add_to(&self, total: &mut Self);
}

/// The sum over `(span, parent, JSON value)` nodes of the values of spans none of whose
/// ancestors has one; `None` when no node has a value that parses.
pub(crate) fn sum_nodes<'a, T: Summable>(
    nodes: impl Iterator<Item = (SpanId, Option<SpanId>, Option<&'a str>)>,
) -> Option<T> {
    let mut parent_of: HashMap<SpanId, Option<SpanId>> = HashMap::new();
    // The usual trace has no LLM span: one pass over the nodes and done.
    let mut values: Vec<(Option<SpanId>, T)> = Vec::new();
    let mut has_value: std::collections::HashSet<SpanId> = Default::default();
    for (id, parent, raw) in nodes {
        parent_of.insert(id, parent);
        if let Some(v) = raw.and_then(|r| serde_json::from_str::<T>(r).ok()) {
            has_value.insert(id);
            values.push((parent, v));
        }
    }
    if values.is_empty() {
        return None;
    }
    let mut total = T::default();
    for (parent, v) in &values {
        if !ancestor_has_value(*parent, &parent_of, &has_value) {
            v.add_to(&mut total);
        }
    }
    Some(total)
}

/// Whether `parent` or one of its ancestors (within the trace) has a value. Walks at most as many
/// steps as there are spans, so a cycle in broken input cannot loop forever.
fn ancestor_has_value(
    mut parent: Option<SpanId>,
    parent_of: &HashMap<SpanId, Option<SpanId>>,
    has_value: &std::collections::HashSet<SpanId>,
) -> bool {
    let mut steps = 0;
    while let Some(p) = parent {
        if has_value.contains(&p) {
            return true;
        }
        steps += 1;
        if steps > parent_of.len() {
            return false;
        }
        parent = parent_of.get(&p).copied().flatten();
    }
    false
}
