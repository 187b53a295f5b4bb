//! The process-wide runtime: settings, the in-memory store, destinations, counters, and the
//! switches (`init`, `disable`, `flush`).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use crate::completed::CompletedTrace;
use crate::config::Config;
use crate::destination::{Destination, DestinationStats, JsonlDestination};
use crate::error::Error;
use crate::id::TraceId;
use crate::model::Trace;
use crate::processor::SpanProcessor;
use crate::store::{MemoryStore, TraceFilter};

static ENABLED: AtomicBool = AtomicBool::new(true);
/// Sampling threshold: a root is kept when a random u64 is below it; `u64::MAX` keeps all.
static SAMPLE_BELOW: AtomicU64 = AtomicU64::new(u64::MAX);

struct Runtime {
    settings: RwLock<Arc<Settings>>,
    store: MemoryStore,
    counters: Counters,
}

#[derive(Default)]
struct Settings {
    destinations: Vec<Arc<dyn Destination>>,
    processors: Arc<Vec<SpanProcessor>>,
}

#[derive(Default)]
struct Counters {
    traces_completed: AtomicU64,
    late_updates: AtomicU64,
    unsampled: AtomicU64,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let rt = Runtime::new();
        // Without an explicit `init`, the environment decides; a bad setting is reported once
        // and the defaults are used instead of failing inside the application.
        let config = Config::from_env().unwrap_or_else(|e| {
            warn(&format!("{e}; using the defaults"));
            Config::new()
        });
        if let Err(e) = apply(&rt, config) {
            warn(&format!("{e}; traces are kept in memory only"));
        }
        rt
    })
}

impl Runtime {
    /// A runtime with no destination yet.
    fn new() -> Runtime {
        crate::exception::install_panic_hook();
        Runtime {
            settings: RwLock::new(Arc::new(Settings::default())),
            store: MemoryStore::new(crate::store::DEFAULT_MEMORY_CAPACITY),
            counters: Counters::default(),
        }
    }
}

/// Applies `config`: to the running runtime, or to a new one when nothing has started it yet
/// (then the environment's settings are never applied, so that they open no destination the
/// application did not ask for, such as the default `./spanwise-traces`).
fn apply_explicit(config: Config) -> Result<(), Error> {
    if let Some(rt) = RUNTIME.get() {
        return apply(rt, config);
    }
    let rt = Runtime::new();
    apply(&rt, config.clone())?;
    if let Err(unused) = RUNTIME.set(rt) {
        // Another thread started the runtime meanwhile: the config goes to that one. The
        // unused runtime's writer (if any) is flushed as it drops.
        drop(unused);
        return apply(runtime(), config);
    }
    Ok(())
}

/// Makes sure the runtime exists (reading the environment the first time).
#[inline]
pub(crate) fn ensure_started() {
    runtime();
}

fn apply(rt: &Runtime, config: Config) -> Result<(), Error> {
    config.validate()?;
    let mut destinations: Vec<Arc<dyn Destination>> = Vec::new();
    if let Some(dir) = &config.trace_dir {
        destinations.push(Arc::new(JsonlDestination::open_with_queue_bytes(
            dir,
            config.trace_queue_bytes,
        )?));
    }
    destinations.extend(config.destinations.iter().cloned());
    let ratio = config.sampling_ratio;
    let below = if ratio >= 1.0 {
        u64::MAX
    } else {
        (ratio * u64::MAX as f64) as u64
    };
    SAMPLE_BELOW.store(below, Ordering::Relaxed);
    crate::capture::set_max_value_bytes(config.max_value_bytes);
    crate::trace_settings::set(crate::trace_settings::TraceSettings::new(
        config.experiment_id.as_deref(),
        config.span_name_suffixes,
        config.source_name.as_deref(),
    ));
    rt.store.set_capacity(config.memory_capacity);
    let new = Arc::new(Settings {
        destinations,
        processors: Arc::new(config.processors),
    });
    let old = std::mem::replace(
        &mut *rt.settings.write().unwrap_or_else(|p| p.into_inner()),
        new,
    );
    SETTINGS_GENERATION.fetch_add(1, Ordering::Release);
    for d in &old.destinations {
        d.flush(FLUSH_TIMEOUT);
    }
    Ok(())
}

const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

fn settings() -> Arc<Settings> {
    runtime()
        .settings
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// Bumped each time the settings are replaced, so that threads know their cached copy is stale.
static SETTINGS_GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // The settings as this thread last read them: publication reads them once per trace, and
    // a thread-local copy costs one atomic load instead of a lock and two reference counts.
    static SETTINGS_CACHE: std::cell::RefCell<(u64, Option<Arc<Settings>>)> =
        const { std::cell::RefCell::new((0, None)) };
}

/// Runs `f` with the current settings, from this thread's cache when it is up to date.
fn with_settings<R>(f: impl FnOnce(&Settings) -> R) -> R {
    let generation = SETTINGS_GENERATION.load(Ordering::Acquire);
    let mut f = Some(f);
    let cached = SETTINGS_CACHE.try_with(|cache| {
        // Refreshed unless a destination called from `f` re-entered here (then it is borrowed
        // and the fresh settings are read below instead).
        if let Ok(mut c) = cache.try_borrow_mut()
            && (c.0 != generation || c.1.is_none())
        {
            *c = (generation, Some(settings()));
        }
        let c = cache.try_borrow().ok()?;
        match (&c.1, f.take()) {
            (Some(s), Some(f)) if c.0 == generation => Some(f(s)),
            (_, taken) => {
                f = taken;
                None
            }
        }
    });
    match (cached, f) {
        (Ok(Some(r)), _) => r,
        (_, Some(f)) => f(&settings()),
        // `f` runs exactly once: it was taken only where its result was returned.
        (_, None) => unreachable!("settings closure consumed without a result"),
    }
}

/// Sets spanwise up from the environment (see [`Config::from_env`]) and returns a guard that
/// flushes every destination when dropped. Hold it in `main`.
///
/// ```no_run
/// fn main() -> Result<(), spanwise_core::Error> {
///     let _guard = spanwise_core::init()?;
///     // ... traced work ...
///     Ok(())
/// } // the guard drops: every trace is on disk
/// ```
pub fn init() -> Result<FlushGuard, Error> {
    init_with(Config::from_env()?)
}

/// Sets spanwise up with `config` and returns a guard that flushes when dropped.
///
/// May be called again to change the settings: the previous destinations are flushed first.
/// Errors (a ratio out of range, a trace directory that cannot be created) name the setting or
/// path and leave the previous settings in place.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("spanwise-init-doc-{}", std::process::id()));
/// let guard = spanwise_core::init_with(spanwise_core::Config::new().trace_dir(&dir)).unwrap();
/// drop(spanwise_core::start_span("hello"));
/// drop(guard); // flushed
/// let text = std::fs::read_to_string(dir.join("traces.jsonl")).unwrap();
/// assert!(text.contains("\"hello\""));
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn init_with(config: Config) -> Result<FlushGuard, Error> {
    apply_explicit(config)?;
    Ok(FlushGuard {
        lost_at_start: undelivered(),
    })
}

/// Traces the destinations in force failed to deliver or dropped so far.
fn undelivered() -> u64 {
    settings()
        .destinations
        .iter()
        .map(|d| {
            let s = d.stats();
            s.failed + s.dropped
        })
        .sum()
}

/// Flushes every destination when dropped (see [`init`]), warning on stderr if some traces
/// were not delivered. [`FlushGuard::finish`] does the same and tells the program instead.
#[must_use = "dropping the guard flushes at once; hold it until the end of main"]
#[derive(Debug)]
pub struct FlushGuard {
    /// [`undelivered`] when the guard was made: what is lost after it is this guard's to report.
    lost_at_start: u64,
}

impl FlushGuard {
    /// Flushes every destination and says whether every trace since `init` was delivered: an
    /// error ([`Error::Destination`]) names each destination that failed or dropped traces
    /// (a full disk, a server that was down), with its counts.
    ///
    /// ```
    /// # fn main() -> Result<(), spanwise_core::Error> {
    /// let dir = std::env::temp_dir().join(format!("spanwise-finish-doc-{}", std::process::id()));
    /// let guard = spanwise_core::init_with(spanwise_core::Config::new().trace_dir(&dir))?;
    /// drop(spanwise_core::start_span("work"));
    /// match guard.finish() {
    ///     Ok(()) => println!("stored in {}", dir.join("traces.jsonl").display()),
    ///     Err(e) => eprintln!("traces were not all stored: {e}"),
    /// }
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok(())
    /// # }
    /// ```
    pub fn finish(self) -> Result<(), Error> {
        let result = self.check();
        std::mem::forget(self);
        result
    }

    fn check(&self) -> Result<(), Error> {
        let flushed = flush_timeout(FLUSH_TIMEOUT);
        if flushed && undelivered() <= self.lost_at_start {
            return Ok(());
        }
        let mut names = Vec::new();
        let mut parts = Vec::new();
        for (name, s) in stats().destinations {
            if s.failed + s.dropped > 0 {
                parts.push(format!(
                    "{name}: traces failed {}, dropped {}",
                    s.failed, s.dropped
                ));
                names.push(name);
            }
        }
        if parts.is_empty() {
            parts.push("the flush did not complete in 30 s".to_string());
        }
        Err(Error::Destination {
            name: if names.is_empty() {
                "all".to_string()
            } else {
                names.join(", ")
            },
            message: format!("not every trace was delivered ({})", parts.join("; ")),
        })
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        if let Err(e) = self.check() {
            warn(&format!("at exit: {e} (see spanwise::stats())"));
        }
    }
}

/// Blocks until every trace completed so far has been delivered by every destination (up to 30
/// seconds). Returns false if a destination could not finish in time, or could not deliver
/// every trace since the previous flush (the JSONL file on a full disk, say).
///
/// ```
/// drop(spanwise_core::start_span("done"));
/// assert!(spanwise_core::flush());
/// ```
pub fn flush() -> bool {
    flush_timeout(FLUSH_TIMEOUT)
}

/// [`flush`] with a timeout of your choice.
pub fn flush_timeout(timeout: Duration) -> bool {
    let Some(rt) = RUNTIME.get() else {
        return true;
    };
    let deadline = std::time::Instant::now() + timeout;
    let mut ok = true;
    let s = rt
        .settings
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    for d in &s.destinations {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        ok &= d.flush(left);
    }
    ok
}

/// Turns tracing off at runtime: spans started from now on are not recorded, at the cost of
/// about one atomic load each. Spans already open finish normally.
///
/// ```
/// spanwise_core::disable();
/// assert!(spanwise_core::start_span("ignored").span_id().is_none());
/// spanwise_core::enable();
/// ```
pub fn disable() {
    ENABLED.store(false, Ordering::Relaxed);
}

/// Turns tracing back on.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether spanwise was built with the `compile-out` feature (tracing compiled out): then
/// [`is_enabled`] is the constant `false`, so every span start folds away at compile time.
/// Public (hidden) so that `__private` can hand it to the `#[trace]` expansion.
#[doc(hidden)]
pub const COMPILED_OUT: bool = cfg!(feature = "compile-out");

/// Whether tracing is on. Always false when built with the `compile-out` feature.
#[inline]
pub fn is_enabled() -> bool {
    !COMPILED_OUT && ENABLED.load(Ordering::Relaxed)
}

/// Decides whether a new root is recorded.
#[inline]
pub(crate) fn sample() -> bool {
    let below = SAMPLE_BELOW.load(Ordering::Relaxed);
    let keep = below == u64::MAX || crate::id::SpanId::random().0 < below;
    if !keep {
        runtime().counters.unsampled.fetch_add(1, Ordering::Relaxed);
    }
    keep
}

thread_local! {
    static LAST_ACTIVE: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// Stores a finalized trace, made by `make` with the span processors in force, and hands it
/// to the destinations. `make` also says whether this is a new version of a trace published
/// before (late spans, a late update).
pub(crate) fn publish(make: impl FnOnce(&Arc<Vec<SpanProcessor>>) -> (CompletedTrace, bool)) {
    let rt = runtime();
    with_settings(|settings| {
        let (trace, new_version) = make(&settings.processors);
        // Stored first: a destination may look the trace up.
        if rt.store.insert(trace.clone(), new_version) {
            rt.counters.late_updates.fetch_add(1, Ordering::Relaxed);
        } else {
            rt.counters.traces_completed.fetch_add(1, Ordering::Relaxed);
        }
        for d in &settings.destinations {
            d.submit(trace.clone());
        }
    });
}

/// Records `id` as the calling thread's last active trace (its root ended here).
pub(crate) fn set_last_active(id: TraceId) {
    let _ = LAST_ACTIVE.try_with(|c| c.set(Some(id)));
}

/// The id of the last trace whose root span ended on the calling thread (MLflow's
/// `get_last_active_trace_id`, per thread).
///
/// ```
/// drop(spanwise_core::start_span("root"));
/// let id = spanwise_core::last_active_trace_id().unwrap();
/// assert_eq!(spanwise_core::get_trace(&id).unwrap().root().unwrap().name, "root");
/// ```
pub fn last_active_trace_id() -> Option<TraceId> {
    LAST_ACTIVE.try_with(|c| c.get()).ok().flatten()
}

/// A completed trace from the in-memory store.
pub fn get_trace(id: &TraceId) -> Option<Trace> {
    runtime().store.get(id).map(|t| (*t.trace()).clone())
}

/// The stored form of a completed trace (for tests of the serialization paths).
#[cfg(test)]
pub(crate) fn completed(id: &TraceId) -> Option<CompletedTrace> {
    runtime().store.get(id)
}

/// Completed traces from the in-memory store that match `filter`, newest first.
///
/// ```
/// use spanwise_core::{TraceFilter, TraceUpdate};
/// {
///     let _s = spanwise_core::start_span("tagged");
///     spanwise_core::update_current_trace(TraceUpdate::new().tag("fruit", "kiwi")).unwrap();
/// }
/// let found = spanwise_core::search_traces(&TraceFilter::new().tag("fruit", "kiwi"));
/// assert!(!found.is_empty());
/// ```
pub fn search_traces(filter: &TraceFilter) -> Vec<Trace> {
    runtime()
        .store
        .search(filter)
        .into_iter()
        .map(|t| (*t).clone())
        .collect()
}

/// Empties the in-memory store (destinations are not affected).
pub fn clear_traces() {
    runtime().store.clear();
}

/// Counters of what spanwise did, for monitoring and for checking that nothing is lost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Traces finalized (their root ended).
    pub traces_completed: u64,
    /// Re-publications of finalized traces (late spans or updates after the root ended).
    pub late_updates: u64,
    /// Roots not recorded because of sampling.
    pub unsampled_roots: u64,
    /// Values whose `Serialize` failed or panicked (recorded as markers).
    pub capture_errors: u64,
    /// Span processors that panicked.
    pub processor_panics: u64,
    /// Panics in user code that spanwise called and contained: `Serialize`, `Debug` and
    /// `Display` of captured values and errors, output reducers, span processors, `Drop` of a
    /// value handed to spanwise. The span is still recorded, with a note of what failed.
    pub user_code_panics: u64,
    /// Per destination: its name and counts.
    pub destinations: Vec<(String, DestinationStats)>,
}

/// A snapshot of the counters.
///
/// ```
/// let stats = spanwise_core::stats();
/// assert_eq!(stats.processor_panics, 0);
/// ```
pub fn stats() -> Stats {
    let rt = runtime();
    let c = &rt.counters;
    let (capture_errors, processor_panics, user_code_panics) = crate::counters::snapshot();
    Stats {
        traces_completed: c.traces_completed.load(Ordering::Relaxed),
        late_updates: c.late_updates.load(Ordering::Relaxed),
        unsampled_roots: c.unsampled.load(Ordering::Relaxed),
        capture_errors,
        processor_panics,
        user_code_panics,
        destinations: settings()
            .destinations
            .iter()
            .map(|d| (d.name().to_string(), d.stats()))
            .collect(),
    }
}

pub(crate) use crate::warning::warn;
