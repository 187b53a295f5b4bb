//! What the MLflow and OTLP clients share: the per-trace outcome, size estimates for batching,
//! the OTLP span request with its fallback to one trace at a time, and the `Sink` trait the
//! background exporter drives.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use spanwise_core::{Error, Trace, TraceId};

use crate::encode::{self, Compression, Origin, Protocol};
use crate::http::{Body, Failure, Headers, Http};
use crate::retry::{Retrier, RetryPolicy};

/// What happened to one trace given to `send_traces`.
#[derive(Debug)]
#[non_exhaustive]
pub struct TraceOutcome {
    /// The trace.
    pub trace_id: TraceId,
    /// `Ok` when the server stored it; otherwise why not.
    pub result: Result<(), Error>,
}

/// A destination's way of delivering a batch, one result per trace, in order.
pub(crate) trait Sink: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn deliver(&self, traces: &[&Trace], retry: &Retrier<'_>) -> Vec<Result<(), Failure>>;
}

/// The OTLP side of a client: where spans go and how they are encoded.
#[derive(Clone, Debug)]
pub(crate) struct SpanTransport {
    pub http: Http,
    pub timeout: Duration,
    pub protocol: Protocol,
    pub compression: Compression,
    pub origin: Origin,
    pub retry: RetryPolicy,
}

impl SpanTransport {
    pub(crate) fn new() -> SpanTransport {
        let timeout = Duration::from_secs(30);
        SpanTransport {
            http: Http::new(timeout),
            timeout,
            protocol: Protocol::default(),
            compression: Compression::default(),
            origin: Origin::new(None),
            retry: RetryPolicy::default(),
        }
    }

    /// The transport to MLflow's server (see [`Origin::for_mlflow`]).
    pub(crate) fn for_mlflow(mut self) -> SpanTransport {
        self.origin = self.origin.for_mlflow();
        self
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.http = Http::new(timeout);
    }

    /// Sends the spans of `traces` in one request. When the server rejects a batch of several
    /// traces (it stores a batch all or nothing), each trace is sent alone so that one bad trace
    /// does not sink the others.
    pub(crate) fn send_spans(
        &self,
        url: &str,
        headers: &Headers,
        traces: &[&Trace],
        retry: &Retrier<'_>,
    ) -> Vec<Result<(), Failure>> {
        let result = self.post_once(url, headers, traces, retry);
        match result {
            Err(f) if !f.retryable && f.status.is_some() && traces.len() > 1 => traces
                .iter()
                .map(|t| self.post_once(url, headers, std::slice::from_ref(t), retry))
                .collect(),
            other => vec![other; traces.len()],
        }
    }

    fn post_once(
        &self,
        url: &str,
        headers: &Headers,
        traces: &[&Trace],
        retry: &Retrier<'_>,
    ) -> Result<(), Failure> {
        let req = encode::request(&self.origin, traces.iter().copied());
        let body = encode::encode(&req, self.protocol, self.compression)?;
        retry.run(|| {
            self.http
                .post(
                    url,
                    headers,
                    Body {
                        content_type: body.content_type,
                        content_encoding: body.content_encoding,
                        bytes: &body.bytes,
                    },
                )
                .map(|_| ())
        })
    }
}

/// Sends `traces` through `sink` from the calling thread, in batches, with `policy`'s retries.
pub(crate) fn send_now(
    sink: &dyn Sink,
    policy: &RetryPolicy,
    traces: &[Trace],
) -> Vec<TraceOutcome> {
    let retried = AtomicU64::new(0);
    let retrier = Retrier {
        policy,
        retried: &retried,
        sleep: &|d| {
            std::thread::sleep(d);
            true
        },
        on_retry: &|_| {},
    };
    let mut outcomes = Vec::with_capacity(traces.len());
    let refs: Vec<&Trace> = traces.iter().collect();
    for batch in batches(&refs, DEFAULT_BATCH_TRACES, DEFAULT_BATCH_BYTES) {
        for (t, r) in batch.iter().zip(sink.deliver(batch, &retrier)) {
            outcomes.push(TraceOutcome {
                trace_id: t.info.trace_id,
                result: r.map_err(|f| Error::Destination {
                    name: sink.name().into(),
                    message: f.message,
                }),
            });
        }
    }
    outcomes
}

pub(crate) const DEFAULT_BATCH_TRACES: usize = 64;
pub(crate) const DEFAULT_BATCH_BYTES: usize = 2 << 20;

/// Consecutive runs of at most `max_traces` traces and about `max_bytes` (a trace larger than
/// that goes alone).
pub(crate) fn batches<'a, 'b>(
    traces: &'b [&'a Trace],
    max_traces: usize,
    max_bytes: usize,
) -> impl Iterator<Item = &'b [&'a Trace]> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= traces.len() {
            return None;
        }
        let mut end = start;
        let mut bytes = 0;
        while end < traces.len() && end - start < max_traces.max(1) {
            let b = estimate_bytes(traces[end]);
            if end > start && bytes + b > max_bytes {
                break;
            }
            bytes += b;
            end += 1;
        }
        let batch = &traces[start..end];
        start = end;
        Some(batch)
    })
}

/// About how many bytes a trace takes in memory and on the wire: its strings plus a fixed cost
/// per span and event. Cheap, so that it can run on the application's thread.
pub(crate) fn estimate_bytes(trace: &Trace) -> usize {
    let info = &trace.info;
    let mut n = 256
        + info.request_preview.as_ref().map_or(0, String::len)
        + info.response_preview.as_ref().map_or(0, String::len);
    for (k, v) in info.tags.iter().chain(info.trace_metadata.iter()) {
        n += k.len() + v.len() + 16;
    }
    for s in &trace.data.spans {
        n += 96 + s.name.len() + s.status.message.len();
        for (k, v) in &s.attributes {
            n += k.len() + v.len() + 16;
        }
        for e in &s.events {
            n += 48 + e.name.len();
            for (k, v) in &e.attributes {
                n += k.len() + 16 + v.as_str().map_or(16, str::len);
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_counts_and_bytes() {
        let t = crate::encode::tests::sample_trace();
        let ts: Vec<&Trace> = vec![&t; 5];
        let sizes: Vec<usize> = batches(&ts, 2, usize::MAX).map(<[_]>::len).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
        let one = estimate_bytes(&t);
        let sizes: Vec<usize> = batches(&ts, 100, one * 3).map(<[_]>::len).collect();
        assert_eq!(sizes, vec![3, 2]);
        // A trace larger than the byte limit still goes, alone.
        let sizes: Vec<usize> = batches(&ts, 100, 1).map(<[_]>::len).collect();
        assert_eq!(sizes, vec![1; 5]);
    }
}
