//! Compile-fail cases of `#[trace]` and of the span guard, with their expected messages in
//! `tests/ui/*.stderr`. Regenerate them with `TRYBUILD=overwrite cargo test --test trybuild`
//! after checking that the new messages are right.

#[test]
fn compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
