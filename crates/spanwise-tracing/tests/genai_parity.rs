//! The GenAI mapping beside MLflow's own: spans with `gen_ai.*` fields (complete usage, one
//! count only, counts as strings, cache counts under both names, malformed values) go through
//! the bridge, and MLflow 3.17.2's OTLP translation (`_get_token_usage`,
//! `translate_span_type_from_otel`, run by the venv's Python on the same raw attributes) must
//! give the same span type and `mlflow.chat.tokenUsage` as the bridge wrote.
//!
//! Without the venv the MLflow half is skipped (`SPANWISE_REQUIRE_MLFLOW=1` makes it fail); the
//! bridge's values are checked against the expected ones either way.

#[path = "../../spanwise-otlp/tests/common/mod.rs"]
mod common;

use serde_json::{Value, json};
use spanwise::Config;
use tracing_subscriber::prelude::*;

/// The spans of the cases, under one root; each name says what it holds.
fn record_cases() -> spanwise::TraceId {
    let root = spanwise::start_span("cases");
    let id = root.trace_id().expect("recording");
    drop(tracing::info_span!(
        "both",
        gen_ai.operation.name = "chat",
        gen_ai.usage.input_tokens = 12_u64,
        gen_ai.usage.output_tokens = 30_u64,
    ));
    drop(tracing::info_span!(
        "input_only",
        gen_ai.operation.name = "chat",
        gen_ai.usage.input_tokens = 12_u64,
    ));
    drop(tracing::info_span!(
        "output_only_as_string",
        gen_ai.operation.name = "text_completion",
        gen_ai.usage.output_tokens = "7",
    ));
    drop(tracing::info_span!(
        "cache_both_names",
        gen_ai.operation.name = "chat",
        gen_ai.usage.input_tokens = 10_u64,
        gen_ai.usage.output_tokens = 2_u64,
        gen_ai.usage.cache_read.input_tokens = 3_u64,
        gen_ai.usage.cache_creation.input_tokens = 5_u64,
        gen_ai.usage.cache_write.input_tokens = 4_u64,
    ));
    drop(tracing::info_span!(
        "cache_legacy_name",
        gen_ai.operation.name = "chat",
        gen_ai.usage.output_tokens = 1_u64,
        gen_ai.usage.cache_creation.input_tokens = 5_u64,
    ));
    drop(tracing::info_span!(
        "cache_only",
        gen_ai.operation.name = "embeddings",
        gen_ai.usage.cache_read.input_tokens = 3_u64,
    ));
    drop(tracing::info_span!(
        "malformed_input",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.usage.input_tokens = "lots",
        gen_ai.usage.output_tokens = 2_u64,
    ));
    drop(tracing::info_span!(
        "float_counts",
        gen_ai.operation.name = "execute_tool",
        gen_ai.usage.input_tokens = 1.5_f64,
    ));
    drop(root);
    id
}

/// (name, span type, usage) of each case as the bridge should write it (and MLflow does).
fn expected() -> Value {
    json!([
        ["both", "CHAT_MODEL", {"input_tokens": 12, "output_tokens": 30, "total_tokens": 42}],
        ["input_only", "CHAT_MODEL", {"input_tokens": 12}],
        ["output_only_as_string", "LLM", {"output_tokens": 7}],
        ["cache_both_names", "CHAT_MODEL", {"input_tokens": 10, "output_tokens": 2,
            "total_tokens": 12, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 4}],
        ["cache_legacy_name", "CHAT_MODEL", {"output_tokens": 1, "cache_creation_input_tokens": 5}],
        ["cache_only", "EMBEDDING", null],
        ["malformed_input", "AGENT", {"output_tokens": 2}],
        ["float_counts", "TOOL", null],
    ])
}

#[test]
fn token_usage_and_span_types_are_what_mlflow_derives_from_the_same_fields() {
    let venv = common::mlflow_venv("genai_parity");
    let _guard = spanwise::init_with(Config::new().no_destination()).unwrap();
    let subscriber = tracing_subscriber::registry().with(spanwise_tracing::layer());
    let id = tracing::subscriber::with_default(subscriber, record_cases);
    let trace = spanwise::get_trace(&id).unwrap();

    let ours: Vec<Value> = trace.data.spans[1..]
        .iter()
        .map(|s| {
            json!([
                s.name,
                s.span_type().as_str(),
                s.attribute("mlflow.chat.tokenUsage")
            ])
        })
        .collect();
    assert_eq!(Value::Array(ours), expected());
    // The trace's total: a missing count adds 0, as in MLflow's sum.
    assert_eq!(
        trace
            .info
            .trace_metadata
            .get("mlflow.trace.tokenUsage")
            .map(String::as_str),
        Some(
            r#"{"input_tokens": 34, "output_tokens": 42, "total_tokens": 54, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 9}"#
        )
    );

    let Some(venv) = venv else {
        return;
    };
    // MLflow's translation of the raw `gen_ai.*` attributes, as stored (JSON-encoded), the
    // same step its OTLP ingestion runs when it stores a span.
    let script = r#"
import json, sys
from mlflow.entities import Trace
from mlflow.tracing.otel.translation import (
    _get_token_usage, sanitize_attributes, translate_span_type_from_otel)
t = Trace.from_json(open(sys.argv[1]).read())
out = []
for s in t.data.spans[1:]:
    raw = {k: v for k, v in s.to_dict()["attributes"].items() if k.startswith("gen_ai.")}
    attrs = sanitize_attributes(raw)
    out.append([s.name, translate_span_type_from_otel(attrs), _get_token_usage(attrs)])
print(json.dumps(out))
"#;
    let dir = common::temp_dir("tracing-genai-parity");
    let file = dir.join("trace.json");
    std::fs::write(&file, trace.to_json()).unwrap();
    let out = common::python(&venv, script, &[file.to_str().unwrap()]);
    let mlflow: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        mlflow,
        expected(),
        "MLflow derives the same from the fields"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
