//! W3C trace-context propagation: traceparent parsing, inject/extract, tracestate pass-through.
//!
//! Tests in this binary share the global runtime and run in parallel: each one uses trace ids of
//! its own.

use std::collections::HashMap;
use std::sync::Once;

use spanwise::propagation::{self, Carrier, TRACEPARENT, TRACESTATE, TraceParent};
use spanwise::{Client, Context, EndOptions, SpanId, SpanOptions, TraceId, start_span};

fn setup() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        std::mem::forget(spanwise::init_with(spanwise::Config::new().no_destination()).unwrap());
    });
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

fn headers(traceparent: &str) -> HashMap<String, String> {
    HashMap::from([(TRACEPARENT.to_string(), traceparent.to_string())])
}

/// Rejected by the parser with a message, and ignored by `extract`.
fn assert_rejected(value: &str, why: &str) {
    let err = TraceParent::parse(value).expect_err(why);
    assert!(err.to_string().contains("traceparent"), "{why}: {err}");
    assert!(
        propagation::extract(&headers(value)).is_none(),
        "{why}: extract accepted {value:?}"
    );
}

#[test]
fn a_valid_traceparent_is_read() {
    let tp = TraceParent::parse(&format!("00-{TRACE}-{SPAN}-01")).unwrap();
    assert_eq!(tp.trace_id, TraceId::from_hex(TRACE).unwrap());
    assert_eq!(tp.span_id, SpanId::from_hex(SPAN).unwrap());
    assert!(tp.sampled);
    assert_eq!(tp.to_string(), format!("00-{TRACE}-{SPAN}-01"));
    // Only the sampled bit is read from the flags.
    assert!(
        TraceParent::parse(&format!("00-{TRACE}-{SPAN}-03"))
            .unwrap()
            .sampled
    );
    assert!(
        !TraceParent::parse(&format!("00-{TRACE}-{SPAN}-02"))
            .unwrap()
            .sampled
    );
    // HTTP whitespace around the value is not part of it.
    assert!(TraceParent::parse(&format!(" \t00-{TRACE}-{SPAN}-01 ")).is_ok());
}

#[test]
fn rejects_version_ff() {
    assert_rejected(&format!("ff-{TRACE}-{SPAN}-01"), "version ff");
}

#[test]
fn rejects_a_bad_version() {
    assert_rejected(&format!("0-{TRACE}-{SPAN}-01"), "1-digit version");
    assert_rejected(&format!("000-{TRACE}-{SPAN}-01"), "3-digit version");
    assert_rejected(&format!("0g-{TRACE}-{SPAN}-01"), "non-hex version");
}

#[test]
fn rejects_wrong_lengths() {
    assert_rejected(
        &format!("00-{}-{SPAN}-01", &TRACE[1..]),
        "31-digit trace id",
    );
    assert_rejected(&format!("00-{TRACE}0-{SPAN}-01"), "33-digit trace id");
    assert_rejected(
        &format!("00-{TRACE}-{}-01", &SPAN[1..]),
        "15-digit parent id",
    );
    assert_rejected(&format!("00-{TRACE}-{SPAN}0-01"), "17-digit parent id");
    assert_rejected(&format!("00-{TRACE}-{SPAN}-1"), "1-digit flags");
    assert_rejected(&format!("00-{TRACE}-{SPAN}-001"), "3-digit flags");
    assert_rejected(&format!("00-{TRACE}-{SPAN}"), "no flags");
    assert_rejected("00", "version only");
}

#[test]
fn rejects_all_zero_ids() {
    assert_rejected(
        &format!("00-{}-{SPAN}-01", "0".repeat(32)),
        "all-zero trace id",
    );
    assert_rejected(
        &format!("00-{TRACE}-{}-01", "0".repeat(16)),
        "all-zero parent id",
    );
}

#[test]
fn rejects_non_hex() {
    assert_rejected(
        &format!("00-{}g-{SPAN}-01", &TRACE[1..]),
        "non-hex trace id",
    );
    assert_rejected(
        &format!("00-{TRACE}-{}z-01", &SPAN[1..]),
        "non-hex parent id",
    );
    assert_rejected(&format!("00-{TRACE}-{SPAN}-0x"), "non-hex flags");
    assert_rejected(&format!("00-{}-{SPAN}-01", "é".repeat(16)), "non-ASCII");
    assert_rejected(&format!("00_{TRACE}_{SPAN}_01"), "wrong delimiters");
}

#[test]
fn rejects_uppercase() {
    assert_rejected(
        &format!("00-{}-{SPAN}-01", TRACE.to_uppercase()),
        "uppercase trace id",
    );
    assert_rejected(
        &format!("00-{TRACE}-{}-01", SPAN.to_uppercase()),
        "uppercase parent id",
    );
    assert_rejected(&format!("00-{TRACE}-{SPAN}-0A"), "uppercase flags");
    assert_rejected(&format!("0A-{TRACE}-{SPAN}-01"), "uppercase version");
}

#[test]
fn rejects_extra_fields_for_version_00() {
    assert_rejected(
        &format!("00-{TRACE}-{SPAN}-01-what-the-future-will-be-like"),
        "extra field",
    );
    assert_rejected(&format!("00-{TRACE}-{SPAN}-01-"), "trailing dash");
}

#[test]
fn rejects_empty() {
    assert_rejected("", "empty");
    assert_rejected("  \t", "whitespace only");
    assert!(
        propagation::extract(&HashMap::<String, String>::new()).is_none(),
        "no header"
    );
}

#[test]
fn later_versions_are_read_by_their_first_four_fields() {
    let tp = TraceParent::parse(&format!(
        "cc-{TRACE}-{SPAN}-01-what-the-future-will-be-like"
    ))
    .unwrap();
    assert_eq!(tp.trace_id.to_hex(), TRACE);
    assert!(tp.sampled);
    assert!(TraceParent::parse(&format!("cc-{TRACE}-{SPAN}-01")).is_ok());
    // After the flags, a later version must continue with a dash.
    assert_rejected(
        &format!("cc-{TRACE}-{SPAN}-01.what"),
        "later version, no dash",
    );
}

#[test]
fn inject_writes_the_current_span() {
    setup();
    let mut carrier: HashMap<String, String> = HashMap::new();
    assert!(!propagation::inject(&mut carrier), "nothing current");
    assert!(carrier.is_empty());

    let outer = start_span("outer");
    let inner = start_span("call_service");
    assert!(propagation::inject(&mut carrier));
    let expected = format!(
        "00-{}-{}-01",
        inner.trace_id().unwrap().to_hex(),
        inner.span_id().unwrap().to_hex()
    );
    assert_eq!(carrier[TRACEPARENT], expected);
    assert!(
        !carrier.contains_key(TRACESTATE),
        "a local trace has no tracestate"
    );
    drop(inner);
    drop(outer);
}

#[test]
fn an_extracted_context_continues_the_trace_here() {
    setup();
    let (trace_id, caller) = (TraceId::random(), SpanId::random());
    let ctx = propagation::extract(&headers(&format!(
        "00-{}-{}-01",
        trace_id.to_hex(),
        caller.to_hex()
    )))
    .unwrap();
    assert_eq!(ctx.trace_id(), Some(trace_id));
    assert_eq!(ctx.span_id(), Some(caller));
    {
        let handler = spanwise::span("handle").remote_parent(ctx).start();
        let _work = start_span("work");
        assert_eq!(handler.trace_id(), Some(trace_id));
        // The remote context is not left current once the span ended.
    }
    assert_eq!(spanwise::current_trace_id(), None);
    let part = spanwise::get_trace(&trace_id).expect("this process's part is stored");
    let root = part.root().unwrap();
    assert_eq!(root.name, "handle");
    assert_eq!(
        root.parent_span_id,
        Some(caller),
        "the local root's parent is the caller's span"
    );
    assert_eq!(part.children(&root.span_id)[0].name, "work");
}

#[test]
fn attaching_an_extracted_context_works_too() {
    setup();
    let (trace_id, caller) = (TraceId::random(), SpanId::random());
    let ctx = propagation::extract(&headers(&format!(
        "00-{}-{}-01",
        trace_id.to_hex(),
        caller.to_hex()
    )))
    .unwrap();
    {
        let _attached = ctx.attach();
        drop(start_span("handle"));
    }
    let part = spanwise::get_trace(&trace_id).unwrap();
    assert_eq!(part.root().unwrap().parent_span_id, Some(caller));
}

#[test]
fn a_not_sampled_caller_is_not_recorded_here_and_passes_the_flag_on() {
    setup();
    let trace_id = TraceId::random();
    let ctx =
        propagation::extract(&headers(&format!("00-{}-{SPAN}-00", trace_id.to_hex()))).unwrap();
    assert!(!ctx.is_sampled());
    let handler = spanwise::span("handle").remote_parent(ctx).start();
    assert!(!handler.is_recording());
    let mut onward: HashMap<String, String> = HashMap::new();
    assert!(propagation::inject(&mut onward));
    let tp = TraceParent::parse(&onward[TRACEPARENT]).unwrap();
    assert!(!tp.sampled);
    drop(handler);
    assert!(spanwise::get_trace(&trace_id).is_none());
}

#[test]
fn tracestate_is_passed_through_in_an_extracted_trace() {
    setup();
    let trace_id = TraceId::random();
    let mut incoming = headers(&format!("00-{}-{SPAN}-01", trace_id.to_hex()));
    incoming.insert(
        "TraceState".into(),
        "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE".into(),
    );
    let ctx = propagation::extract(&incoming).unwrap();

    // Directly under the attached remote context: the remote span is the parent.
    {
        let _attached = ctx.attach();
        let mut out: HashMap<String, String> = HashMap::new();
        propagation::inject(&mut out);
        assert_eq!(
            out[TRACEPARENT],
            format!("00-{}-{SPAN}-01", trace_id.to_hex())
        );
        assert_eq!(out[TRACESTATE], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    }
    // From a span of this process's part: that span is the parent, the state is unchanged.
    let span = spanwise::span("handle").remote_parent(ctx).start();
    let mut out: HashMap<String, String> = HashMap::new();
    propagation::inject(&mut out);
    assert_eq!(
        out[TRACEPARENT],
        format!(
            "00-{}-{}-01",
            trace_id.to_hex(),
            span.span_id().unwrap().to_hex()
        )
    );
    assert_eq!(out[TRACESTATE], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
}

#[test]
fn an_invalid_tracestate_is_dropped_but_the_traceparent_kept() {
    setup();
    let trace_id = TraceId::random();
    let mut incoming = headers(&format!("00-{}-{SPAN}-01", trace_id.to_hex()));
    incoming.insert(TRACESTATE.into(), "Rojo=1,congo=2".into());
    let ctx = propagation::extract(&incoming).unwrap();
    let _attached = ctx.attach();
    let mut out: HashMap<String, String> = HashMap::new();
    assert!(propagation::inject(&mut out));
    assert!(!out.contains_key(TRACESTATE));
}

#[test]
fn the_map_carrier_ignores_header_case() {
    let mut map: HashMap<String, String> = HashMap::new();
    map.insert("TraceParent".into(), format!("00-{TRACE}-{SPAN}-01"));
    assert!(propagation::extract(&map).is_some());
    // Setting replaces the value whatever its case, leaving one entry.
    Carrier::set(&mut map, TRACEPARENT, "x".into());
    assert_eq!(map.len(), 1);
    assert_eq!(Carrier::get(&map, "TRACEPARENT").as_deref(), Some("x"));
}

#[test]
fn a_client_span_can_be_injected() {
    setup();
    let client = Client::new();
    let root = client.start_trace("request", SpanOptions::new());
    let call = client
        .start_span("call", root.trace_id, root.span_id, SpanOptions::new())
        .unwrap();
    let mut out: HashMap<String, String> = HashMap::new();
    assert!(propagation::inject_context(
        &client.context_of(call.trace_id, call.span_id).unwrap(),
        &mut out
    ));
    let tp = TraceParent::parse(&out[TRACEPARENT]).unwrap();
    assert_eq!((tp.trace_id, tp.span_id), (call.trace_id, call.span_id));
    assert!(!propagation::inject_context(
        &Context::empty(),
        &mut HashMap::new()
    ));
    client.end_trace(root.trace_id, EndOptions::new()).unwrap();
}
