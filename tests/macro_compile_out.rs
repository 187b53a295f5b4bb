//! With the `compile-out` feature, traced functions are their plain bodies: they run unchanged
//! and nothing is recorded, even with tracing enabled. Built only with the feature:
//! `cargo test --features compile-out --test macro_compile_out`. (`cargo test --workspace`
//! cannot build it: the feature would be unified into every other test, turning tracing off
//! there.) The macro's unit tests check, in every build, that the expansion tests the constant.
#![cfg(feature = "compile-out")]

use spanwise::trace;

#[trace(attributes(k = 1))]
fn add(a: i32, b: i32) -> Result<i32, String> {
    assert!(spanwise::current_span().is_none());
    if a < 0 {
        Err("negative".into())
    } else {
        Ok(a + b)
    }
}

#[trace]
fn first(v: &mut Vec<u8>) -> &mut u8 {
    &mut v[0]
}

#[trace]
async fn add_async(a: i32) -> i32 {
    add(a, 1).unwrap_or(0)
}

#[trace]
fn evens(n: u32) -> impl Iterator<Item = u32> {
    (0..n).filter(|x| x % 2 == 0)
}

#[test]
fn compiled_out_functions_run_and_record_nothing() {
    const { assert!(spanwise::__private::COMPILED_OUT) };
    spanwise::enable();
    assert!(!spanwise::is_enabled());
    assert_eq!(add(1, 2), Ok(3));
    assert_eq!(add(-1, 2), Err("negative".into()));
    let mut v = vec![1, 2];
    *first(&mut v) = 9;
    assert_eq!(v, [9, 2]);
    assert_eq!(futures::executor::block_on(add_async(4)), 5);
    assert_eq!(evens(5).collect::<Vec<_>>(), [0, 2, 4]);
    let root = spanwise::start_span("root");
    assert!(!root.is_recording());
    drop(root);
    assert_eq!(spanwise::last_active_trace_id(), None);
}
