//! The client API with tracing disabled: the ids still work, nothing is stored.
//!
//! A binary of its own, because `disable()` is process-wide.

use spanwise::{Client, EndOptions, Error, SpanOptions};

#[test]
fn disabled_tracing_keeps_the_api_working_and_stores_nothing() {
    let _guard = spanwise::init_with(spanwise::Config::new().no_destination()).unwrap();
    spanwise::disable();
    let client = Client::new();
    let root = client.start_trace("off", SpanOptions::new().inputs(1));
    let child = client
        .start_span("child", root.trace_id, root.span_id, SpanOptions::new())
        .unwrap();
    // The context of an unrecorded trace records nothing either, even with tracing back on.
    let ctx = client.context_of(child.trace_id, child.span_id).unwrap();
    assert!(!ctx.is_sampled());
    spanwise::enable();
    {
        let _attached = ctx.attach();
        assert!(!spanwise::start_span("under_unrecorded").is_recording());
    }
    client
        .end_span(child.trace_id, child.span_id, EndOptions::new())
        .unwrap();
    // Errors are still reported for bad ids.
    assert!(matches!(
        client.end_span(child.trace_id, child.span_id, EndOptions::new()),
        Err(Error::InvalidSpan(_))
    ));
    client.end_trace(root.trace_id, EndOptions::new()).unwrap();
    assert!(client.get_trace(&root.trace_id).is_none());
    assert_eq!(spanwise::stats().traces_completed, 0);
}
