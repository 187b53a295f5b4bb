//! [async-openai](https://docs.rs/async-openai) calls traced the way MLflow's
//! `mlflow.openai.autolog()` traces the Python SDK's: one span per call, nested under whatever
//! span is current.
//!
//! One line of setup, `.traced()` on the client; the calls keep their signatures:
//!
//! ```no_run
//! use async_openai::types::chat::{ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs};
//! use spanwise_openai::ClientExt;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = async_openai::Client::new().traced();
//! let request = CreateChatCompletionRequestArgs::default()
//!     .model("gpt-4o-mini")
//!     .messages([ChatCompletionRequestUserMessageArgs::default().content("What is MLflow?").build()?.into()])
//!     .build()?;
//! let response = client.chat().create(request).await?; // a CHAT_MODEL span "Completions"
//! # Ok(()) }
//! ```
//!
//! What a call records:
//! - chat completions (`client.chat().create`, `create_stream`): a CHAT_MODEL span
//!   `Completions`; inputs = the request; attributes = the request's parameters other than
//!   `messages`, and `mlflow.message.format = "openai"` (MLflow's UI then shows the
//!   conversation); outputs = the completion; `mlflow.llm.model` (the response's),
//!   `mlflow.chat.tools` (the request's) and `mlflow.chat.tokenUsage` (the response's). A stream
//!   adds an event `mlflow.chunk.item.<i>` per chunk and its output is the chunks rebuilt into
//!   one completion, with the usage of the last chunk that has one;
//! - embeddings (`client.embeddings().create`): an EMBEDDING span `Embeddings`, attributes the
//!   parameters other than `input`, no usage (as MLflow);
//! - the Responses API (`client.responses().create`): a CHAT_MODEL span `Responses`.
//!
//! An error (a 429, a 500, a timeout) adds an `exception` event and sets status ERROR; the call
//! returns it unchanged. The trace sums the usage into `mlflow.trace.tokenUsage`.
//!
//! Why a wrapper and not async-openai's HTTP middleware: the wrapper sees the typed request and
//! response (no second parse of the bytes, no SSE decoding of its own), needs no `middleware`
//! feature (tower) and keeps the client's own retries and errors as they are; the typed methods'
//! names and signatures are the same, so call sites do not change.
#![warn(missing_docs)]

mod client;
mod record;
mod stream;

pub use client::{ClientExt, TracedChat, TracedClient, TracedEmbeddings, TracedResponses};
pub use stream::ChatStream;
