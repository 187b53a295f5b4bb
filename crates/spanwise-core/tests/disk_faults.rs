//! Disk faults for the JSONL destination: a full disk (the file is `/dev/full`: writes fail
//! with ENOSPC), the directory replaced by a file (a fault that stops root too, where a
//! read-only directory would not: CI runs as root), the directory removed. The application's
//! threads are not held up past the queue bound (the writer fails fast and frees the room),
//! what was not written is counted exactly, `flush` says so, the fault is reported once on
//! stderr, and writing resumes by itself when the fault clears.

use std::path::{Path, PathBuf};
use std::process::Command;

use spanwise_core::{
    CompletedTrace, Destination, JSONL_FILE_NAME, JsonlDestination, Span, SpanId, Trace, TraceId,
    read_jsonl,
};

const CHILD: &str = "SPANWISE_DISK_FAULT_CHILD";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spanwise-disk-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&dir);
    dir
}

/// A one-span trace with a fresh id.
fn trace(n: u64) -> CompletedTrace {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u128 | (n as u128) << 64;
    let mut t = Trace::from_json(
        r#"{"info": {"trace_id": "tr-00000000000000000000000000000001",
            "request_time": "2026-11-22T01:46:21.714Z", "state": "OK"}, "data": {"spans": []}}"#,
    )
    .unwrap();
    t.info.trace_id = TraceId(id);
    t.data
        .spans
        .push(Span::new(TraceId(id), SpanId(1), None, "work", 1));
    CompletedTrace::from_trace(t)
}

fn submit(d: &JsonlDestination, n: u64) {
    for i in 0..n {
        d.submit(trace(i));
    }
}

fn lines_on_disk(path: &Path) -> usize {
    let contents = read_jsonl(path).unwrap();
    assert!(contents.problems.is_empty(), "{:?}", contents.problems);
    contents.traces.len()
}

/// `<dir>/traces.jsonl` is a link to `/dev/full` until the fault clears (the link is removed,
/// and the writer creates the file at its path).
fn full_disk(traces_during_fault: u64, queue_bytes: usize) {
    let dir = temp_dir(&format!("full-{traces_during_fault}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(JSONL_FILE_NAME);
    std::os::unix::fs::symlink("/dev/full", &path).unwrap();
    let d = JsonlDestination::open_with_queue_bytes(&dir, queue_bytes).unwrap();
    // Far more than the queue holds: the application's thread gets through all of them.
    submit(&d, traces_during_fault);
    assert!(
        !d.flush(std::time::Duration::from_secs(30)),
        "flush says traces were lost"
    );
    let s = d.stats();
    assert_eq!((s.exported, s.failed), (0, traces_during_fault));
    // The fault clears.
    std::fs::remove_file(&path).unwrap();
    submit(&d, 50);
    assert!(d.flush(std::time::Duration::from_secs(30)));
    let s = d.stats();
    assert_eq!((s.exported, s.failed), (50, traces_during_fault));
    assert_eq!(lines_on_disk(&path), 50);
    drop(d);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_full_disk_fails_traces_counted_exactly_then_writing_resumes() {
    full_disk(100, 64 << 20);
}

#[test]
fn a_full_disk_does_not_hold_the_application_past_a_small_queue() {
    // 4 KiB of queue: a handful of traces; 5000 go through it while every write fails.
    full_disk(5000, 4096);
}

#[test]
fn the_fault_is_reported_once_on_stderr_and_its_end_once() {
    if std::env::var_os(CHILD).is_some() {
        full_disk(2000, 4096);
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_fault_is_reported_once_on_stderr_and_its_end_once",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env_remove("SPANWISE_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let started = stderr.matches("cannot write traces to").count();
    let resumed = stderr.matches("writing traces to").count();
    assert_eq!((started, resumed), (1, 1), "{stderr}");
    assert!(
        stderr.contains("(2000 traces could not be written)"),
        "{stderr}"
    );
    assert!(stderr.contains("No space left on device"), "{stderr}");
}

#[test]
fn a_directory_replaced_by_a_file_fails_traces_until_it_is_back() {
    let dir = temp_dir("replaced");
    let d = JsonlDestination::open(&dir).unwrap();
    let path = dir.join(JSONL_FILE_NAME);
    submit(&d, 10);
    assert!(d.flush(std::time::Duration::from_secs(30)));
    // Moved away, and a plain file where it was: nothing can be created there, even by root.
    let moved = dir.with_extension("moved");
    let _ = std::fs::remove_dir_all(&moved);
    std::fs::rename(&dir, &moved).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    submit(&d, 20);
    assert!(!d.flush(std::time::Duration::from_secs(30)));
    assert_eq!((d.stats().exported, d.stats().failed), (10, 20));
    // Put back: the writer finds its file at its path again.
    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(&moved, &dir).unwrap();
    submit(&d, 30);
    assert!(d.flush(std::time::Duration::from_secs(30)));
    assert_eq!((d.stats().exported, d.stats().failed), (40, 20));
    assert_eq!(lines_on_disk(&path), 40);
    drop(d);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_removed_directory_is_created_again_and_nothing_after_is_lost() {
    let dir = temp_dir("removed");
    let d = JsonlDestination::open(&dir).unwrap();
    let path = dir.join(JSONL_FILE_NAME);
    submit(&d, 10);
    assert!(d.flush(std::time::Duration::from_secs(30)));
    std::fs::remove_dir_all(&dir).unwrap();
    // Without the check of the path, these would go to the removed file, gone with it.
    submit(&d, 20);
    assert!(d.flush(std::time::Duration::from_secs(30)));
    assert_eq!((d.stats().exported, d.stats().failed), (30, 0));
    assert_eq!(lines_on_disk(&path), 20);
    drop(d);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_init_guard_tells_the_program_traces_were_not_written() {
    if std::env::var_os(CHILD).is_none() {
        // In a process of its own: it sets up the global runtime.
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "the_init_guard_tells_the_program_traces_were_not_written",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let dir = temp_dir("guard");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.join(JSONL_FILE_NAME)).unwrap();
    let guard = spanwise_core::init_with(spanwise_core::Config::new().trace_dir(&dir)).unwrap();
    drop(spanwise_core::start_span("lost"));
    assert!(!spanwise_core::flush());
    let err = guard.finish().unwrap_err().to_string();
    assert!(
        err.contains("jsonl: traces failed 1, dropped 0")
            && err.contains("not every trace was delivered"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
