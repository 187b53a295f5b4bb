//! What a `tracing` span costs through spanwise's bridge (`spanwise::tracing_bridge`) and
//! through tracing-opentelemetry over the OpenTelemetry SDK, measured side by side in one run.
//!
//! The same `tracing` code runs under each subscriber (set as the thread's default for the
//! measurement): one root span with `n` children, each child with two fields and one recorded
//! later, entered and exited (`bridge/<impl>/<n>`); and the same with a GenAI chat span's
//! fields (`bridge_genai/<impl>/10`: operation, model, provider and token usage, which the
//! bridge maps to MLflow's span type and `mlflow.chat.tokenUsage`). Each case's buffered work
//! is drained outside the timed region (`iter_custom`): spanwise's JSONL-less runtime has
//! nothing queued; the OpenTelemetry SDK's simple processor exports inline to an exporter
//! that drops everything, the cheapest way to run the SDK, as in `overhead.rs`.
//!
//! `spanwise` is the layer over the Registry (`tracing_bridge::layer()`), `spanwise_subscriber`
//! the bridge as the whole subscriber (`tracing_bridge::subscriber()`, no Registry).
//!
//! `bridge_bare/<impl>/100` is the same without fields. Three floors run the same `tracing`
//! code: `noop`, a subscriber that records nothing (what `tracing` itself costs, the floor of
//! `spanwise_subscriber`); `registry_only`, the bare Registry; and `registry_extension`, the
//! Registry with a layer that keeps one value per span in the span's extensions, as every
//! layer that keeps per-span state does (the floor of `spanwise` and of tracing-opentelemetry).
//!
//! Throughput is declared in spans, so criterion prints spans/s and the per-span time is the
//! median divided by `n + 1`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use spanwise::Config;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt as _;

#[path = "noop_exporter.rs"]
mod noop_exporter;
use noop_exporter::NoopExporter;

const CHILDREN: [usize; 3] = [1, 10, 100];

fn init_spanwise() {
    drop(spanwise::init_with(Config::new().no_destination()).expect("spanwise config"));
}

/// The layer over the Registry.
fn spanwise_dispatch() -> Dispatch {
    init_spanwise();
    Dispatch::new(tracing_subscriber::registry().with(spanwise::tracing_bridge::layer()))
}

/// `SpanwiseSubscriber`: the bridge as the whole subscriber, no Registry.
fn spanwise_subscriber_dispatch() -> Dispatch {
    init_spanwise();
    Dispatch::new(spanwise::tracing_bridge::subscriber())
}

/// A subscriber that records nothing: every span gets the same id.
struct Noop;

impl tracing::Subscriber for Noop {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A layer that keeps one small value per span in its extensions (and reads it on enter).
struct OneExtension;

impl<S> tracing_subscriber::Layer<S> for OneExtension
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(id.into_u64());
        }
    }
    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            black_box(span.extensions().get::<u64>().copied());
        }
    }
}

fn otel_dispatch() -> Dispatch {
    let tracer = SdkTracerProvider::builder()
        .with_simple_exporter(NoopExporter)
        .build()
        .tracer("bench-bridge");
    Dispatch::new(
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer)),
    )
}

/// One root with `n` children: two fields at creation, one recorded later.
#[inline(never)]
fn plain(n: usize) {
    let _root = tracing::info_span!("root").entered();
    for i in 0..n {
        let child = tracing::info_span!(
            "child",
            index = i as u64,
            kind = "step",
            done = tracing::field::Empty
        );
        let _e = child.enter();
        child.record("done", true);
    }
}

/// One root with `n` children without fields.
#[inline(never)]
fn bare(n: usize) {
    let _root = tracing::info_span!("root").entered();
    for _ in 0..n {
        let _child = tracing::info_span!("child").entered();
    }
}

/// One root with `n` GenAI chat spans, usage recorded when the answer comes.
#[inline(never)]
fn genai(n: usize) {
    let _root =
        tracing::info_span!("invoke_agent", gen_ai.operation.name = "invoke_agent").entered();
    for _ in 0..n {
        let chat = tracing::info_span!(
            "chat",
            gen_ai.operation.name = "chat",
            gen_ai.provider.name = "openai",
            gen_ai.request.model = "gpt-4o-mini",
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
        );
        let _e = chat.enter();
        chat.record("gen_ai.usage.input_tokens", 12_u64);
        chat.record("gen_ai.usage.output_tokens", 30_u64);
    }
}

fn configure_criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

fn run(dispatch: &Dispatch, iters: u64, f: fn(usize), n: usize) -> Duration {
    tracing::dispatcher::with_default(dispatch, || {
        let start = Instant::now();
        for _ in 0..iters {
            f(black_box(n));
        }
        let elapsed = start.elapsed();
        // Outside the timed region: whatever the runtime still holds is delivered.
        spanwise::flush();
        elapsed
    })
}

fn bridge(c: &mut Criterion) {
    let cases = [
        ("spanwise", spanwise_dispatch()),
        ("spanwise_subscriber", spanwise_subscriber_dispatch()),
        ("tracing_otel", otel_dispatch()),
        // The floor both pay: tracing's macros and the Registry, with no layer.
        (
            "registry_only",
            Dispatch::new(tracing_subscriber::registry()),
        ),
        (
            "registry_extension",
            Dispatch::new(tracing_subscriber::registry().with(OneExtension)),
        ),
        ("noop", Dispatch::new(Noop)),
    ];
    let mut g = c.benchmark_group("bridge");
    for n in CHILDREN {
        g.throughput(Throughput::Elements(n as u64 + 1));
        for (name, dispatch) in &cases {
            g.bench_with_input(BenchmarkId::new(*name, n), &n, |b, &n| {
                b.iter_custom(|iters| run(dispatch, iters, plain, n))
            });
        }
    }
    g.finish();
    let mut g = c.benchmark_group("bridge_bare");
    g.throughput(Throughput::Elements(101));
    for (name, dispatch) in &cases {
        g.bench_with_input(BenchmarkId::new(*name, 100), &100, |b, &n| {
            b.iter_custom(|iters| run(dispatch, iters, bare, n))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("bridge_genai");
    g.throughput(Throughput::Elements(11));
    for (name, dispatch) in &cases {
        g.bench_with_input(BenchmarkId::new(*name, 10), &10, |b, &n| {
            b.iter_custom(|iters| run(dispatch, iters, genai, n))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = configure_criterion();
    targets = bridge
}

/// `SPANWISE_BRIDGE_PROFILE=<spanwise|spanwise_subscriber|tracing_otel|registry|registry_extension|noop> <roots>`: runs `roots` roots of 100 children
/// under one implementation and exits, for `valgrind --tool=callgrind` (instruction counts are
/// deterministic where timings on a shared machine are not; subtract a run with 0 roots).
/// `SPANWISE_BRIDGE_WORKLOAD=bare|genai` picks the children (default: the fielded ones).
fn profile(which: &str, roots: u64) {
    let dispatch = match which {
        "spanwise" => spanwise_dispatch(),
        "spanwise_subscriber" => spanwise_subscriber_dispatch(),
        "tracing_otel" => otel_dispatch(),
        "registry" => Dispatch::new(tracing_subscriber::registry()),
        "registry_extension" => Dispatch::new(tracing_subscriber::registry().with(OneExtension)),
        "noop" => Dispatch::new(Noop),
        other => panic!("unknown implementation {other}"),
    };
    let workload = match std::env::var("SPANWISE_BRIDGE_WORKLOAD").as_deref() {
        Ok("bare") => bare as fn(usize),
        Ok("genai") => genai,
        _ => plain,
    };
    run(&dispatch, roots, workload, 100);
}

fn main() {
    if let Ok(which) = std::env::var("SPANWISE_BRIDGE_PROFILE") {
        let roots = std::env::args()
            .nth(1)
            .and_then(|a| a.parse().ok())
            .unwrap_or(100);
        profile(&which, roots);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
