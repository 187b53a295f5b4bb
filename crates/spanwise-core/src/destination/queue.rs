//! The JSONL writer's queue: bounded in traces and in estimated bytes, with back-pressure
//! (producers wait for room rather than lose traces) and a writer that polls while traces come
//! and sleeps when they stop.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::mpsc::SyncSender;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::completed::CompletedTrace;

pub(super) enum Msg {
    /// A trace and its estimated size, counted in the queue's bound until it is written.
    Trace(CompletedTrace, usize),
    /// Answered with whether every trace since the previous flush was written.
    Flush(SyncSender<bool>),
}

const QUEUE_TRACES: usize = 4096;

/// The default bound of the estimated bytes of traces queued and not yet written.
pub(crate) const DEFAULT_QUEUE_BYTES: usize = 64 << 20;

/// The writer's queue: bounded in traces and in estimated bytes, counted from `submit` until
/// the trace is written (a batch the writer took still counts).
pub(super) struct Queue {
    state: Mutex<QueueState>,
    /// The writer waits here for messages.
    work: Condvar,
    /// Producers wait here for room.
    room: Condvar,
    max_bytes: usize,
}

#[derive(Default)]
pub(super) struct QueueState {
    messages: VecDeque<Msg>,
    pub(super) traces: usize,
    pub(super) bytes: usize,
    /// No more messages are taken (the destination was dropped, or the writer ended).
    closed: bool,
    pub(super) writer: WriterState,
    producers_waiting: usize,
    /// The writer queued a trace itself (a span processor that traces) since it last looked:
    /// a flush it is answering must wait for that trace too.
    writer_queued: bool,
}

/// What the writer is doing, which decides whether a producer must wake it.
#[derive(Default, Clone, Copy, PartialEq, Debug)]
pub(super) enum WriterState {
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
pub(super) const POLL: Duration = Duration::from_millis(1);
/// Empty polls in a row after which the writer sleeps until woken.
const IDLE_POLLS: u32 = 50;
/// Traces queued at which a polling writer is woken.
const WAKE_TRACES: usize = QUEUE_TRACES / 4;

impl Queue {
    /// An empty queue bounded at `max_bytes` of estimated trace size.
    pub(super) fn new(max_bytes: usize) -> Queue {
        Queue {
            state: Mutex::new(QueueState::default()),
            work: Condvar::new(),
            room: Condvar::new(),
            max_bytes,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A poisoned lock only means a panic elsewhere while holding it; the counts are whole.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a message, waiting for room when a trace does not fit (a trace larger than the
    /// whole bound goes in alone). False if the queue is closed.
    pub(super) fn push(&self, msg: Msg) -> bool {
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
    pub(super) fn take_all(&self, batch: &mut VecDeque<Msg>) -> bool {
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
    pub(super) fn flush_done(&self, ack: SyncSender<bool>) -> Option<SyncSender<bool>> {
        let mut st = self.lock();
        if std::mem::take(&mut st.writer_queued) {
            st.messages.push_back(Msg::Flush(ack));
            return None;
        }
        Some(ack)
    }

    /// `traces` traces of `bytes` in all were written (or failed): their room is free again.
    pub(super) fn release(&self, traces: usize, bytes: usize) {
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

    pub(super) fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        self.work.notify_all();
        self.room.notify_all();
    }
}

thread_local! {
    /// Set on the writer threads of JSONL destinations.
    pub(super) static ON_WRITER: Cell<bool> = const { Cell::new(false) };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn queue(max_bytes: usize) -> Arc<Queue> {
        Arc::new(Queue::new(max_bytes))
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
