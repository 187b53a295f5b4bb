//! [`TracedClient`]: async-openai's client with its chat, embeddings and responses calls traced.

use std::ops::Deref;

use async_openai::Client;
use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};
use async_openai::types::embeddings::{CreateEmbeddingRequest, CreateEmbeddingResponse};
use async_openai::types::responses::{CreateResponse, Response};
use spanwise_core::{DetachedSpan, FutureExt, SpanEvent, current_span};

use crate::record::{self, Api};
use crate::stream::ChatStream;

/// An async-openai [`Client`] whose chat completions, embeddings and responses calls are traced:
/// `client.chat().create(request)` and the others keep their signatures. Everything else of the
/// client is reached through `Deref` (and [`TracedClient::inner`]), untraced.
///
/// ```
/// use spanwise_openai::ClientExt;
///
/// let config = async_openai::config::OpenAIConfig::new().with_api_base("http://127.0.0.1:9/v1");
/// let client = async_openai::Client::with_config(config).traced();
/// let _chat = client.chat(); // traced
/// let _config = client.config(); // the plain client's, through Deref
/// ```
#[derive(Clone, Debug)]
pub struct TracedClient<C: Config> {
    client: Client<C>,
}

/// `.traced()` on an async-openai [`Client`]: the one line of setup.
pub trait ClientExt<C: Config> {
    /// Wraps the client so that its calls are traced; see [`TracedClient`].
    fn traced(self) -> TracedClient<C>;
}

impl<C: Config> ClientExt<C> for Client<C> {
    fn traced(self) -> TracedClient<C> {
        TracedClient::new(self)
    }
}

impl<C: Config> TracedClient<C> {
    /// Wraps `client`.
    ///
    /// ```
    /// let client = spanwise_openai::TracedClient::new(async_openai::Client::new());
    /// # drop(client);
    /// ```
    pub fn new(client: Client<C>) -> Self {
        TracedClient { client }
    }

    /// The wrapped client.
    pub fn inner(&self) -> &Client<C> {
        &self.client
    }

    /// Unwraps the client.
    pub fn into_inner(self) -> Client<C> {
        self.client
    }

    /// Chat completions, traced: a CHAT_MODEL span `Completions` per call.
    pub fn chat(&self) -> TracedChat<'_, C> {
        TracedChat {
            client: &self.client,
        }
    }

    /// Embeddings, traced: an EMBEDDING span `Embeddings` per call.
    pub fn embeddings(&self) -> TracedEmbeddings<'_, C> {
        TracedEmbeddings {
            client: &self.client,
        }
    }

    /// The Responses API, traced: a CHAT_MODEL span `Responses` per call.
    pub fn responses(&self) -> TracedResponses<'_, C> {
        TracedResponses {
            client: &self.client,
        }
    }
}

impl<C: Config> Deref for TracedClient<C> {
    type Target = Client<C>;
    fn deref(&self) -> &Client<C> {
        &self.client
    }
}

/// Traced chat completions; see [`TracedClient::chat`].
#[derive(Debug)]
pub struct TracedChat<'c, C: Config> {
    client: &'c Client<C>,
}

impl<C: Config> TracedChat<'_, C> {
    /// Creates a chat completion (async-openai's `Chat::create`), recorded as MLflow's OpenAI
    /// autolog records it: inputs = the request, attributes = its parameters other than
    /// `messages` plus `mlflow.message.format = "openai"`, outputs = the completion, with model,
    /// tools and token usage. An error is recorded (an `exception` event, status ERROR) and
    /// returned as it came.
    pub async fn create(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, OpenAIError> {
        let Some((span, inputs)) = record::start(Api::Chat, &request) else {
            return self.client.chat().create(request).await;
        };
        async move {
            let result = self.client.chat().create(request).await;
            if let Some(s) = current_span() {
                match &result {
                    Ok(r) => record::success(&s, Api::Chat, &inputs, r),
                    Err(e) => s.record_error(e),
                }
            }
            result
        }
        .in_span(span)
        .await
    }

    /// Creates a streamed chat completion (async-openai's `Chat::create_stream`): the span
    /// starts with the request and ends with the stream; one event per chunk; the output is the
    /// chunks rebuilt into one completion, with the usage of the last chunk (ask for it with
    /// `stream_options: {"include_usage": true}`). See [`ChatStream`].
    pub async fn create_stream(
        &self,
        mut request: CreateChatCompletionRequest,
    ) -> Result<ChatStream, OpenAIError> {
        // As async-openai sends it: the inputs show it.
        request.stream = Some(true);
        let Some((span, inputs)) = record::start(Api::Chat, &request) else {
            return Ok(ChatStream::untraced(
                self.client.chat().create_stream(request).await?,
            ));
        };
        let mut pending = Pending(Some(span.start_detached()));
        match self.client.chat().create_stream(request).await {
            Ok(stream) => Ok(ChatStream::traced(stream, pending.take(), inputs)),
            Err(e) => {
                pending.take().in_scope(|s| s.record_error(&e));
                Err(e)
            }
        }
    }
}

/// A span waiting for its request: if the caller drops the call first (a timeout around it),
/// the span ends with an event `cancelled`.
struct Pending(Option<DetachedSpan>);

impl Pending {
    fn take(&mut self) -> DetachedSpan {
        self.0.take().expect("taken once")
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(span) = self.0.take() {
            span.in_scope(|s| s.add_event(SpanEvent::new("cancelled")));
        }
    }
}

/// Traced embeddings; see [`TracedClient::embeddings`].
#[derive(Debug)]
pub struct TracedEmbeddings<'c, C: Config> {
    client: &'c Client<C>,
}

impl<C: Config> TracedEmbeddings<'_, C> {
    /// Creates embeddings (async-openai's `Embeddings::create`): inputs = the request,
    /// attributes = its parameters other than `input`, outputs = the response, model from it.
    pub async fn create(
        &self,
        request: CreateEmbeddingRequest,
    ) -> Result<CreateEmbeddingResponse, OpenAIError> {
        let Some((span, inputs)) = record::start(Api::Embeddings, &request) else {
            return self.client.embeddings().create(request).await;
        };
        async move {
            let result = self.client.embeddings().create(request).await;
            if let Some(s) = current_span() {
                match &result {
                    Ok(r) => record::success(&s, Api::Embeddings, &inputs, r),
                    Err(e) => s.record_error(e),
                }
            }
            result
        }
        .in_span(span)
        .await
    }
}

/// The traced Responses API; see [`TracedClient::responses`].
#[derive(Debug)]
pub struct TracedResponses<'c, C: Config> {
    client: &'c Client<C>,
}

impl<C: Config> TracedResponses<'_, C> {
    /// Creates a response (async-openai's `Responses::create`): inputs = the request,
    /// attributes = its parameters other than `input` plus `mlflow.message.format = "openai"`,
    /// outputs = the response, with model, tools and token usage.
    pub async fn create(&self, request: CreateResponse) -> Result<Response, OpenAIError> {
        let Some((span, inputs)) = record::start(Api::Responses, &request) else {
            return self.client.responses().create(request).await;
        };
        async move {
            let result = self.client.responses().create(request).await;
            if let Some(s) = current_span() {
                match &result {
                    Ok(r) => record::success(&s, Api::Responses, &inputs, r),
                    Err(e) => s.record_error(e),
                }
            }
            result
        }
        .in_span(span)
        .await
    }
}
