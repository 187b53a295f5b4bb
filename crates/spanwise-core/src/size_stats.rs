//! `mlflow.trace.sizeStats` and `mlflow.trace.sizeBytes`, computed as MLflow's Python SDK
//! computes them when it logs a trace (`add_size_stats_to_trace_metadata`):
//!
//! - each span's size is the UTF-8 length of `json.dumps(span.to_dict())` (Python's default
//!   separators and `ensure_ascii`);
//! - the trace's size is the sum of the span sizes, plus the length of the trace's JSON with no
//!   spans (`{"info": …, "data": {"spans": []}}`, measured before the two keys are added), plus
//!   two bytes of `", "` between spans;
//! - `p25`, `p50`, `p75` interpolate linearly between the two nearest sorted sizes and drop the
//!   fraction, as Python's `int()` does.
//!
//! The value is the JSON `{"total_size_bytes": …, "num_spans": …, "max": …, "p25": …, "p50":
//! …, "p75": …}`; `sizeBytes` repeats the total. A trace without spans gets neither (MLflow's
//! `max()` of no sizes fails and it logs the trace without them).

use crate::model::{Span, TraceInfo};
use crate::pyjson;

/// The metadata key of the size statistics.
pub(crate) const SIZE_STATS: &str = "mlflow.trace.sizeStats";
/// The metadata key of the total size (kept by MLflow for older readers).
pub(crate) const SIZE_BYTES: &str = "mlflow.trace.sizeBytes";

/// `{"info": ` and `, "data": {"spans": []}}` around the info in Python's form.
const EMPTY_TRACE_FRAME: usize = "{\"info\": ".len() + ", \"data\": {\"spans\": []}}".len();

/// The size in bytes that MLflow gives a span whose JSON (as spanwise writes it, serde_json's
/// compact form) is `span_json`.
pub(crate) fn span_size(span_json: &str) -> usize {
    pyjson::dumps_ascii_len(span_json)
}

/// Adds both keys to `info`'s metadata, for the trace's spans.
pub(crate) fn add_for_spans(info: &mut TraceInfo, spans: &[Span]) {
    let mut sizes = Vec::with_capacity(spans.len());
    for s in spans {
        match serde_json::to_string(s) {
            Ok(json) => sizes.push(span_size(&json)),
            Err(_) => return,
        }
    }
    add(info, &mut sizes);
}

/// Adds both keys to `info`'s metadata, for spans of the given sizes (from [`span_size`]).
pub(crate) fn add(info: &mut TraceInfo, span_sizes: &mut [usize]) {
    if span_sizes.is_empty() {
        return;
    }
    let Ok(info_json) = serde_json::to_string(&*info) else {
        return;
    };
    let info_size = info_size(
        pyjson::dumps_ascii_len(&info_json),
        info.request_time.timestamp_subsec_millis() == 0,
    );
    let Some(stats) = Stats::of(info_size, span_sizes) else {
        return;
    };
    let mut text = Vec::new();
    stats.write(&mut text, false);
    info.trace_metadata.insert(
        SIZE_STATS.into(),
        String::from_utf8(text).unwrap_or_default(),
    );
    info.trace_metadata
        .insert(SIZE_BYTES.into(), stats.total.to_string());
}

/// The size MLflow counts for the trace's info, from the length of Python's form of its JSON
/// (before the two keys are added) and whether the request time is a whole second.
pub(crate) fn info_size(python_len: usize, whole_second: bool) -> usize {
    let size = python_len + EMPTY_TRACE_FRAME;
    // Python writes the request time through protobuf's Timestamp, which leaves out a zero
    // fraction (`…:26Z`, not `…:26.000Z`).
    if whole_second {
        size - ".000".len()
    } else {
        size
    }
}

/// The statistics of a trace.
pub(crate) struct Stats {
    /// `total_size_bytes`, also the value of `mlflow.trace.sizeBytes`.
    pub total: usize,
    num_spans: usize,
    max: usize,
    p25: usize,
    p50: usize,
    p75: usize,
}

impl Stats {
    /// For an info of `info_size` (see [`info_size`]) and spans of the given sizes (sorted
    /// here); `None` without spans.
    pub(crate) fn of(info_size: usize, span_sizes: &mut [usize]) -> Option<Stats> {
        if span_sizes.is_empty() {
            return None;
        }
        span_sizes.sort_unstable();
        let n = span_sizes.len();
        Some(Stats {
            total: span_sizes.iter().sum::<usize>() + info_size + (n - 1) * 2,
            num_spans: n,
            max: span_sizes[n - 1],
            p25: percentile(span_sizes, 0.25),
            p50: percentile(span_sizes, 0.50),
            p75: percentile(span_sizes, 0.75),
        })
    }

    /// Appends the value of `mlflow.trace.sizeStats`: `{"total_size_bytes": …, "num_spans": …,
    /// "max": …, "p25": …, "p50": …, "p75": …}`; `escaped`: with each `"` as `\"` (the text
    /// already escaped as a JSON string's content).
    pub(crate) fn write(&self, out: &mut Vec<u8>, escaped: bool) {
        macro_rules! field {
            ($plain:literal, $escaped:literal, $n:expr) => {
                if escaped {
                    out.extend_from_slice($escaped);
                } else {
                    out.extend_from_slice($plain);
                }
                crate::finalize::json::text::write_u64(out, $n as u64);
            };
        }
        field!(
            b"{\"total_size_bytes\": ",
            b"{\\\"total_size_bytes\\\": ",
            self.total
        );
        field!(
            b", \"num_spans\": ",
            b", \\\"num_spans\\\": ",
            self.num_spans
        );
        field!(b", \"max\": ", b", \\\"max\\\": ", self.max);
        field!(b", \"p25\": ", b", \\\"p25\\\": ", self.p25);
        field!(b", \"p50\": ", b", \\\"p50\\\": ", self.p50);
        field!(b", \"p75\": ", b", \\\"p75\\\": ", self.p75);
        out.push(b'}');
    }
}

/// MLflow's `_calculate_percentile` of sorted sizes, truncated to an integer.
fn percentile(sorted: &[usize], p: f64) -> usize {
    let n = sorted.len();
    let index = p * (n - 1) as f64;
    let lower = index as usize;
    let upper = lower + 1;
    if upper >= n {
        return sorted[n - 1];
    }
    let weight = index - lower as f64;
    (sorted[lower] as f64 * (1.0 - weight) + sorted[upper] as f64 * weight) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_and_truncate() {
        // What MLflow's `_calculate_percentile` gives for these sizes (run with MLflow 3.17.2).
        let s = [534, 552, 558];
        assert_eq!(
            (
                percentile(&s, 0.25),
                percentile(&s, 0.5),
                percentile(&s, 0.75)
            ),
            (543, 552, 555)
        );
        assert_eq!(percentile(&[529], 0.75), 529);
        assert_eq!(percentile(&[767, 1498], 0.25), 949);
        assert_eq!(percentile(&[767, 1498], 0.5), 1132);
        assert_eq!(percentile(&[767, 1498], 0.75), 1315);
    }

    #[test]
    fn no_spans_no_stats() {
        let mut info: TraceInfo = serde_json::from_str(
            r#"{"trace_id": "tr-8069a0265eec15a1d9bbfa62bf64cbf6", "request_time": "2026-11-22T01:46:21.714Z", "state": "OK"}"#,
        )
        .unwrap();
        add(&mut info, &mut []);
        assert!(info.trace_metadata.is_empty());
        add(&mut info, &mut [10, 20]);
        assert!(info.trace_metadata[SIZE_STATS].starts_with("{\"total_size_bytes\": "));
        assert!(
            info.trace_metadata[SIZE_STATS]
                .contains("\"num_spans\": 2, \"max\": 20, \"p25\": 12, \"p50\": 15, \"p75\": 17}")
        );
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;
    use crate::model::Trace;

    macro_rules! fixtures {
        ($($name:literal),*) => {
            [$(($name, include_str!(concat!("../../../tests/fixtures/mlflow-3.17.2/", $name)))),*]
        };
    }

    /// The span statistics of MLflow's own traces, byte for byte. The totals differ from
    /// MLflow's by the same 183 bytes in every fixture: the source metadata that was removed
    /// from them (see their README). The two fixtures with an exception are left out: their
    /// stack traces were shortened (machine paths removed), which changed their spans' sizes.
    /// (The totals are checked exactly against MLflow's own code in spanwise-otlp's
    /// `mlflow_sdk_parity` test.)
    #[test]
    fn span_sizes_of_mlflow_fixtures() {
        let mut missing = Vec::new();
        for (name, text) in fixtures!(
            "async.json",
            "chat_preview.json",
            "context_manager.json",
            "nested.json",
            "stream_list.json",
            "stream_reduced.json",
            "tags_previews.json"
        ) {
            let t = Trace::from_json(text).unwrap();
            let theirs: serde_json::Value =
                serde_json::from_str(&t.info.trace_metadata[SIZE_STATS]).unwrap();
            let mut info = t.info.clone();
            for k in [SIZE_STATS, SIZE_BYTES, "mlflow.trace.infoFinalized"] {
                info.trace_metadata.remove(k);
            }
            info.tags.remove("mlflow.trace.spansLocation");
            add_for_spans(&mut info, &t.data.spans);
            let ours: serde_json::Value =
                serde_json::from_str(&info.trace_metadata[SIZE_STATS]).unwrap();
            for k in ["num_spans", "max", "p25", "p50", "p75"] {
                assert_eq!(ours[k], theirs[k], "{name}: {k}");
            }
            missing.push(
                theirs["total_size_bytes"].as_u64().unwrap()
                    - ours["total_size_bytes"].as_u64().unwrap(),
            );
            assert_eq!(
                info.trace_metadata[SIZE_BYTES],
                ours["total_size_bytes"].to_string()
            );
        }
        assert!(missing.iter().all(|m| *m == 183), "{missing:?}");
    }
}
