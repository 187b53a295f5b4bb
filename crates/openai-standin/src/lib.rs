//! A local stand-in for the OpenAI HTTP API, for tests and examples that cannot reach the real
//! one: it listens on `127.0.0.1` (a free port) and answers as OpenAI does, deterministically.
//!
//! - `POST /v1/chat/completions`: a reply `"Stand-in reply to: <last message's text>"`; with
//!   `"stream": true` the same reply as server-sent `chat.completion.chunk` events, one per word,
//!   ending with `data: [DONE]` (with `stream_options.include_usage`, a last chunk with no
//!   choices carries the usage, as OpenAI sends it). When the request offers `tools` and has no
//!   `tool` message yet, the answer is a call of the first tool (or the one `tool_choice` names)
//!   instead, `finish_reason: "tool_calls"`, streamed too when asked.
//! - `POST /v1/embeddings`: one vector per input (`dimensions` long, 8 by default), made from
//!   the input's text.
//! - `POST /v1/responses`: the Responses API, a reply to the last input message's text.
//! - Scripted failures, chosen by the request's `model`: `error-429` (rate limit), `error-500`
//!   (server error), and `hang`, which answers nothing until the stand-in stops (for timeouts).
//!
//! Token counts are words: a prompt counts the whitespace-separated words of every message's
//! text, a reply the words of its text (a tool call: the words of its arguments, plus one).
//! Ids are made from the request body, and `created` is always 1700000000, so the same request
//! gets the same answer.
//!
//! ```
//! let standin = openai_standin::Standin::start();
//! assert!(standin.url.starts_with("http://127.0.0.1:"));
//! assert!(standin.url.ends_with("/v1"));
//! ```

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use serde_json::{Value, json};

mod chat;
mod embeddings;
mod responses;
mod text;

/// A running stand-in server; it stops when dropped.
pub struct Standin {
    /// The API base, `http://127.0.0.1:<port>/v1` (what OpenAI clients call their base URL).
    pub url: String,
    shared: Arc<Shared>,
    server: Arc<tiny_http::Server>,
    acceptor: Option<JoinHandle<()>>,
}

/// A request the stand-in received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The JSON body (`null` if it was not JSON).
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    stopping: Mutex<bool>,
    stopped: Condvar,
}

impl Standin {
    /// Starts a stand-in on `127.0.0.1` and a free port.
    ///
    /// # Panics
    /// If no local port can be bound (it is a test helper).
    pub fn start() -> Standin {
        Standin::try_start().expect("the OpenAI stand-in binds a local port")
    }

    /// Starts a stand-in on `127.0.0.1` and a free port, or says why it could not.
    ///
    /// ```
    /// let standin = openai_standin::Standin::try_start().unwrap();
    /// drop(standin); // stops it
    /// ```
    pub fn try_start() -> std::io::Result<Standin> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(std::io::Error::other)?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or_else(|| std::io::Error::other("not an IP listener"))?;
        let server = Arc::new(server);
        let shared = Arc::new(Shared::default());
        let acceptor = {
            let server = server.clone();
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("openai-standin".into())
                .spawn(move || {
                    for request in server.incoming_requests() {
                        let shared = shared.clone();
                        // One thread per request: a hanging answer holds only its own.
                        std::thread::spawn(move || handle(request, &shared));
                    }
                })?
        };
        Ok(Standin {
            url: format!("http://127.0.0.1:{port}/v1"),
            shared,
            server,
            acceptor: Some(acceptor),
        })
    }

    /// The requests received so far, in the order they arrived.
    ///
    /// ```
    /// let standin = openai_standin::Standin::start();
    /// assert!(standin.requests().is_empty());
    /// ```
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        *self
            .shared
            .stopping
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.stopped.notify_all();
        self.server.unblock();
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

/// What the stand-in answers: a status, a content type and a body.
pub(crate) struct Answer {
    status: u16,
    content_type: &'static str,
    body: String,
}

impl Answer {
    pub(crate) fn json(status: u16, body: &Value) -> Answer {
        Answer {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }

    pub(crate) fn event_stream(events: &[Value]) -> Answer {
        let mut body = String::new();
        for e in events {
            body.push_str("data: ");
            body.push_str(&e.to_string());
            body.push_str("\n\n");
        }
        body.push_str("data: [DONE]\n\n");
        Answer {
            status: 200,
            content_type: "text/event-stream",
            body,
        }
    }
}

fn handle(mut request: tiny_http::Request, shared: &Shared) {
    let mut raw = String::new();
    let _ = request.as_reader().read_to_string(&mut raw);
    let body: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let path = request.url().split('?').next().unwrap_or("").to_string();
    shared
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Recorded {
            path: path.clone(),
            body: body.clone(),
        });
    let answer = match scripted(&body) {
        Some(Script::Hang) => {
            let mut stopping = shared.stopping.lock().unwrap_or_else(|p| p.into_inner());
            while !*stopping {
                stopping = shared
                    .stopped
                    .wait(stopping)
                    .unwrap_or_else(|p| p.into_inner());
            }
            error(503, "The stand-in stopped.", "server_error", None)
        }
        Some(Script::Status(429)) => error(
            429,
            "Rate limit reached for the stand-in: scripted by model error-429.",
            "requests",
            Some("rate_limit_exceeded"),
        ),
        Some(Script::Status(status)) => error(
            status,
            "The server had an error while processing your request (scripted by model error-500).",
            "server_error",
            None,
        ),
        None => route(request.method(), &path, &raw, &body),
    };
    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], answer.content_type)
        .expect("a valid header");
    let response = tiny_http::Response::from_string(answer.body)
        .with_status_code(answer.status)
        .with_header(header);
    let _ = request.respond(response);
}

enum Script {
    Status(u16),
    Hang,
}

fn scripted(body: &Value) -> Option<Script> {
    match body.get("model")?.as_str()? {
        "error-429" => Some(Script::Status(429)),
        "error-500" => Some(Script::Status(500)),
        "hang" => Some(Script::Hang),
        _ => None,
    }
}

fn route(method: &tiny_http::Method, path: &str, raw: &str, body: &Value) -> Answer {
    if *method != tiny_http::Method::Post {
        return error(
            404,
            &format!("No route {method} {path}"),
            "invalid_request_error",
            None,
        );
    }
    if !body.is_object() {
        return error(
            400,
            "The body is not a JSON object.",
            "invalid_request_error",
            None,
        );
    }
    let id = text::hash_id(raw);
    match path {
        "/v1/chat/completions" => chat::answer(body, &id),
        "/v1/embeddings" => embeddings::answer(body),
        "/v1/responses" => responses::answer(body, &id),
        _ => error(
            404,
            &format!("No route POST {path}"),
            "invalid_request_error",
            None,
        ),
    }
}

/// OpenAI's error body.
pub(crate) fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Answer {
    Answer::json(
        status,
        &json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    )
}
