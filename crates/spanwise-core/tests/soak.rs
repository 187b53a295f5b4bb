//! A soak: 8 threads tracing for 60 s (traces of 3 spans with 1 KiB captured values each) into
//! the JSONL store, with the in-memory store and the writer's queue bounded. Not timed: it
//! measures the process's peak resident memory (`VmHWM`) and asserts it stays under what was
//! resident before the load, plus the configured bounds, plus a stated margin; and that every
//! trace is on disk at the end, whole.
//!
//! Ignored in the debug suite; CI runs it in release (see `.ci/run`):
//!
//! ```text
//! cargo test -p spanwise-core --release --test soak -- --ignored --nocapture
//! SPANWISE_SOAK_SECS=600 cargo test -p spanwise-core --release --test soak -- --ignored --nocapture
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use spanwise_core::{Config, JSONL_FILE_NAME, Trace, start_span};

const THREADS: usize = 8;
const VALUE_BYTES: usize = 1024;
/// The bounds configured for the soak.
const MEMORY_STORE_BYTES: usize = 16 << 20;
const QUEUE_BYTES: usize = 8 << 20;
/// Allowed above the bounds: the allocator's free lists and fragmentation, the writer's
/// buffers, the threads' stacks and caches.
const MARGIN_BYTES: usize = 48 << 20;

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    let kb: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

#[test]
#[ignore = "a minute long; run in release by .ci/run"]
fn eight_threads_for_a_minute_stay_within_the_memory_bounds_and_lose_nothing() {
    let secs: u64 = std::env::var("SPANWISE_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let dir = std::env::temp_dir().join(format!("spanwise-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = spanwise_core::init_with(
        Config::new()
            .trace_dir(&dir)
            .memory_capacity(1000)
            .memory_capacity_bytes(MEMORY_STORE_BYTES)
            .trace_queue_bytes(QUEUE_BYTES),
    )
    .unwrap();
    // Warm: the first traces set up the runtime's and allocator's structures.
    for _ in 0..100 {
        drop(start_span("warm"));
    }
    assert!(spanwise_core::flush());
    let baseline = status_bytes("VmRSS:");

    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|w| {
            let (stop, made) = (stop.clone(), made.clone());
            std::thread::spawn(move || {
                let value = format!("{w}").repeat(VALUE_BYTES);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let root = start_span("soak");
                    root.set_inputs(&value);
                    for name in ["retrieve", "generate"] {
                        let child = start_span(name);
                        child.set_inputs(&value);
                        child.set_outputs(n);
                    }
                    root.set_outputs(&value);
                    drop(root);
                    n += 1;
                    // Steady, not flat out: about 800 traces a second in all, 3 MB/s of JSONL.
                    std::thread::sleep(Duration::from_millis(10));
                }
                made.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1).min(Duration::from_secs(secs)));
        samples.push(status_bytes("VmRSS:"));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    guard.finish().expect("every trace written");
    let peak = status_bytes("VmHWM:");
    let made = made.load(Ordering::Relaxed);
    let bound = baseline + MEMORY_STORE_BYTES + QUEUE_BYTES + MARGIN_BYTES;
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    eprintln!(
        "soak: {THREADS} threads x {secs} s, {made} traces; RSS before {:.1} MiB, last {:.1} MiB, peak {:.1} MiB, bound {:.1} MiB",
        mib(baseline),
        mib(*samples.last().unwrap_or(&baseline)),
        mib(peak),
        mib(bound)
    );
    assert!(
        peak <= bound,
        "peak RSS {:.1} MiB over the bound {:.1} MiB",
        mib(peak),
        mib(bound)
    );

    let jsonl = spanwise_core::stats()
        .destinations
        .into_iter()
        .find(|(n, _)| n == "jsonl")
        .unwrap()
        .1;
    assert_eq!((jsonl.exported, jsonl.failed), (made + 100, 0));
    // Read back line by line (read_jsonl would hold them all in memory at once).
    use std::io::BufRead;
    let file = std::fs::File::open(dir.join(JSONL_FILE_NAME)).unwrap();
    let mut soaked = 0u64;
    for line in std::io::BufReader::new(file).lines() {
        let t = Trace::from_json(&line.unwrap()).expect("every line whole");
        if t.name() == Some("soak") {
            assert_eq!(t.data.spans.len(), 3);
            let inputs = t.root().unwrap().inputs().unwrap();
            assert_eq!(inputs.as_str().unwrap().len(), VALUE_BYTES);
            soaked += 1;
        }
    }
    assert_eq!(soaked, made, "every trace is on disk");
    std::fs::remove_dir_all(&dir).ok();
}
