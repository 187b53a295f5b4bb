//! With tracing disabled, traced functions run unchanged and record nothing. A test binary of
//! its own, because `disable()` is process-wide and would blank the traces of parallel tests.

use spanwise::trace;

#[trace(attributes(k = 1))]
fn add(a: i32, b: i32) -> Result<i32, String> {
    if a < 0 {
        Err("negative".into())
    } else {
        Ok(a + b)
    }
}

#[trace]
async fn add_async(a: i32) -> i32 {
    add(a, 1).unwrap_or(0)
}

// A moved, mutated argument: passed through the expansion's test of `enabled()` either way.
#[trace]
fn push(mut v: Vec<String>, s: &str) -> Vec<String> {
    v.push(s.to_owned());
    v
}

#[test]
fn disabled_tracing_runs_the_function_and_records_nothing() {
    spanwise::disable();
    assert_eq!(push(vec!["a".into()], "b"), ["a", "b"]);
    assert_eq!(add(1, 2), Ok(3));
    assert_eq!(add(-1, 2), Err("negative".into()));
    assert_eq!(futures::executor::block_on(add_async(4)), 5);
    assert!(spanwise::current_span().is_none());
    assert_eq!(spanwise::last_active_trace_id(), None);
    spanwise::enable();
    assert_eq!(push(vec!["a".into()], "b"), ["a", "b"]);
    assert_eq!(add(1, 2), Ok(3));
    assert!(spanwise::last_active_trace_id().is_some());
}
