//! [`Exporter`]: the background destination. A queue bounded in traces and bytes, one worker
//! thread that takes batches from it and delivers them with retries, exact counts of what was
//! exported, dropped, retried and failed, and a `flush` that waits with a timeout.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use spanwise_core::{CompletedTrace, Destination, DestinationStats, Error, Trace};

use crate::diag;
use crate::http::Failure;
use crate::mlflow::MlflowClient;
use crate::otlp::OtlpClient;
use crate::retry::{Retrier, RetryPolicy};
use crate::sink::{DEFAULT_BATCH_BYTES, DEFAULT_BATCH_TRACES, Sink};

/// What happens to a trace submitted while the queue is full.
///
/// ```
/// use std::time::Duration;
/// use spanwise_otlp::QueuePolicy;
/// assert_eq!(QueuePolicy::default(), QueuePolicy::DropNewest);
/// let _wait = QueuePolicy::Block(Duration::from_millis(50));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueuePolicy {
    /// The new trace is dropped and counted (the default): the application never waits.
    #[default]
    DropNewest,
    /// The application waits up to this long for room, then the trace is dropped and counted.
    Block(Duration),
}

/// Queue, batching and retry settings of an [`Exporter`].
///
/// | setting | default |
/// |---|---|
/// | queue | 4096 traces and 64 MiB (estimated) |
/// | policy when full | [`QueuePolicy::DropNewest`] |
/// | batch | up to 64 traces and 2 MiB, sent when full or 200 ms after the first trace queued |
/// | retries | from the client ([`RetryPolicy::default`]: up to 5 minutes per request) |
///
/// ```
/// use spanwise_otlp::{ExportOptions, QueuePolicy};
/// let opts = ExportOptions::default().max_queue_traces(10).policy(QueuePolicy::DropNewest);
/// assert_eq!(opts.max_queue_traces, 10);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportOptions {
    /// The most traces waiting in the queue.
    pub max_queue_traces: usize,
    /// The most (estimated) bytes waiting in the queue; one trace larger than this is still
    /// taken when the queue is empty.
    pub max_queue_bytes: usize,
    /// What to do when the queue is full.
    pub policy: QueuePolicy,
    /// The most traces in one request.
    pub max_batch_traces: usize,
    /// About the most bytes in one request.
    pub max_batch_bytes: usize,
    /// How long a queued trace may wait for its batch to fill.
    pub batch_delay: Duration,
    /// Overrides the client's retry policy.
    pub retry: Option<RetryPolicy>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            max_queue_traces: 4096,
            max_queue_bytes: 64 << 20,
            policy: QueuePolicy::DropNewest,
            max_batch_traces: DEFAULT_BATCH_TRACES,
            max_batch_bytes: DEFAULT_BATCH_BYTES,
            batch_delay: Duration::from_millis(200),
            retry: None,
        }
    }
}

impl ExportOptions {
    /// Sets the most traces in the queue.
    pub fn max_queue_traces(mut self, n: usize) -> Self {
        self.max_queue_traces = n;
        self
    }

    /// Sets the most bytes in the queue.
    pub fn max_queue_bytes(mut self, n: usize) -> Self {
        self.max_queue_bytes = n;
        self
    }

    /// Sets the policy when the queue is full.
    pub fn policy(mut self, policy: QueuePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the most traces in one request.
    pub fn max_batch_traces(mut self, n: usize) -> Self {
        self.max_batch_traces = n;
        self
    }

    /// Sets about the most bytes in one request.
    pub fn max_batch_bytes(mut self, n: usize) -> Self {
        self.max_batch_bytes = n;
        self
    }

    /// Sets how long a trace may wait for its batch to fill.
    pub fn batch_delay(mut self, d: Duration) -> Self {
        self.batch_delay = d;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
}

/// A [`Destination`] that sends traces to an MLflow server or an OTLP endpoint from a thread of
/// its own.
///
/// ```
/// use std::sync::Arc;
/// use spanwise_otlp::{Exporter, ExportOptions, MlflowClient};
/// let client = MlflowClient::new("http://127.0.0.1:5000", "my-agent").unwrap();
/// let exporter = Exporter::mlflow(client, ExportOptions::default()).unwrap();
/// let config = spanwise_core::Config::new().add_destination(Arc::new(exporter));
/// # drop(config);
/// ```
pub struct Exporter {
    name: &'static str,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the worker (new traces, a flush, closing).
    work: Condvar,
    /// Wakes flushers and blocked submitters (progress, room).
    progress: Condvar,
    exported: AtomicU64,
    dropped: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    options: ExportOptions,
    warnings: diag::Once,
    name: &'static str,
}

#[derive(Default)]
struct State {
    queue: VecDeque<(CompletedTrace, usize)>,
    bytes: usize,
    /// Traces ever queued, and ever finished (exported or failed); FIFO, so a flush waits for
    /// `finished` to reach the `queued` it saw.
    queued: u64,
    finished: u64,
    /// When the oldest queued trace arrived (for the batch delay).
    oldest: Option<Instant>,
    flushers: usize,
    closed: bool,
    /// Drops already reported in a summary.
    drops_reported: u64,
}

impl Exporter {
    /// An exporter to an MLflow tracking server.
    pub fn mlflow(client: MlflowClient, options: ExportOptions) -> Result<Exporter, Error> {
        let retry = options
            .retry
            .clone()
            .unwrap_or_else(|| client.retry_policy().clone());
        Exporter::start(Arc::new(client), options, retry)
    }

    /// An exporter to an OTLP/HTTP endpoint.
    pub fn otlp(client: OtlpClient, options: ExportOptions) -> Result<Exporter, Error> {
        let retry = options
            .retry
            .clone()
            .unwrap_or_else(|| client.retry_policy().clone());
        Exporter::start(Arc::new(client), options, retry)
    }

    fn start(
        sink: Arc<dyn Sink>,
        options: ExportOptions,
        retry: RetryPolicy,
    ) -> Result<Exporter, Error> {
        let name = sink.name();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            progress: Condvar::new(),
            exported: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            options,
            warnings: diag::Once::default(),
            name,
        });
        let s = shared.clone();
        std::thread::Builder::new()
            .name(format!("spanwise-{name}"))
            .spawn(move || worker(&s, &*sink, &retry))
            .map_err(|e| Error::Destination {
                name: name.into(),
                message: format!("cannot start the exporter thread: {e}"),
            })?;
        Ok(Exporter { name, shared })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn has_room(&self, st: &State, bytes: usize) -> bool {
        st.queue.is_empty()
            || (st.queue.len() < self.options.max_queue_traces
                && st.bytes + bytes <= self.options.max_queue_bytes)
    }

    fn drop_one(&self) {
        if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
            diag::warn(&format!(
                "{}: export queue full ({} traces / {} bytes); dropping new traces (counted in \
                 spanwise::stats())",
                self.name, self.options.max_queue_traces, self.options.max_queue_bytes
            ));
        }
    }
}

impl Destination for Exporter {
    fn name(&self) -> &str {
        self.name
    }

    fn submit(&self, trace: CompletedTrace) {
        let sh = &*self.shared;
        // Estimated from the recorded values: the model is built later, on the export thread.
        let bytes = trace.estimated_bytes();
        let mut st = sh.lock();
        if st.closed || sh.options.max_queue_traces == 0 {
            drop(st);
            sh.drop_one();
            return;
        }
        if !sh.has_room(&st, bytes) {
            let QueuePolicy::Block(limit) = sh.options.policy else {
                drop(st);
                sh.drop_one();
                return;
            };
            let deadline = Instant::now() + limit;
            while !sh.has_room(&st, bytes) && !st.closed {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                st = sh
                    .progress
                    .wait_timeout(st, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            if !sh.has_room(&st, bytes) || st.closed {
                drop(st);
                sh.drop_one();
                return;
            }
        }
        st.queue.push_back((trace, bytes));
        st.bytes += bytes;
        st.queued += 1;
        st.oldest.get_or_insert_with(Instant::now);
        drop(st);
        sh.work.notify_one();
    }

    fn flush(&self, timeout: Duration) -> bool {
        let sh = &*self.shared;
        let deadline = Instant::now() + timeout;
        let failed_before = sh.failed.load(Ordering::Relaxed);
        let mut st = sh.lock();
        let target = st.queued;
        st.flushers += 1;
        sh.work.notify_one();
        while st.finished < target && !st.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = sh
                .progress
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        st.flushers -= 1;
        let done = st.finished >= target;
        // Summarize drops since the last summary (the init guard flushes at exit).
        let dropped = sh.dropped.load(Ordering::Relaxed);
        let new_drops = dropped - st.drops_reported.min(dropped);
        st.drops_reported = dropped;
        drop(st);
        if new_drops > 0 {
            diag::warn(&format!(
                "{}: {new_drops} traces dropped because the export queue was full \
                 ({dropped} in all)",
                sh.name
            ));
        }
        done && sh.failed.load(Ordering::Relaxed) == failed_before
    }

    fn stats(&self) -> DestinationStats {
        let sh = &*self.shared;
        DestinationStats::new(
            sh.exported.load(Ordering::Relaxed),
            sh.dropped.load(Ordering::Relaxed),
            sh.retried.load(Ordering::Relaxed),
            sh.failed.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        // Stops the worker: it abandons waits and retries, and counts what is left as failed.
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
        self.shared.progress.notify_all();
    }
}

fn worker(sh: &Shared, sink: &dyn Sink, retry: &RetryPolicy) {
    let sleep = |d: Duration| {
        let st = sh.lock();
        if st.closed {
            return false;
        }
        let (st, _) = sh
            .work
            .wait_timeout_while(st, d, |st| !st.closed)
            .unwrap_or_else(|p| p.into_inner());
        !st.closed
    };
    let on_retry = |f: &Failure| {
        sh.warnings.warn(
            "retry",
            &format!(
                "{}: {}; retrying with backoff (further retries are counted, not logged)",
                sh.name, f.message
            ),
        );
    };
    let retrier = Retrier {
        policy: retry,
        retried: &sh.retried,
        sleep: &sleep,
        on_retry: &on_retry,
    };
    loop {
        let batch = match next_batch(sh) {
            Some(b) => b,
            None => return,
        };
        let refs: Vec<&Trace> = batch.iter().map(|(t, _)| &**t).collect();
        let results = sink.deliver(&refs, &retrier);
        let mut st = sh.lock();
        for r in results {
            match r {
                Ok(()) => {
                    sh.exported.fetch_add(1, Ordering::Relaxed);
                }
                Err(f) => {
                    sh.failed.fetch_add(1, Ordering::Relaxed);
                    let key = match f.status {
                        Some(s) => format!("status-{s}"),
                        None if f.retryable => "gave-up".to_string(),
                        None => "error".to_string(),
                    };
                    sh.warnings.warn(
                        &key,
                        &format!(
                            "{}: traces not delivered: {} (further failures of this kind are \
                             counted in spanwise::stats(), not logged)",
                            sh.name, f.message
                        ),
                    );
                }
            }
        }
        st.finished += batch.len() as u64;
        drop(st);
        sh.progress.notify_all();
    }
}

/// Waits for a batch: full, or its oldest trace waited `batch_delay`, or a flush is waiting.
/// `None` when the exporter closed (what is still queued is counted as failed).
fn next_batch(sh: &Shared) -> Option<Vec<(Arc<Trace>, usize)>> {
    let o = &sh.options;
    let mut st = sh.lock();
    loop {
        if st.closed {
            let left = st.queue.len() as u64;
            if left > 0 {
                sh.failed.fetch_add(left, Ordering::Relaxed);
                st.finished += left;
                st.queue.clear();
                st.bytes = 0;
            }
            drop(st);
            sh.progress.notify_all();
            return None;
        }
        if !st.queue.is_empty() {
            let full = st.queue.len() >= o.max_batch_traces || st.bytes >= o.max_batch_bytes;
            let waited = st.oldest.map_or(Duration::ZERO, |t| t.elapsed());
            if full || st.flushers > 0 || waited >= o.batch_delay {
                break;
            }
            let left = o.batch_delay - waited;
            st = sh
                .work
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            continue;
        }
        st = sh.work.wait(st).unwrap_or_else(|p| p.into_inner());
    }
    let mut batch = Vec::new();
    let mut bytes = 0;
    while let Some((_, b)) = st.queue.front() {
        if !batch.is_empty()
            && (batch.len() >= o.max_batch_traces.max(1) || bytes + *b > o.max_batch_bytes)
        {
            break;
        }
        let (t, b) = st.queue.pop_front().expect("front exists");
        bytes += b;
        st.bytes -= b;
        batch.push((t, b));
    }
    st.oldest = (!st.queue.is_empty()).then(Instant::now);
    drop(st);
    // The MLflow model of each trace is built here, off the application's thread.
    let batch: Vec<(Arc<Trace>, usize)> = batch
        .into_iter()
        .map(|(t, b)| (Arc::new(t.to_trace()), b))
        .collect();
    // Room was made: wake submitters blocked by the `Block` policy.
    sh.progress.notify_all();
    Some(batch)
}
