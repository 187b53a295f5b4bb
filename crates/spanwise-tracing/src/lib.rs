//! A `tracing` bridge for [spanwise](https://docs.rs/spanwise): a
//! [`tracing_subscriber::Layer`] that records the spans and events of `tracing`-instrumented
//! libraries (rig, genai, HTTP clients, your own `#[tracing::instrument]` functions) in
//! spanwise traces, nested with `#[trace]` spans in both directions, with the OpenTelemetry
//! GenAI fields mapped as MLflow maps them.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! tracing_subscriber::registry().with(spanwise_tracing::layer()).init();
//!
//! let root = spanwise_core::start_span("answer");
//! tracing::info_span!("chat", gen_ai.operation.name = "chat", gen_ai.request.model = "gpt-4o-mini",
//!     gen_ai.usage.input_tokens = 12_u64, gen_ai.usage.output_tokens = 30_u64)
//!     .in_scope(|| {});
//! let id = root.trace_id().unwrap();
//! drop(root);
//!
//! let trace = spanwise_core::get_trace(&id).unwrap();
//! let chat = &trace.data.spans[1];
//! assert_eq!(chat.span_type(), spanwise_core::SpanType::ChatModel);
//! assert_eq!(
//!     chat.attribute("mlflow.chat.tokenUsage"),
//!     Some(serde_json::json!({"input_tokens": 12, "output_tokens": 30, "total_tokens": 42}))
//! );
//! ```
//!
//! Fields of a `tracing` span become attributes (also those recorded later with
//! `Span::record`), and a few names mean more:
//! - `gen_ai.*`: the GenAI conventions, see [`genai`];
//! - `otel.name`: the span's name (as with `tracing-opentelemetry`);
//! - `otel.status_code` = `"ERROR"` / `"OK"` with `otel.status_message`: the span's status;
//! - `error`: an `exception` event and status ERROR (with the `source()` chain when the value
//!   is a `&dyn Error`).
//!
//! Where spanwise is the only consumer of `tracing` spans, [`subscriber()`] does the same
//! without a Registry, for less per span: a [`SpanwiseSubscriber`] is the whole subscriber,
//! global filters composed on top.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! spanwise_tracing::subscriber()
//!     .with(tracing_subscriber::filter::LevelFilter::INFO)
//!     .init();
//! let id = tracing::info_span!("job").in_scope(|| spanwise_core::current_trace_id()).unwrap();
//! assert_eq!(spanwise_core::get_trace(&id).unwrap().name(), Some("job"));
//! ```
//!
//! Events inside a span become span events; `ERROR` events and events with an `error` field
//! become `exception` events (type from an `error.type` field, else `Error`) and set status
//! ERROR, as `#[trace]` records an `Err`.
#![warn(missing_docs)]

mod bridged;
mod entered;
mod event;
mod fields;
pub mod genai;
mod layer;
mod subscriber;
mod value;

pub use bridged::Unparented;
pub use layer::{SpanwiseLayer, layer};
pub use subscriber::{SpanwiseSubscriber, subscriber};
