//! The HTTP side: routes of `GET` requests to the embedded page and to the JSON API.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::RwLock;

use tiny_http::{Header, Method, Request, Response};

use crate::ui::api::{self, Answer};
use crate::ui::assets;
use crate::ui::index::{self, Index};

/// Answers one request; a client that went away is no error worth reporting.
pub fn answer(request: Request, file: &Path, ix: &RwLock<Index>) {
    let (path, query) = split_url(request.url());
    if !local_host(&request) {
        // A page on another site that had its name resolve to 127.0.0.1 (DNS rebinding)
        // must not read the traces.
        let _ = request.respond(text(
            403,
            "text/plain",
            "only for 127.0.0.1 and localhost".into(),
        ));
        return;
    }
    if *request.method() != Method::Get && *request.method() != Method::Head {
        let _ = request.respond(text(405, "text/plain", "read-only: GET only".into()));
        return;
    }
    let response = if let Some(rest) = path.strip_prefix("/api/") {
        let a = route_api(rest, &query, file, ix);
        text(a.status, "application/json", a.body)
    } else {
        match assets::find(&path) {
            Some((ty, body)) => text(200, ty, body.to_string()),
            None => text(404, "text/plain", format!("no page at {path}")),
        }
    };
    let _ = request.respond(response);
}

fn route_api(
    rest: &str,
    query: &BTreeMap<String, String>,
    file: &Path,
    ix: &RwLock<Index>,
) -> Answer {
    let ix = index::read(ix);
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        ["status"] => api::status(&ix),
        ["traces"] => api::list(&ix, query),
        ["traces", id] => api::trace(file, &ix, id),
        ["traces", id, "mlflow"] => api::trace_json(file, &ix, id),
        _ => Answer {
            status: 404,
            body: serde_json::json!({"error": format!("no API at /api/{rest}")}).to_string(),
        },
    }
}

/// Whether the request names this machine in its `Host` header (`127.0.0.1`, `localhost`,
/// with any port).
fn local_host(request: &Request) -> bool {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Host"))
        .is_none_or(|h| {
            let host = h.value.as_str();
            let name = host.rsplit_once(':').map_or(host, |(n, _)| n);
            name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost")
        })
}

fn text(status: u16, content_type: &str, body: String) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut r = Response::from_string(body).with_status_code(status);
    for (k, v) in [
        ("Content-Type", content_type),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ] {
        if let Ok(h) = Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            r.add_header(h);
        }
    }
    r
}

/// The decoded path and query parameters of a request target.
fn split_url(url: &str) -> (String, BTreeMap<String, String>) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let params = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    (decode(path), params)
}

/// Percent-decoding of a URL component, `+` as a space (as browsers encode form values).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) if hex.bytes().all(|c| c.is_ascii_hexdigit()) => {
                        out.push(b);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        let (path, q) = split_url("/api/traces?filter=state+%3D+%27ERROR%27&sort=duration&x=%zz%");
        assert_eq!(path, "/api/traces");
        assert_eq!(q["filter"], "state = 'ERROR'");
        assert_eq!(q["sort"], "duration");
        assert_eq!(q["x"], "%zz%");
    }
}
