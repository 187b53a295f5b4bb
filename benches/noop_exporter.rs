//! The OpenTelemetry exporter both benchmarks give the SDK: it drops every batch, so that what
//! is measured is the SDK's recording, not an export. Included by `overhead.rs` and `bridge.rs`
//! (`#[path]` module; a dependency of the benchmark targets only, not of the package's lib).

use std::future::Future;
use std::hint::black_box;

use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Drops what it is given.
#[derive(Debug)]
pub struct NoopExporter;

impl SpanExporter for NoopExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send {
        black_box(batch);
        std::future::ready(Ok(()))
    }
}
