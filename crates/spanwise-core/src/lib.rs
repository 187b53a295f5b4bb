//! The core of [spanwise](https://docs.rs/spanwise): the MLflow-format trace model, the span
//! runtime, capture of values and errors, the in-memory store and the JSONL destination.
//!
//! Most users depend on the `spanwise` crate, which re-exports this one together with the
//! `#[trace]` macro.
//!
//! ```
//! use spanwise_core::{start_span, SpanType};
//!
//! let root = start_span("Trace Test");
//! {
//!     let child = start_span("add_1").span_type(SpanType::Custom("func".into()));
//!     child.set_inputs(&serde_json::json!({"x": 4}));
//!     child.set_outputs(5);
//! }
//! let id = root.trace_id().unwrap();
//! drop(root);
//! let trace = spanwise_core::get_trace(&id).unwrap();
//! assert_eq!(trace.data.spans.len(), 2);
//! ```
#![warn(missing_docs)]

pub mod capture;
mod cell;
mod client;
mod clock;
mod collector;
mod completed;
mod config;
mod context;
mod counters;
mod destination;
mod detached;
mod error;
mod exception;
mod finalize;
mod function;
mod id;
mod instrument;
pub mod llm;
mod model;
mod preview;
mod processor;
pub mod propagation;
mod pyjson;
mod reclaim;
mod record;
mod runtime;
mod scalar;
mod size_stats;
mod source;
mod span;
mod span_llm;
mod store;
pub mod stream;
pub mod thread;
mod totals;
mod trace_settings;
mod tree;
mod update;
mod warning;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use client::{
    Client, EndOptions, SpanIds, SpanOptions, UNFINISHED_SPAN_EVENT, UNFINISHED_SPAN_MESSAGE,
};
pub use clock::now_unix_nanos;
pub use completed::CompletedTrace;
pub use config::{Config, DEFAULT_TRACE_DIR};
pub use context::{Context, ContextGuard, current_trace_id};
pub use destination::{Destination, DestinationStats, JSONL_FILE_NAME, JsonlDestination};
pub use detached::DetachedSpan;
pub use error::Error;
pub use id::{SpanId, TraceId};
#[cfg(feature = "tokio")]
pub use instrument::spawn;
pub use instrument::{ContextExt, FutureExt, Instrumented, SpanBuilder, WithContext, span};
pub use model::{
    ExperimentLocation, Span, SpanEvent, SpanStatus, SpanType, StatusCode, Trace, TraceData,
    TraceInfo, TraceLocation, TraceState, keys,
};
pub use runtime::{
    FlushGuard, Stats, clear_traces, disable, enable, flush, flush_timeout, get_trace, init,
    init_with, is_enabled, last_active_trace_id, search_traces, stats,
};
pub use scalar::Scalar;
pub use span::{ActiveSpan, SpanGuard, current_span, start_span, update_current_trace, with_span};
pub use store::{JsonlContents, LineProblem, TraceFilter, merge_trace, read_jsonl};
pub use stream::{IteratorExt, Reducer, StreamExt, StreamOptions, TracedIter, TracedStream};
pub use update::TraceUpdate;
