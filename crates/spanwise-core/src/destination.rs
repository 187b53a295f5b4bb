//! Where completed traces go: the [`Destination`] trait and the embedded JSONL destination.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::collector::CompletedTrace;
use crate::error::Error;

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

enum Msg {
    Trace(CompletedTrace),
    Flush(SyncSender<()>),
}

/// Appends each completed trace as one line of MLflow JSON to `<dir>/traces.jsonl`, from a
/// writer thread of its own.
///
/// Each trace is written as a whole line with one trailing newline, so a crash mid-write can
/// tear only the last line, which readers ([`read_jsonl`](crate::read_jsonl)) skip with a
/// warning. The queue is bounded; when it is full the application waits for the writer rather
/// than losing traces.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("spanwise-doc-{}", std::process::id()));
/// let dest = spanwise_core::JsonlDestination::open(&dir).unwrap();
/// assert!(dest.path().ends_with("traces.jsonl"));
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub struct JsonlDestination {
    path: PathBuf,
    tx: Mutex<Option<SyncSender<Msg>>>,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    failed: AtomicU64,
}

/// The file name inside the trace directory.
pub const JSONL_FILE_NAME: &str = "traces.jsonl";

const QUEUE_TRACES: usize = 4096;

impl JsonlDestination {
    /// Opens (creating it if needed) `<dir>/traces.jsonl` for appending and starts the writer.
    /// Fails with an error naming the path when the directory or file cannot be created.
    pub fn open(dir: impl AsRef<Path>) -> Result<JsonlDestination, Error> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(JSONL_FILE_NAME);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_TRACES);
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let p = path.clone();
        std::thread::Builder::new()
            .name("spanwise-jsonl".into())
            .spawn(move || writer_loop(file, rx, &c, &p))
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        Ok(JsonlDestination {
            path,
            tx: Mutex::new(Some(tx)),
            counters,
        })
    }

    /// The file traces are appended to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sender(&self) -> Option<SyncSender<Msg>> {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn writer_loop(file: File, rx: Receiver<Msg>, counters: &Counters, path: &Path) {
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let mut line = Vec::with_capacity(4096);
    let mut warned = false;
    while let Ok(msg) = rx.recv() {
        let mut next = Some(msg);
        // Drain what is queued, then flush once.
        while let Some(msg) = next {
            match msg {
                Msg::Trace(trace) => {
                    line.clear();
                    // Serialized here, on the writer's thread, straight from the records.
                    if trace.write_json(&mut line).is_ok() {
                        line.push(b'\n');
                        match out.write_all(&line) {
                            Ok(()) => {
                                counters.written.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                counters.failed.fetch_add(1, Ordering::Relaxed);
                                if !warned {
                                    warned = true;
                                    crate::runtime::warn(&format!(
                                        "cannot write traces to {}: {e}",
                                        path.display()
                                    ));
                                }
                            }
                        }
                    } else {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Msg::Flush(ack) => {
                    let _ = out.flush();
                    let _ = ack.send(());
                }
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = out.flush()
            && !warned
        {
            warned = true;
            crate::runtime::warn(&format!("cannot write traces to {}: {e}", path.display()));
        }
    }
    let _ = out.flush();
}

impl Destination for JsonlDestination {
    fn name(&self) -> &str {
        "jsonl"
    }

    fn submit(&self, trace: CompletedTrace) {
        let Some(tx) = self.sender() else {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match tx.try_send(Msg::Trace(trace)) {
            Ok(()) => {}
            // Back-pressure rather than loss: wait for the writer.
            Err(TrySendError::Full(msg)) => {
                if tx.send(msg).is_err() {
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        let Some(tx) = self.sender() else {
            return true;
        };
        let (ack_tx, ack_rx) = std::sync::mpsc::sync_channel(1);
        if tx.send(Msg::Flush(ack_tx)).is_err() {
            return false;
        }
        !matches!(
            ack_rx.recv_timeout(timeout),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected)
        )
    }

    fn stats(&self) -> DestinationStats {
        DestinationStats {
            exported: self.counters.written.load(Ordering::Relaxed),
            dropped: 0,
            retried: 0,
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }
}

impl Drop for JsonlDestination {
    fn drop(&mut self) {
        // Closing the channel ends the writer after it has written what is queued.
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}
