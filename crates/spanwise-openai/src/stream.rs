//! A traced chat completion stream: one `mlflow.chunk.item.<i>` event per chunk, and at the end
//! the chunks rebuilt into one `ChatCompletion` as the span's output, with the usage of the
//! last chunk that has one.

use std::pin::Pin;
use std::task::{Context, Poll};

use async_openai::error::OpenAIError;
use async_openai::types::chat::{ChatCompletionResponseStream, CreateChatCompletionStreamResponse};
use futures_core::Stream;
use serde_json::{Map, Value, json};
use spanwise_core::{DetachedSpan, SpanEvent, keys};

use crate::record::{self, Api};

/// The stream of [`TracedChat::create_stream`](crate::TracedChat::create_stream): the
/// chunks of async-openai's stream, unchanged, recorded on the call's span.
///
/// The span ends when the stream ends, fails (an `exception` event, status ERROR) or is
/// dropped early (with what was seen so far: the content, the usage if a chunk had it, and an
/// event `stopped_early`).
pub struct ChatStream {
    inner: ChatCompletionResponseStream,
    rec: Option<Recording>,
}

struct Recording {
    span: DetachedSpan,
    inputs: Value,
    chunks: Rebuild,
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatStream")
    }
}

impl ChatStream {
    pub(crate) fn untraced(inner: ChatCompletionResponseStream) -> ChatStream {
        ChatStream { inner, rec: None }
    }

    pub(crate) fn traced(
        inner: ChatCompletionResponseStream,
        span: DetachedSpan,
        inputs: Value,
    ) -> ChatStream {
        ChatStream {
            inner,
            rec: Some(Recording {
                span,
                inputs,
                chunks: Rebuild::default(),
            }),
        }
    }

    fn on_chunk(&mut self, chunk: &CreateChatCompletionStreamResponse) {
        let Some(rec) = &mut self.rec else { return };
        let json = serde_json::to_value(chunk).unwrap_or(Value::Null);
        let index = rec.chunks.count;
        rec.span.in_scope(|s| {
            s.add_event(
                SpanEvent::new(format!("{}{index}", keys::CHUNK_ITEM_PREFIX))
                    .with_attribute(keys::CHUNK_VALUE, json.to_string()),
            )
        });
        rec.chunks.push(&json);
    }

    /// Ends the span with the rebuilt completion (`early`: the consumer stopped first).
    fn finish(&mut self, early: bool) {
        let Some(rec) = self.rec.take() else { return };
        let output = rec.chunks.completion();
        rec.span.in_scope(|s| {
            if early {
                s.add_event(SpanEvent::new("stopped_early"));
            }
            record::success_json(s, Api::Chat, &rec.inputs, &output);
        });
    }

    fn fail(&mut self, error: &OpenAIError) {
        let Some(rec) = self.rec.take() else { return };
        rec.span.in_scope(|s| s.record_error(error));
    }
}

impl Stream for ChatStream {
    type Item = Result<CreateChatCompletionStreamResponse, OpenAIError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let res = match &this.rec {
            Some(rec) => rec.span.in_scope(|_| this.inner.as_mut().poll_next(cx)),
            None => this.inner.as_mut().poll_next(cx),
        };
        match &res {
            Poll::Ready(Some(Ok(chunk))) => this.on_chunk(chunk),
            Poll::Ready(Some(Err(e))) => this.fail(e),
            Poll::Ready(None) => this.finish(false),
            Poll::Pending => {}
        }
        res
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl Drop for ChatStream {
    fn drop(&mut self) {
        self.finish(true);
    }
}

/// The chunks seen so far, folded into what the completion needs.
#[derive(Default)]
struct Rebuild {
    count: usize,
    content: String,
    role: Option<Value>,
    finish_reason: Option<Value>,
    /// Tool calls by index: id, type, name, arguments so far.
    tool_calls: Vec<Map<String, Value>>,
    last: Option<Value>,
    usage: Option<Value>,
}

impl Rebuild {
    fn push(&mut self, chunk: &Value) {
        self.count += 1;
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.usage = Some(u.clone());
        }
        if let Some(choice) = chunk.pointer("/choices/0") {
            let delta = &choice["delta"];
            if let Some(c) = delta.get("content").and_then(Value::as_str) {
                self.content.push_str(c);
            }
            if let Some(r) = delta.get("role").filter(|r| !r.is_null()) {
                self.role = Some(r.clone());
            }
            if let Some(f) = choice.get("finish_reason").filter(|f| !f.is_null()) {
                self.finish_reason = Some(f.clone());
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.push_tool_call(call);
            }
        }
        self.last = Some(chunk.clone());
    }

    fn push_tool_call(&mut self, delta: &Value) {
        let i = delta.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
        if i > 1024 {
            return;
        }
        while self.tool_calls.len() <= i {
            let mut call = Map::new();
            call.insert("id".into(), Value::Null);
            call.insert("type".into(), json!("function"));
            call.insert("function".into(), json!({"name": "", "arguments": ""}));
            self.tool_calls.push(call);
        }
        let call = &mut self.tool_calls[i];
        if let Some(id) = delta.get("id").filter(|v| !v.is_null()) {
            call.insert("id".into(), id.clone());
        }
        let f = &mut call["function"];
        if let Some(n) = delta.pointer("/function/name").and_then(Value::as_str) {
            let name = format!("{}{n}", f["name"].as_str().unwrap_or(""));
            f["name"] = json!(name);
        }
        if let Some(a) = delta.pointer("/function/arguments").and_then(Value::as_str) {
            let args = format!("{}{a}", f["arguments"].as_str().unwrap_or(""));
            f["arguments"] = json!(args);
        }
    }

    /// The chunks as one `chat.completion` (MLflow's reconstruction, plus the tool calls).
    fn completion(self) -> Value {
        let Some(last) = self.last else {
            return Value::Null;
        };
        let mut message = json!({
            "role": self.role.unwrap_or(json!("assistant")),
            "content": self.content,
        });
        if !self.tool_calls.is_empty() {
            message["tool_calls"] =
                Value::Array(self.tool_calls.into_iter().map(Value::Object).collect());
        }
        json!({
            "id": last["id"],
            "object": "chat.completion",
            "created": last["created"],
            "model": last["model"],
            "choices": [{
                "index": 0,
                "message": message,
                "finish_reason": self.finish_reason.unwrap_or(json!("stop")),
            }],
            "system_fingerprint": last.get("system_fingerprint").cloned().unwrap_or(Value::Null),
            "usage": self.usage.unwrap_or(Value::Null),
        })
    }
}
