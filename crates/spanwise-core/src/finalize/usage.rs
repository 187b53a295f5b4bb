//! The trace-level sums of token usage and cost (`mlflow.trace.tokenUsage`, `mlflow.trace.cost`),
//! computed at finalization from the spans' `mlflow.chat.tokenUsage` and `mlflow.llm.cost`.
//!
//! A span's value counts only when no ancestor has one of its own: a wrapper span that reports
//! the total of its nested LLM calls is not counted twice (MLflow's rule). Usage and cost are
//! deduplicated independently. Spans whose parent is not in the trace (a trace continued from
//! another process) count as roots. A value that does not parse is skipped.

use std::collections::BTreeMap;

use crate::llm::{LlmCost, TokenUsage};
use crate::model::keys;
use crate::record::SpanRecord;
use crate::totals::{Summable, sum_nodes};

/// Inserts `mlflow.trace.tokenUsage` and `mlflow.trace.cost` into `metadata` when a span has
/// usage or cost; leaves it as it is otherwise.
pub(super) fn insert_totals(spans: &[SpanRecord], metadata: &mut BTreeMap<String, String>) {
    for (k, v) in totals(spans).into_iter().flatten() {
        metadata.insert(k.into(), v);
    }
}

/// The metadata entries [`insert_totals`] inserts, in that order: `mlflow.trace.tokenUsage`
/// and `mlflow.trace.cost`, each when a span has one.
pub(super) fn totals(spans: &[SpanRecord]) -> [Option<(&'static str, String)>; 2] {
    // The usual trace has no LLM span: one look at the keys and done.
    let has = |key: &str| {
        spans
            .iter()
            .any(|r| r.attributes.iter().any(|(k, _)| k == key))
    };
    let (usage, cost) = (has(keys::TOKEN_USAGE), has(keys::LLM_COST));
    if !usage && !cost {
        return [None, None];
    }
    [
        usage
            .then(|| sum::<TokenUsage>(spans, keys::TOKEN_USAGE))
            .flatten()
            .map(|u| (keys::TRACE_TOKEN_USAGE, usage_json(&u))),
        cost.then(|| sum::<LlmCost>(spans, keys::LLM_COST))
            .flatten()
            .map(|c| (keys::TRACE_COST, cost_json(&c))),
    ]
}

/// The sum of `key`'s values over the spans none of whose ancestors has a value; `None` when no
/// span has one.
fn sum<T: Summable>(spans: &[SpanRecord], key: &str) -> Option<T> {
    sum_nodes(spans.iter().map(|r| {
        let value = r
            .attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str());
        (r.span_id, r.parent_id, value)
    }))
}

/// The usage as MLflow writes it (Python's `json.dumps`: `", "` and `": "` separators).
fn usage_json(u: &TokenUsage) -> String {
    let mut fields = vec![
        ("input_tokens", u.input_tokens.to_string()),
        ("output_tokens", u.output_tokens.to_string()),
        ("total_tokens", u.total_tokens.to_string()),
    ];
    if let Some(n) = u.cache_read_input_tokens {
        fields.push(("cache_read_input_tokens", n.to_string()));
    }
    if let Some(n) = u.cache_creation_input_tokens {
        fields.push(("cache_creation_input_tokens", n.to_string()));
    }
    object(&fields)
}

/// The cost as MLflow writes it.
fn cost_json(c: &LlmCost) -> String {
    let num = |x: f64| serde_json::to_string(&x).unwrap_or_else(|_| "0.0".into());
    object(&[
        ("input_cost", num(c.input_cost)),
        ("output_cost", num(c.output_cost)),
        ("total_cost", num(c.total_cost)),
    ])
}

fn object(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect();
    format!("{{{}}}", body.join(", "))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::id::SpanId;

    fn rec(id: u64, parent: Option<u64>, attrs: &[(&'static str, &str)]) -> SpanRecord {
        let mut r = SpanRecord::new(SpanId(id), parent.map(SpanId), Cow::Borrowed("s"));
        for (k, v) in attrs {
            r.set_attribute(Cow::Borrowed(k), v.to_string());
        }
        r
    }

    fn totals(spans: &[SpanRecord]) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        insert_totals(spans, &mut m);
        m
    }

    const U: &str = keys::TOKEN_USAGE;
    const C: &str = keys::LLM_COST;

    #[test]
    fn no_usage_no_metadata() {
        assert!(totals(&[rec(1, None, &[("a", "1")]), rec(2, Some(1), &[])]).is_empty());
    }

    #[test]
    fn siblings_add_and_nested_usage_counts_once() {
        let u = |i, o| serde_json::to_string(&TokenUsage::new(i, o)).unwrap();
        let spans = [
            rec(1, None, &[]),
            // An agent reporting the total of its two nested calls: only its own usage counts.
            rec(2, Some(1), &[(U, &u(30, 12))]),
            rec(3, Some(2), &[(U, &u(10, 4))]),
            rec(4, Some(3), &[(U, &u(20, 8))]),
            // A sibling call of the agent, deeper under a usage-less span.
            rec(5, Some(1), &[]),
            rec(6, Some(5), &[(U, &u(7, 1))]),
        ];
        assert_eq!(
            totals(&spans)[keys::TRACE_TOKEN_USAGE],
            r#"{"input_tokens": 37, "output_tokens": 13, "total_tokens": 50}"#
        );
    }

    #[test]
    fn cache_counts_appear_when_a_span_has_them() {
        let spans = [
            rec(
                1,
                None,
                &[(
                    U,
                    r#"{"input_tokens":5,"output_tokens":1,"total_tokens":6}"#,
                )],
            ),
            rec(
                2,
                None,
                &[(
                    U,
                    r#"{"input_tokens":5,"output_tokens":1,"total_tokens":6,"cache_read_input_tokens":3}"#,
                )],
            ),
        ];
        assert_eq!(
            totals(&spans)[keys::TRACE_TOKEN_USAGE],
            r#"{"input_tokens": 10, "output_tokens": 2, "total_tokens": 12, "cache_read_input_tokens": 3}"#
        );
    }

    #[test]
    fn cost_is_deduplicated_on_its_own() {
        let c = |i, o| serde_json::to_string(&LlmCost::new(i, o)).unwrap();
        let spans = [
            rec(
                1,
                None,
                &[(
                    U,
                    r#"{"input_tokens":1,"output_tokens":1,"total_tokens":2}"#,
                )],
            ),
            rec(2, Some(1), &[(C, &c(0.25, 0.5))]),
            rec(3, Some(1), &[(C, &c(0.125, 0.0))]),
            rec(4, Some(3), &[(C, &c(1.0, 1.0))]),
        ];
        let m = totals(&spans);
        assert_eq!(
            m[keys::TRACE_COST],
            r#"{"input_cost": 0.375, "output_cost": 0.5, "total_cost": 0.875}"#
        );
        assert_eq!(
            m[keys::TRACE_TOKEN_USAGE],
            r#"{"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}"#
        );
    }

    #[test]
    fn unparsable_values_are_skipped_and_cycles_end() {
        let spans = [
            rec(1, Some(2), &[(U, "\"lots\"")]),
            rec(2, Some(1), &[]),
            rec(
                3,
                Some(1),
                &[(U, r#"{"input_tokens":2,"output_tokens":0}"#)],
            ),
        ];
        assert_eq!(
            totals(&spans)[keys::TRACE_TOKEN_USAGE],
            r#"{"input_tokens": 2, "output_tokens": 0, "total_tokens": 0}"#
        );
    }
}
