//! What a span costs in spanwise and in its peers, measured side by side in one run.
//!
//! Groups (see `benches/README.md` for the figures and how to read them):
//! - `a_no_capture/<impl>/<n>`: one root with `n` child spans, nothing captured;
//! - `b_capture/<impl>/<n>`: the same, each child recording two small arguments and its return
//!   value (spanwise's `#[trace]` default; peers record them as attributes or properties);
//! - `c_async/<impl>/100`: 100 nested traced futures awaited on a tokio current-thread runtime;
//! - `d_threads/<impl>/4`: 4 threads, each making roots of 100 children at once;
//! - `e_off/<impl>`: tracing disabled at runtime, and an unsampled root;
//! - `jsonl_sustained/spanwise_jsonl/<n>`: traces of a root and `n` captured children written to
//!   the JSONL store, flush included.
//!
//! Every group declares its throughput in spans, so criterion prints spans/s next to the time,
//! and `benches/ratios.sh` divides medians per span.
//!
//! Fairness: each library is drained after every batch of at most [`BATCH_SPANS`] spans, outside
//! the timed region (`timed_in_batches`), so that no library carries a backlog from one batch
//! into the next, and each library's peak resident memory over (a)/(b) is printed.
//!
//! Peers: fastrace with a reporter that drops everything; tracing with the Registry and
//! tracing-opentelemetry over the OpenTelemetry SDK; the OpenTelemetry SDK alone. Both
//! OpenTelemetry setups use the SDK's simple span processor and an exporter that does nothing,
//! the cheapest way to run the SDK (a batch processor adds a channel send per span).

use std::future::Future;
use std::hint::black_box;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry::trace::{FutureExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context as OtelContext, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use spanwise::Config;

#[path = "noop_exporter.rs"]
mod noop_exporter;
use noop_exporter::NoopExporter;

const CHILDREN: [usize; 4] = [1, 10, 100, 1000];
const ASYNC_DEPTH: u32 = 100;
const THREADS: usize = 4;
const THREAD_CHILDREN: usize = 100;

/// One root with `n` children, made by one of the implementations.
type Workload = fn(usize);

// ---- spanwise ----

mod sw {
    use super::*;

    /// A child with nothing captured (no arguments, output not recorded).
    #[spanwise::trace(capture_output = false)]
    #[inline(never)]
    pub fn child() {}

    /// A child with two small arguments and a return value, all captured (the default).
    #[spanwise::trace]
    #[inline(never)]
    pub fn work(a: u64, b: &str) -> u64 {
        a + b.len() as u64
    }

    /// A small trace: a root and one child, both capturing their argument and result.
    #[spanwise::trace]
    #[inline(never)]
    pub fn small_root(a: u64) -> u64 {
        work(a, "hello")
    }

    #[inline(never)]
    pub fn root_plain(n: usize) {
        let _root = spanwise::start_span("root");
        for _ in 0..n {
            child();
        }
    }

    #[inline(never)]
    pub fn root_start_span(n: usize) {
        let _root = spanwise::start_span("root");
        for _ in 0..n {
            let _child = spanwise::start_span("child");
        }
    }

    #[inline(never)]
    pub fn root_capture(n: usize) {
        let _root = spanwise::start_span("root");
        for i in 0..n {
            black_box(work(black_box(i as u64), black_box("hello")));
        }
    }

    #[spanwise::trace(skip_all, capture_output = false)]
    pub fn level(d: u32) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            if d > 0 {
                level(d - 1).await;
            }
        })
    }

    /// Switches spanwise's destinations: `None` for in-memory only, else a JSONL directory.
    pub fn configure(jsonl: Option<&PathBuf>) {
        let config = match jsonl {
            Some(dir) => Config::new().trace_dir(dir),
            None => Config::new().no_destination(),
        };
        // Dropping the guard flushes the destinations configured so far.
        drop(spanwise::init_with(config).expect("spanwise config"));
    }
}

// ---- fastrace ----

mod fr {
    use super::*;
    use fastrace::collector::{Config, Reporter, SpanContext, SpanRecord};
    use fastrace::local::LocalSpan;
    use fastrace::prelude::*;

    struct Drop;
    impl Reporter for Drop {
        fn report(&mut self, spans: Vec<SpanRecord>) {
            black_box(spans);
        }
    }

    pub fn install() {
        // The default configuration, as its users run it. Its collector thread falls behind
        // these loops and the queue in front of it is unbounded, so it is drained with
        // `fastrace::flush()` after each batch, outside the timed region (see `drain`).
        fastrace::set_reporter(Drop, Config::default());
    }

    #[fastrace::trace]
    #[inline(never)]
    pub fn child() {}

    #[fastrace::trace(properties = { "a": "{a}", "b": "{b}" })]
    #[inline(never)]
    pub fn work(a: u64, b: &str) -> u64 {
        let r = a + b.len() as u64;
        LocalSpan::add_property(|| ("output", r.to_string()));
        r
    }

    /// `work` with a bare span: nothing recorded (the reference of target (b)).
    #[fastrace::trace]
    #[inline(never)]
    pub fn work_bare(a: u64, b: &str) -> u64 {
        a + b.len() as u64
    }

    #[inline(never)]
    pub fn root_work_bare(n: usize) {
        let root = Span::root("root", SpanContext::random());
        let _g = root.set_local_parent();
        for i in 0..n {
            black_box(work_bare(black_box(i as u64), black_box("hello")));
        }
    }

    #[inline(never)]
    pub fn root_plain(n: usize) {
        let root = Span::root("root", SpanContext::random());
        let _g = root.set_local_parent();
        for _ in 0..n {
            child();
        }
    }

    #[inline(never)]
    pub fn root_capture(n: usize) {
        let root = Span::root("root", SpanContext::random());
        let _g = root.set_local_parent();
        for i in 0..n {
            black_box(work(black_box(i as u64), black_box("hello")));
        }
    }

    pub fn level(d: u32) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(
            async move {
                if d > 0 {
                    level(d - 1).await;
                }
            }
            .in_span(Span::enter_with_local_parent("level")),
        )
    }

    /// The top of the async tree: a root span, with `depth` levels under it.
    pub fn async_root(depth: u32) -> impl Future<Output = ()> {
        level(depth - 1).in_span(Span::root("level", SpanContext::random()))
    }
}

fn otel_provider() -> &'static SdkTracerProvider {
    static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        SdkTracerProvider::builder()
            .with_simple_exporter(NoopExporter)
            .build()
    })
}

fn otel_tracer() -> &'static SdkTracer {
    static TRACER: OnceLock<SdkTracer> = OnceLock::new();
    TRACER.get_or_init(|| otel_provider().tracer("bench"))
}

// ---- draining: every library's backlog is cleared outside the timed region ----

/// Spans made in one timed batch, at most: then the batch's library is drained (untimed) before
/// the next batch, so that no library carries a backlog from one batch into the next. A
/// thousand roots of a thousand children, as in the measurement of issue 15.
const BATCH_SPANS: usize = 1_001_000;

/// Waits until `library` has handed on everything recorded so far.
fn drain(library: &str) {
    match library {
        // Bounded work only is left behind (the JSONL queue, flushed here).
        l if l.starts_with("spanwise") => assert!(spanwise::flush(), "spanwise flushed"),
        // Its collector thread, and the unbounded queue in front of it.
        "fastrace" => fastrace::flush(),
        // The simple span processor exports on the calling thread: nothing is queued, but the
        // flush is asked for all the same.
        "tracing_otel" => {
            let _ = tr::PROVIDER.get().map(|p| p.force_flush());
        }
        "otel" => {
            let _ = otel_provider().force_flush();
        }
        _ => {}
    }
}

/// Runs `iters` calls of `work` (each making `spans` spans) in batches of at most
/// [`BATCH_SPANS`] spans, timing only the calls and draining `library` after each batch.
fn timed_in_batches(iters: u64, spans: usize, library: &str, mut work: impl FnMut()) -> Duration {
    let per_batch = (BATCH_SPANS / spans.max(1)).max(1) as u64;
    let mut timed = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let k = per_batch.min(iters - done);
        let t = Instant::now();
        for _ in 0..k {
            work();
        }
        timed += t.elapsed();
        drain(library);
        done += k;
    }
    timed
}

// ---- tracing + tracing-opentelemetry + OpenTelemetry SDK ----

mod tr {
    use super::*;
    use tracing::Instrument as _;

    /// The provider behind the tracing layer, kept so that it can be flushed between batches.
    pub static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

    pub fn install() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let provider = PROVIDER.get_or_init(|| {
            SdkTracerProvider::builder()
                .with_simple_exporter(NoopExporter)
                .build()
        });
        let tracer = provider.tracer("bench-tracing");
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
    }

    #[tracing::instrument(level = "info")]
    #[inline(never)]
    pub fn child() {}

    #[tracing::instrument(level = "info", fields(output = tracing::field::Empty))]
    #[inline(never)]
    pub fn work(a: u64, b: &str) -> u64 {
        let r = a + b.len() as u64;
        tracing::Span::current().record("output", r);
        r
    }

    #[inline(never)]
    pub fn root_plain(n: usize) {
        let _root = tracing::info_span!("root").entered();
        for _ in 0..n {
            child();
        }
    }

    #[inline(never)]
    pub fn root_capture(n: usize) {
        let _root = tracing::info_span!("root").entered();
        for i in 0..n {
            black_box(work(black_box(i as u64), black_box("hello")));
        }
    }

    pub fn level(d: u32) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(
            async move {
                if d > 0 {
                    level(d - 1).await;
                }
            }
            .instrument(tracing::info_span!("level")),
        )
    }
}

// ---- the OpenTelemetry SDK alone ----

mod ot {
    use super::*;
    use opentelemetry::trace::{Span as _, TraceContextExt as _};

    #[inline(never)]
    pub fn child(tracer: &SdkTracer) {
        tracer.in_span("child", |_| {});
    }

    #[inline(never)]
    pub fn work(tracer: &SdkTracer, a: u64, b: &str) -> u64 {
        let mut span = tracer.start("work");
        span.set_attribute(KeyValue::new("a", a as i64));
        span.set_attribute(KeyValue::new("b", b.to_owned()));
        let cx = OtelContext::current_with_span(span);
        let _g = cx.clone().attach();
        let r = a + b.len() as u64;
        cx.span().set_attribute(KeyValue::new("output", r as i64));
        r
    }

    #[inline(never)]
    pub fn root_plain(n: usize) {
        let tracer = otel_tracer();
        tracer.in_span("root", |_| {
            for _ in 0..n {
                child(tracer);
            }
        });
    }

    #[inline(never)]
    pub fn root_capture(n: usize) {
        let tracer = otel_tracer();
        tracer.in_span("root", |_| {
            for i in 0..n {
                black_box(work(tracer, black_box(i as u64), black_box("hello")));
            }
        });
    }

    pub fn level(d: u32) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let cx = OtelContext::current_with_span(otel_tracer().start("level"));
        Box::pin(
            async move {
                if d > 0 {
                    level(d - 1).await;
                }
            }
            .with_context(cx),
        )
    }
}

fn jsonl_dir() -> PathBuf {
    std::env::temp_dir().join(format!("spanwise-bench-{}", std::process::id()))
}

fn configure_criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

fn setup() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        fr::install();
        tr::install();
        sw::configure(None);
    });
}

/// (a) and (b): one root with n children. Library by library, so that the peak memory of each
/// can be read.
fn children(c: &mut Criterion) {
    setup();
    let dir = jsonl_dir();
    type Case = (&'static str, Workload, Option<bool>);
    for (group, cases) in [
        (
            "a_no_capture",
            vec![
                ("spanwise", sw::root_plain as Workload, Some(false)),
                ("spanwise_start_span", sw::root_start_span, Some(false)),
                ("spanwise_jsonl", sw::root_plain, Some(true)),
                ("fastrace", fr::root_plain, None),
                ("tracing_otel", tr::root_plain, None),
                ("otel", ot::root_plain, None),
            ] as Vec<Case>,
        ),
        (
            "b_capture",
            vec![
                ("spanwise", sw::root_capture as Workload, Some(false)),
                ("spanwise_jsonl", sw::root_capture, Some(true)),
                ("fastrace", fr::root_capture, None),
                ("fastrace_bare", fr::root_work_bare, None),
                ("tracing_otel", tr::root_capture, None),
                ("otel", ot::root_capture, None),
            ],
        ),
    ] {
        let mut g = c.benchmark_group(group);
        for (name, f, jsonl) in &cases {
            if let Some(j) = jsonl {
                // One case's file at a time: a whole group wrote 9 GB to the temp dir.
                let _ = std::fs::remove_dir_all(&dir);
                sw::configure(j.then_some(&dir));
            }
            let reset = reset_peak();
            for n in CHILDREN {
                g.throughput(Throughput::Elements(n as u64 + 1));
                g.bench_with_input(BenchmarkId::new(*name, n), &n, |b, &n| {
                    b.iter_custom(|iters| timed_in_batches(iters, n + 1, name, || f(n)))
                });
            }
            if reset {
                eprintln!(
                    "peak resident memory, {group}/{name}: {} MiB",
                    peak_rss_kib() / 1024
                );
            }
            sw::configure(None);
        }
        g.finish();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// (c): 100 nested traced futures on a current-thread runtime.
fn nested_async(c: &mut Criterion) {
    setup();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let mut g = c.benchmark_group("c_async");
    let d = ASYNC_DEPTH;
    g.throughput(Throughput::Elements(d as u64 + 1));
    let spans = d as usize + 1;
    g.bench_function(BenchmarkId::new("spanwise", d), |b| {
        b.iter_custom(|i| timed_in_batches(i, spans, "spanwise", || rt.block_on(sw::level(d))))
    });
    g.bench_function(BenchmarkId::new("fastrace", d), |b| {
        b.iter_custom(|i| timed_in_batches(i, spans, "fastrace", || rt.block_on(fr::async_root(d))))
    });
    g.bench_function(BenchmarkId::new("tracing_otel", d), |b| {
        b.iter_custom(|i| timed_in_batches(i, spans, "tracing_otel", || rt.block_on(tr::level(d))))
    });
    g.bench_function(BenchmarkId::new("otel", d), |b| {
        b.iter_custom(|i| timed_in_batches(i, spans, "otel", || rt.block_on(ot::level(d))))
    });
    g.bench_function(BenchmarkId::new("untraced", d), |b| {
        b.iter(|| rt.block_on(untraced_level(d)))
    });
    g.finish();
}

fn untraced_level(d: u32) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        if d > 0 {
            untraced_level(d - 1).await;
        }
    })
}

/// (d): 4 threads, each making `iters` roots of 100 children; the time is the wall time of all,
/// batch by batch, each batch drained (untimed) before the next.
fn threads(c: &mut Criterion) {
    setup();
    let mut g = c.benchmark_group("d_threads");
    g.throughput(Throughput::Elements(
        (THREADS * (THREAD_CHILDREN + 1)) as u64,
    ));
    let cases: [(&str, Workload); 4] = [
        ("spanwise", sw::root_plain),
        ("fastrace", fr::root_plain),
        ("tracing_otel", tr::root_plain),
        ("otel", ot::root_plain),
    ];
    for (name, f) in cases {
        g.bench_function(BenchmarkId::new(name, THREADS), |b| {
            b.iter_custom(|iters| {
                threads_in_batches(iters, THREADS, name, f, || {
                    let t = Instant::now();
                    move || t.elapsed()
                })
            })
        });
    }
    g.finish();
    // The same work measured in CPU time of the whole process (every thread, the libraries'
    // own included), on 1 and on 4 threads: on a machine with fewer cores than threads, wall
    // time of 4 threads is not per-span cost, and a single thread's wall time leaves out what
    // its library's background threads do on the other cores. What (d) asks, no contention
    // between threads, shows as CPU time per span that grows with the threads.
    let mut g = c.benchmark_group("d_threads_cpu");
    for threads in [1, THREADS] {
        g.throughput(Throughput::Elements(
            (threads * (THREAD_CHILDREN + 1)) as u64,
        ));
        for (name, f) in [
            ("spanwise", sw::root_plain as Workload),
            ("fastrace", fr::root_plain),
        ] {
            g.bench_function(BenchmarkId::new(name, threads), |b| {
                b.iter_custom(|iters| {
                    threads_in_batches(iters, threads, name, f, || {
                        let t = process_cpu_time();
                        move || process_cpu_time().saturating_sub(t)
                    })
                })
            });
        }
    }
    g.finish();
}

/// Runs `iters` roots of [`THREAD_CHILDREN`] children on each of `threads` threads at once,
/// batch by batch, draining `library` (untimed) after each. `clock` starts a measurement when
/// every thread is ready, and the closure it returns reads it once all have finished.
fn threads_in_batches<S: FnOnce() -> Duration>(
    iters: u64,
    threads: usize,
    library: &str,
    f: Workload,
    clock: impl Fn() -> S,
) -> Duration {
    let per_batch = (BATCH_SPANS / (THREADS * (THREAD_CHILDREN + 1))).max(1) as u64;
    let mut timed = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let k = per_batch.min(iters - done);
        let start = Arc::new(Barrier::new(threads + 1));
        let stop = std::thread::scope(|s| {
            for _ in 0..threads {
                let start = start.clone();
                s.spawn(move || {
                    start.wait();
                    for _ in 0..k {
                        f(THREAD_CHILDREN);
                    }
                });
            }
            start.wait();
            clock()
        });
        // The scope has joined the threads: this is what all of them took.
        timed += stop();
        drain(library);
        done += k;
    }
    timed
}

/// CPU time used so far by every thread of this process.
fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec, and a clock id Linux and macOS both have.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// (e): spanwise disabled at runtime; an unsampled root; fastrace with no root (its off state).
fn off(c: &mut Criterion) {
    setup();
    let mut g = c.benchmark_group("e_off");
    g.throughput(Throughput::Elements(1));
    g.bench_function("untraced_call", |b| {
        b.iter(|| black_box(plain_work(black_box(7), black_box("hello"))))
    });
    spanwise::disable();
    g.bench_function("spanwise_disabled", |b| {
        b.iter(|| black_box(sw::work(black_box(7), black_box("hello"))))
    });
    g.bench_function("spanwise_disabled_start_span", |b| {
        b.iter(|| black_box(spanwise::start_span("x")))
    });
    spanwise::enable();
    g.bench_function("fastrace_no_root", |b| {
        b.iter(|| black_box(fr::work(black_box(7), black_box("hello"))))
    });
    drop(spanwise::init_with(Config::new().no_destination().sampling_ratio(0.0)).expect("config"));
    g.throughput(Throughput::Elements(11));
    g.bench_function("spanwise_unsampled_root_10", |b| {
        b.iter(|| sw::root_capture(10))
    });
    g.finish();
    sw::configure(None);
}

#[inline(never)]
fn plain_work(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

/// The JSONL store's sustained rate from one thread: spans made and written, flush included.
fn jsonl_sustained(c: &mut Criterion) {
    setup();
    let dir = jsonl_dir();
    sw::configure(Some(&dir));
    let mut g = c.benchmark_group("jsonl_sustained");
    g.throughput(Throughput::Elements(2));
    g.bench_function(BenchmarkId::new("spanwise_jsonl", 1), |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for i in 0..iters {
                black_box(sw::small_root(black_box(i)));
            }
            assert!(spanwise::flush(), "the JSONL writer keeps up");
            t.elapsed()
        })
    });
    g.throughput(Throughput::Elements(1001));
    g.bench_function(BenchmarkId::new("spanwise_jsonl", 1000), |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                sw::root_capture(1000);
            }
            assert!(spanwise::flush(), "the JSONL writer keeps up");
            t.elapsed()
        })
    });
    g.finish();
    sw::configure(None);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Resets the process's peak resident memory (Linux, through `/proc/self/clear_refs`); false
/// where that cannot be done.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Runs one group of benchmarks and prints the process's peak resident memory during it.
/// (Linux: the peak is reset first; elsewhere nothing is printed.)
fn with_peak(name: &str, group: fn(&mut Criterion), c: &mut Criterion) {
    let reset = reset_peak();
    group(c);
    if reset {
        eprintln!(
            "peak resident memory during {name}: {} MiB",
            peak_rss_kib() / 1024
        );
    }
}

fn all(c: &mut Criterion) {
    // First, while only spanwise has run.
    with_peak("jsonl_sustained", jsonl_sustained, c);
    children(c); // prints the peak of each library itself
    with_peak("c (async)", nested_async, c);
    with_peak("d (threads)", threads, c);
    with_peak("e (off)", off, c);
}

/// The process's peak resident set (`VmHWM`), in KiB; 0 where /proc is not available.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

criterion_group! {
    name = benches;
    config = configure_criterion();
    targets = all
}
criterion_main!(benches);
