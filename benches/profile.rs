//! A fixed workload for profilers (not a criterion bench): roots of 100 children (or the third
//! argument), repeated.
//!
//! ```text
//! CARGO_TARGET_DIR=target cargo bench -p spanwise-benches --bench profile --no-run
//! valgrind --tool=callgrind target/release/deps/profile-<hash> --bench capture 2000
//! ```
//! Modes: `plain` (nothing captured), `capture` (two arguments and the output), `jsonl`
//! (`capture`, written to a JSONL store in a temp dir). Passing `--bench` (what `cargo bench`
//! does) is accepted and ignored.

use std::hint::black_box;

#[spanwise::trace(capture_output = false)]
#[inline(never)]
fn child() {}

#[spanwise::trace]
#[inline(never)]
fn work(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mode = args.first().map(String::as_str).unwrap_or("capture");
    let roots: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1000);
    let children: u64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100);
    let dir = std::env::temp_dir().join(format!("spanwise-profile-{}", std::process::id()));
    let config = if mode == "jsonl" {
        spanwise::Config::new().trace_dir(&dir)
    } else {
        spanwise::Config::new().no_destination()
    };
    let guard = spanwise::init_with(config).expect("config");
    let t = std::time::Instant::now();
    for _ in 0..roots {
        let _root = spanwise::start_span("root");
        for i in 0..children {
            if mode == "plain" {
                child();
            } else {
                black_box(work(black_box(i), black_box("hello")));
            }
        }
    }
    let traced = t.elapsed();
    // Flushing waits for the destinations (the JSONL writer builds and writes each trace).
    drop(guard);
    let done = t.elapsed();
    let spans = (roots as u64 * (children + 1)) as f64;
    println!(
        "{mode}: {spans} spans; app thread {:.0} ns/span; flushed {:.0} ns/span ({:.0}k spans/s)",
        traced.as_nanos() as f64 / spans,
        done.as_nanos() as f64 / spans,
        spans / done.as_secs_f64() / 1000.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}
