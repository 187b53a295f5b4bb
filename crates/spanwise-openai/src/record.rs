//! What a traced call records, as `mlflow.openai.autolog()` records it: the span's inputs and
//! attributes from the request, and its outputs, model, tools and token usage from the result.

use serde::Serialize;
use serde_json::Value;
use spanwise_core::llm::TokenUsage;
use spanwise_core::{ActiveSpan, SpanBuilder, SpanType, keys, span};

/// The API a call goes to: it decides the span's name and type and how usage is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    Chat,
    Embeddings,
    Responses,
}

impl Api {
    /// MLflow names the span after the OpenAI SDK's resource class.
    fn span_name(self) -> &'static str {
        match self {
            Api::Chat => "Completions",
            Api::Embeddings => "Embeddings",
            Api::Responses => "Responses",
        }
    }

    fn span_type(self) -> SpanType {
        match self {
            Api::Chat | Api::Responses => SpanType::ChatModel,
            Api::Embeddings => SpanType::Embedding,
        }
    }
}

/// The span of a call, and the request as JSON (what the result is recorded against); `None`
/// when tracing is off, so that nothing is encoded.
pub(crate) fn start<T: Serialize>(api: Api, request: &T) -> Option<(SpanBuilder, Value)> {
    if !spanwise_core::is_enabled() {
        return None;
    }
    let inputs = serde_json::to_value(request).unwrap_or(Value::Null);
    let mut b = span(api.span_name())
        .span_type(api.span_type())
        .inputs(&inputs);
    if let Value::Object(params) = &inputs {
        for (k, v) in params {
            if k != "messages" && k != "input" {
                b = b.attribute(k.clone(), v);
            }
        }
    }
    if api != Api::Embeddings {
        b = b.attribute(keys::MESSAGE_FORMAT, "openai");
    }
    Some((b, inputs))
}

/// Records a successful result: tools, model, usage, outputs.
pub(crate) fn success<O: Serialize>(span: &ActiveSpan, api: Api, inputs: &Value, output: &O) {
    match serde_json::to_value(output) {
        Ok(v) => success_json(span, api, inputs, &v),
        Err(_) => span.set_outputs(Value::Null),
    }
}

/// [`success`] of a result already in JSON.
pub(crate) fn success_json(span: &ActiveSpan, api: Api, inputs: &Value, output: &Value) {
    if let Some(tools) = tools(inputs) {
        span.set_tools(tools);
    }
    // The response's model first (the request's may be a deployment's name).
    let model = output
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .or_else(|| inputs.get("model").and_then(Value::as_str));
    if let Some(m) = model {
        span.set_model(m);
    }
    if let Some(u) = usage(api, output.get("usage")) {
        span.set_token_usage(u);
    }
    span.set_outputs(output);
}

/// The request's tools in the chat format (`{"type": "function", "function": {...}}`); the
/// Responses API's flat function tools are put in that shape, its built-in tools kept as named.
fn tools(inputs: &Value) -> Option<Value> {
    let tools = inputs.get("tools")?.as_array()?;
    if tools.is_empty() {
        return None;
    }
    let chat: Vec<Value> = tools
        .iter()
        .map(|t| {
            let kind = t.get("type").and_then(Value::as_str).unwrap_or("function");
            match (kind, t.get("function")) {
                ("function", Some(_)) => t.clone(),
                ("function", None) => {
                    let mut def = t.as_object().cloned().unwrap_or_default();
                    def.remove("type");
                    serde_json::json!({"type": "function", "function": def})
                }
                (other, _) => serde_json::json!({"type": "function", "function": {"name": other}}),
            }
        })
        .collect();
    Some(Value::Array(chat))
}

/// The usage of a chat completion (`prompt_tokens`, ...) or of a response (`input_tokens`, ...),
/// as MLflow reads it; embeddings have none in MLflow's records.
pub(crate) fn usage(api: Api, usage: Option<&Value>) -> Option<TokenUsage> {
    let u = usage?.as_object()?;
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let (input, output, details) = match api {
        Api::Chat => (
            n("prompt_tokens")?,
            n("completion_tokens").unwrap_or(0),
            "prompt_tokens_details",
        ),
        Api::Responses => (
            n("input_tokens")?,
            n("output_tokens").unwrap_or(0),
            "input_tokens_details",
        ),
        Api::Embeddings => return None,
    };
    Some(TokenUsage {
        total_tokens: n("total_tokens").unwrap_or(input + output),
        cache_read_input_tokens: u
            .get(details)
            .and_then(|d| d.get("cached_tokens"))
            .and_then(Value::as_u64),
        ..TokenUsage::new(input, output)
    })
}
