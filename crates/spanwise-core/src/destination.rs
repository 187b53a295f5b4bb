//! Where completed traces go: the [`Destination`] trait and the embedded JSONL destination.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::completed::CompletedTrace;
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
    /// A trace and its estimated size, counted in the queue's bound until it is written.
    Trace(CompletedTrace, usize),
    /// Answered with whether every trace since the previous flush was written.
    Flush(SyncSender<bool>),
}

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

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    failed: AtomicU64,
}

/// The file name inside the trace directory.
pub const JSONL_FILE_NAME: &str = "traces.jsonl";

const QUEUE_TRACES: usize = 4096;

/// The default bound of the estimated bytes of traces queued and not yet written.
pub(crate) const DEFAULT_QUEUE_BYTES: usize = 64 << 20;

/// The writer's queue: bounded in traces and in estimated bytes, counted from `submit` until
/// the trace is written (a batch the writer took still counts).
struct Queue {
    state: Mutex<QueueState>,
    /// The writer waits here for messages.
    work: Condvar,
    /// Producers wait here for room.
    room: Condvar,
    max_bytes: usize,
}

#[derive(Default)]
struct QueueState {
    messages: VecDeque<Msg>,
    traces: usize,
    bytes: usize,
    /// No more messages are taken (the destination was dropped, or the writer ended).
    closed: bool,
    writer: WriterState,
    producers_waiting: usize,
    /// The writer queued a trace itself (a span processor that traces) since it last looked:
    /// a flush it is answering must wait for that trace too.
    writer_queued: bool,
}

/// What the writer is doing, which decides whether a producer must wake it.
#[derive(Default, Clone, Copy, PartialEq, Debug)]
enum WriterState {
    #[default]
    Running,
    /// Waiting at most [`POLL`] for more: woken only by a flush or a filling queue. Waking it
    /// for every trace cost the producer a system call per trace (about 9 µs per two-span
    /// trace on the benchmark machine).
    Polling,
    /// Idle for a while: the next message wakes it.
    Sleeping,
}

/// How long the writer waits for more traces before it looks again, while traces come.
const POLL: Duration = Duration::from_millis(1);
/// Empty polls in a row after which the writer sleeps until woken.
const IDLE_POLLS: u32 = 50;
/// Traces queued at which a polling writer is woken.
const WAKE_TRACES: usize = QUEUE_TRACES / 4;

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A poisoned lock only means a panic elsewhere while holding it; the counts are whole.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a message, waiting for room when a trace does not fit (a trace larger than the
    /// whole bound goes in alone). False if the queue is closed.
    fn push(&self, msg: Msg) -> bool {
        let mut st = self.lock();
        if let Msg::Trace(_, bytes) = &msg {
            let bytes = *bytes;
            loop {
                if st.closed {
                    return false;
                }
                let fits =
                    st.traces < QUEUE_TRACES && st.bytes.saturating_add(bytes) <= self.max_bytes;
                // The writer itself never waits (a span processor that traces would wait for
                // its own thread): its traces go in over the bound.
                if fits || st.traces == 0 || ON_WRITER.with(Cell::get) {
                    break;
                }
                // Back-pressure rather than loss: wait for the writer.
                st.producers_waiting += 1;
                st = self.room.wait(st).unwrap_or_else(|p| p.into_inner());
                st.producers_waiting -= 1;
            }
            st.traces += 1;
            st.bytes += bytes;
            if ON_WRITER.with(Cell::get) {
                st.writer_queued = true;
            }
        } else if st.closed {
            return false;
        }
        let wake = match st.writer {
            WriterState::Running => false,
            WriterState::Sleeping => true,
            WriterState::Polling => {
                matches!(msg, Msg::Flush(_))
                    || st.traces >= WAKE_TRACES
                    || st.bytes >= self.max_bytes / 4
            }
        };
        st.messages.push_back(msg);
        if wake {
            st.writer = WriterState::Running;
            self.work.notify_one();
        }
        true
    }

    /// Moves every queued message into `batch`, waiting for one; false once closed and empty.
    fn take_all(&self, batch: &mut VecDeque<Msg>) -> bool {
        let mut st = self.lock();
        let mut polls = 0;
        while st.messages.is_empty() {
            if st.closed {
                return false;
            }
            if polls < IDLE_POLLS {
                polls += 1;
                st.writer = WriterState::Polling;
                st = self
                    .work
                    .wait_timeout(st, POLL)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            } else {
                st.writer = WriterState::Sleeping;
                st = self.work.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        }
        st.writer = WriterState::Running;
        std::mem::swap(&mut st.messages, batch);
        true
    }

    /// The flush's answer, to send now; `None` when the writer queued traces of its own since
    /// it last asked (a span processor that traces): the flush goes back in the queue behind them.
    fn flush_done(&self, ack: SyncSender<bool>) -> Option<SyncSender<bool>> {
        let mut st = self.lock();
        if std::mem::take(&mut st.writer_queued) {
            st.messages.push_back(Msg::Flush(ack));
            return None;
        }
        Some(ack)
    }

    /// `traces` traces of `bytes` in all were written (or failed): their room is free again.
    fn release(&self, traces: usize, bytes: usize) {
        if traces == 0 {
            return;
        }
        let mut st = self.lock();
        st.traces -= traces;
        st.bytes -= bytes;
        if st.producers_waiting > 0 {
            self.room.notify_all();
        }
    }

    fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        self.work.notify_all();
        self.room.notify_all();
    }
}

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
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState::default()),
            work: Condvar::new(),
            room: Condvar::new(),
            max_bytes,
        });
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

thread_local! {
    /// Set on the writer threads of JSONL destinations.
    static ON_WRITER: Cell<bool> = const { Cell::new(false) };
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

/// Whole lines, buffered and written to the file in one go per batch, with the faults of a disk
/// handled: a write that fails (a full disk) fails the traces of its buffer, counted exactly; a
/// file whose path no longer leads to it (the directory removed, replaced, or the file swapped
/// for another) is opened again at its path before the next write, creating the directory, so
/// that writing resumes by itself when the fault clears. A fault is reported once on stderr
/// when it starts, and once when writing resumes, not once per trace.
struct LineWriter<'a> {
    file: Option<File>,
    path: &'a Path,
    counters: &'a Counters,
    buf: Vec<u8>,
    /// Traces whose lines are in `buf`.
    pending: u64,
    /// Traces not written since the fault began (`None`: no fault).
    fault: Option<u64>,
    /// A failed write may have left part of a line in the file: the next write starts with a
    /// newline, so that the piece is a line of its own (which readers skip and report) and
    /// the next trace's line is whole.
    torn: bool,
    failed_since_flush: u64,
}

/// Lines are buffered up to this many bytes before they are written.
const WRITE_BYTES: usize = 1 << 16;
/// The most room the buffer keeps once its lines are written.
const KEEP_BYTES: usize = 4 << 20;

impl<'a> LineWriter<'a> {
    fn new(file: File, path: &'a Path, counters: &'a Counters) -> LineWriter<'a> {
        LineWriter {
            file: Some(file),
            path,
            counters,
            buf: Vec::with_capacity(WRITE_BYTES),
            pending: 0,
            fault: None,
            torn: false,
            failed_since_flush: 0,
        }
    }

    /// Appends the line `write` writes (without its newline) to the buffer; a line that
    /// could not be written is taken out again and counted as failed.
    fn write_line(&mut self, write: impl FnOnce(&mut Vec<u8>) -> Result<(), crate::Error>) {
        let at = self.buf.len();
        match write(&mut self.buf) {
            Ok(()) => {
                self.buf.push(b'\n');
                self.pending += 1;
                if self.buf.len() >= WRITE_BYTES {
                    self.commit();
                }
            }
            Err(e) => {
                self.buf.truncate(at);
                self.failed(1, &format!("a trace could not be serialized: {e}"));
            }
        }
    }

    /// Writes the buffered lines.
    fn commit(&mut self) {
        if self.pending == 0 {
            return;
        }
        let result = self.write_buf();
        let n = std::mem::take(&mut self.pending);
        self.buf.clear();
        // Room for large traces is kept (growing it again for each one cost a copy of it),
        // up to a bound: a line far larger than usual is not kept for the rest of the process.
        if self.buf.capacity() > KEEP_BYTES {
            self.buf = Vec::with_capacity(WRITE_BYTES);
        }
        match result {
            Ok(()) => {
                self.counters.written.fetch_add(n, Ordering::Relaxed);
                if let Some(lost) = self.fault.take() {
                    crate::warning::warn(&format!(
                        "writing traces to {} again ({lost} traces could not be written)",
                        self.path.display()
                    ));
                }
            }
            Err(e) => self.failed(
                n,
                &format!("cannot write traces to {}: {e}", self.path.display()),
            ),
        }
    }

    fn failed(&mut self, n: u64, message: &str) {
        self.counters.failed.fetch_add(n, Ordering::Relaxed);
        self.failed_since_flush += n;
        match &mut self.fault {
            Some(lost) => *lost += n,
            None => {
                self.fault = Some(n);
                crate::warning::warn(&format!(
                    "{message}; traces are counted in spanwise::stats() as failed until writing resumes"
                ));
            }
        }
    }

    fn take_failed_since_flush(&mut self) -> u64 {
        std::mem::take(&mut self.failed_since_flush)
    }

    /// Writes `buf` to the file (after the newline that ends a torn piece, if any).
    fn write_buf(&mut self) -> std::io::Result<()> {
        self.reopen_if_moved()?;
        let Some(file) = self.file.as_mut() else {
            return Err(std::io::Error::other("the trace file is not open"));
        };
        if self.torn {
            file.write_all(b"\n")?;
            self.torn = false;
        }
        write_counting(file, &self.buf, &mut self.torn)
    }

    /// Makes `file` the file at the path: the open one while its path still leads to it, else
    /// the file at the path, opened (and its directory created) again.
    fn reopen_if_moved(&mut self) -> std::io::Result<()> {
        let current = self.file.as_ref().is_some_and(|f| still_at(f, self.path));
        if !current {
            self.file = None;
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path)?;
            self.torn = false;
            self.file = Some(file);
        }
        Ok(())
    }
}

/// Whether the file at `path` ends without a newline (a torn last line).
fn ends_torn(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let mut last = [0u8; 1];
    f.seek(SeekFrom::End(-1)).is_ok() && f.read_exact(&mut last).is_ok() && last[0] != b'\n'
}

/// `write_all`, noting in `torn` whether a failure came after part of `buf` was written.
fn write_counting(file: &mut File, mut buf: &[u8], torn: &mut bool) -> std::io::Result<()> {
    while !buf.is_empty() {
        match file.write(buf) {
            Ok(0) => {
                *torn = true;
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            Ok(n) => {
                *torn = true;
                buf = &buf[n..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    *torn = false;
    Ok(())
}

/// Whether `path` still leads to the open `file` (same device and inode).
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_at(_file: &File, path: &Path) -> bool {
    path.exists()
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
    use super::*;

    fn queue(max_bytes: usize) -> Arc<Queue> {
        Arc::new(Queue {
            state: Mutex::new(QueueState::default()),
            work: Condvar::new(),
            room: Condvar::new(),
            max_bytes,
        })
    }

    fn a_trace() -> CompletedTrace {
        drop(crate::start_span("queued"));
        crate::runtime::completed(&crate::last_active_trace_id().unwrap()).unwrap()
    }

    #[test]
    fn a_producer_waits_while_the_queued_bytes_are_at_the_bound() {
        let q = queue(100);
        assert!(q.push(Msg::Trace(a_trace(), 60)));
        // A trace of 60 more bytes does not fit: its producer waits for room.
        let producer = {
            let q = q.clone();
            let t = a_trace();
            std::thread::spawn(move || q.push(Msg::Trace(t, 60)))
        };
        while q.lock().producers_waiting == 0 {
            std::thread::yield_now();
        }
        assert_eq!(q.lock().traces, 1, "the second trace is not queued yet");
        // The writer takes the first trace; it still counts until written.
        let mut batch = VecDeque::new();
        assert!(q.take_all(&mut batch));
        assert_eq!(batch.len(), 1);
        assert_eq!(q.lock().producers_waiting, 1);
        q.release(1, 60);
        assert!(producer.join().unwrap());
        let st = q.lock();
        assert_eq!((st.traces, st.bytes, st.messages.len()), (1, 60, 1));
    }

    #[test]
    fn a_flush_is_answered_after_the_traces_the_writer_queued_itself() {
        let q = queue(1 << 20);
        let (ack, _rx) = std::sync::mpsc::sync_channel(1);
        // On the writer's thread (a span processor that traces): queued over any bound.
        let w = q.clone();
        std::thread::spawn(move || {
            ON_WRITER.with(|on| on.set(true));
            assert!(w.push(Msg::Trace(a_trace(), 10)));
        })
        .join()
        .unwrap();
        assert!(
            q.flush_done(ack).is_none(),
            "the flush goes back in the queue"
        );
        let mut batch = VecDeque::new();
        assert!(q.take_all(&mut batch));
        assert!(matches!(
            (&batch[0], &batch[1]),
            (Msg::Trace(..), Msg::Flush(_))
        ));
        let Some(Msg::Flush(ack)) = batch.pop_back() else {
            panic!("the flush is behind the trace")
        };
        // Nothing queued by the writer since: answered now.
        assert!(q.flush_done(ack).is_some());
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

    #[test]
    fn a_trace_larger_than_the_bound_goes_in_alone_and_a_closed_queue_refuses() {
        let q = queue(10);
        assert!(q.push(Msg::Trace(a_trace(), 1000)));
        let (ack, _rx) = std::sync::mpsc::sync_channel(1);
        // Flush markers are not bounded.
        assert!(q.push(Msg::Flush(ack)));
        q.close();
        assert!(!q.push(Msg::Trace(a_trace(), 1)));
        // What was queued before closing is still handed to the writer, then it ends.
        let mut batch = VecDeque::new();
        assert!(q.take_all(&mut batch));
        assert_eq!(batch.len(), 2);
        assert!(!q.take_all(&mut VecDeque::new()));
    }
}
