//! The OpenTelemetry GenAI semantic conventions (`gen_ai.*` fields), mapped to MLflow's span
//! semantics as MLflow's own OTLP ingestion maps them (its `GenAiTranslator`):
//!
//! | field | becomes |
//! | --- | --- |
//! | `gen_ai.operation.name` | the span type: `chat` → `CHAT_MODEL`; `invoke_agent`, `create_agent` → `AGENT`; `execute_tool` → `TOOL`; `embeddings` → `EMBEDDING`; `generate_content`, `text_completion`, `response` → `LLM` |
//! | `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens` (+ `cache_read` / `cache_write` or `cache_creation`) | `mlflow.chat.tokenUsage` |
//! | `gen_ai.input.messages`, else `gen_ai.tool.call.arguments` | the span's inputs |
//! | `gen_ai.output.messages`, else `gen_ai.tool.call.result` | the span's outputs |
//! | `gen_ai.response.model`, else `gen_ai.request.model` | `mlflow.llm.model` |
//! | `gen_ai.provider.name` | `mlflow.llm.provider` |
//! | `gen_ai.tool.definitions` | `mlflow.chat.tools` |
//!
//! Every field also stays a plain attribute. A value that does not fit (tokens that are not a
//! number, messages that are not JSON) is only that plain attribute.

use serde_json::Value;
use spanwise_core::llm::ReportedTokenUsage;
use spanwise_core::{ActiveSpan, DetachedSpan, SpanType};

use crate::value::FieldValue;

/// The `gen_ai.*` values of one span seen so far that are applied when the span closes (fields
/// come in any order, and later ones override earlier ones, as `Span::record` does). The span
/// type, model and provider need no state: [`field`] sets them at once.
#[derive(Default, Debug)]
pub(crate) struct GenAi {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    cache_creation: Option<u64>,
    input_messages: Option<Value>,
    tool_arguments: Option<Value>,
    output_messages: Option<Value>,
    tool_result: Option<Value>,
    tool_definitions: Option<Value>,
    /// `gen_ai.response.model` was set: it wins over `gen_ai.request.model`.
    response_model: bool,
}

/// Maps the `gen_ai.*` field `name` of `span`: the span type, model and provider are set at
/// once; what needs the span's other fields (usage, inputs, outputs, tools) is noted in
/// `state` (created on the first such field) for [`GenAi::apply`] when the span closes.
pub(crate) fn field(
    span: &DetachedSpan,
    state: &mut Option<Box<GenAi>>,
    name: &str,
    value: &FieldValue<'_>,
) {
    let Some(key) = name.strip_prefix("gen_ai.") else {
        return;
    };
    let non_empty = || value.text().filter(|t| !t.is_empty());
    match key {
        "operation.name" => {
            if let Some(t) = value.text().and_then(span_type) {
                span.with(|s| s.set_span_type(t));
            }
        }
        "provider.name" => {
            if let Some(p) = non_empty() {
                span.with(|s| s.set_provider(p));
            }
        }
        "request.model" => {
            if let Some(m) = non_empty()
                && !state.as_ref().is_some_and(|g| g.response_model)
            {
                span.with(|s| s.set_model(m));
            }
        }
        "response.model" => {
            if let Some(m) = non_empty() {
                span.with(|s| s.set_model(m));
                state.get_or_insert_default().response_model = true;
            }
        }
        _ => state.get_or_insert_default().note(key, value),
    }
}

impl GenAi {
    /// Notes a field kept for the close (`key` without `gen_ai.`); other names (and values of
    /// the wrong shape) are ignored.
    pub(crate) fn note(&mut self, key: &str, value: &FieldValue<'_>) {
        match key {
            "usage.input_tokens" => self.input_tokens = value.count(),
            "usage.output_tokens" => self.output_tokens = value.count(),
            "usage.cache_read.input_tokens" => self.cache_read = value.count(),
            "usage.cache_write.input_tokens" => self.cache_write = value.count(),
            // The older name; MLflow reads it when `cache_write` is absent.
            "usage.cache_creation.input_tokens" => self.cache_creation = value.count(),
            "input.messages" => self.input_messages = value.json(),
            "output.messages" => self.output_messages = value.json(),
            "tool.call.arguments" => self.tool_arguments = value.json_or_text(),
            "tool.call.result" => self.tool_result = value.json_or_text(),
            "tool.definitions" => self.tool_definitions = value.json(),
            _ => {}
        }
    }

    /// Sets what the noted fields map to on `span`.
    pub(crate) fn apply(self, span: &ActiveSpan) {
        // Only the counts given, as MLflow writes them (`{"input_tokens": n}` when the output
        // count is missing); nothing when neither is given.
        span.set_reported_token_usage(ReportedTokenUsage {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            total_tokens: None,
            cache_read_input_tokens: self.cache_read,
            cache_creation_input_tokens: self.cache_write.or(self.cache_creation),
        });
        if let Some(inputs) = non_empty(self.input_messages).or(non_empty(self.tool_arguments)) {
            span.set_inputs(inputs);
        }
        if let Some(outputs) = non_empty(self.output_messages).or(non_empty(self.tool_result)) {
            span.set_outputs(outputs);
        }
        if let Some(tools) = non_empty(self.tool_definitions) {
            span.set_tools(tools);
        }
    }
}

/// MLflow skips empty values (`null`, `""`, `{}`, `[]`) when it looks for inputs and outputs.
fn non_empty(v: Option<Value>) -> Option<Value> {
    v.filter(|v| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    })
}

/// The span type of a `gen_ai.operation.name` (MLflow's `SPAN_KIND_TO_MLFLOW_TYPE`).
pub(crate) fn span_type(operation: &str) -> Option<SpanType> {
    Some(match operation {
        "chat" => SpanType::ChatModel,
        "create_agent" | "invoke_agent" => SpanType::Agent,
        "embeddings" => SpanType::Embedding,
        "execute_tool" => SpanType::Tool,
        "generate_content" | "text_completion" | "response" => SpanType::Llm,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_map_to_mlflow_span_types() {
        assert_eq!(span_type("chat"), Some(SpanType::ChatModel));
        assert_eq!(span_type("invoke_agent"), Some(SpanType::Agent));
        assert_eq!(span_type("create_agent"), Some(SpanType::Agent));
        assert_eq!(span_type("execute_tool"), Some(SpanType::Tool));
        assert_eq!(span_type("embeddings"), Some(SpanType::Embedding));
        assert_eq!(span_type("text_completion"), Some(SpanType::Llm));
        assert_eq!(span_type("rerank"), None);
    }

    #[test]
    fn malformed_values_are_not_noted() {
        let mut g = GenAi::default();
        g.note("usage.input_tokens", &FieldValue::Str("many"));
        g.note("usage.output_tokens", &FieldValue::I64(-3));
        g.note("input.messages", &FieldValue::Str("[not json"));
        assert_eq!(g.input_tokens, None);
        assert_eq!(g.output_tokens, None);
        assert_eq!(g.input_messages, None);
        g.note("usage.input_tokens", &FieldValue::Str("26"));
        assert_eq!(
            g.input_tokens,
            Some(26),
            "a numeric string counts, as in MLflow"
        );
    }
}
