//! Sends spanwise traces to an MLflow tracking server (≥ 3.6) or to any OpenTelemetry (OTLP/HTTP)
//! backend: Jaeger, Tempo, Phoenix, Langfuse, an OpenTelemetry collector.
//!
//! - [`Exporter`] is a [`Destination`](spanwise_core::Destination): a bounded queue and a thread
//!   of its own that sends batches with retries, counting what it exported, dropped, retried and
//!   failed in [`spanwise_core::stats`].
//! - [`MlflowClient`] and [`OtlpClient`] say where traces go; their `send_traces` also sends a
//!   batch at once, from the calling thread, with one result per trace.
//! - [`init`] sets spanwise up from the environment, exporters included (what
//!   `spanwise::init` is with the `otlp` feature).
//! - [`ConfigExt`] adds `.mlflow(…)`, `.otlp(…)` and `.exporters_from_env()` to
//!   [`Config`].
//!
//! Span attributes go out as native OTLP values (the decoded JSON). For MLflow, each trace's
//! info (tags, previews, client request id, metadata with session and user, state) follows its
//! spans in a `POST /api/3.0/mlflow/traces`, as MLflow's Python client does; for other OTLP
//! backends, trace tags go as `mlflow.traceTag.<key>` on the root span, session and user as
//! `session.id` / `user.id`.
//!
//! ```no_run
//! use spanwise_core::Config;
//! use spanwise_otlp::ConfigExt;
//!
//! fn main() -> Result<(), spanwise_core::Error> {
//!     let _guard = spanwise_core::init_with(
//!         Config::from_env()?.mlflow("http://127.0.0.1:5000", "my-agent")?,
//!     )?;
//!     drop(spanwise_core::start_span("hello"));
//!     Ok(())
//! } // the guard waits (up to 30 s) for the server to have the trace
//! ```
#![warn(missing_docs)]

mod auth;
mod diag;
mod encode;
mod env;
mod exporter;
mod http;
mod init;
mod mlflow;
mod otlp;
mod percent;
mod retry;
mod sink;
mod trace_info;

use std::sync::Arc;

use spanwise_core::{Config, Error};

pub use auth::{Auth, Secret};
pub use encode::{Compression, Protocol, SESSION_ID, TRACE_TAG_PREFIX, USER_ID};
pub use exporter::{ExportOptions, Exporter, QueuePolicy};
pub use init::init;
pub use mlflow::{Experiment, MlflowClient};
pub use otlp::OtlpClient;
pub use retry::RetryPolicy;
pub use sink::TraceOutcome;

/// Adds the exporters of this crate to a [`Config`].
///
/// ```
/// use spanwise_core::Config;
/// use spanwise_otlp::ConfigExt;
/// let config = Config::new()
///     .mlflow("http://127.0.0.1:5000", "my-agent")?
///     .otlp("http://127.0.0.1:4318/v1/traces")?;
/// assert!(format!("{config:?}").contains("mlflow"));
/// # Ok::<(), spanwise_core::Error>(())
/// ```
pub trait ConfigExt: Sized {
    /// Sends traces to the MLflow server at `tracking_uri`, into `experiment` (a name, looked up
    /// or created on first use, or [`Experiment::id`]), with the default [`ExportOptions`] and
    /// auth from the environment ([`Auth::from_env`]).
    fn mlflow(self, tracking_uri: &str, experiment: impl Into<Experiment>) -> Result<Self, Error>;

    /// Sends traces to the OTLP/HTTP traces URL `endpoint` with the default [`ExportOptions`].
    fn otlp(self, endpoint: &str) -> Result<Self, Error>;

    /// Adds what the environment names: MLflow when `MLFLOW_TRACKING_URI` is set (see
    /// [`MlflowClient::from_env`]), an OTLP endpoint when `OTEL_EXPORTER_OTLP_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (see [`OtlpClient::from_env`]); nothing
    /// otherwise.
    fn exporters_from_env(self) -> Result<Self, Error>;
}

impl ConfigExt for Config {
    fn mlflow(
        self,
        tracking_uri: &str,
        experiment: impl Into<Experiment>,
    ) -> Result<Config, Error> {
        let client = MlflowClient::new(tracking_uri, experiment)?.auth(Auth::from_env());
        let exporter = Exporter::mlflow(client, ExportOptions::default())?;
        Ok(self.add_destination(Arc::new(exporter)))
    }

    fn otlp(self, endpoint: &str) -> Result<Config, Error> {
        let exporter = Exporter::otlp(OtlpClient::new(endpoint)?, ExportOptions::default())?;
        Ok(self.add_destination(Arc::new(exporter)))
    }

    fn exporters_from_env(self) -> Result<Config, Error> {
        init::with_env_exporters(self).map(|(config, _)| config)
    }
}
