//! The blocking HTTP transport: one `ureq` agent, requests with the configured headers, and the
//! sorting of every outcome into delivered, worth retrying, or rejected.

use std::io::Read;
use std::time::Duration;

use crate::auth::Secret;

/// What went wrong with one request, in words safe to log (no header values, no URL
/// credentials).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Connection errors, timeouts, 408, 429 and 5xx may succeed later.
    pub retryable: bool,
    /// The server's `Retry-After`, when it gave one.
    pub retry_after: Option<Duration>,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// What happened, with the server's own message when it sent one.
    pub message: String,
}

impl Failure {
    pub(crate) fn fatal(message: impl Into<String>) -> Failure {
        Failure {
            retryable: false,
            retry_after: None,
            status: None,
            message: message.into(),
        }
    }
}

/// A request body and how it is labelled.
pub(crate) struct Body<'a> {
    pub content_type: &'a str,
    pub content_encoding: Option<&'a str>,
    pub bytes: &'a [u8],
}

/// Extra request headers (auth, OTLP headers); their values are never shown.
pub(crate) type Headers = [(String, Secret)];

/// A blocking HTTP client.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    agent: ureq::Agent,
}

/// The largest response body read (error messages and read-back answers are small).
const MAX_RESPONSE_BYTES: u64 = 64 << 20;
/// The longest server message quoted in an error.
const MAX_MESSAGE_CHARS: usize = 500;

impl Http {
    pub(crate) fn new(timeout: Duration) -> Http {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("spanwise/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Http { agent }
    }

    /// POSTs `body` to `url`; the response body on 2xx.
    pub(crate) fn post(
        &self,
        url: &str,
        headers: &Headers,
        body: Body<'_>,
    ) -> Result<String, Failure> {
        let mut req = self
            .agent
            .post(url)
            .header("Content-Type", body.content_type);
        if let Some(enc) = body.content_encoding {
            req = req.header("Content-Encoding", enc);
        }
        for (k, v) in headers {
            req = req.header(k.as_str(), v.expose());
        }
        finish(url, "POST", req.send(body.bytes))
    }

    /// GETs `url` with query parameters (encoded here); the response body on 2xx.
    pub(crate) fn get(
        &self,
        url: &str,
        headers: &Headers,
        query: &[(&str, &str)],
    ) -> Result<String, Failure> {
        let mut req = self.agent.get(url);
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        for (k, v) in headers {
            req = req.header(k.as_str(), v.expose());
        }
        finish(url, "GET", req.call())
    }
}

fn finish(
    url: &str,
    method: &str,
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<String, Failure> {
    let shown = redact_url(url);
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => return Err(transport_failure(method, &shown, e)),
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut text = String::new();
    let read = resp
        .body_mut()
        .as_reader()
        .take(MAX_RESPONSE_BYTES)
        .read_to_string(&mut text);
    if (200..300).contains(&status) {
        return match read {
            Ok(_) => Ok(text),
            Err(e) => Err(Failure {
                retryable: true,
                retry_after: None,
                status: Some(status),
                message: format!("{method} {shown}: reading the response failed: {e}"),
            }),
        };
    }
    let retryable = matches!(status, 408 | 429) || (500..600).contains(&status);
    Err(Failure {
        retryable,
        retry_after,
        status: Some(status),
        message: format!(
            "{method} {shown}: HTTP {status}{}",
            server_message(&text)
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
    })
}

fn transport_failure(method: &str, shown: &str, e: ureq::Error) -> Failure {
    use ureq::Error as E;
    let retryable = matches!(
        e,
        E::Io(_) | E::Timeout(_) | E::ConnectionFailed | E::HostNotFound | E::Protocol(_)
    );
    Failure {
        retryable,
        retry_after: None,
        status: None,
        message: format!("{method} {shown}: {e}"),
    }
}

/// The server's explanation: MLflow's `{"error_code", "message"}`, else the body's start.
pub(crate) fn server_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let text = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let msg = v.get("message")?.as_str()?.to_string();
            Some(match v.get("error_code").and_then(|c| c.as_str()) {
                Some(code) => format!("{code}: {msg}"),
                None => msg,
            })
        })
        .unwrap_or_else(|| body.to_string());
    let mut cut: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
    if cut.len() < text.len() {
        cut.push_str("...");
    }
    Some(cut)
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = when.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(ms.max(0) as u64))
}

/// The URL without `user:password@`, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn credentials_in_urls_are_hidden() {
        assert_eq!(
            redact_url("https://ada:pw@mlflow.example/v1/traces"),
            "https://***@mlflow.example/v1/traces"
        );
        assert_eq!(redact_url("http://h:5000/x@y"), "http://h:5000/x@y");
    }

    #[test]
    fn mlflow_error_bodies_are_quoted_with_their_code() {
        let m = server_message(r#"{"error_code": "INVALID_PARAMETER_VALUE", "message": "bad"}"#);
        assert_eq!(m.as_deref(), Some("INVALID_PARAMETER_VALUE: bad"));
        assert_eq!(server_message("  "), None);
        let long = "x".repeat(2000);
        assert_eq!(server_message(&long).unwrap().len(), MAX_MESSAGE_CHARS + 3);
    }

    #[test]
    fn refused_connections_are_retryable() {
        // A port just released by a listener of ours refuses connections.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let http = Http::new(Duration::from_secs(5));
        let err = http
            .get(&format!("http://user:pw@127.0.0.1:{port}/x"), &[], &[])
            .unwrap_err();
        assert!(err.retryable, "{err:?}");
        assert!(!err.message.contains("pw"), "{}", err.message);
    }
}
