//! The facts of a trace that every command shows the same way: duration, short id, state label,
//! user tags, start time.

use std::time::Duration;

use spanwise_core::{Trace, TraceState};

/// The root span's duration, else the recorded `execution_duration_ms`.
pub fn duration(trace: &Trace) -> Option<Duration> {
    trace
        .root()
        .and_then(|r| r.duration())
        .or_else(|| trace.info.execution_duration_ms.map(Duration::from_millis))
}

/// The first 8 hex digits of the trace id: enough to tell traces apart in a listing, and a
/// prefix `spanwise show` accepts.
pub fn short_id(trace: &Trace) -> String {
    trace.info.trace_id.to_hex()[..8].to_string()
}

/// A state label that fits a 5-column cell.
pub fn state_label(state: TraceState) -> &'static str {
    match state {
        TraceState::Ok => "OK",
        TraceState::Error => "ERROR",
        TraceState::InProgress => "OPEN",
        TraceState::Unspecified => "?",
    }
}

/// The application's tags as `k=v`, leaving out MLflow's own (`mlflow.*`).
pub fn user_tags(trace: &Trace) -> Vec<String> {
    trace
        .info
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with("mlflow."))
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// The start time in UTC, to the millisecond.
pub fn start_time(trace: &Trace) -> String {
    trace
        .info
        .request_time
        .format("%Y-%m-%d %H:%M:%S%.3f UTC")
        .to_string()
}

/// Newest first; traces that started at the same time keep their reverse file order.
pub fn sort_newest_first(traces: &mut [Trace]) {
    traces.reverse();
    traces.sort_by_key(|t| std::cmp::Reverse(t.info.request_time));
}
