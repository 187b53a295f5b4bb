//! [`JsonlDestination`]: completed traces appended as lines of MLflow JSON by a writer thread.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::line_writer::{Counters, LineWriter, ends_torn};
use super::queue::{DEFAULT_QUEUE_BYTES, Msg, ON_WRITER, Queue};
use super::{Destination, DestinationStats};
use crate::completed::CompletedTrace;
use crate::error::Error;

/// Appends each completed trace as one line of MLflow JSON to `<dir>/traces.jsonl`, from a
/// writer thread of its own.
///
/// Each trace is written as a whole line with one trailing newline, so a crash mid-write can
/// tear only the last line, which readers ([`read_jsonl`](crate::read_jsonl)) skip with a
/// warning. The queue is bounded in traces (4096) and in the estimated size of the traces not
/// yet written (64 MiB by default, see [`JsonlDestination::open_with_queue_bytes`]); when it
/// is full the application waits for the writer rather than losing traces.
///
/// Disk faults do not stop the application: a trace that cannot be written (a full disk, a
/// directory gone or replaced by a file) is counted in [`stats`](crate::stats) as failed,
/// the fault is reported once on stderr, [`flush`](crate::flush) returns false, and writing
/// resumes by itself when the fault clears (the file is opened again at its path, its
/// directory created if need be). After a torn last line (a process killed mid-write), the
/// next process starts on a line of its own.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("spanwise-doc-{}", std::process::id()));
/// let dest = spanwise_core::JsonlDestination::open(&dir).unwrap();
/// assert!(dest.path().ends_with("traces.jsonl"));
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub struct JsonlDestination {
    path: PathBuf,
    queue: Arc<Queue>,
    counters: Arc<Counters>,
}

/// The file name inside the trace directory.
pub const JSONL_FILE_NAME: &str = "traces.jsonl";

impl JsonlDestination {
    /// Opens (creating it if needed) `<dir>/traces.jsonl` for appending and starts the writer.
    /// Fails with an error naming the path when the directory or file cannot be created.
    pub fn open(dir: impl AsRef<Path>) -> Result<JsonlDestination, Error> {
        JsonlDestination::open_with_queue_bytes(dir, DEFAULT_QUEUE_BYTES)
    }

    /// As [`open`](JsonlDestination::open), with the queue bounded at `max_bytes` of traces
    /// waiting to be written (by their [`estimated_bytes`](CompletedTrace::estimated_bytes))
    /// instead of the default 64 MiB. A trace larger than the bound is queued alone.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("spanwise-doc-q-{}", std::process::id()));
    /// let dest = spanwise_core::JsonlDestination::open_with_queue_bytes(&dir, 1 << 20).unwrap();
    /// assert!(dest.path().ends_with("traces.jsonl"));
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn open_with_queue_bytes(
        dir: impl AsRef<Path>,
        max_bytes: usize,
    ) -> Result<JsonlDestination, Error> {
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
        let queue = Arc::new(Queue::new(max_bytes));
        let counters = Arc::new(Counters::default());
        let (q, c, p) = (queue.clone(), counters.clone(), path.clone());
        // A process killed mid-write left a torn last line: what this one writes starts on a
        // line of its own, so the torn piece stays the only line lost.
        let torn = ends_torn(&path);
        std::thread::Builder::new()
            .name("spanwise-jsonl".into())
            .spawn(move || writer_loop(file, torn, &q, &c, &p))
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        Ok(JsonlDestination {
            path,
            queue,
            counters,
        })
    }

    /// The file traces are appended to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Closes the queue when the writer ends, however it ends, so that no producer waits forever.
struct CloseOnExit<'a>(&'a Queue);

impl Drop for CloseOnExit<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

fn writer_loop(file: File, torn: bool, queue: &Queue, counters: &Counters, path: &Path) {
    ON_WRITER.with(|w| w.set(true));
    let _close = CloseOnExit(queue);
    let mut out = LineWriter::new(file, path, counters);
    out.torn = torn;
    let mut batch = VecDeque::new();
    // Room is given back every `RELEASE_EVERY` traces or `RELEASE_BYTES` written, not per
    // trace (a lock each); by bytes too, so that large traces still flow while a batch is
    // written (releasing only at the end of a batch made producers wait for all of it:
    // 2.9M -> 0.5M spans/s with traces of 1001 spans).
    const RELEASE_EVERY: usize = 256;
    const RELEASE_BYTES: usize = 1 << 20;
    let (mut done, mut done_bytes) = (0, 0);
    while queue.take_all(&mut batch) {
        for msg in batch.drain(..) {
            match msg {
                Msg::Trace(trace, bytes) => {
                    // Serialized here, on the writer's thread, straight from the records into
                    // the buffer of lines to write.
                    out.write_line(|buf| trace.write_json(buf));
                    drop(trace);
                    done += 1;
                    done_bytes += bytes;
                    if done == RELEASE_EVERY || done_bytes >= RELEASE_BYTES {
                        queue.release(done, done_bytes);
                        (done, done_bytes) = (0, 0);
                    }
                }
                Msg::Flush(ack) => {
                    if let Some(ack) = queue.flush_done(ack) {
                        out.commit();
                        let _ = ack.send(out.take_failed_since_flush() == 0);
                    }
                }
            }
        }
        queue.release(done, done_bytes);
        (done, done_bytes) = (0, 0);
        out.commit();
    }
    out.commit();
}

impl Destination for JsonlDestination {
    fn name(&self) -> &str {
        "jsonl"
    }

    fn submit(&self, trace: CompletedTrace) {
        let bytes = trace.estimated_bytes();
        if !self.queue.push(Msg::Trace(trace, bytes)) {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        let (ack_tx, ack_rx) = std::sync::mpsc::sync_channel(1);
        if !self.queue.push(Msg::Flush(ack_tx)) {
            return false;
        }
        // A timeout or a writer gone is a flush that did not complete.
        ack_rx.recv_timeout(timeout).unwrap_or(false)
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
        // The writer ends after it has written what is queued.
        self.queue.close();
    }
}
#[cfg(test)]
mod tests {
    use super::super::queue::{POLL, WriterState};
    use super::*;

    fn a_trace() -> CompletedTrace {
        drop(crate::start_span("queued"));
        crate::runtime::completed(&crate::last_active_trace_id().unwrap()).unwrap()
    }

    /// Lines in the JSONL file, waiting up to 10 s for `n` of them (no flush asked).
    fn wait_for_lines(path: &Path, n: usize) -> usize {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let lines = std::fs::read_to_string(path).map_or(0, |s| s.lines().count());
            if lines >= n || std::time::Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn traces_are_written_without_a_flush_whether_the_writer_sleeps_or_polls() {
        let dir = std::env::temp_dir().join(format!("spanwise-poll-{}", std::process::id()));
        let d = JsonlDestination::open(&dir).unwrap();
        // Idle long enough to have gone from polling to sleeping: the first trace wakes it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while d.queue.lock().writer != WriterState::Sleeping {
            assert!(
                std::time::Instant::now() < deadline,
                "the idle writer sleeps"
            );
            std::thread::sleep(POLL * 10);
        }
        d.submit(a_trace());
        assert_eq!(wait_for_lines(d.path(), 1), 1);
        // Right after, the writer polls: a trace is picked up without waking it.
        d.submit(a_trace());
        assert_eq!(wait_for_lines(d.path(), 2), 2);
        assert_eq!(d.stats().exported, 2);
        let st = d.queue.lock();
        assert_eq!((st.traces, st.bytes), (0, 0), "all room given back");
        drop(st);
        drop(d);
        std::fs::remove_dir_all(&dir).ok();
    }
}
