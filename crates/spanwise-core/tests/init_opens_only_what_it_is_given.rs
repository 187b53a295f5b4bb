//! `init_with` as the first call of a program applies only the given config: the environment's
//! defaults (a JSONL store in `./spanwise-traces`) are never opened on the way.
//!
//! A test binary of its own: it needs the runtime not started yet, and it changes the working
//! directory of the process.

#[test]
fn init_with_as_the_first_call_creates_no_default_trace_dir() {
    let cwd = std::env::temp_dir().join(format!("spanwise-init-cwd-{}", std::process::id()));
    let elsewhere = cwd.join("chosen");
    std::fs::create_dir_all(&cwd).unwrap();
    std::env::set_current_dir(&cwd).unwrap();

    let guard = spanwise_core::init_with(spanwise_core::Config::new().trace_dir(&elsewhere))
        .expect("config");
    drop(spanwise_core::start_span("work"));
    guard.finish().expect("delivered");

    let lines = std::fs::read_to_string(elsewhere.join("traces.jsonl")).unwrap();
    assert_eq!(
        lines.lines().count(),
        1,
        "the trace went to the chosen directory"
    );
    assert!(
        !cwd.join(spanwise_core::DEFAULT_TRACE_DIR).exists(),
        "no default trace directory in the working directory"
    );

    // A bad config on a later call leaves the running one in place.
    let bad = spanwise_core::init_with(spanwise_core::Config::new().sampling_ratio(2.0));
    assert!(bad.is_err());
    drop(spanwise_core::start_span("after"));
    spanwise_core::flush();
    let lines = std::fs::read_to_string(elsewhere.join("traces.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2);

    std::env::set_current_dir(std::env::temp_dir()).unwrap();
    let _ = std::fs::remove_dir_all(&cwd);
}
