//! [`OtlpClient`]: sends traces to any OTLP/HTTP backend (an OpenTelemetry collector, Jaeger,
//! Tempo, Phoenix, Langfuse), configured in code or by the `OTEL_EXPORTER_OTLP_*` variables.

use std::time::Duration;

use spanwise_core::{Error, Trace};

use crate::auth::Secret;
use crate::encode::{Compression, Origin, Protocol};
use crate::http::{Failure, redact_url};
use crate::retry::{Retrier, RetryPolicy};
use crate::sink::{Sink, SpanTransport, TraceOutcome, send_now};

/// A client for an OTLP/HTTP traces endpoint.
///
/// ```
/// use spanwise_otlp::{OtlpClient, Protocol};
/// let client = OtlpClient::new("http://127.0.0.1:4318/v1/traces")
///     .unwrap()
///     .header("x-api-key", "secret")
///     .protocol(Protocol::HttpJson);
/// assert_eq!(client.endpoint(), "http://127.0.0.1:4318/v1/traces");
/// assert!(!format!("{client:?}").contains("secret"));
/// ```
#[derive(Clone, Debug)]
pub struct OtlpClient {
    endpoint: String,
    headers: Vec<(String, Secret)>,
    transport: SpanTransport,
}

impl OtlpClient {
    /// The variables [`from_env`](OtlpClient::from_env) reads, besides the resource's
    /// (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`).
    ///
    /// ```
    /// assert!(spanwise_otlp::OtlpClient::ENV_VARS.contains(&"OTEL_EXPORTER_OTLP_ENDPOINT"));
    /// ```
    pub const ENV_VARS: [&'static str; 10] = [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ];

    /// A client posting to `endpoint`, the full URL of the traces endpoint (usually ending in
    /// `/v1/traces`). Fails unless it is an `http://` or `https://` URL.
    pub fn new(endpoint: &str) -> Result<OtlpClient, Error> {
        check_url("endpoint", endpoint)?;
        Ok(OtlpClient {
            endpoint: endpoint.trim().to_string(),
            headers: Vec::new(),
            transport: SpanTransport::new(),
        })
    }

    /// A client from the OpenTelemetry variables, or `None` when no endpoint is set:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | the traces URL, used as is |
    /// | `OTEL_EXPORTER_OTLP_ENDPOINT` | the base URL; `/v1/traces` is appended |
    /// | `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS` | `key=value,key2=value2`, values percent-decoded |
    /// | `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` | `http/protobuf` (default) or `http/json` |
    /// | `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION` | `gzip` or `none` |
    /// | `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT` | milliseconds per request (default 10000) |
    /// | `OTEL_SERVICE_NAME` | the resource's `service.name` |
    /// | `OTEL_RESOURCE_ATTRIBUTES` | more resource attributes (`k=v,k2=v2`); its `service.name` when `OTEL_SERVICE_NAME` is unset |
    ///
    /// A value that does not parse (or is not UTF-8) is an error naming its variable; the
    /// resource variables are read leniently, malformed pairs left out, as the specification
    /// allows.
    ///
    /// ```
    /// // With no OTEL_EXPORTER_OTLP_* endpoint in the environment there is no client.
    /// if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
    ///     && std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none()
    /// {
    ///     assert!(spanwise_otlp::OtlpClient::from_env().unwrap().is_none());
    /// }
    /// ```
    pub fn from_env() -> Result<Option<OtlpClient>, Error> {
        crate::env::check_unicode(&OtlpClient::ENV_VARS)?;
        OtlpClient::from_lookup(|k| std::env::var(k).ok())
    }

    pub(crate) fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<OtlpClient>, Error> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        // The signal-specific variable wins over the generic one.
        let pick = |name: &str| {
            let specific = format!("OTEL_EXPORTER_OTLP_TRACES_{name}");
            match get(&specific) {
                Some(v) => Some((specific, v)),
                None => {
                    let generic = format!("OTEL_EXPORTER_OTLP_{name}");
                    get(&generic).map(|v| (generic, v))
                }
            }
        };
        let (endpoint_key, endpoint) = match get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Some(url) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url),
            None => match get("OTEL_EXPORTER_OTLP_ENDPOINT") {
                Some(base) => (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    format!("{}/v1/traces", base.trim_end_matches('/')),
                ),
                None => return Ok(None),
            },
        };
        let mut client = OtlpClient::new(&endpoint).map_err(named(endpoint_key))?;
        if let Some((key, v)) = pick("HEADERS") {
            for (k, v) in parse_headers(&key, &v)? {
                client = client.header(k, v);
            }
        }
        if let Some((key, v)) = pick("PROTOCOL") {
            client = client.protocol(v.parse().map_err(named(key))?);
        }
        if let Some((key, v)) = pick("COMPRESSION") {
            client = client.compression(parse_compression(&key, &v)?);
        }
        let timeout = match pick("TIMEOUT") {
            Some((key, v)) => v.parse::<u64>().map_err(|_| Error::Config {
                key,
                message: format!("{v:?} is not a whole number of milliseconds"),
            })?,
            None => 10_000,
        };
        client = client.timeout(Duration::from_millis(timeout));
        Ok(Some(client))
    }

    /// Adds a header sent with every request (its value is never logged).
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((key.into(), Secret::new(value)));
        self
    }

    /// Sets the body format (protobuf by default).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.transport.protocol = protocol;
        self
    }

    /// Sets the body compression (none by default).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.transport.compression = compression;
        self
    }

    /// Sets the resource's `service.name` (default: `OTEL_SERVICE_NAME`, else the `service.name` of `OTEL_RESOURCE_ATTRIBUTES`, else `unknown_service:<executable>`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.transport.origin = Origin::new(Some(name.into()));
        self
    }

    /// Sets the timeout of one request (default 30 s in code, 10 s from the environment).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.transport.set_timeout(timeout);
        self
    }

    /// Sets how failed requests are retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.transport.retry = policy;
        self
    }

    /// The traces URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends `traces` now, from the calling thread, in batches with retries; one outcome per
    /// trace, in order.
    pub fn send_traces(&self, traces: &[Trace]) -> Vec<TraceOutcome> {
        send_now(self, &self.transport.retry, traces)
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.transport.retry
    }
}

impl Sink for OtlpClient {
    fn name(&self) -> &'static str {
        "otlp"
    }

    fn deliver(&self, traces: &[&Trace], retry: &Retrier<'_>) -> Vec<Result<(), Failure>> {
        self.transport
            .send_spans(&self.endpoint, &self.headers, traces, retry)
    }
}

/// Accepts `http://` and `https://` URLs only; the error shows the URL without credentials.
pub(crate) fn check_url(key: &str, url: &str) -> Result<(), Error> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    let ok = ["http://", "https://"]
        .iter()
        .any(|p| lower.starts_with(p) && u.len() > p.len());
    if ok {
        Ok(())
    } else {
        Err(Error::Config {
            key: key.into(),
            message: format!("{:?} is not an http:// or https:// URL", redact_url(u)),
        })
    }
}

/// A configuration error renamed to `key`, the variable that was set (`OtlpClient::new` and
/// `Protocol`'s parse name a generic setting); other errors as they are.
fn named(key: impl Into<String>) -> impl FnOnce(Error) -> Error {
    move |e| match e {
        Error::Config { message, .. } => Error::Config {
            key: key.into(),
            message,
        },
        other => other,
    }
}

/// `key=value,key2=value2` as the OpenTelemetry specification defines it (values
/// percent-decoded). Errors name the variable, never the values.
fn parse_headers(var: &str, s: &str) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    for (i, pair) in s.split(',').enumerate() {
        if pair.trim().is_empty() {
            continue;
        }
        let Some((k, v)) = pair.split_once('=') else {
            return Err(Error::Config {
                key: var.into(),
                message: format!("entry {} has no '=' (expected key=value,...)", i + 1),
            });
        };
        let k = crate::percent::decode(k.trim());
        if k.is_empty() {
            return Err(Error::Config {
                key: var.into(),
                message: format!("entry {} has an empty key", i + 1),
            });
        }
        out.push((k, crate::percent::decode(v.trim())));
    }
    Ok(out)
}

fn parse_compression(var: &str, v: &str) -> Result<Compression, Error> {
    match v.to_ascii_lowercase().as_str() {
        "none" => Ok(Compression::None),
        #[cfg(feature = "gzip")]
        "gzip" => Ok(Compression::Gzip),
        other => Err(Error::Config {
            key: var.into(),
            message: format!(
                "{other:?} is not supported; use none{}",
                if cfg!(feature = "gzip") {
                    " or gzip"
                } else {
                    " (gzip needs the `gzip` feature of spanwise-otlp)"
                }
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The same environment stand-in as the auth tests.
    use crate::auth::tests::env;

    #[test]
    fn no_endpoint_no_client() {
        assert!(OtlpClient::from_lookup(env(&[])).unwrap().is_none());
    }

    #[test]
    fn generic_endpoint_gets_the_traces_path_and_specific_wins() {
        let c = OtlpClient::from_lookup(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")]))
            .unwrap()
            .unwrap();
        assert_eq!(c.endpoint(), "http://c:4318/v1/traces");
        let c = OtlpClient::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://t/custom"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.endpoint(), "https://t/custom");
    }

    #[test]
    fn headers_protocol_compression_and_timeout() {
        let c = OtlpClient::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "a=1, Authorization=Basic%20abc%3D ,",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ]))
        .unwrap()
        .unwrap();
        let h: Vec<(&str, &str)> = c
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        assert_eq!(h, vec![("a", "1"), ("Authorization", "Basic abc=")]);
        assert_eq!(c.transport.protocol, Protocol::HttpJson);
        assert_eq!(c.transport.timeout, Duration::from_millis(2500));
        assert!(!format!("{c:?}").contains("abc"));
    }

    #[test]
    fn bad_values_name_their_variable_and_hide_values() {
        let e = OtlpClient::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "token"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{e}");
        assert!(!e.contains("token"), "{e}");
        let e = OtlpClient::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("grpc"), "{e}");
        let e = OtlpClient::from_lookup(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "c:4318")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{e}");
    }
}
