//! Configuration, the JSONL store, sampling, processors, value limits, disable/enable, flush at
//! exit (in a real child process) and recovery from torn lines.
//!
//! These tests change the process-wide settings, so they take a lock and run one at a time.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::json;
use spanwise::{
    Config, Destination, Error, JsonlDestination, StatusCode, TraceFilter, TraceState, TraceUpdate,
    get_trace, init_with, last_active_trace_id, read_jsonl, search_traces, start_span, stats,
    update_current_trace,
};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fresh directory, removed with what it holds when dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!(
        "spanwise-test-{tag}-{}-{}",
        std::process::id(),
        spanwise::now_unix_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

/// Applies settings; the returned flush guard is not needed in these tests.
fn configure(config: Config) {
    drop(init_with(config).unwrap());
}

fn jsonl(dir: &Path) -> PathBuf {
    dir.join("traces.jsonl")
}

#[test]
fn traces_are_appended_as_mlflow_json_lines_and_read_back_equal() {
    let _s = serial();
    let dir = temp_dir("jsonl");
    let guard = init_with(Config::new().trace_dir(&*dir)).unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        {
            let root = start_span("Trace Test").inputs(json!({"x": i}));
            let _c = start_span("child");
            root.set_outputs(i + 1);
        }
        ids.push(last_active_trace_id().unwrap());
    }
    drop(guard);
    let text = std::fs::read_to_string(jsonl(&dir)).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.ends_with('\n'));
    let contents = read_jsonl(jsonl(&dir)).unwrap();
    assert!(contents.problems.is_empty());
    for (t, id) in contents.traces.iter().zip(&ids) {
        assert_eq!(&t.info.trace_id, id);
        assert_eq!(
            t,
            &get_trace(id).unwrap(),
            "the file holds what the store holds"
        );
    }
}

#[test]
fn a_torn_last_line_and_a_corrupt_line_are_skipped_and_reported() {
    let _s = serial();
    let dir = temp_dir("torn");
    let guard = init_with(Config::new().trace_dir(&*dir)).unwrap();
    drop(start_span("first"));
    drop(guard);
    // A corrupt line in the middle, a good line after it, then a write cut short.
    let good = std::fs::read_to_string(jsonl(&dir)).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(jsonl(&dir))
        .unwrap();
    f.write_all(b"{not json}\n").unwrap();
    let second = good.replace("\"first\"", "\"second\"");
    f.write_all(second.as_bytes()).unwrap();
    f.write_all(&good.as_bytes()[..good.len() / 2]).unwrap();
    drop(f);

    let contents = read_jsonl(jsonl(&dir)).unwrap();
    // "second" has the same trace id as "first", so they merge into one trace.
    assert_eq!(contents.traces.len(), 1);
    assert_eq!(contents.problems.len(), 2);
    assert_eq!(contents.problems[0].line, 2);
    assert!(!contents.problems[0].torn);
    assert_eq!(contents.problems[1].line, 4);
    assert!(contents.problems[1].torn);
}

#[test]
fn sampling_ratio_zero_drops_whole_subtrees_cheaply() {
    let _s = serial();
    configure(Config::new().no_destination().sampling_ratio(0.0));
    let before = stats().unsampled_roots;
    {
        let root = start_span("unsampled");
        assert!(!root.is_recording());
        let child = start_span("child");
        assert!(
            !child.is_recording(),
            "children of an unsampled root are not recorded"
        );
        assert!(update_current_trace(TraceUpdate::new().tag("a", "b")).is_err());
    }
    assert_eq!(stats().unsampled_roots, before + 1);
    configure(Config::new().no_destination());
    let root = start_span("sampled");
    assert!(root.is_recording());
}

#[test]
fn sampling_ratio_one_half_keeps_about_half() {
    let _s = serial();
    configure(Config::new().no_destination().sampling_ratio(0.5));
    let kept = (0..2000)
        .filter(|_| start_span("coin").is_recording())
        .count();
    configure(Config::new().no_destination());
    assert!((800..1200).contains(&kept), "kept {kept} of 2000");
}

#[test]
fn disable_makes_spans_no_ops_and_enable_restores_them() {
    let _s = serial();
    configure(Config::new().no_destination());
    spanwise::disable();
    {
        let s = start_span("off");
        assert!(!s.is_recording());
        assert!(spanwise::current_span().is_none());
    }
    {
        use spanwise::IteratorExt;
        let before = spanwise::last_active_trace_id();
        let v: Vec<i32> = (0..3).traced("off-iter").map(|x| x * 2).collect();
        assert_eq!(v, [0, 2, 4], "items pass through while disabled");
        assert_eq!(
            spanwise::last_active_trace_id(),
            before,
            "and no trace is made"
        );
    }
    spanwise::enable();
    assert!(start_span("on").is_recording());
}

#[test]
fn span_processors_redact_and_a_panicking_one_is_contained() {
    let _s = serial();
    configure(
        Config::new()
            .no_destination()
            .span_processor(|span| {
                if span.attributes.contains_key("api_key") {
                    span.attributes.insert("api_key".into(), "\"***\"".into());
                }
            })
            .span_processor(|span| {
                if span.name == "explode" {
                    panic!("processor bug");
                }
            }),
    );
    let before = stats().processor_panics;
    {
        let root = start_span("explode");
        root.set_attribute("api_key", "sk-secret");
    }
    configure(Config::new().no_destination());
    let t = get_trace(&last_active_trace_id().unwrap()).unwrap();
    // The panicking processor ran after the redacting one; its span keeps no value at all
    // (a redaction that stopped half-way could have left the secret).
    let root = t.root().unwrap();
    assert_eq!(root.attribute("api_key"), None);
    assert!(!format!("{root:?}").contains("sk-secret"));
    assert_eq!(root.name, "explode");
    assert_eq!(stats().processor_panics, before + 1);
    {
        // The redacting processor alone redacts.
        configure(Config::new().no_destination().span_processor(|span| {
            if span.attributes.contains_key("api_key") {
                span.attributes.insert("api_key".into(), "\"***\"".into());
            }
        }));
        {
            let root = start_span("calm");
            root.set_attribute("api_key", "sk-secret");
        }
        configure(Config::new().no_destination());
        let t = get_trace(&last_active_trace_id().unwrap()).unwrap();
        assert_eq!(t.root().unwrap().attribute("api_key"), Some(json!("***")));
    }
}

#[test]
fn values_over_the_limit_are_truncated_with_a_marker() {
    let _s = serial();
    configure(Config::new().no_destination().max_value_bytes(100));
    {
        let root = start_span("big");
        root.set_outputs("x".repeat(1000));
        root.set_inputs(json!({"small": 1}));
    }
    configure(Config::new().no_destination());
    let t = get_trace(&last_active_trace_id().unwrap()).unwrap();
    let out = t.root().unwrap().outputs().unwrap();
    let s = out.as_str().unwrap();
    assert!(s.ends_with("...[truncated 952 bytes]"), "{s}");
    assert_eq!(t.root().unwrap().inputs(), Some(json!({"small": 1})));
}

#[test]
fn memory_capacity_bounds_the_store_and_search_filters() {
    let _s = serial();
    configure(Config::new().no_destination().memory_capacity(5));
    for i in 0..8 {
        let _r = start_span(format!("cap-{i}"));
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        update_current_trace(TraceUpdate::new().tag("parity", tag)).unwrap();
        if i == 7 {
            update_current_trace(TraceUpdate::new().state(TraceState::Error)).unwrap();
        }
    }
    let all = search_traces(&TraceFilter::new());
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].name(), Some("cap-7"), "newest first");
    let odd = search_traces(&TraceFilter::new().tag("parity", "odd"));
    let names: Vec<_> = odd.iter().map(|t| t.name().unwrap().to_string()).collect();
    assert_eq!(names, ["cap-7", "cap-5", "cap-3"]);
    assert_eq!(search_traces(&TraceFilter::new().name("cap-4")).len(), 1);
    assert_eq!(
        search_traces(&TraceFilter::new().state(TraceState::Error)).len(),
        1
    );
    assert_eq!(search_traces(&TraceFilter::new().limit(2)).len(), 2);
    configure(Config::new().no_destination());
}

#[test]
fn bad_configuration_is_a_clear_error_that_keeps_the_old_settings() {
    let _s = serial();
    let err = init_with(Config::new().sampling_ratio(1.5)).unwrap_err();
    assert!(matches!(err, Error::Config { .. }));
    assert!(err.to_string().contains("sampling_ratio"), "{err}");

    // A trace directory below a regular file cannot be created.
    let dir = temp_dir("unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let err = init_with(Config::new().trace_dir(file.join("traces"))).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("a-file"), "{err}");

    // Tracing still works with the settings that were in place.
    drop(start_span("still fine"));
    let t = get_trace(&last_active_trace_id().unwrap()).unwrap();
    assert_eq!(t.root().unwrap().status.code, StatusCode::Ok);
}

#[test]
fn environment_errors_name_the_variable() {
    let _s = serial();
    for (key, value) in [
        ("SPANWISE_SAMPLING_RATIO", "lots"),
        ("MLFLOW_TRACE_SAMPLING_RATIO", "-1"),
        ("SPANWISE_DESTINATION", "kafka"),
        ("SPANWISE_MEMORY_CAPACITY", "many"),
        ("SPANWISE_MEMORY_CAPACITY_BYTES", "256MiB"),
        ("SPANWISE_MEMORY_CAPACITY_BYTES", "-5"),
        ("SPANWISE_TRACE_QUEUE_BYTES", "64M"),
    ] {
        // SAFETY: the serial lock is held and no other test of this binary reads these.
        unsafe { std::env::set_var(key, value) };
        let err = Config::from_env().unwrap_err();
        unsafe { std::env::remove_var(key) };
        assert!(err.to_string().contains(key), "{err}");
    }
    unsafe { std::env::set_var("SPANWISE_DESTINATION", "none") };
    let c = Config::from_env();
    unsafe { std::env::remove_var("SPANWISE_DESTINATION") };
    assert!(format!("{:?}", c.unwrap()).contains("trace_dir: None"));
    unsafe { std::env::set_var("SPANWISE_MEMORY_CAPACITY_BYTES", " 1048576 ") };
    let c = Config::from_env();
    unsafe { std::env::remove_var("SPANWISE_MEMORY_CAPACITY_BYTES") };
    assert!(format!("{:?}", c.unwrap()).contains("memory_capacity_bytes: 1048576"));
    unsafe { std::env::set_var("SPANWISE_TRACE_QUEUE_BYTES", "4096") };
    let c = Config::from_env();
    unsafe { std::env::remove_var("SPANWISE_TRACE_QUEUE_BYTES") };
    assert!(format!("{:?}", c.unwrap()).contains("trace_queue_bytes: 4096"));
}

#[test]
fn a_tiny_trace_queue_still_writes_every_trace() {
    let _s = serial();
    let dir = temp_dir("tiny-queue");
    // One byte: every trace waits for the one before it to be written.
    let guard = init_with(Config::new().trace_dir(&*dir).trace_queue_bytes(1)).unwrap();
    for i in 0..200 {
        let _r = start_span(format!("root {i}"));
        drop(start_span("child"));
    }
    drop(guard);
    let contents = read_jsonl(jsonl(&dir)).unwrap();
    assert!(contents.problems.is_empty(), "{:?}", contents.problems);
    assert_eq!(contents.traces.len(), 200);
    configure(Config::new().no_destination());
}

#[test]
fn memory_capacity_bytes_keeps_the_newest_traces_within_the_bound() {
    let _s = serial();
    // One span with a 10 kB input: about 10 kB each, so about 5 fit in 50 kB.
    configure(
        Config::new()
            .no_destination()
            .memory_capacity(1000)
            .memory_capacity_bytes(50_000),
    );
    spanwise::clear_traces();
    let big = "x".repeat(10_000);
    let mut ids = Vec::new();
    for i in 0..40 {
        drop(start_span(format!("sized-{i}")).inputs(&big));
        ids.push(last_active_trace_id().unwrap());
    }
    let kept = search_traces(&TraceFilter::new());
    assert!((2..=5).contains(&kept.len()), "{} kept", kept.len());
    // The newest ones, newest first.
    assert_eq!(kept[0].name(), Some("sized-39"));
    assert!(get_trace(&ids[39]).is_some());
    assert!(get_trace(&ids[0]).is_none(), "the oldest went first");
    configure(Config::new().no_destination());
}

#[test]
fn a_jsonl_queue_bounded_in_bytes_makes_the_application_wait_and_loses_nothing() {
    let _s = serial();
    let dir = temp_dir("jsonl-bytes");
    // Far smaller than one trace: each trace waits until the one before it is written.
    let dest = Arc::new(JsonlDestination::open_with_queue_bytes(&dir, 1).unwrap());
    let guard = init_with(Config::new().no_destination().add_destination(dest.clone())).unwrap();
    let mut ids = HashSet::new();
    for i in 0..3000 {
        {
            let _root = start_span("bounded").inputs(json!({"i": i}));
            for _ in 0..3 {
                drop(start_span("child"));
            }
        }
        ids.insert(last_active_trace_id().unwrap());
    }
    drop(guard);
    let stats = dest.stats();
    assert_eq!((stats.exported, stats.dropped, stats.failed), (3000, 0, 0));
    let contents = read_jsonl(jsonl(&dir)).unwrap();
    assert!(contents.problems.is_empty(), "{:?}", contents.problems);
    assert_eq!(contents.traces.len(), 3000);
    assert!(contents.traces.iter().all(|t| t.data.spans.len() == 4));
    let read: HashSet<_> = contents.traces.iter().map(|t| t.info.trace_id).collect();
    assert_eq!(read, ids);
    configure(Config::new().no_destination());
}

#[test]
fn a_span_processor_that_traces_does_not_block_the_bounded_jsonl_writer() {
    let _s = serial();
    let dir = temp_dir("jsonl-processor");
    // The processor runs on the writer's thread while the queue is at its bound; the trace it
    // makes is queued from there.
    let dest = Arc::new(JsonlDestination::open_with_queue_bytes(&dir, 1).unwrap());
    let traced = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = traced.clone();
    let guard = init_with(
        Config::new()
            .no_destination()
            .add_destination(dest.clone())
            .span_processor(move |_| {
                if !flag.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    drop(start_span("made by a processor"));
                }
            }),
    )
    .unwrap();
    drop(start_span("first"));
    drop(guard);
    assert!(traced.load(std::sync::atomic::Ordering::SeqCst));
    let names: HashSet<String> = read_jsonl(jsonl(&dir))
        .unwrap()
        .traces
        .iter()
        .map(|t| t.name().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        HashSet::from(["first".to_string(), "made by a processor".to_string()])
    );
    configure(Config::new().no_destination());
}

/// The child half of `a_program_that_exits_right_after_its_last_trace_finds_it_on_disk`.
#[test]
fn child_process_main() {
    let Ok(dir) = std::env::var("SPANWISE_TEST_CHILD_DIR") else {
        return; // only meaningful when started by the parent test
    };
    let guard = init_with(Config::new().trace_dir(&*dir)).unwrap();
    for i in 0..50 {
        let root = start_span("exit-test").inputs(json!({"i": i}));
        let _c = start_span("child");
        root.set_outputs(i);
    }
    drop(guard);
    // Leave at once, without the test harness's own teardown.
    std::process::exit(0);
}

#[test]
fn a_program_that_exits_right_after_its_last_trace_finds_it_on_disk() {
    let dir = temp_dir("child");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process_main", "--test-threads=1"])
        .env("SPANWISE_TEST_CHILD_DIR", &*dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let contents = read_jsonl(jsonl(&dir)).unwrap();
    assert!(contents.problems.is_empty());
    assert_eq!(contents.traces.len(), 50);
    let last = contents.traces.last().unwrap();
    assert_eq!(last.root().unwrap().outputs(), Some(json!(49)));
    assert_eq!(last.data.spans.len(), 2);
}
