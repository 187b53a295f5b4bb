//! Where completed traces go: the [`Destination`] trait and the embedded JSONL destination.

mod jsonl;
mod line_writer;
mod queue;

use std::time::Duration;

use crate::completed::CompletedTrace;

pub use jsonl::{JSONL_FILE_NAME, JsonlDestination};
pub(crate) use queue::DEFAULT_QUEUE_BYTES;

/// Counts of what one destination did with the traces it was given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationStats {
    /// Traces delivered (written or accepted by the server).
    pub exported: u64,
    /// Traces dropped by the queue policy.
    pub dropped: u64,
    /// Delivery attempts retried.
    pub retried: u64,
    /// Traces that could not be delivered.
    pub failed: u64,
}

impl DestinationStats {
    /// Counts with these values.
    pub fn new(exported: u64, dropped: u64, retried: u64, failed: u64) -> DestinationStats {
        DestinationStats {
            exported,
            dropped,
            retried,
            failed,
        }
    }
}

/// A place completed traces are sent to.
///
/// `submit` is called on the application's thread when a trace's root ends (and again when a
/// late span or an update changes it), so it must return quickly: queue the trace, and build
/// ([`CompletedTrace::to_trace`]) and deliver it from a thread of the destination's own.
/// Implementations never panic into the caller.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use spanwise_core::{CompletedTrace, Destination, DestinationStats, Trace};
///
/// #[derive(Default)]
/// struct Collect(Mutex<Vec<Arc<Trace>>>);
/// impl Destination for Collect {
///     fn name(&self) -> &str { "collect" }
///     fn submit(&self, trace: CompletedTrace) { self.0.lock().unwrap().push(trace.trace()) }
///     fn flush(&self, _timeout: std::time::Duration) -> bool { true }
///     fn stats(&self) -> DestinationStats { DestinationStats::default() }
/// }
/// let sink = Arc::new(Collect::default());
/// let _guard = spanwise_core::init_with(
///     spanwise_core::Config::new().no_destination().add_destination(sink.clone()),
/// ).unwrap();
/// drop(spanwise_core::start_span("hello"));
/// spanwise_core::flush();
/// assert_eq!(sink.0.lock().unwrap().len(), 1);
/// ```
pub trait Destination: Send + Sync + 'static {
    /// A short name for logs and [`stats`](crate::stats).
    fn name(&self) -> &str;
    /// Queues a completed trace.
    fn submit(&self, trace: CompletedTrace);
    /// Blocks until everything submitted so far is delivered or `timeout` passes; true if all
    /// was delivered.
    fn flush(&self, timeout: Duration) -> bool;
    /// What this destination has done so far.
    fn stats(&self) -> DestinationStats;
}
