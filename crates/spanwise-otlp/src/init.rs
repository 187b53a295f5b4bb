//! `init()` for programs built with the exporters: the environment says where traces go, as it
//! does for MLflow's own client, so a team that sets `MLFLOW_TRACKING_URI` once has every
//! process, Python or Rust, send its traces there.

use std::sync::{Arc, OnceLock};

use spanwise_core::{Config, Error, FlushGuard};

use crate::diag;
use crate::exporter::{ExportOptions, Exporter};
use crate::mlflow::{Experiment, MlflowClient};
use crate::otlp::OtlpClient;

/// Sets spanwise up from the environment, exporters included, and returns the guard that
/// flushes every destination when dropped: [`Config::from_env`] for the local settings, then
/// MLflow when `MLFLOW_TRACKING_URI` is set (`MLFLOW_EXPERIMENT_ID`, else
/// `MLFLOW_EXPERIMENT_NAME`, else the Default experiment), then an OTLP endpoint when
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set. This is the
/// `spanwise::init` of a program built with the `otlp` feature.
///
/// It says once on stderr where traces go (`spanwise: exporting to MLflow at http://…,
/// experiment …`), unless `SPANWISE_LOG=off`. A bad value is an error naming the variable;
/// [`spanwise_core::init_with`] keeps full control.
///
/// ```no_run
/// fn main() -> Result<(), spanwise_core::Error> {
///     // MLFLOW_TRACKING_URI=http://127.0.0.1:5000 MLFLOW_EXPERIMENT_NAME=my-agent ./my-agent
///     let _guard = spanwise_otlp::init()?;
///     drop(spanwise_core::start_span("hello"));
///     Ok(())
/// } // the guard waits (up to 30 s) for the server to have the trace
/// ```
pub fn init() -> Result<FlushGuard, Error> {
    let (config, targets) = with_env_exporters(Config::from_env()?)?;
    let guard = spanwise_core::init_with(config)?;
    static ANNOUNCED: OnceLock<diag::Once> = OnceLock::new();
    let announced = ANNOUNCED.get_or_init(diag::Once::default);
    for target in targets {
        announced.note(&target, &format!("exporting to {target}"));
    }
    Ok(guard)
}

/// Adds the exporters the environment names to `config`, with a description of each (where
/// it sends).
pub(crate) fn with_env_exporters(mut config: Config) -> Result<(Config, Vec<String>), Error> {
    let mut targets = Vec::new();
    if let Some(client) = MlflowClient::from_env()? {
        let experiment = match client.experiment() {
            Experiment::Id(id) => format!("experiment id {id}"),
            Experiment::Name(name) => format!("experiment {name}"),
        };
        targets.push(format!("MLflow at {}, {experiment}", client.tracking_uri()));
        let exporter = Exporter::mlflow(client, ExportOptions::default())?;
        config = config.add_destination(Arc::new(exporter));
    }
    if let Some(client) = OtlpClient::from_env()? {
        targets.push(format!("OTLP endpoint {}", client.endpoint()));
        let exporter = Exporter::otlp(client, ExportOptions::default())?;
        config = config.add_destination(Arc::new(exporter));
    }
    Ok((config, targets))
}
