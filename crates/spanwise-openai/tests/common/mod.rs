//! What the OpenAI tests share: a client on the stand-in, and running a future as a trace.
#![allow(dead_code)]

use std::future::Future;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use openai_standin::Standin;
use spanwise::{FutureExt, Span, Trace, span};
use spanwise_openai::{ClientExt, TracedClient};

/// A traced client of `standin`.
pub fn client(standin: &Standin) -> TracedClient<OpenAIConfig> {
    Client::with_config(config(standin)).traced()
}

pub fn config(standin: &Standin) -> OpenAIConfig {
    OpenAIConfig::new()
        .with_api_base(&standin.url)
        .with_api_key("sk-standin")
}

/// Runs `f` inside a root span named `name`; returns its output and the finished trace.
pub async fn in_trace<F: Future>(name: &'static str, f: F) -> (F::Output, Trace) {
    let (out, id) = async {
        let id = spanwise::current_trace_id();
        (f.await, id)
    }
    .in_span(span(name))
    .await;
    (out, spanwise::get_trace(&id.expect("recording")).unwrap())
}

/// The span named `name`.
pub fn named<'t>(t: &'t Trace, name: &str) -> &'t Span {
    t.data
        .spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

/// `(name, parent's name)` of every span, in start order.
pub fn tree(t: &Trace) -> Vec<(String, Option<String>)> {
    t.data
        .spans
        .iter()
        .map(|s| {
            let parent = t.parent(s).map(|p| p.name.clone());
            (s.name.clone(), parent)
        })
        .collect()
}
