//! `#[trace]` on sync functions: names, inputs, outputs, span types, attributes, nesting.

use serde_json::json;
use spanwise::{SpanType, Trace, trace};

fn last_trace() -> Trace {
    let id = spanwise::last_active_trace_id().expect("a trace ended on this thread");
    spanwise::get_trace(&id).expect("the trace is in the store")
}

#[trace(span_type = "func", attributes(key = "value"))]
fn add_1(x: i64) -> i64 {
    x + 1
}

#[trace(span_type = "func", attributes(key1 = "value1"))]
fn minus_1(x: i64) -> i64 {
    x - 1
}

#[trace(name = "Trace Test")]
fn trace_test(x: i64) -> i64 {
    let step1 = add_1(x);
    minus_1(step1)
}

#[test]
fn decorator_seed_trace() {
    assert_eq!(trace_test(4), 4);
    let t = last_trace();
    let root = t.root().unwrap();
    assert_eq!(root.name, "Trace Test");
    assert_eq!(root.inputs(), Some(json!({"x": 4})));
    assert_eq!(root.outputs(), Some(json!(4)));
    assert_eq!(
        root.attribute("mlflow.spanFunctionName"),
        Some(json!("trace_test"))
    );
    assert_eq!(root.span_type(), SpanType::Unknown);
    let kids = t.children(&root.span_id);
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0].name, "add_1");
    assert_eq!(kids[0].span_type(), SpanType::Custom("func".into()));
    assert_eq!(kids[0].attribute("key"), Some(json!("value")));
    assert_eq!(kids[0].inputs(), Some(json!({"x": 4})));
    assert_eq!(kids[0].outputs(), Some(json!(5)));
    assert_eq!(kids[1].name, "minus_1");
    assert_eq!(kids[1].attribute("key1"), Some(json!("value1")));
    assert_eq!(kids[1].inputs(), Some(json!({"x": 5})));
    assert_eq!(kids[1].outputs(), Some(json!(4)));
}

// ---- Inputs: names, order, skip, destructuring, capture fallbacks ----

#[derive(Debug)]
struct OnlyDebug(#[allow(dead_code)] u8);

struct Opaque;

#[trace]
fn many(a: i64, s: &str, v: Vec<u8>, d: OnlyDebug, o: Opaque, opt: Option<bool>) -> usize {
    let _ = (d, o);
    a as usize + s.len() + v.len() + opt.map_or(0, usize::from)
}

#[test]
fn inputs_in_declaration_order_with_fallbacks() {
    assert_eq!(many(1, "ab", vec![1, 2, 3], OnlyDebug(7), Opaque, None), 6);
    let t = last_trace();
    let root = t.root().unwrap();
    let inputs = root.attributes.get("mlflow.spanInputs").unwrap();
    assert_eq!(
        inputs,
        r#"{"a":1,"s":"ab","v":[1,2,3],"d":"OnlyDebug(7)","o":"<unserializable: macro_sync::Opaque>","opt":null}"#
    );
    assert_eq!(root.outputs(), Some(json!(6)));
}

#[trace(skip(api_key, client), capture_output = false)]
fn secret(prompt: &str, api_key: &str, client: Opaque) -> String {
    let _ = client;
    format!("{prompt}:{}", api_key.len())
}

#[trace(skip_all)]
fn all_skipped(password: &str) -> usize {
    password.len()
}

#[test]
fn skip_and_capture_output() {
    assert_eq!(secret("hi", "sk-123", Opaque), "hi:6");
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.inputs(), Some(json!({"prompt": "hi"})));
    assert_eq!(root.outputs(), None);
    assert_eq!(all_skipped("hunter2"), 7);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.inputs(), Some(json!({})));
    assert_eq!(root.outputs(), Some(json!(7)));
}

#[trace]
fn destructured((a, b): (i32, i32), _: u8, [c, ..]: [i32; 2], mut n: i32) -> i32 {
    n += 1;
    a + b + c + n
}

#[test]
fn destructured_parameters_are_named_by_position() {
    assert_eq!(destructured((1, 2), 9, [3, 4], 0), 7);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(
        root.attributes.get("mlflow.spanInputs").unwrap(),
        r#"{"arg0":[1,2],"arg1":9,"arg2":[3,4],"n":0}"#
    );
}

#[trace]
fn unit(_x: u8) {}

// Used only by the span: no `unused_variables` warning (CI's clippy denies warnings), as before
// the arguments were passed by value through the expansion's test of `enabled()`.
#[trace]
fn only_traced(request_id: u64, mut buf: Vec<u8>) -> usize {
    buf.push(1);
    buf.len()
}

#[test]
fn arguments_used_only_by_the_span_are_captured() {
    assert_eq!(only_traced(42, vec![7]), 2);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.inputs(), Some(json!({"request_id": 42, "buf": [7]})));
    assert_eq!(root.outputs(), Some(json!(2)));
}

#[trace]
fn no_args() -> Option<&'static str> {
    None
}

#[test]
fn unit_is_null_and_option_is_a_value() {
    unit(1);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.attributes.get("mlflow.spanOutputs").unwrap(), "null");
    assert_eq!(root.inputs(), Some(json!({"_x": 1})));
    assert_eq!(no_args(), None);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.inputs(), Some(json!({})));
    assert_eq!(root.attributes.get("mlflow.spanOutputs").unwrap(), "null");
    assert_eq!(root.status.code, spanwise::StatusCode::Ok);
}

// ---- Span types and attributes ----

fn kind_for(n: u8) -> SpanType {
    if n == 0 {
        SpanType::Tool
    } else {
        SpanType::Retriever
    }
}

#[trace(name = "call-local-llm", span_type = SpanType::Llm, attributes(model = "gpt-4o-mini", temperature = 0.2))]
fn invoke(prompt: &str) -> String {
    format!("echo: {prompt}")
}

#[trace(span_type = kind_for(n), attributes(n_plus_one = n + 1, "gen_ai.system" = "local", words = words.len()))]
fn dynamic(n: u8, words: Vec<String>) -> u8 {
    drop(words);
    n
}

#[test]
fn span_types_static_and_dynamic_and_attributes_from_arguments() {
    invoke("hello");
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.name, "call-local-llm");
    assert_eq!(root.span_type(), SpanType::Llm);
    assert_eq!(root.attribute("model"), Some(json!("gpt-4o-mini")));
    assert_eq!(root.attribute("temperature"), Some(json!(0.2)));
    assert_eq!(
        root.attribute("mlflow.spanFunctionName"),
        Some(json!("invoke"))
    );
    dynamic(1, vec!["a".into(), "b".into()]);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.span_type(), SpanType::Retriever);
    assert_eq!(root.attribute("n_plus_one"), Some(json!(2)));
    assert_eq!(root.attribute("gen_ai.system"), Some(json!("local")));
    assert_eq!(root.attribute("words"), Some(json!(2)));
    dynamic(0, vec![]);
    assert_eq!(last_trace().root().unwrap().span_type(), SpanType::Tool);
}

#[trace]
fn uses_current_span(prompt: &str) -> usize {
    let span = spanwise::current_span().unwrap();
    span.set_attributes(json!({"model": "gpt-4o-mini"}));
    span.set_span_type(SpanType::Llm);
    prompt.len()
}

#[test]
fn current_span_inside_is_the_functions_span() {
    uses_current_span("abc");
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.name, "uses_current_span");
    assert_eq!(root.attribute("model"), Some(json!("gpt-4o-mini")));
    assert_eq!(root.span_type(), SpanType::Llm);
    assert_eq!(root.outputs(), Some(json!(3)));
}

// ---- Methods with every receiver ----

#[derive(Debug, Clone, serde::Serialize)]
struct Counter {
    n: i64,
    name: String,
}

impl Counter {
    #[trace]
    fn get(&self) -> i64 {
        self.n
    }

    #[trace]
    fn bump(&mut self, by: i64) -> &mut i64 {
        self.n += by;
        &mut self.n
    }

    #[trace]
    fn name(&self) -> &str {
        &self.name
    }

    #[trace]
    fn into_n(self) -> i64 {
        self.n
    }

    #[trace]
    fn shared(self: std::sync::Arc<Self>, extra: i64) -> i64 {
        self.n + extra
    }

    #[trace]
    fn make(n: i64) -> Self {
        Counter {
            n,
            name: "made".into(),
        }
    }
}

trait Greeter {
    fn greet(&self, who: &str) -> String;

    #[trace]
    fn default_greet(&self) -> String {
        self.greet("world")
    }
}

impl Greeter for Counter {
    #[trace(span_type = SpanType::Tool)]
    fn greet(&self, who: &str) -> String {
        format!("{} greets {who}", self.name)
    }
}

#[test]
fn methods_with_every_receiver() {
    let mut c = Counter::make(1);
    assert_eq!(last_trace().root().unwrap().name, "make");
    assert_eq!(c.get(), 1);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.name, "get");
    assert_eq!(root.inputs(), Some(json!({})));
    *c.bump(2) += 10;
    assert_eq!(c.n, 13);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.inputs(), Some(json!({"by": 2})));
    assert_eq!(root.outputs(), Some(json!(3)));
    assert_eq!(c.name(), "made");
    assert_eq!(last_trace().root().unwrap().outputs(), Some(json!("made")));
    assert_eq!(std::sync::Arc::new(c.clone()).shared(1), 14);
    assert_eq!(
        last_trace().root().unwrap().inputs(),
        Some(json!({"extra": 1}))
    );
    assert_eq!(c.clone().into_n(), 13);
    assert_eq!(last_trace().root().unwrap().name, "into_n");
    assert_eq!(c.default_greet(), "made greets world");
    let t = last_trace();
    let root = t.root().unwrap();
    assert_eq!(root.name, "default_greet");
    let kids = t.children(&root.span_id);
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].name, "greet");
    assert_eq!(kids[0].span_type(), SpanType::Tool);
    assert_eq!(kids[0].inputs(), Some(json!({"who": "world"})));
}

// ---- Generics, impl Trait, lifetimes, unsafe, kept attributes ----

#[trace]
fn generic_ser<T: serde::Serialize + Clone>(value: T, times: usize) -> Vec<T> {
    vec![value; times]
}

#[trace]
fn generic_debug<T>(value: T) -> String
where
    T: std::fmt::Debug,
{
    format!("{value:?}")
}

#[trace]
fn generic_bare<T>(value: T) -> T {
    value
}

#[trace]
fn impl_arg(items: impl IntoIterator<Item = u32>, label: impl std::fmt::Display) -> String {
    format!("{label}:{}", items.into_iter().sum::<u32>())
}

#[trace]
fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

#[trace]
fn returns_impl(n: u32) -> impl std::fmt::Display {
    n * 2
}

/// Reads through a raw pointer.
///
/// # Safety
/// `p` must be valid for reads.
#[trace]
#[must_use]
#[inline]
unsafe fn read_raw(p: *const u32) -> u32 {
    unsafe { *p }
}

#[test]
fn generics_bounds_in_scope_decide_capture() {
    assert_eq!(generic_ser("x", 2), vec!["x", "x"]);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.inputs(), Some(json!({"value": "x", "times": 2})));
    assert_eq!(root.outputs(), Some(json!(["x", "x"])));
    assert_eq!(generic_debug(vec![1]), "[1]");
    let root = last_trace().root().unwrap().clone();
    // Only `T: Debug` is in scope: the debug text, although Vec<i32> is Serialize.
    assert_eq!(root.inputs(), Some(json!({"value": "[1]"})));
    assert_eq!(generic_bare(5u8), 5);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(
        root.inputs(),
        Some(json!({"value": "<unserializable: u8>"}))
    );
    assert_eq!(root.outputs(), Some(json!("<unserializable: u8>")));
}

#[test]
fn impl_trait_lifetimes_unsafe() {
    assert_eq!(impl_arg(vec![1, 2], "sum"), "sum:3");
    let root = last_trace().root().unwrap().clone();
    assert_eq!(
        root.inputs(),
        Some(
            json!({"items": "<unserializable: alloc::vec::Vec<u32>>", "label": "<unserializable: &str>"})
        )
    );
    assert_eq!(longest("ab", "abc"), "abc");
    assert_eq!(last_trace().root().unwrap().outputs(), Some(json!("abc")));
    assert_eq!(returns_impl(4).to_string(), "8");
    let x = 42u32;
    // SAFETY: `&x` is valid for reads.
    assert_eq!(unsafe { read_raw(&x) }, 42);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.name, "read_raw");
    assert_eq!(root.outputs(), Some(json!(42)));
}

// ---- Control flow: early return, `?`, recursion, panics ----

#[trace]
fn early(n: i32) -> &'static str {
    if n < 0 {
        return "negative";
    }
    "non-negative"
}

#[trace]
fn parse_sum(a: &str, b: &str) -> Result<i32, std::num::ParseIntError> {
    let a: i32 = a.parse()?;
    let b: i32 = b.parse()?;
    Ok(a + b)
}

#[trace]
fn depth(n: u32) -> u32 {
    if n == 0 { 0 } else { 1 + depth(n - 1) }
}

#[test]
fn early_return_and_question_mark_still_record() {
    assert_eq!(early(-1), "negative");
    assert_eq!(
        last_trace().root().unwrap().outputs(),
        Some(json!("negative"))
    );
    assert_eq!(parse_sum("1", "2"), Ok(3));
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.outputs(), Some(json!(3)));
    assert_eq!(root.status.code, spanwise::StatusCode::Ok);
    assert!(parse_sum("1", "x").is_err());
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.outputs(), None);
    assert_eq!(root.status.code, spanwise::StatusCode::Error);
    assert_eq!(
        root.status.message,
        "ParseIntError: invalid digit found in string"
    );
}

#[test]
fn recursion_1000_deep() {
    assert_eq!(depth(1000), 1000);
    let t = last_trace();
    assert_eq!(t.data.spans.len(), 1001);
    // Each span's parent is the span of the call one level up.
    for pair in t.data.spans.windows(2) {
        assert_eq!(pair[1].parent_span_id, Some(pair[0].span_id));
        assert_eq!(
            pair[0].inputs().unwrap()["n"].as_u64().unwrap(),
            pair[1].inputs().unwrap()["n"].as_u64().unwrap() + 1
        );
    }
    assert_eq!(t.root().unwrap().outputs(), Some(json!(1000)));
    // Duplicate names get suffixes in start order.
    assert_eq!(t.data.spans[0].name, "depth_1");
    assert_eq!(t.data.spans[1000].name, "depth_1001");
}

#[trace]
fn boom(x: u8) -> u8 {
    if x > 0 {
        panic!("boom {x}");
    }
    x
}

#[test]
fn panics_are_recorded_and_keep_unwinding() {
    let r = std::panic::catch_unwind(|| boom(3));
    assert!(r.is_err());
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.status.code, spanwise::StatusCode::Error);
    assert_eq!(root.status.message, "panic: boom 3");
    let ev = root.exceptions().next().unwrap();
    assert_eq!(ev.attributes["exception.type"], json!("panic"));
    assert_eq!(root.outputs(), None);
}
