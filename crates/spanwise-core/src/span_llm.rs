//! The LLM setters of a live span ([`ActiveSpan::set_token_usage`], `set_model`, `set_provider`,
//! `set_cost`, `set_tools`, `set_message_format`): MLflow's LLM attributes written with the
//! values of [`llm`](crate::llm), one path for user code and every integration.

use serde::Serialize;

use std::borrow::Cow;

use crate::llm::{LlmCost, ReportedTokenUsage, TokenUsage};
use crate::model::keys;
use crate::scalar::Scalar;
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
        self.set_reported_token_usage(usage.into());
    }

    /// Sets `mlflow.chat.tokenUsage` from counts that may be incomplete: only the known ones
    /// are written (the total filled in when input and output are known), as MLflow writes
    /// them. Does nothing when neither input, output nor total is known.
    ///
    /// ```
    /// use spanwise_core::llm::ReportedTokenUsage;
    /// let span = spanwise_core::start_span("chat");
    /// span.set_reported_token_usage(ReportedTokenUsage { output_tokens: Some(7), ..Default::default() });
    /// ```
    pub fn set_reported_token_usage(&self, usage: ReportedTokenUsage) {
        if usage.has_counts() {
            let json = usage.with_total().to_json();
            self.set_json_attribute(keys::TOKEN_USAGE, json);
        }
    }

    /// Sets `mlflow.llm.model`, the model that served the call.
    ///
    /// ```
    /// spanwise_core::start_span("chat").set_model("gpt-4o-mini");
    /// ```
    pub fn set_model(&self, model: &str) {
        self.set_json_attribute(keys::LLM_MODEL, Scalar::Str(model).to_json());
    }

    /// Sets `mlflow.llm.provider` (`"openai"`, `"anthropic"`, …).
    ///
    /// ```
    /// spanwise_core::start_span("chat").set_provider("openai");
    /// ```
    pub fn set_provider(&self, provider: &str) {
        self.set_json_attribute(keys::LLM_PROVIDER, Scalar::Str(provider).to_json());
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
        self.set_json_attribute(keys::MESSAGE_FORMAT, Scalar::Str(format).to_json());
    }

    /// Sets an attribute to JSON text written here (the setters above encode their values
    /// without `Serialize`: they run for every LLM span a bridge records).
    fn set_json_attribute(&self, key: &'static str, json: impl Into<crate::record::Json>) {
        self.with_record(|r| r.set_attribute(Cow::Borrowed(key), json));
    }
}
