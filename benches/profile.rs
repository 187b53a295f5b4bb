//! A fixed workload for profilers (not a criterion bench): `rounds` (fourth argument, 1) of
//! `roots` (second, 1000) roots of `children` (third, 100) children; each library is drained
//! after each round, outside the timed region, as in `overhead.rs`.
//!
//! ```text
//! CARGO_TARGET_DIR=target cargo bench -p spanwise-benches --bench profile --no-run
//! valgrind --tool=callgrind target/release/deps/profile-<hash> --bench capture 2000
//! ```
//! Modes: `plain` (nothing captured), `span` (`start_span` children, nothing set), `detached`
//! (`start_detached` children, what the `tracing` bridge starts per span), `capture`
//! (two arguments and the output), `heap` (as `capture`, with a string argument too long to be
//! kept inline: records that own an allocation), `jsonl` (`capture`, written to a JSONL store in a temp dir),
//! `jsonl-small` (`roots` small traces written to a JSONL store: a root capturing its argument
//! and result that calls one `capture` child, as `jsonl_sustained/spanwise_jsonl/1` in
//! `overhead.rs`; `children` is ignored),
//! `fastrace` (fastrace's `#[trace]` children under a local parent, for comparison), and
//! `threads-<mode>` (`<mode>` on 4 threads at once, `roots` each). Passing
//! `--bench` (what `cargo bench` does) is accepted and ignored.

use std::hint::black_box;

/// Threads of the `threads-<mode>` modes.
const THREADS: usize = 4;

#[spanwise::trace(capture_output = false)]
#[inline(never)]
fn child() {}

#[spanwise::trace]
#[inline(never)]
fn work(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

/// An argument too long for a record's inline value (mode `heap`): each child's inputs are an
/// allocation of their own, as a prompt or a document would be.
const LONG_ARG: &str = "a prompt longer than the twenty-four bytes kept inline in a span record";

/// A small trace (mode `jsonl-small`): a root and one child, both capturing their argument and
/// result.
#[spanwise::trace]
#[inline(never)]
fn small_root(a: u64) -> u64 {
    work(a, "hello")
}

/// fastrace's child, for comparison (mode `fastrace`).
#[fastrace::trace]
#[inline(never)]
fn fr_child() {}

struct DropReports;
impl fastrace::collector::Reporter for DropReports {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
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
    let config = if mode.starts_with("jsonl") {
        spanwise::Config::new().trace_dir(&dir)
    } else {
        spanwise::Config::new().no_destination()
    };
    let rounds: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(1);
    let guard = spanwise::init_with(config).expect("config");
    if mode.ends_with("fastrace") {
        fastrace::set_reporter(DropReports, fastrace::collector::Config::default());
    }
    // One span first, so that one-time set-up (the clock's calibration) is not in `run`.
    drop(spanwise::start_span("warm-up"));
    // Rounds as the fair benchmark runs them: each library drained after each round, outside
    // the timed region.
    let mut timed = Vec::new();
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        let round = std::time::Instant::now();
        run(mode, roots, children);
        timed.push(round.elapsed());
        if mode.ends_with("fastrace") {
            fastrace::flush();
        } else {
            spanwise::flush();
        }
    }
    // Flushing waits for the destinations (the JSONL writer builds and writes each trace).
    drop(guard);
    let done = t.elapsed();
    timed.sort();
    let per_root = if mode == "jsonl-small" {
        2
    } else {
        children + 1
    };
    let threads = if mode.starts_with("threads-") {
        THREADS as u64
    } else {
        1
    };
    let spans = (roots as u64 * per_root * threads) as f64;
    println!(
        "{mode}: {spans} spans x {rounds} rounds; app thread {:.0} ns/span (median round); \
         all rounds flushed {:.0}k spans/s",
        timed[timed.len() / 2].as_nanos() as f64 / spans,
        spans * rounds as f64 / done.as_secs_f64() / 1000.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One round: `roots` traces of `children` children each (not inlined: callgrind can collect
/// inside it alone, `--toggle-collect=profile::run`).
#[inline(never)]
fn run(mode: &str, roots: usize, children: u64) {
    if let Some(each) = mode.strip_prefix("threads-") {
        // `roots` roots per thread, on `THREADS` threads at once (as `d_threads` in `overhead.rs`).
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| run(each, roots, children));
            }
        });
        return;
    }
    if mode == "fastrace" {
        use fastrace::prelude::*;
        for _ in 0..roots {
            let root = Span::root("root", SpanContext::random());
            let _g = root.set_local_parent();
            for _ in 0..children {
                fr_child();
            }
        }
        return;
    }
    if mode == "jsonl-small" {
        for i in 0..roots {
            black_box(small_root(black_box(i as u64)));
        }
        return;
    }
    for _ in 0..roots {
        let _root = spanwise::start_span("root");
        for i in 0..children {
            if mode == "plain" {
                child();
            } else if mode == "span" {
                drop(black_box(spanwise::start_span("child")));
            } else if mode == "detached" {
                drop(black_box(spanwise::span("child").start_detached()));
            } else if mode == "heap" {
                black_box(work(black_box(i), black_box(LONG_ARG)));
            } else {
                black_box(work(black_box(i), black_box("hello")));
            }
        }
    }
}
