//! The `http::HeaderMap` carrier (feature `http`, on for tests through the dev-dependency).

use http::HeaderMap;
use http::header::HeaderValue;
use spanwise::propagation::{self, TRACEPARENT, TRACESTATE, TraceParent};
use spanwise::{SpanId, TraceId};

const SPAN: &str = "00f067aa0ba902b7";

#[test]
fn inject_and_extract_through_a_header_map() {
    let _guard = spanwise::init_with(spanwise::Config::new().no_destination()).unwrap();
    let mut headers = HeaderMap::new();
    let span = spanwise::start_span("call");
    assert!(propagation::inject(&mut headers));
    let tp = TraceParent::parse(headers[TRACEPARENT].to_str().unwrap()).unwrap();
    assert_eq!(tp.span_id, span.span_id().unwrap());
    let ctx = propagation::extract(&headers).unwrap();
    assert_eq!(ctx.trace_id(), span.trace_id());
}

#[test]
fn a_repeated_traceparent_is_ignored() {
    let tp = format!("00-{}-{SPAN}-01", TraceId::random().to_hex());
    let mut headers = HeaderMap::new();
    headers.append(TRACEPARENT, HeaderValue::from_str(&tp).unwrap());
    assert!(propagation::extract(&headers).is_some());
    headers.append(TRACEPARENT, HeaderValue::from_str(&tp).unwrap());
    assert!(propagation::extract(&headers).is_none());
}

#[test]
fn repeated_tracestate_headers_are_joined() {
    let trace_id = TraceId::random();
    let mut headers = HeaderMap::new();
    headers.insert(
        TRACEPARENT,
        HeaderValue::from_str(&format!("00-{}-{SPAN}-01", trace_id.to_hex())).unwrap(),
    );
    headers.append(TRACESTATE, HeaderValue::from_static("rojo=1"));
    headers.append(TRACESTATE, HeaderValue::from_static("congo=2"));
    let ctx = propagation::extract(&headers).unwrap();
    assert_eq!(ctx.span_id(), Some(SpanId::from_hex(SPAN).unwrap()));
    let mut out = HeaderMap::new();
    assert!(propagation::inject_context(&ctx, &mut out));
    assert_eq!(out[TRACESTATE], "rojo=1,congo=2");
    assert_eq!(out.get_all(TRACEPARENT).iter().count(), 1);
}
