//! MLflow's trace JSON written by hand, straight from the span records into the caller's buffer.
//!
//! The output is byte for byte what serde_json gives for the model ([`Trace`](crate::Trace)) that
//! `finalize` would build: same fields in the same order, maps in the `BTreeMap` order of their
//! keys, strings escaped as serde_json escapes them. The size statistics
//! (`mlflow.trace.sizeStats`, see `size_stats`) are measured while the text is written, not by
//! a second pass over it.
//!
//! The spans are written first (into a buffer kept by the thread), since the info's statistics
//! need their sizes; then the info, then the spans after it. The tables and buffers a trace
//! needs are kept by the writing thread from one trace to the next.

use std::cell::RefCell;

use super::Recorded;

mod info;
mod spans;
pub(crate) mod text;

/// What a thread writing traces keeps from one trace to the next.
#[derive(Default)]
struct Scratch {
    /// The records' indices in start order.
    order: Vec<u32>,
    /// The spans' JSON, before it follows the info.
    spans_json: Vec<u8>,
    /// Each span's size as MLflow measures it.
    sizes: Vec<usize>,
    tables: spans::Tables,
    info: info::InfoScratch,
}

impl Scratch {
    /// Frees what one very large trace left (the buffers keep the room of the largest trace
    /// written, up to this).
    fn shrink(&mut self) {
        const KEEP_BYTES: usize = 1 << 20;
        if self.spans_json.capacity() > KEEP_BYTES {
            *self = Scratch::default();
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Appends `{"info":…,"data":{"spans":[…]}}` for the trace.
pub(super) fn write_trace(out: &mut Vec<u8>, c: &Recorded) -> Result<(), serde_json::Error> {
    let mut with = |s: &mut Scratch| {
        let r = write_with(out, c, s);
        s.shrink();
        r
    };
    // A fresh scratch where the thread's is in use or gone (the thread is ending).
    match SCRATCH.try_with(|s| s.try_borrow_mut().ok().map(|mut s| with(&mut s))) {
        Ok(Some(r)) => r,
        _ => with(&mut Scratch::default()),
    }
}

fn write_with(out: &mut Vec<u8>, c: &Recorded, s: &mut Scratch) -> Result<(), serde_json::Error> {
    let settings = crate::trace_settings::current();
    s.order.clear();
    s.order.extend(0..c.spans.len() as u32);
    // Stable: spans of the same start keep their order, as in `start_order`.
    s.order.sort_by_key(|&i| c.spans[i as usize].start);
    s.spans_json.clear();
    s.sizes.clear();
    let mut w = spans::SpanWriter::new(
        c.trace_id,
        &c.spans,
        &s.order,
        settings.name_suffixes,
        &mut s.tables,
    );
    for (i, &span) in s.order.iter().enumerate() {
        if i > 0 {
            s.spans_json.push(b',');
        }
        let size = w.write_span(&mut s.spans_json, i, span);
        s.sizes.push(size);
    }
    let first_start = s.order.first().map(|&i| c.spans[i as usize].start);
    out.extend_from_slice(b"{\"info\":");
    if info::can_write(c) {
        info::write_info(out, c, &settings, first_start, &mut s.sizes, &mut s.info);
    } else {
        // The model's path: the info built, completed and serialized.
        let mut info = super::trace_info(c, first_start);
        crate::size_stats::add(&mut info, &mut s.sizes);
        serde_json::to_writer(&mut *out, &info)?;
    }
    out.extend_from_slice(b",\"data\":{\"spans\":[");
    out.extend_from_slice(&s.spans_json);
    out.extend_from_slice(b"]}}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use crate::completed::CompletedTrace;
    use crate::finalize::Recorded;
    use crate::id::{SpanId, TraceId};
    use crate::llm::{LlmCost, TokenUsage};
    use crate::model::{SpanEvent, SpanStatus, TraceState, keys};
    use crate::record::SpanRecord;
    use crate::update::TraceUpdate;

    /// A trace of a root (`Some((inputs, outputs))`, or none: its root span is not among the
    /// records) and `children` children, with the application's update.
    fn trace(
        root: Option<(Option<&str>, Option<&str>)>,
        children: u64,
        update: Option<TraceUpdate>,
        start: u64,
    ) -> CompletedTrace {
        let mut spans = Vec::new();
        for i in 0..children {
            // Names used once and names repeated; more distinct names than a scan looks at.
            let name: Cow<'static, str> = match i % 3 {
                0 => Cow::Owned(format!("child {}", i / 3)),
                1 => Cow::Borrowed("same"),
                _ => Cow::Borrowed("ünïcödé \"name\""),
            };
            let mut r = SpanRecord::new(SpanId(100 + i), Some(SpanId(1)), name);
            r.start = start + 10 + i;
            r.end = Some(start + 1_000 + i);
            r.inputs = Some(format!("{{\"i\":{i},\"s\":\"é\\n\"}}").into());
            r.status = SpanStatus::ok();
            if i == 2 {
                let usage = serde_json::to_string(&TokenUsage::new(7, 3)).unwrap();
                r.set_attribute(Cow::Borrowed(keys::TOKEN_USAGE), usage);
                let cost = serde_json::to_string(&LlmCost::new(0.5, 0.25)).unwrap();
                r.set_attribute(Cow::Borrowed(keys::LLM_COST), cost);
            }
            if i == 4 {
                let mut e = SpanEvent::new("tick")
                    .with_attribute("f", 1e20)
                    .with_attribute("g", 0.00001)
                    .with_attribute("é", "中");
                e.time_unix_nano = start + 20;
                r.events.push(e);
            }
            spans.push(r);
        }
        if let Some((inputs, outputs)) = root {
            let mut r = SpanRecord::new(SpanId(1), None, Cow::Borrowed("root"));
            r.start = start;
            r.end = Some(start + 5_000_000_000);
            r.inputs = inputs.map(Into::into);
            r.outputs = outputs.map(Into::into);
            r.status = SpanStatus::ok();
            spans.push(r);
        }
        CompletedTrace::from_records(Recorded {
            trace_id: TraceId(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210),
            root_span_id: SpanId(1),
            spans,
            update: update.map(Arc::new),
            processors: Arc::new(Vec::new()),
        })
    }

    /// The JSON written from the records is the model's, byte for byte (sizes included: the
    /// model measures each span's JSON and the info's by a pass over them).
    fn assert_written_as_the_model(c: &CompletedTrace) -> String {
        let mut direct = Vec::new();
        c.write_json(&mut direct).unwrap();
        assert!(!c.model_is_built(), "the model was not built");
        let model = serde_json::to_string(&c.to_trace()).unwrap();
        let direct = String::from_utf8(direct).unwrap();
        assert_eq!(direct, model);
        direct
    }

    const MS: u64 = 1_000_000;
    const T0: u64 = 1_795_311_981_714 * MS;

    #[test]
    fn small_and_large_traces() {
        for children in [0, 1, 2, 30] {
            assert_written_as_the_model(&trace(
                Some((Some(r#"{"a":0}"#), Some("5"))),
                children,
                None,
                T0,
            ));
        }
        // A request time on a whole second, no inputs, no outputs.
        assert_written_as_the_model(&trace(Some((None, None)), 1, None, 1_795_311_981_000 * MS));
    }

    #[test]
    fn long_chat_and_unicode_inputs_and_outputs() {
        let long_ascii = format!("\"{}\"", "x\"y".repeat(400));
        let long_unicode = format!("[\"{}\"]", "é中😀".repeat(300));
        let just_over = format!("\"{}\"", "a".repeat(250));
        let chat_in = r#"{"messages":[{"role":"system","content":"be nice"},{"role":"user","content":"Hi \"bot\" é"}]}"#;
        let chat_out = r#"{"choices":[{"message":{"role":"assistant","content":"Hello there"}}]}"#;
        let escaped_key =
            r#"{"\u006dessages":[{"role":"user","content":"spelled with an escape"}]}"#;
        let cases = [
            (long_ascii.as_str(), long_unicode.as_str()),
            (just_over.as_str(), "{\"k\":[1.5,1e20,null,true]}"),
            (chat_in, chat_out),
            (escaped_key, "\"\""),
            ("", "{\"messages\":\"not a list\"}"),
        ];
        for (inputs, outputs) in cases {
            assert_written_as_the_model(&trace(Some((Some(inputs), Some(outputs))), 2, None, T0));
        }
    }

    #[test]
    fn the_applications_update_is_merged_in_key_order() {
        let update = TraceUpdate::new()
            .metadata("a first", "1")
            .metadata("mlflow.traceInputs", "overridden")
            .metadata("mlflow.trace.sizeA", "before the statistics")
            .metadata("mlflow.trace.sizeT", "after the statistics")
            .metadata("zzz", "ünïcödé \u{1}")
            .tag("fruit", "apple")
            .tag("mlflow.traceName", "renamed")
            .client_request_id("req-1")
            .session_id("s-1")
            .user("ada")
            .state(TraceState::Error);
        assert_written_as_the_model(&trace(Some((Some("{}"), Some("1"))), 3, Some(update), T0));
        let previews = TraceUpdate::new()
            .request_preview("asked \"this\"")
            .response_preview("answered");
        assert_written_as_the_model(&trace(Some((Some("{}"), None)), 1, Some(previews), T0));
    }

    #[test]
    fn metadata_where_the_statistics_go_takes_the_models_path() {
        for key in [
            "mlflow.trace.sizeStats",
            "mlflow.trace.sizeBytes",
            "mlflow.trace.sizeC",
        ] {
            let update = TraceUpdate::new().metadata(key, "the application's");
            let written =
                assert_written_as_the_model(&trace(Some((None, None)), 1, Some(update), T0));
            assert!(written.contains("\"total_size_bytes"));
        }
        // An application's key before the statistics, in a trace of its root alone.
        let update = TraceUpdate::new().metadata("a", "b");
        assert_written_as_the_model(&trace(Some((None, None)), 0, Some(update), T0));
    }

    #[test]
    fn a_trace_whose_root_is_not_among_its_records() {
        let written = assert_written_as_the_model(&trace(None, 2, None, T0));
        assert!(written.contains("\"state\":\"IN_PROGRESS\""));
    }
}
