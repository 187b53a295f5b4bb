//! MLflow's LLM semantics: token usage, model, provider, cost, tools and message format on a
//! span, and the document shape of retriever outputs.
//!
//! Every integration (the `tracing` bridge's GenAI mapping, the OpenAI wrapper) and user code
//! write these through one path, the LLM methods of [`ActiveSpan`](crate::ActiveSpan)
//! (`set_token_usage`, `set_model`, …), so the attribute keys and
//! value shapes are the ones MLflow's UI reads (`mlflow.chat.tokenUsage`, `mlflow.llm.model`, …).
//!
//! ```
//! use spanwise_core::llm::TokenUsage;
//! use spanwise_core::{SpanType, start_span};
//!
//! let span = start_span("chat").span_type(SpanType::ChatModel);
//! span.set_model("gpt-4o-mini");
//! span.set_provider("openai");
//! span.set_message_format("openai");
//! span.set_token_usage(TokenUsage::new(12, 30));
//! ```

use serde::{Deserialize, Serialize};

use crate::model::{Span, Trace, keys};

/// Tokens an LLM call consumed, in the shape of MLflow's `mlflow.chat.tokenUsage` attribute (and
/// of the trace's `mlflow.trace.tokenUsage` metadata, its sum over the trace).
///
/// ```
/// use spanwise_core::llm::TokenUsage;
///
/// let usage = TokenUsage::new(10, 5);
/// assert_eq!(usage.total_tokens, 15);
/// assert_eq!(
///     serde_json::to_string(&usage).unwrap(),
///     r#"{"input_tokens":10,"output_tokens":5,"total_tokens":15}"#
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Tokens of the prompt.
    #[serde(default)]
    pub input_tokens: u64,
    /// Tokens generated.
    #[serde(default)]
    pub output_tokens: u64,
    /// Input plus output (as the provider reported it, if it did).
    #[serde(default)]
    pub total_tokens: u64,
    /// Prompt tokens read from the provider's cache, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// Prompt tokens written to the provider's cache, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
}

impl TokenUsage {
    /// Usage of `input_tokens` and `output_tokens`; the total is their sum.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        TokenUsage {
            input_tokens,
            output_tokens,
            total_tokens: input_tokens.saturating_add(output_tokens),
            cache_read_input_tokens: None,
            cache_creation_input_tokens: None,
        }
    }

    /// Adds `other` to `self`, field by field (cache counts only where either has one).
    ///
    /// ```
    /// use spanwise_core::llm::TokenUsage;
    ///
    /// let mut sum = TokenUsage::new(1, 2);
    /// sum.add(&TokenUsage::new(3, 4));
    /// assert_eq!(sum, TokenUsage::new(4, 6));
    /// ```
    pub fn add(&mut self, other: &TokenUsage) {
        fn opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
            }
        }
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.total_tokens = self.total_tokens.saturating_add(other.total_tokens);
        self.cache_read_input_tokens =
            opt(self.cache_read_input_tokens, other.cache_read_input_tokens);
        self.cache_creation_input_tokens = opt(
            self.cache_creation_input_tokens,
            other.cache_creation_input_tokens,
        );
    }
}

impl TokenUsage {
    /// The usage recorded on a span (`mlflow.chat.tokenUsage`), if any.
    ///
    /// ```
    /// use spanwise_core::llm::TokenUsage;
    /// use spanwise_core::{Span, SpanId, TraceId};
    ///
    /// let mut span = Span::new(TraceId(1), SpanId(2), None, "chat", 0);
    /// span.attributes.insert(
    ///     "mlflow.chat.tokenUsage".into(),
    ///     r#"{"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}"#.into(),
    /// );
    /// assert_eq!(TokenUsage::of_span(&span), Some(TokenUsage::new(3, 4)));
    /// ```
    pub fn of_span(span: &Span) -> Option<TokenUsage> {
        serde_json::from_str(span.attributes.get(keys::TOKEN_USAGE)?).ok()
    }

    /// A trace's usage: the sum over its spans by MLflow's rule (a span counts only when no
    /// ancestor has usage), or, when no span has usage, its `mlflow.trace.tokenUsage` metadata
    /// (a trace whose spans were not all kept). `None` when it has neither.
    ///
    /// ```
    /// use spanwise_core::llm::TokenUsage;
    /// use spanwise_core::{SpanType, start_span};
    ///
    /// let root = start_span("agent");
    /// start_span("chat").span_type(SpanType::ChatModel).set_token_usage(TokenUsage::new(5, 2));
    /// let id = root.trace_id().unwrap();
    /// drop(root);
    /// let trace = spanwise_core::get_trace(&id).unwrap();
    /// assert_eq!(TokenUsage::of_trace(&trace), Some(TokenUsage::new(5, 2)));
    /// ```
    pub fn of_trace(trace: &Trace) -> Option<TokenUsage> {
        crate::totals::sum_nodes(trace.data.spans.iter().map(|s| {
            (
                s.span_id,
                s.parent_span_id,
                s.attributes.get(keys::TOKEN_USAGE).map(String::as_str),
            )
        }))
        .or_else(|| {
            serde_json::from_str(trace.info.trace_metadata.get(keys::TRACE_TOKEN_USAGE)?).ok()
        })
    }
}

/// Token counts as a provider or an instrumented library reported them, any of them possibly
/// missing (an OpenTelemetry span with `gen_ai.usage.input_tokens` but no output count, say).
/// MLflow keeps only the counts it was given: `{"input_tokens": 12}`, with `total_tokens` when
/// it was given or both input and output were (its OTLP ingestion does the same). When every
/// count is known, [`TokenUsage`] is the simpler type; both write the same JSON then.
///
/// In the trace's `mlflow.trace.tokenUsage` a missing count adds 0, as in MLflow.
///
/// ```
/// use spanwise_core::llm::ReportedTokenUsage;
///
/// let usage = ReportedTokenUsage { input_tokens: Some(12), ..Default::default() };
/// assert_eq!(serde_json::to_string(&usage).unwrap(), r#"{"input_tokens":12}"#);
/// let both = ReportedTokenUsage { input_tokens: Some(12), output_tokens: Some(3), ..Default::default() };
/// assert_eq!(
///     serde_json::to_string(&both.with_total()).unwrap(),
///     r#"{"input_tokens":12,"output_tokens":3,"total_tokens":15}"#
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedTokenUsage {
    /// Tokens of the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Tokens generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Input plus output, as reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
    /// Prompt tokens read from the provider's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// Prompt tokens written to the provider's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
}

impl ReportedTokenUsage {
    /// The same counts, with the total filled in (input plus output) when it is missing and
    /// both of those are known, as MLflow fills it in.
    pub fn with_total(mut self) -> Self {
        if self.total_tokens.is_none()
            && let (Some(i), Some(o)) = (self.input_tokens, self.output_tokens)
        {
            self.total_tokens = Some(i.saturating_add(o));
        }
        self
    }

    /// Whether any of input, output or total is known (MLflow records no usage otherwise, even
    /// with cache counts).
    pub fn has_counts(&self) -> bool {
        self.input_tokens.is_some() || self.output_tokens.is_some() || self.total_tokens.is_some()
    }
}

impl ReportedTokenUsage {
    /// The JSON serde writes for it (keys in field order, missing counts left out), written
    /// by hand: it is set on every LLM span.
    pub(crate) fn to_json(self) -> String {
        let fields = [
            ("input_tokens", self.input_tokens),
            ("output_tokens", self.output_tokens),
            ("total_tokens", self.total_tokens),
            ("cache_read_input_tokens", self.cache_read_input_tokens),
            (
                "cache_creation_input_tokens",
                self.cache_creation_input_tokens,
            ),
        ];
        // Bytes, not `String::push` per character (which re-encodes each one): this is set on
        // every LLM span, the bridge's GenAI spans included.
        let mut out = Vec::with_capacity(160);
        out.push(b'{');
        for (key, n) in fields {
            let Some(n) = n else { continue };
            if out.len() > 1 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            crate::scalar::push_digits(&mut out, n);
        }
        out.push(b'}');
        // SAFETY: ASCII keys and digits only.
        unsafe { String::from_utf8_unchecked(out) }
    }
}

impl From<TokenUsage> for ReportedTokenUsage {
    fn from(u: TokenUsage) -> Self {
        ReportedTokenUsage {
            input_tokens: Some(u.input_tokens),
            output_tokens: Some(u.output_tokens),
            total_tokens: Some(u.total_tokens),
            cache_read_input_tokens: u.cache_read_input_tokens,
            cache_creation_input_tokens: u.cache_creation_input_tokens,
        }
    }
}

/// What an LLM call cost, in the shape of MLflow's `mlflow.llm.cost` attribute (and of the
/// trace's `mlflow.trace.cost`, its sum). The unit is the user's (MLflow uses US dollars).
///
/// ```
/// use spanwise_core::llm::LlmCost;
///
/// let cost = LlmCost::new(0.001, 0.002);
/// assert!((cost.total_cost - 0.003).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmCost {
    /// Cost of the input tokens.
    #[serde(default)]
    pub input_cost: f64,
    /// Cost of the output tokens.
    #[serde(default)]
    pub output_cost: f64,
    /// Input plus output.
    #[serde(default)]
    pub total_cost: f64,
}

impl LlmCost {
    /// A cost of `input_cost` and `output_cost`; the total is their sum.
    pub fn new(input_cost: f64, output_cost: f64) -> Self {
        LlmCost {
            input_cost,
            output_cost,
            total_cost: input_cost + output_cost,
        }
    }

    /// Adds `other` to `self`, field by field.
    pub fn add(&mut self, other: &LlmCost) {
        self.input_cost += other.input_cost;
        self.output_cost += other.output_cost;
        self.total_cost += other.total_cost;
    }
}

/// A retrieved document, the element type of a RETRIEVER span's outputs as MLflow shows them:
/// `{"page_content": ..., "metadata": {"doc_uri": ..., "chunk_id": ...}, "id": ...}`.
///
/// ```
/// use spanwise_core::llm::Document;
///
/// let doc = Document::new("MLflow is an open source platform.")
///     .doc_uri("https://mlflow.org/docs")
///     .chunk_id("3")
///     .id("doc-1");
/// let json = serde_json::to_value(&doc).unwrap();
/// assert_eq!(json["metadata"]["doc_uri"], "https://mlflow.org/docs");
/// assert_eq!(json["id"], "doc-1");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The document's text.
    pub page_content: String,
    /// Where it came from.
    pub metadata: DocumentMetadata,
    /// The document's id, if it has one.
    #[serde(default)]
    pub id: Option<String>,
}

/// The `metadata` of a [`Document`]: MLflow's UI links `doc_uri` and shows `chunk_id`; other
/// keys are kept as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DocumentMetadata {
    /// The document's address.
    #[serde(default)]
    pub doc_uri: Option<String>,
    /// Which chunk of the document this is.
    #[serde(default)]
    pub chunk_id: Option<String>,
    /// Any other metadata.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Document {
    /// A document with this text and no metadata.
    pub fn new(page_content: impl Into<String>) -> Self {
        Document {
            page_content: page_content.into(),
            ..Document::default()
        }
    }

    /// Sets `metadata.doc_uri`.
    pub fn doc_uri(mut self, uri: impl Into<String>) -> Self {
        self.metadata.doc_uri = Some(uri.into());
        self
    }

    /// Sets `metadata.chunk_id`.
    pub fn chunk_id(mut self, chunk_id: impl Into<String>) -> Self {
        self.metadata.chunk_id = Some(chunk_id.into());
        self
    }

    /// Sets `id`.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

// The trace totals (`totals`) add these up.
impl crate::totals::Summable for TokenUsage {
    fn add_to(&self, total: &mut Self) {
        total.add(self);
    }
}

impl crate::totals::Summable for LlmCost {
    fn add_to(&self, total: &mut Self) {
        total.add(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_with_cache_counts_serializes_them_and_sums_them() {
        let mut a = TokenUsage {
            cache_read_input_tokens: Some(4),
            ..TokenUsage::new(10, 2)
        };
        a.add(&TokenUsage::new(1, 1));
        assert_eq!(a.total_tokens, 14);
        assert_eq!(a.cache_read_input_tokens, Some(4));
        assert_eq!(a.cache_creation_input_tokens, None);
        let json = serde_json::to_value(a).unwrap();
        assert_eq!(json["cache_read_input_tokens"], 4);
        assert!(json.get("cache_creation_input_tokens").is_none());
    }

    #[test]
    fn reported_usage_keeps_only_known_counts_and_a_missing_one_adds_zero_to_the_trace() {
        let root = crate::start_span("agent");
        let only_input = ReportedTokenUsage {
            input_tokens: Some(5),
            cache_read_input_tokens: Some(1),
            ..Default::default()
        };
        crate::start_span("a").set_reported_token_usage(only_input);
        crate::start_span("b").set_token_usage(TokenUsage::new(1, 2));
        // Cache counts alone are no usage (MLflow records none).
        crate::start_span("c").set_reported_token_usage(ReportedTokenUsage {
            cache_read_input_tokens: Some(9),
            ..Default::default()
        });
        let id = root.trace_id().unwrap();
        drop(root);
        let t = crate::get_trace(&id).unwrap();
        let usage = |n: &str| {
            let s = t.data.spans.iter().find(|s| s.name == n).unwrap();
            s.attributes.get(keys::TOKEN_USAGE).cloned()
        };
        assert_eq!(
            usage("a").as_deref(),
            Some(r#"{"input_tokens":5,"cache_read_input_tokens":1}"#)
        );
        assert_eq!(usage("c"), None);
        // MLflow's trace sum: a missing count adds 0 (here to output and total).
        assert_eq!(
            t.info
                .trace_metadata
                .get(keys::TRACE_TOKEN_USAGE)
                .map(String::as_str),
            Some(
                r#"{"input_tokens": 6, "output_tokens": 2, "total_tokens": 3, "cache_read_input_tokens": 1}"#
            )
        );
    }

    #[test]
    fn document_metadata_keeps_extra_keys_flat() {
        let mut doc = Document::new("text").doc_uri("u");
        doc.metadata
            .extra
            .insert("score".into(), serde_json::json!(0.5));
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["metadata"]["score"], 0.5);
        let back: Document = serde_json::from_value(json).unwrap();
        assert_eq!(back, doc);
    }
}
