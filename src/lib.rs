//! # spanwise
//!
//! Tracing for LLM and agent applications in Rust, in MLflow's trace format.
//!
//! Each request becomes a tree of spans: which function ran, with what inputs, what it
//! returned, how long it took, and what failed. Traces are kept in memory, appended to a local
//! JSONL store, and readable by MLflow's `Trace.from_json`.
//!
//! ```
//! use spanwise::{start_span, SpanType};
//!
//! let root = start_span("Trace Test");
//! {
//!     let step = start_span("add_1").span_type(SpanType::Custom("func".into()));
//!     step.set_inputs(&serde_json::json!({"x": 4}));
//!     step.set_outputs(5);
//! }
//! root.set_outputs(4);
//! let id = root.trace_id().unwrap();
//! drop(root);
//! assert_eq!(spanwise::get_trace(&id).unwrap().data.spans.len(), 2);
//! ```
//!
//! Everything here is re-exported from `spanwise-core` (the runtime) and `spanwise-macros`
//! (the `#[trace]` attribute).

pub use spanwise_core::*;
pub use spanwise_macros::trace;
/// Export to an MLflow tracking server or any OTLP/HTTP backend (feature `otlp`).
#[cfg(feature = "otlp")]
pub use spanwise_otlp as otlp;
/// With the `otlp` feature, `init` also reads the exporters from the environment
/// (`MLFLOW_TRACKING_URI`, `MLFLOW_EXPERIMENT_*`, `OTEL_EXPORTER_OTLP_*`): see
/// [`otlp::init`].
#[cfg(feature = "otlp")]
pub use spanwise_otlp::init;

/// async-openai calls traced as MLflow's `mlflow.openai.autolog()` traces them (feature
/// `openai`): `async_openai::Client::new().traced()`.
#[cfg(feature = "openai")]
pub use spanwise_openai as openai;
/// Spans of `tracing`-instrumented libraries in spanwise traces: a `tracing_subscriber` layer
/// (feature `tracing`). Named so that `use spanwise::*` does not shadow the `tracing` crate.
#[cfg(feature = "tracing")]
pub use spanwise_tracing as tracing_bridge;

#[doc(hidden)]
pub use spanwise_core::__private;
