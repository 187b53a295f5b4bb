//! The LLM setters of a live span ([`ActiveSpan::set_token_usage`], `set_model`, `set_provider`,
//! `set_cost`, `set_tools`, `set_message_format`): MLflow's LLM attributes written with the
//! values of [`llm`](crate::llm), one path for user code and every integration.

use serde::Serialize;

use crate::llm::{LlmCost, TokenUsage};
use crate::model::keys;
use crate::span::ActiveSpan;

/// LLM semantics on a live span. Each writes one MLflow attribute; on a span that is not
/// recording they do nothing.
impl ActiveSpan {
    /// Sets `mlflow.chat.tokenUsage`. The trace's `mlflow.trace.tokenUsage` sums the usage of
    /// spans with no ancestor that has usage of its own (so a wrapper that reports the total of
    /// its nested LLM calls is not counted twice).
    ///
    /// ```
    /// let span = spanwise_core::start_span("chat");
    /// span.set_token_usage(spanwise_core::llm::TokenUsage::new(12, 30));
    /// ```
    pub fn set_token_usage(&self, usage: TokenUsage) {
        self.set_attribute(keys::TOKEN_USAGE, usage);
    }

    /// Sets `mlflow.llm.model`, the model that served the call.
    ///
    /// ```
    /// spanwise_core::start_span("chat").set_model("gpt-4o-mini");
    /// ```
    pub fn set_model(&self, model: &str) {
        self.set_attribute(keys::LLM_MODEL, model);
    }

    /// Sets `mlflow.llm.provider` (`"openai"`, `"anthropic"`, …).
    ///
    /// ```
    /// spanwise_core::start_span("chat").set_provider("openai");
    /// ```
    pub fn set_provider(&self, provider: &str) {
        self.set_attribute(keys::LLM_PROVIDER, provider);
    }

    /// Sets `mlflow.llm.cost`; the trace's `mlflow.trace.cost` sums it as token usage is summed.
    ///
    /// ```
    /// use spanwise_core::llm::LlmCost;
    /// spanwise_core::start_span("chat").set_cost(LlmCost::new(0.0001, 0.0004));
    /// ```
    pub fn set_cost(&self, cost: LlmCost) {
        self.set_attribute(keys::LLM_COST, cost);
    }

    /// Sets `mlflow.chat.tools`, the tool definitions offered to the model (OpenAI's format:
    /// `[{"type": "function", "function": {"name": ..., "parameters": ...}}]`).
    ///
    /// ```
    /// spanwise_core::start_span("chat").set_tools(serde_json::json!([
    ///     {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    /// ]));
    /// ```
    pub fn set_tools<T: Serialize>(&self, tools: T) {
        self.set_attribute(keys::CHAT_TOOLS, tools);
    }

    /// Sets `mlflow.message.format`, the format of the span's chat inputs and outputs
    /// (`"openai"`: MLflow's UI then shows them as a conversation).
    ///
    /// ```
    /// spanwise_core::start_span("chat").set_message_format("openai");
    /// ```
    pub fn set_message_format(&self, format: &str) {
        self.set_attribute(keys::MESSAGE_FORMAT, format);
    }
}
