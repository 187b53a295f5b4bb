//! Assembly of finished spans into traces.
//!
//! Each trace has one shared record ([`TraceShared`]). Finished spans reach it in batches: a
//! thread keeps the spans it ends in a thread-local buffer and hands them over in one lock when
//! the trace leaves the top of that thread's stack (see `context`). When the root span ends, the
//! trace is published to the in-memory store and the destinations as a
//! [`CompletedTrace`](crate::CompletedTrace): the recorded spans, moved (not copied) into a
//! shared snapshot, whose MLflow model is built later, where it is needed (see `finalize`). The
//! application's thread pays for recording spans, not for the model.
//!
//! Late spans: a span that ends after its root (a task that outlived the request) is still
//! recorded. The trace is finalized again with it and re-published, replacing the stored trace;
//! the JSONL destination appends the new version as a new line, and readers keep the last line
//! of a trace id.

use std::cell::Cell;
use std::sync::{Arc, Mutex};

use crate::completed::CompletedTrace;
use crate::finalize::Recorded;
use crate::id::{SpanId, TraceId};
use crate::record::SpanRecord;
use crate::runtime;
use crate::update::TraceUpdate;

/// The shared record of one trace.
pub(crate) struct TraceShared {
    pub trace_id: TraceId,
    /// The span whose end finalizes the trace (the local root, for a trace continued from
    /// another process).
    pub root_span_id: SpanId,
    pub inner: Mutex<TraceInner>,
}

#[derive(Default)]
pub(crate) struct TraceInner {
    /// Spans handed over since the last publication.
    pub spans: Vec<SpanRecord>,
    /// The last publication (late spans are added to a copy of its spans).
    pub published: Option<CompletedTrace>,
    /// Set by `update_current_trace`; most traces have none.
    pub update: Option<Arc<TraceUpdate>>,
    pub finalized: bool,
}

thread_local! {
    /// The allocation of the last trace record this thread let go of, for its next trace (most
    /// threads run one trace after another).
    static SPARE: Cell<Option<Arc<TraceShared>>> = const { Cell::new(None) };
}

impl TraceShared {
    pub(crate) fn new(trace_id: TraceId, root_span_id: SpanId) -> Arc<TraceShared> {
        if let Some(mut spare) = SPARE.try_with(Cell::take).ok().flatten()
            && let Some(s) = Arc::get_mut(&mut spare)
        {
            s.trace_id = trace_id;
            s.root_span_id = root_span_id;
            return spare;
        }
        Arc::new(TraceShared {
            trace_id,
            root_span_id,
            inner: Mutex::new(TraceInner::default()),
        })
    }

    /// Lets go of a reference to the trace; when it was the last, the record is emptied and
    /// kept for the thread's next trace instead of freed.
    pub(crate) fn release(mut this: Arc<TraceShared>) {
        let Some(s) = Arc::get_mut(&mut this) else {
            return;
        };
        // A poisoned lock (a panic while it was held) is not kept.
        let Ok(inner) = s.inner.get_mut() else {
            return;
        };
        // Its parts are dropped here, before the record is kept.
        *inner = TraceInner::default();
        let _ = SPARE.try_with(|spare| spare.set(Some(this)));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TraceInner> {
        // A poisoned lock only means a panic elsewhere while holding it; the data is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Merges a trace update (from `update_current_trace`); re-publishes if already finalized.
    pub(crate) fn apply_update(self: &Arc<Self>, update: TraceUpdate) {
        let republish = {
            let mut inner = self.lock();
            // Copied only if a published version still shares it.
            Arc::make_mut(inner.update.get_or_insert_default()).merge(update);
            inner.finalized
        };
        if republish {
            self.publish(None);
        }
    }

    /// Hands over a batch of finished spans; finalizes when the batch holds the root, or
    /// re-finalizes when the trace was already finalized (late spans).
    pub(crate) fn hand_over(self: &Arc<Self>, spans: &mut Vec<SpanRecord>) {
        if spans.iter().any(|s| s.span_id == self.root_span_id) {
            // Taken and published under one lock.
            self.publish(Some(spans));
            return;
        }
        let late = {
            let mut inner = self.lock();
            add_batch(&mut inner.spans, spans);
            inner.finalized
        };
        if late {
            self.publish(None);
        }
    }

    /// Publishes the trace as it is now: a snapshot of its spans (moved on the first
    /// publication, copied only when late spans come) to the store and the destinations.
    fn publish(self: &Arc<Self>, batch: Option<&mut Vec<SpanRecord>>) {
        runtime::set_last_active(self.trace_id);
        runtime::publish(|processors| {
            let mut inner = self.lock();
            if let Some(batch) = batch {
                add_batch(&mut inner.spans, batch);
            }
            inner.finalized = true;
            let pending = std::mem::take(&mut inner.spans);
            let new_version = inner.published.is_some();
            let spans = match inner.published.take() {
                None => pending,
                Some(prev) => {
                    let mut all = Vec::with_capacity(prev.spans().len() + pending.len());
                    all.extend(prev.spans().iter().cloned());
                    all.extend(pending);
                    all
                }
            };
            let trace = CompletedTrace::from_records(Recorded {
                trace_id: self.trace_id,
                root_span_id: self.root_span_id,
                spans,
                update: inner.update.clone(),
                processors: processors.clone(),
            });
            inner.published = Some(trace.clone());
            (trace, new_version)
        });
    }
}

/// Moves a thread's batch into the trace's list.
fn add_batch(spans: &mut Vec<SpanRecord>, batch: &mut Vec<SpanRecord>) {
    if spans.is_empty() {
        // The usual case (one batch per trace): take the buffer instead of copying.
        std::mem::swap(spans, batch);
    } else {
        spans.append(batch);
    }
}
