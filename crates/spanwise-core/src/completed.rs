//! [`CompletedTrace`]: a trace whose root has ended, as the store and the destinations hold it,
//! with its MLflow model built on first use.

use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use crate::finalize::{Recorded, finalize};
use crate::id::{SpanId, TraceId};
use crate::model::Trace;
use crate::record::SpanRecord;

/// A trace whose root has ended, as handed to the in-memory store and to each
/// [`Destination`](crate::Destination): the recorded spans, with the MLflow [`Trace`] built from
/// them on first use, on the thread that asks.
///
/// Cloning is cheap (a reference count). Span processors run when the model is built, so they
/// may run once per destination that builds it (a JSONL writer, an exporter) and once for
/// `get_trace`: write them to give the same result when run again (redaction does).
///
/// ```
/// use std::sync::Arc;
/// let trace = spanwise_core::Trace::from_json(r#"{"info": {"trace_id": "tr-8069a0265eec15a1d9bbfa62bf64cbf6",
///   "request_time": "2026-11-22T01:46:21.714Z", "state": "OK"}, "data": {"spans": []}}"#).unwrap();
/// let completed = spanwise_core::CompletedTrace::from_trace(trace.clone());
/// assert_eq!(completed.trace_id(), trace.info.trace_id);
/// assert_eq!(*completed.trace(), trace);
/// ```
#[derive(Clone)]
pub struct CompletedTrace(Arc<Completed>);

struct Completed {
    recorded: Recorded,
    model: OnceLock<Arc<Trace>>,
    /// [`CompletedTrace::estimated_bytes`], computed when the trace is made (the store and
    /// the JSONL queue both ask, and must see the same value to release what they counted).
    estimated_bytes: usize,
    /// Some record owns an allocation ([`SpanRecord::owns_heap`]), found while estimating.
    records_own_heap: bool,
}

thread_local! {
    /// The allocation of the last trace this thread let go of (the store evicts a trace for
    /// each one it takes in), for the thread's next trace.
    static SPARE: Cell<Option<Arc<Completed>>> = const { Cell::new(None) };
}

impl Drop for Completed {
    fn drop(&mut self) {
        // The last holder lets go (usually the store, evicting).
        self.dispose_spans();
    }
}

impl Completed {
    /// Lets go of the records (their list kept by `reclaim` for the next batch).
    fn dispose_spans(&mut self) {
        let mut spans = std::mem::take(&mut self.recorded.spans);
        if !self.records_own_heap {
            // SAFETY: shortening a list is safe; no record owns anything (checked when the trace
            // was made, and records are not changed after), so nothing is leaked either. Only
            // the list's buffer is left to free: no record needs to be read again.
            unsafe { spans.set_len(0) };
        }
        crate::reclaim::dispose(spans);
    }
}

impl std::fmt::Debug for CompletedTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CompletedTrace({}, {} spans)",
            self.0.recorded.trace_id,
            self.span_count()
        )
    }
}

impl CompletedTrace {
    /// Wraps an already built trace (to replay stored traces into a destination, or in tests).
    pub fn from_trace(trace: Trace) -> CompletedTrace {
        let trace_id = trace.info.trace_id;
        let estimated_bytes = estimate_model(&trace);
        let model = OnceLock::new();
        let _ = model.set(Arc::new(trace));
        CompletedTrace(Arc::new(Completed {
            recorded: Recorded {
                trace_id,
                root_span_id: SpanId(0),
                spans: Vec::new(),
                update: None,
                processors: Arc::new(Vec::new()),
            },
            model,
            estimated_bytes,
            records_own_heap: false,
        }))
    }

    /// A trace just assembled from its recorded spans (the model is built on first use).
    pub(crate) fn from_records(recorded: Recorded) -> CompletedTrace {
        // Computed here, while the records are in cache (a lazily set field cost a `Once` per
        // trace).
        let (estimated_bytes, records_own_heap) = estimate_records(&recorded.spans);
        if let Some(mut spare) = SPARE.try_with(Cell::take).ok().flatten()
            && let Some(c) = Arc::get_mut(&mut spare)
        {
            // Emptied by `release`: only the previous processors are dropped here.
            c.recorded = recorded;
            c.estimated_bytes = estimated_bytes;
            c.records_own_heap = records_own_heap;
            return CompletedTrace(spare);
        }
        CompletedTrace(Arc::new(Completed {
            recorded,
            model: OnceLock::new(),
            estimated_bytes,
            records_own_heap,
        }))
    }

    /// Lets go of this reference; when it was the last, the trace is emptied and its allocation
    /// kept for the thread's next trace instead of freed.
    pub(crate) fn release(self) {
        let mut this = self.0;
        let Some(c) = Arc::get_mut(&mut this) else {
            return;
        };
        c.dispose_spans();
        c.recorded.update = None;
        c.model = OnceLock::new();
        let _ = SPARE.try_with(|spare| spare.set(Some(this)));
    }

    /// Whether the model was built (tests of the writers that must not build it).
    #[cfg(test)]
    pub(crate) fn model_is_built(&self) -> bool {
        self.0.model.get().is_some()
    }

    /// The recorded spans (none for a trace made with [`CompletedTrace::from_trace`]).
    pub(crate) fn spans(&self) -> &[SpanRecord] {
        &self.0.recorded.spans
    }

    /// The trace's id.
    pub fn trace_id(&self) -> TraceId {
        self.0.recorded.trace_id
    }

    /// The number of spans.
    pub fn span_count(&self) -> usize {
        match self.0.model.get() {
            Some(t) => t.data.spans.len(),
            None => self.0.recorded.spans.len(),
        }
    }

    /// The MLflow trace, built on the first call and shared by later ones (and kept as long as
    /// this trace is). Use [`CompletedTrace::to_trace`] for a one-off copy that is not kept.
    pub fn trace(&self) -> Arc<Trace> {
        self.0
            .model
            .get_or_init(|| Arc::new(finalize(&self.0.recorded)))
            .clone()
    }

    /// A freshly built MLflow trace, not kept here: for destinations that serialize it and
    /// drop it, so that the in-memory store does not keep both forms.
    pub fn to_trace(&self) -> Trace {
        match self.0.model.get() {
            Some(t) => (**t).clone(),
            None => finalize(&self.0.recorded),
        }
    }

    /// Writes MLflow's JSON of this trace (as `to_trace().to_json()` would) straight from the
    /// recorded spans, without building the model, unless span processors must see it.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), crate::Error> {
        let c = &self.0.recorded;
        if let Some(t) = self.0.model.get() {
            serde_json::to_writer(out, &**t)?;
        } else if !c.processors.is_empty() {
            serde_json::to_writer(out, &finalize(c))?;
        } else {
            crate::finalize::write_json(c, out)?;
        }
        Ok(())
    }

    /// A cheap estimate of the trace's size in JSON, in bytes, computed from the recorded
    /// values without building the model: what the bounds of the JSONL queue and of the
    /// in-memory store count (the records take somewhat less memory than this).
    pub fn estimated_bytes(&self) -> usize {
        self.0.estimated_bytes
    }
}

/// [`CompletedTrace::estimated_bytes`] of a built trace.
fn estimate_model(t: &Trace) -> usize {
    512 + t
        .data
        .spans
        .iter()
        .map(|s| {
            256 + s.name.len()
                + attributes_bytes(s.attributes.iter().map(|(k, v)| (&**k, &**v)))
                + s.events.len() * 96
        })
        .sum::<usize>()
}

/// [`CompletedTrace::estimated_bytes`] of recorded spans, and whether any of them owns an
/// allocation (one pass over the records, which are in cache now and will not be later).
fn estimate_records(spans: &[SpanRecord]) -> (usize, bool) {
    let mut bytes = 512;
    let mut heap = false;
    for r in spans {
        bytes += 400
            + r.name.len()
            + r.inputs.as_ref().map_or(0, |s| s.len())
            + r.outputs.as_ref().map_or(0, |s| s.len())
            + attributes_bytes(r.attributes.iter().map(|(k, v)| (&**k, &**v)))
            + r.events.len() * 96;
        heap |= r.owns_heap();
    }
    (bytes, heap)
}

/// The part of the estimate for attributes: keys, values, quotes and separators.
fn attributes_bytes<'a>(attributes: impl Iterator<Item = (&'a str, &'a str)>) -> usize {
    attributes.map(|(k, v)| k.len() + v.len() + 8).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    use crate::model::{SpanEvent, SpanStatus, keys};
    use crate::processor::SpanProcessor;
    use crate::runtime;
    use crate::update::TraceUpdate;

    #[test]
    fn write_json_gives_the_model_json_byte_for_byte() {
        use crate::stream::IteratorExt;
        let id = {
            let root = crate::start_span("root").inputs(serde_json::json!({"x": 1}));
            root.record_error(&std::io::Error::other("boom"));
            root.set_attribute("mlflow.spanType", "overridden by the derived value");
            drop(crate::start_span("dup"));
            drop(crate::start_span("dup").span_type(crate::SpanType::Llm));
            let mut b = crate::span("fn-span");
            b.function_name = Some("my_fn");
            drop(b.start());
            let items: Vec<u32> = (0..3).traced("items").collect();
            assert_eq!(items.len(), 3);
            crate::update_current_trace(TraceUpdate::new().tag("fruit", "apple").user("ada"))
                .unwrap();
            root.trace_id().unwrap()
        };
        let c = runtime::completed(&id).unwrap();
        assert!(c.0.model.get().is_none(), "not built yet");
        let mut direct = Vec::new();
        c.write_json(&mut direct).unwrap();
        assert!(
            c.0.model.get().is_none(),
            "write_json did not build the model"
        );
        let model = serde_json::to_vec(&c.to_trace()).unwrap();
        assert_eq!(
            String::from_utf8(direct).unwrap(),
            String::from_utf8(model).unwrap()
        );
        let t = c.trace();
        assert_eq!(
            t.data
                .spans
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            ["root", "dup_1", "dup_2", "fn-span", "items"]
        );
        assert_eq!(t.spans_named("items").next().unwrap().events.len(), 3);
    }

    /// A trace of hand-made records with what is hard to serialize: control characters and
    /// unicode in names, values and keys, attributes colliding with the derived `mlflow.*`
    /// keys or repeated, events with nested values, chunks at the time of an event, errors,
    /// an open span, custom span types, function names, repeated names.
    fn tricky_trace(processors: Vec<SpanProcessor>) -> CompletedTrace {
        let trace_id = TraceId(0x8069_a026_5eec_15a1_d9bb_fa62_bf64_cbf6);
        let mut spans = Vec::new();
        let mut root = SpanRecord::new(SpanId(1), None, Cow::Borrowed("root \"quoted\" \u{1}\t"));
        root.start = 1_000;
        root.end = Some(9_000_000_000);
        root.inputs = Some(r#"{"messages":[{"role":"user","content":"héllo\n"}]}"#.into());
        root.outputs = Some("\"ünïcödé 中 😀 \u{7f}\"".into());
        root.status = SpanStatus::error("ValueError: bad \"thing\"\n");
        root.has_exception = true;
        root.events.push(
            SpanEvent::new("exception")
                .with_attribute("exception.type", "ValueError")
                .with_attribute("z", serde_json::json!({"b": 1, "a": [1, "x\u{2}"]})),
        );
        root.events[0].time_unix_nano = 5_000;
        root.set_attribute(Cow::Borrowed(keys::SPAN_TYPE), "\"mine\"");
        root.set_attribute(Cow::Borrowed(keys::SPAN_INPUTS), "\"not the inputs\"");
        root.set_attribute(Cow::Borrowed("mlflow.spanA"), "1");
        root.set_attribute(Cow::Borrowed("mlflow.spanZ"), "2");
        root.set_attribute(Cow::Borrowed("zzz"), "3");
        root.set_attribute(Cow::Owned("ключ\u{1f}".into()), "\"значение\"");
        root.set_attribute(Cow::Borrowed("A"), "null");
        // Pushed twice (as the span builder may): the last one wins, as in a map.
        root.attributes
            .push((Cow::Borrowed("dup"), "\"first\"".into()));
        root.attributes
            .push((Cow::Borrowed("dup"), "\"second\"".into()));
        spans.push(root);
        for i in 0..4u64 {
            let mut r = SpanRecord::new(SpanId(10 + i), Some(SpanId(1)), Cow::Borrowed("dup"));
            r.start = 2_000 + i;
            r.end = Some(3_000 + i);
            r.function_name = Some(if i % 2 == 0 { "my_fn" } else { "other_fn\"" });
            r.span_type = Cow::Borrowed(if i == 1 { "LLM" } else { "my \"custom\" type" });
            r.status = SpanStatus::ok();
            spans.push(r);
        }
        let mut taken = SpanRecord::new(SpanId(20), Some(SpanId(1)), Cow::Borrowed("dup_1"));
        taken.start = 2_500;
        taken.end = Some(2_600);
        spans.push(taken);
        let mut stream = SpanRecord::new(SpanId(30), Some(SpanId(1)), Cow::Borrowed("items"));
        stream.start = 4_000;
        stream.end = None;
        stream.chunks = vec![
            (4_100, "1".into()),
            (4_200, "\"two\\n\"".into()),
            (4_300, "{}".into()),
        ];
        let mut ev = SpanEvent::new("tick");
        ev.time_unix_nano = 4_200;
        stream.events.push(ev);
        let mut early = SpanEvent::new("early");
        early.time_unix_nano = 4_000;
        stream.events.push(early);
        spans.push(stream);
        // Records arrive in end order: the root last.
        spans.rotate_left(1);
        CompletedTrace::from_records(Recorded {
            trace_id,
            root_span_id: SpanId(1),
            spans,
            update: Some(Arc::new(
                TraceUpdate::new().tag("fruit", "apple").user("ada\u{0}"),
            )),
            processors: Arc::new(processors),
        })
    }

    #[test]
    fn write_json_of_tricky_records_gives_the_model_json_byte_for_byte() {
        let c = tricky_trace(Vec::new());
        let mut direct = Vec::new();
        c.write_json(&mut direct).unwrap();
        assert!(c.0.model.get().is_none(), "the model was not built");
        let model = serde_json::to_string(&c.to_trace()).unwrap();
        assert_eq!(String::from_utf8(direct).unwrap(), model);
        // The cases the records were made for are really in the output.
        let t = c.to_trace();
        let names: Vec<&str> = t.data.spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "root \"quoted\" \u{1}\t",
                "dup_1",
                "dup_2",
                "dup_3",
                "dup_4",
                "dup_1",
                "items"
            ]
        );
        let root = t.root().unwrap();
        assert_eq!(root.attributes["dup"], "\"second\"");
        assert_eq!(root.attributes[keys::SPAN_TYPE], "\"UNKNOWN\"");
        assert_eq!(root.attributes[keys::SPAN_LOG_LEVEL], "40");
        let items = t.spans_named("items").next().unwrap();
        let events: Vec<&str> = items.events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            events,
            [
                "early",
                "mlflow.chunk.item.0",
                "mlflow.chunk.item.1",
                "tick",
                "mlflow.chunk.item.2"
            ]
        );
    }

    #[test]
    fn write_json_with_span_processors_writes_what_they_made() {
        let config = crate::Config::new().span_processor(|span| {
            span.attributes.remove(keys::SPAN_INPUTS);
            span.name.push_str(" (redacted)");
        });
        let c = tricky_trace(config.processors);
        let mut written = Vec::new();
        c.write_json(&mut written).unwrap();
        let written = String::from_utf8(written).unwrap();
        assert_eq!(written, serde_json::to_string(&c.to_trace()).unwrap());
        let t = Trace::from_json(&written).unwrap();
        assert!(t.data.spans.iter().all(|s| s.name.ends_with(" (redacted)")));
        assert!(
            t.data
                .spans
                .iter()
                .all(|s| !s.attributes.contains_key(keys::SPAN_INPUTS))
        );
    }

    #[test]
    fn write_json_of_a_built_model_is_its_json() {
        let c = tricky_trace(Vec::new());
        let t = c.trace();
        let mut written = Vec::new();
        c.write_json(&mut written).unwrap();
        assert_eq!(String::from_utf8(written).unwrap(), t.to_json());
    }
}
