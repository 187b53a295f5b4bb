//! `trace_fn!`: tracing existing functions and closures without changing their definitions.

use serde_json::json;
use spanwise::{StatusCode, Trace, trace, trace_fn};

fn last_trace() -> Trace {
    let id = spanwise::last_active_trace_id().expect("a trace ended on this thread");
    spanwise::get_trace(&id).expect("the trace is in the store")
}

fn factorial(n: u64) -> u64 {
    (1..=n).product()
}

#[trace]
fn invocation(x: f64, exp: f64) -> u64 {
    let traced_pow = trace_fn!("pow", f64::powf, 2);
    let raised = traced_pow(x, exp);
    let traced_factorial = trace_fn!("factorial", factorial, 1);
    traced_factorial(raised as u64)
}

#[test]
fn the_seed_invocation() {
    assert_eq!(invocation(2.0, 2.0), 24);
    let t = last_trace();
    let root = t.root().unwrap();
    assert_eq!(root.name, "invocation");
    let kids = t.children(&root.span_id);
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0].name, "pow");
    assert_eq!(kids[0].inputs(), Some(json!({"arg0": 2.0, "arg1": 2.0})));
    assert_eq!(kids[0].outputs(), Some(json!(4.0)));
    assert_eq!(
        kids[0].attribute("mlflow.spanFunctionName"),
        Some(json!("pow"))
    );
    assert_eq!(kids[1].name, "factorial");
    assert_eq!(kids[1].inputs(), Some(json!({"arg0": 4})));
    assert_eq!(kids[1].outputs(), Some(json!(24)));
}

#[derive(Debug)]
struct Config {
    #[allow(dead_code)]
    depth: u8,
}

#[test]
fn names_arities_and_capture_fallbacks() {
    let zero = trace_fn!("zero", || 7u8, 0);
    assert_eq!(zero(), 7);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.inputs(), Some(json!({})));
    assert_eq!(root.outputs(), Some(json!(7)));

    let named = trace_fn!(
        "named",
        |a: i32, cfg: Config, _flag: bool| a + cfg.depth as i32,
        (a, cfg, _)
    );
    assert_eq!(named(1, Config { depth: 2 }, true), 3);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(
        root.attributes.get("mlflow.spanInputs").unwrap(),
        r#"{"a":1,"cfg":"Config { depth: 2 }","arg2":true}"#
    );

    let six = trace_fn!(
        "six",
        |a: u8, b: u8, c: u8, d: u8, e: u8, f: u8| a + b + c + d + e + f,
        6
    );
    assert_eq!(six(1, 2, 3, 4, 5, 6), 21);
    let root = last_trace().root().unwrap().clone();
    assert_eq!(
        root.inputs(),
        Some(json!({"arg0": 1, "arg1": 2, "arg2": 3, "arg3": 4, "arg4": 5, "arg5": 6}))
    );
    // The traced closure can be called many times; each call is a span.
    assert_eq!(six(0, 0, 0, 0, 0, 1), 1);
    assert_eq!(last_trace().root().unwrap().outputs(), Some(json!(1)));
}

#[test]
fn errors_are_recorded() {
    let parse = trace_fn!("parse", |s: &str| s.parse::<i32>(), (text));
    assert_eq!(parse("12"), Ok(12));
    assert_eq!(last_trace().root().unwrap().outputs(), Some(json!(12)));
    assert!(parse("x").is_err());
    let root = last_trace().root().unwrap().clone();
    assert_eq!(root.inputs(), Some(json!({"text": "x"})));
    assert_eq!(root.status.code, StatusCode::Error);
    assert_eq!(
        root.status.message,
        "ParseIntError: invalid digit found in string"
    );
    assert_eq!(root.outputs(), None);
}

#[test]
fn a_traced_function_is_an_ordinary_closure() {
    let traced = trace_fn!("double", |x: i64| x * 2, 1);
    let v: Vec<i64> = [1, 2, 3].into_iter().map(&traced).collect();
    assert_eq!(v, [2, 4, 6]);
    // Send + Sync when the wrapped function is: usable from other threads.
    let handle = std::thread::spawn(move || traced(5));
    assert_eq!(handle.join().unwrap(), 10);
}
