//! Token usage and cost on spans, and their sums in the trace metadata
//! (`mlflow.trace.tokenUsage`, `mlflow.trace.cost`) as the runtime finalizes the trace.

use spanwise::llm::{LlmCost, TokenUsage};
use spanwise::{Context, SpanType, Trace, TraceId, get_trace, keys, start_span};

fn trace_of(id: Option<TraceId>) -> Trace {
    get_trace(&id.expect("recording")).unwrap()
}

#[test]
fn the_trace_sums_usage_and_cost_without_counting_nested_llm_spans_twice() {
    let id = {
        let root = start_span("agent_run");
        {
            // A wrapper reporting the total of the two calls it makes.
            let wrapper = start_span("planner").span_type(SpanType::Llm);
            wrapper.set_token_usage(TokenUsage::new(30, 12));
            wrapper.set_cost(LlmCost::new(0.25, 0.5));
            for (i, o) in [(10, 4), (20, 8)] {
                let call = start_span("chat").span_type(SpanType::ChatModel);
                call.set_token_usage(TokenUsage::new(i, o));
                call.set_cost(LlmCost::new(0.125, 0.25));
            }
        }
        {
            let tool = start_span("search").span_type(SpanType::Tool);
            let call = start_span("summarize").span_type(SpanType::ChatModel);
            call.set_token_usage(TokenUsage {
                cache_read_input_tokens: Some(5),
                ..TokenUsage::new(7, 1)
            });
            drop(call);
            drop(tool);
        }
        root.trace_id()
    };
    let t = trace_of(id);
    assert_eq!(
        t.info.trace_metadata[keys::TRACE_TOKEN_USAGE],
        r#"{"input_tokens": 37, "output_tokens": 13, "total_tokens": 50, "cache_read_input_tokens": 5}"#
    );
    assert_eq!(
        t.info.trace_metadata[keys::TRACE_COST],
        r#"{"input_cost": 0.25, "output_cost": 0.5, "total_cost": 0.75}"#
    );
}

#[test]
fn a_trace_without_llm_spans_has_no_usage_metadata() {
    let id = {
        let root = start_span("plain");
        drop(start_span("child"));
        root.trace_id()
    };
    let t = trace_of(id);
    assert!(!t.info.trace_metadata.contains_key(keys::TRACE_TOKEN_USAGE));
    assert!(!t.info.trace_metadata.contains_key(keys::TRACE_COST));
}

#[test]
fn a_late_llm_span_updates_the_republished_sum() {
    let id = {
        let root = start_span("request");
        let call = start_span("chat").span_type(SpanType::ChatModel);
        call.set_token_usage(TokenUsage::new(3, 2));
        drop(call);
        let ctx = Context::current();
        let id = root.trace_id();
        drop(root);
        assert_eq!(
            trace_of(id).info.trace_metadata[keys::TRACE_TOKEN_USAGE],
            r#"{"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}"#
        );
        std::thread::spawn(move || {
            let _g = ctx.attach();
            let late = start_span("late_chat").span_type(SpanType::ChatModel);
            late.set_token_usage(TokenUsage::new(100, 50));
        })
        .join()
        .unwrap();
        id
    };
    let t = trace_of(id);
    assert_eq!(t.data.spans.len(), 3);
    assert_eq!(
        t.info.trace_metadata[keys::TRACE_TOKEN_USAGE],
        r#"{"input_tokens": 103, "output_tokens": 52, "total_tokens": 155}"#
    );
}
