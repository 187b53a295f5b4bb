//! [`MlflowClient`]: an MLflow tracking server (≥ 3.6) as a place to send traces — spans over
//! OTLP to `/v1/traces`, then each trace's info to `/api/3.0/mlflow/traces` — plus the REST
//! calls around it (experiment lookup or creation, reading traces back).

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use serde_json::{Value, json};
use spanwise_core::{Error, Trace, TraceId};

use crate::auth::{Auth, Secret};
use crate::encode::{Compression, Origin, Protocol};
use crate::http::{Body, Failure};
use crate::otlp::check_url;
use crate::retry::{Retrier, RetryPolicy};
use crate::sink::{Sink, SpanTransport, TraceOutcome, send_now};
use crate::trace_info;

/// Which MLflow experiment traces go to.
///
/// A plain string is a name (looked up, and created if missing, on first use).
///
/// ```
/// use spanwise_otlp::Experiment;
/// assert_eq!(Experiment::from("my-agent"), Experiment::Name("my-agent".into()));
/// assert_eq!(Experiment::id("0"), Experiment::Id("0".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Experiment {
    /// An experiment id, used as is.
    Id(String),
    /// An experiment name.
    Name(String),
}

impl Experiment {
    /// An experiment by id.
    pub fn id(id: impl Into<String>) -> Experiment {
        Experiment::Id(id.into())
    }

    /// An experiment by name.
    pub fn name(name: impl Into<String>) -> Experiment {
        Experiment::Name(name.into())
    }
}

impl From<&str> for Experiment {
    fn from(name: &str) -> Experiment {
        Experiment::Name(name.to_string())
    }
}

impl From<String> for Experiment {
    fn from(name: String) -> Experiment {
        Experiment::Name(name)
    }
}

/// A client for an MLflow tracking server.
///
/// Creating one does no network call; the experiment is resolved when first needed.
///
/// ```
/// use spanwise_otlp::{Auth, MlflowClient};
/// let client = MlflowClient::new("http://127.0.0.1:5000/", "my-agent")
///     .unwrap()
///     .auth(Auth::bearer("token"));
/// assert_eq!(client.tracking_uri(), "http://127.0.0.1:5000");
/// assert!(MlflowClient::new("databricks", "x").is_err());
/// ```
#[derive(Debug)]
pub struct MlflowClient {
    base: String,
    experiment: Experiment,
    resolved: Mutex<Option<String>>,
    auth: Vec<(String, Secret)>,
    transport: SpanTransport,
}

impl Clone for MlflowClient {
    fn clone(&self) -> Self {
        MlflowClient {
            base: self.base.clone(),
            experiment: self.experiment.clone(),
            resolved: Mutex::new(self.resolved.lock().map(|r| r.clone()).unwrap_or(None)),
            auth: self.auth.clone(),
            transport: self.transport.clone(),
        }
    }
}

impl MlflowClient {
    /// The variables [`from_env`](MlflowClient::from_env) reads.
    ///
    /// ```
    /// assert!(spanwise_otlp::MlflowClient::ENV_VARS.contains(&"MLFLOW_TRACKING_URI"));
    /// ```
    pub const ENV_VARS: [&'static str; 6] = [
        "MLFLOW_TRACKING_URI",
        "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    ];

    /// A client for the server at `tracking_uri` (`http://` or `https://`), sending to
    /// `experiment` (a name, or [`Experiment::id`]).
    pub fn new(
        tracking_uri: &str,
        experiment: impl Into<Experiment>,
    ) -> Result<MlflowClient, Error> {
        check_url("MLFLOW_TRACKING_URI", tracking_uri)?;
        let experiment = experiment.into();
        if matches!(&experiment, Experiment::Id(s) | Experiment::Name(s) if s.trim().is_empty()) {
            return Err(Error::Config {
                key: "experiment".into(),
                message: "the experiment name or id is empty".into(),
            });
        }
        Ok(MlflowClient {
            base: tracking_uri.trim().trim_end_matches('/').to_string(),
            experiment,
            resolved: Mutex::new(None),
            auth: Vec::new(),
            transport: SpanTransport::new().for_mlflow(),
        })
    }

    /// A client from MLflow's variables, or `None` when `MLFLOW_TRACKING_URI` is not set:
    /// `MLFLOW_EXPERIMENT_ID`, else `MLFLOW_EXPERIMENT_NAME`, else the Default experiment
    /// (`0`); auth from `MLFLOW_TRACKING_TOKEN` or `MLFLOW_TRACKING_USERNAME` /
    /// `MLFLOW_TRACKING_PASSWORD` (see [`Auth::from_env`]). A value that is not UTF-8, or a
    /// tracking URI that is not an `http(s)` URL, is an error naming its variable.
    ///
    /// ```
    /// if std::env::var_os("MLFLOW_TRACKING_URI").is_none() {
    ///     assert!(spanwise_otlp::MlflowClient::from_env().unwrap().is_none());
    /// }
    /// ```
    pub fn from_env() -> Result<Option<MlflowClient>, Error> {
        crate::env::check_unicode(&MlflowClient::ENV_VARS)?;
        MlflowClient::from_lookup(|k| std::env::var(k).ok())
    }

    pub(crate) fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<MlflowClient>, Error> {
        let val = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let Some(uri) = val("MLFLOW_TRACKING_URI") else {
            return Ok(None);
        };
        let experiment = match (val("MLFLOW_EXPERIMENT_ID"), val("MLFLOW_EXPERIMENT_NAME")) {
            (Some(id), _) => Experiment::Id(id),
            (None, Some(name)) => Experiment::Name(name),
            (None, None) => Experiment::Id("0".into()),
        };
        Ok(Some(
            MlflowClient::new(&uri, experiment)?.auth(Auth::from_lookup(&get)),
        ))
    }

    /// Sets how requests authenticate (replacing what was set).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth
            .header()
            .map(|h| vec![("Authorization".to_string(), h)])
            .unwrap_or_default();
        self
    }

    /// Sets the OTLP body format (protobuf by default).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.transport.protocol = protocol;
        self
    }

    /// Sets the OTLP body compression (none by default).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.transport.compression = compression;
        self
    }

    /// Sets the resource's `service.name` (default: `OTEL_SERVICE_NAME`, else the `service.name` of `OTEL_RESOURCE_ATTRIBUTES`, else none: MLflow would make it a trace tag).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.transport.origin = Origin::new(Some(name.into())).for_mlflow();
        self
    }

    /// Sets the timeout of one request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.transport.set_timeout(timeout);
        self
    }

    /// Sets how failed requests are retried (see [`RetryPolicy`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.transport.retry = policy;
        self
    }

    /// The server's URL, without a trailing `/`.
    pub fn tracking_uri(&self) -> &str {
        &self.base
    }

    /// The experiment as configured.
    pub fn experiment(&self) -> &Experiment {
        &self.experiment
    }

    /// The experiment's id: as given, or looked up by name and created if there is none
    /// (retried per the retry policy). The answer is cached.
    pub fn experiment_id(&self) -> Result<String, Error> {
        let retried = AtomicU64::new(0);
        let retrier = self.blocking_retrier(&retried);
        self.resolve(&retrier).map_err(|f| self.error(f))
    }

    /// Sends `traces` now, from the calling thread (spans, then each trace's info), in batches
    /// with retries; one outcome per trace, in order.
    ///
    /// ```no_run
    /// let client = spanwise_otlp::MlflowClient::new("http://127.0.0.1:5000", "my-agent")?;
    /// let contents = spanwise_core::read_jsonl("spanwise-traces/traces.jsonl")?;
    /// for outcome in client.send_traces(&contents.traces) {
    ///     if let Err(e) = outcome.result {
    ///         eprintln!("{}: {e}", outcome.trace_id);
    ///     }
    /// }
    /// # Ok::<(), spanwise_core::Error>(())
    /// ```
    pub fn send_traces(&self, traces: &[Trace]) -> Vec<TraceOutcome> {
        send_now(self, &self.transport.retry, traces)
    }

    /// Reads one trace back: the JSON of `GET /api/3.0/mlflow/traces/get`
    /// (`{"trace": {"trace_info": …, "spans": […]}}`).
    pub fn get_trace(&self, trace_id: &TraceId) -> Result<Value, Error> {
        let id = trace_id.to_string();
        let url = format!("{}/api/3.0/mlflow/traces/get", self.base);
        let text = self
            .transport
            .http
            .get(&url, &self.auth, &[("trace_id", &id)])
            .map_err(|f| self.error(f))?;
        parse_json(&text).map_err(|f| self.error(f))
    }

    /// Searches the experiment's traces (`POST /api/3.0/mlflow/traces/search`) with an MLflow
    /// filter such as `tags.fruit = 'apple'` (empty for all); the trace infos, newest first.
    pub fn search_traces(&self, filter: &str, max_results: u32) -> Result<Vec<Value>, Error> {
        let retried = AtomicU64::new(0);
        let exp = self
            .resolve(&self.blocking_retrier(&retried))
            .map_err(|f| self.error(f))?;
        let mut body = json!({
            "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}],
            // The server refuses pages larger than 500.
            "max_results": max_results.min(SEARCH_PAGE),
            "order_by": ["timestamp_ms DESC"],
        });
        if !filter.trim().is_empty() {
            body["filter"] = json!(filter);
        }
        let mut out = Vec::new();
        loop {
            let v = self
                .post_json("/api/3.0/mlflow/traces/search", &body)
                .map_err(|f| self.error(f))?;
            if let Some(infos) = v.get("traces").and_then(Value::as_array) {
                out.extend(infos.iter().cloned());
            }
            out.truncate(max_results as usize);
            match v.get("next_page_token").and_then(Value::as_str) {
                Some(tok) if !tok.is_empty() && out.len() < max_results as usize => {
                    body["page_token"] = json!(tok);
                }
                _ => break,
            }
        }
        Ok(out)
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.transport.retry
    }

    fn blocking_retrier<'a>(&'a self, retried: &'a AtomicU64) -> Retrier<'a> {
        Retrier {
            policy: &self.transport.retry,
            retried,
            sleep: &|d| {
                std::thread::sleep(d);
                true
            },
            on_retry: &|_| {},
        }
    }

    fn error(&self, f: Failure) -> Error {
        Error::Destination {
            name: "mlflow".into(),
            message: f.message,
        }
    }

    fn post_json(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Failure::fatal(format!("cannot encode a request: {e}")))?;
        let text = self.transport.http.post(
            &format!("{}{path}", self.base),
            &self.auth,
            Body {
                content_type: "application/json",
                content_encoding: None,
                bytes: &bytes,
            },
        )?;
        parse_json(&text)
    }

    /// The experiment id, looked up (and created) once.
    fn resolve(&self, retry: &Retrier<'_>) -> Result<String, Failure> {
        if let Some(id) = self.resolved.lock().ok().and_then(|r| r.clone()) {
            return Ok(id);
        }
        let id = match &self.experiment {
            Experiment::Id(id) => id.clone(),
            Experiment::Name(name) => retry.run(|| self.find_or_create(name))?,
        };
        if let Ok(mut r) = self.resolved.lock() {
            *r = Some(id.clone());
        }
        Ok(id)
    }

    fn find_or_create(&self, name: &str) -> Result<String, Failure> {
        match self.find(name) {
            Ok(id) => return Ok(id),
            Err(f) if f.status == Some(404) => {}
            Err(f) => return Err(f),
        }
        match self.post_json("/api/2.0/mlflow/experiments/create", &json!({"name": name})) {
            Ok(v) => v
                .get("experiment_id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| Failure::fatal("the server created the experiment but sent no id")),
            // Someone else created it in between.
            Err(f) if f.message.contains("RESOURCE_ALREADY_EXISTS") => self.find(name),
            Err(f) => Err(f),
        }
    }

    fn find(&self, name: &str) -> Result<String, Failure> {
        let url = format!("{}/api/2.0/mlflow/experiments/get-by-name", self.base);
        let text = self
            .transport
            .http
            .get(&url, &self.auth, &[("experiment_name", name)])?;
        parse_json(&text)?
            .pointer("/experiment/experiment_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Failure::fatal(format!("the server sent no id for experiment {name:?}")))
    }
}

impl Sink for MlflowClient {
    fn name(&self) -> &'static str {
        "mlflow"
    }

    fn deliver(&self, traces: &[&Trace], retry: &Retrier<'_>) -> Vec<Result<(), Failure>> {
        let exp = match self.resolve(retry) {
            Ok(id) => id,
            Err(f) => return vec![Err(f); traces.len()],
        };
        let mut headers = self.auth.clone();
        headers.push(("x-mlflow-experiment-id".into(), Secret::new(exp.clone())));
        let url = format!("{}/v1/traces", self.base);
        let spans = self.transport.send_spans(&url, &headers, traces, retry);
        traces
            .iter()
            .zip(spans)
            .map(|(t, r)| {
                r?;
                let body = trace_info::body(t, &exp);
                retry
                    .run(|| self.post_json("/api/3.0/mlflow/traces", &body))
                    .map(|_| ())
                    .map_err(|f| Failure {
                        message: format!("spans stored, trace info not: {}", f.message),
                        ..f
                    })
            })
            .collect()
    }
}

const SEARCH_PAGE: u32 = 500;

fn parse_json(text: &str) -> Result<Value, Failure> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_str(text)
        .map_err(|e| Failure::fatal(format!("the server's answer is not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_picks_id_then_name_then_default() {
        let c = MlflowClient::from_lookup(|k| match k {
            "MLFLOW_TRACKING_URI" => Some("http://h:5000/".into()),
            "MLFLOW_EXPERIMENT_ID" => Some("7".into()),
            "MLFLOW_EXPERIMENT_NAME" => Some("n".into()),
            "MLFLOW_TRACKING_TOKEN" => Some("tok".into()),
            _ => None,
        })
        .unwrap()
        .unwrap();
        assert_eq!(c.experiment(), &Experiment::Id("7".into()));
        assert_eq!(c.tracking_uri(), "http://h:5000");
        assert_eq!(c.auth[0].1.expose(), "Bearer tok");
        let c = MlflowClient::from_lookup(|k| match k {
            "MLFLOW_TRACKING_URI" => Some("http://h:5000".into()),
            "MLFLOW_EXPERIMENT_NAME" => Some("n".into()),
            _ => None,
        })
        .unwrap()
        .unwrap();
        assert_eq!(c.experiment(), &Experiment::Name("n".into()));
        let c = MlflowClient::from_lookup(|k| {
            (k == "MLFLOW_TRACKING_URI").then(|| "https://h".to_string())
        })
        .unwrap()
        .unwrap();
        assert_eq!(c.experiment(), &Experiment::Id("0".into()));
        assert!(MlflowClient::from_lookup(|_| None).unwrap().is_none());
    }

    #[test]
    fn non_http_tracking_uris_are_refused_without_showing_credentials() {
        let e = MlflowClient::new("file:///tmp/mlruns", "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("MLFLOW_TRACKING_URI"), "{e}");
        assert!(MlflowClient::new("http://h", "").is_err());
    }
}
