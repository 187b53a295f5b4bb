//! The body of MLflow's `POST /api/3.0/mlflow/traces` (StartTraceV3): what OTLP cannot carry
//! (custom previews, client request id, trace metadata, a state set by the application), sent
//! after the trace's spans, which the server merges into the trace.

use serde_json::{Value, json};
use spanwise_core::Trace;

/// The request body for `trace`, placed in experiment `experiment_id`.
pub(crate) fn body(trace: &Trace, experiment_id: &str) -> Value {
    let info = &trace.info;
    let mut ti = json!({
        "trace_id": info.trace_id.to_string(),
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": experiment_id},
        },
        "request_time": info.request_time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "state": info.state.as_str(),
        "trace_metadata": info.trace_metadata,
        "tags": info.tags,
    });
    let obj = ti.as_object_mut().expect("built as an object above");
    if let Some(ms) = info.execution_duration_ms {
        // Protobuf's Duration in JSON: seconds with a fraction and an `s`.
        obj.insert(
            "execution_duration".into(),
            json!(format!("{}.{:03}s", ms / 1000, ms % 1000)),
        );
    }
    for (key, v) in [
        ("client_request_id", &info.client_request_id),
        ("request_preview", &info.request_preview),
        ("response_preview", &info.response_preview),
    ] {
        if let Some(v) = v {
            obj.insert(key.into(), json!(v));
        }
    }
    json!({"trace": {"trace_info": ti}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_fields_of_the_spec() {
        let mut t = crate::encode::tests::sample_trace();
        t.info.execution_duration_ms = Some(1234);
        t.info.client_request_id = Some("req-9".into());
        t.info.request_preview = Some("Doc: ...".into());
        let b = body(&t, "42");
        let ti = &b["trace"]["trace_info"];
        assert_eq!(ti["trace_id"], "tr-0123456789abcdef0123456789abcdef");
        assert_eq!(
            ti["trace_location"]["mlflow_experiment"]["experiment_id"],
            "42"
        );
        assert_eq!(ti["request_time"], "2026-01-01T00:00:00.000Z");
        assert_eq!(ti["execution_duration"], "1.234s");
        assert_eq!(ti["state"], "OK");
        assert_eq!(ti["client_request_id"], "req-9");
        assert_eq!(ti["request_preview"], "Doc: ...");
        assert!(ti.get("response_preview").is_none());
        assert_eq!(ti["tags"]["fruit"], "apple");
        assert_eq!(ti["trace_metadata"]["mlflow.trace.user"], "ada");
    }
}
