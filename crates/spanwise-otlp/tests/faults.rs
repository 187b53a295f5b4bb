//! Delivery under faults, against local stand-ins (tiny HTTP servers on 127.0.0.1): a server
//! answering 503 for a while, one rejecting with 400, a full queue under both policies, and
//! what an MLflow server is sent (headers, gzip, the trace-info request).
//!
//! The exporters are used directly as destinations, with traces built by hand, so the tests of
//! this binary share nothing and run in parallel.

mod common;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use common::{StandIn, make_trace};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use spanwise_core::{CompletedTrace, Destination, DestinationStats};
use spanwise_otlp::{
    Auth, ExportOptions, Exporter, MlflowClient, OtlpClient, QueuePolicy, RetryPolicy,
};

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(50))
}

fn spans_in(body: &[u8]) -> usize {
    let req: ExportTraceServiceRequest = prost::Message::decode(body).unwrap();
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

const FLUSH: Duration = Duration::from_secs(60);

fn one_batch() -> ExportOptions {
    ExportOptions::default().batch_delay(Duration::from_secs(3600))
}

#[test]
fn a_server_answering_503_then_200_gets_everything() {
    let server = StandIn::start(|i, _| match i {
        0 | 1 => (503, vec![], "busy".into()),
        2 => (429, vec![("Retry-After".into(), "0".into())], String::new()),
        _ => (200, vec![], String::new()),
    });
    let client = OtlpClient::new(&format!("{}/v1/traces", server.url))
        .unwrap()
        .header("x-api-key", "k-123")
        .retry(fast_retry());
    // One batch: nothing is sent before the flush asks for it.
    let exporter = Exporter::otlp(client, one_batch()).unwrap();
    for i in 0..3 {
        exporter.submit(CompletedTrace::from_trace(make_trace(&format!("t{i}"), 2)));
    }
    assert!(exporter.flush(FLUSH));
    assert_eq!(exporter.stats(), DestinationStats::new(3, 0, 3, 0));
    let seen = server.requests();
    assert_eq!(seen.len(), 4, "3 failed attempts then one success");
    let last = &seen[3];
    assert_eq!(last.path, "/v1/traces");
    assert_eq!(last.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(last.header("x-api-key"), Some("k-123"));
    assert_eq!(spans_in(&last.body), 9);
    // Every retry resent the same batch.
    assert!(seen.iter().all(|r| r.body == last.body));
}

#[test]
fn a_400_is_not_retried_and_counts_as_failed() {
    let server = StandIn::start(|_, _| {
        (
            400,
            vec![],
            r#"{"error_code": "INVALID_PARAMETER_VALUE", "message": "bad span"}"#.into(),
        )
    });
    let client = OtlpClient::new(&format!("{}/v1/traces", server.url))
        .unwrap()
        .retry(fast_retry());
    // One batch: nothing is sent before the flush asks for it.
    let exporter = Exporter::otlp(client, one_batch()).unwrap();
    exporter.submit(CompletedTrace::from_trace(make_trace("a", 1)));
    exporter.submit(CompletedTrace::from_trace(make_trace("b", 1)));
    assert!(
        !exporter.flush(FLUSH),
        "a failed delivery makes flush false"
    );
    assert_eq!(exporter.stats(), DestinationStats::new(0, 0, 0, 2));
    // One batch of two, then each trace alone to find the bad one; no retries.
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(spans_in(&seen[0].body), 4);
    assert_eq!(spans_in(&seen[1].body), 2);
}

#[test]
fn one_bad_trace_does_not_sink_its_batch() {
    // The stand-in rejects any request holding the trace named "bad".
    let server = StandIn::start(|_, req| {
        let r: ExportTraceServiceRequest = prost::Message::decode(&req.body[..]).unwrap();
        let bad = r.resource_spans[0].scope_spans[0]
            .spans
            .iter()
            .any(|s| s.name == "bad");
        if bad {
            (400, vec![], "no".into())
        } else {
            (200, vec![], String::new())
        }
    });
    let client = OtlpClient::new(&format!("{}/v1/traces", server.url)).unwrap();
    let traces = vec![
        make_trace("ok1", 1),
        make_trace("bad", 1),
        make_trace("ok2", 1),
    ];
    let outcomes = client.send_traces(&traces);
    let ok: Vec<bool> = outcomes.iter().map(|o| o.result.is_ok()).collect();
    assert_eq!(ok, vec![true, false, true]);
    assert_eq!(outcomes[1].trace_id, traces[1].info.trace_id);
    let msg = outcomes[1].result.as_ref().unwrap_err().to_string();
    assert!(msg.contains("HTTP 400") && msg.contains("no"), "{msg}");
}

/// A stand-in that holds its first request until `release` is sent to, then answers 200.
fn holding_server() -> (StandIn, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (arrived_tx, arrived) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let server = StandIn::start(move |i, _| {
        if i == 0 {
            arrived_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        }
        (200, vec![], String::new())
    });
    (server, arrived, release)
}

fn one_at_a_time() -> ExportOptions {
    ExportOptions::default()
        .max_batch_traces(1)
        .batch_delay(Duration::ZERO)
        .retry(fast_retry())
}

#[test]
fn a_full_queue_drops_the_newest_and_counts_exactly() {
    let (server, arrived, release) = holding_server();
    let client = OtlpClient::new(&format!("{}/v1/traces", server.url)).unwrap();
    let exporter = Exporter::otlp(client, one_at_a_time().max_queue_traces(2)).unwrap();
    exporter.submit(CompletedTrace::from_trace(make_trace("first", 1)));
    arrived.recv().unwrap(); // the first trace is in flight; the queue is empty
    for i in 0..10 {
        exporter.submit(CompletedTrace::from_trace(make_trace(&format!("t{i}"), 1)));
    }
    // Two fit in the queue; the eight newest are dropped.
    assert_eq!(exporter.stats().dropped, 8);
    release.send(()).unwrap();
    assert!(exporter.flush(FLUSH));
    assert_eq!(exporter.stats(), DestinationStats::new(3, 8, 0, 0));
    let names: Vec<String> = server
        .requests()
        .iter()
        .map(|r| {
            let req: ExportTraceServiceRequest = prost::Message::decode(&r.body[..]).unwrap();
            req.resource_spans[0].scope_spans[0].spans[0].name.clone()
        })
        .collect();
    assert_eq!(names, vec!["first", "t0", "t1"]);
}

#[test]
fn the_queue_is_bounded_in_bytes_too() {
    let (server, arrived, release) = holding_server();
    let client = OtlpClient::new(&format!("{}/v1/traces", server.url)).unwrap();
    let exporter = Exporter::otlp(client, one_at_a_time().max_queue_bytes(1)).unwrap();
    exporter.submit(CompletedTrace::from_trace(make_trace("first", 1)));
    arrived.recv().unwrap();
    // An empty queue takes one trace of any size; then it is full.
    exporter.submit(CompletedTrace::from_trace(make_trace("second", 1)));
    exporter.submit(CompletedTrace::from_trace(make_trace("third", 1)));
    assert_eq!(exporter.stats().dropped, 1);
    release.send(()).unwrap();
    assert!(exporter.flush(FLUSH));
    assert_eq!(exporter.stats(), DestinationStats::new(2, 1, 0, 0));
}

#[test]
fn the_block_policy_waits_for_room_instead_of_dropping() {
    let (server, arrived, release) = holding_server();
    let client = OtlpClient::new(&format!("{}/v1/traces", server.url)).unwrap();
    let opts = one_at_a_time()
        .max_queue_traces(1)
        .policy(QueuePolicy::Block(Duration::from_secs(120)));
    let exporter = Arc::new(Exporter::otlp(client, opts).unwrap());
    exporter.submit(CompletedTrace::from_trace(make_trace("first", 1)));
    arrived.recv().unwrap();
    exporter.submit(CompletedTrace::from_trace(make_trace("queued", 1)));
    let (done_tx, done) = mpsc::channel();
    let e = exporter.clone();
    let blocked = std::thread::spawn(move || {
        e.submit(CompletedTrace::from_trace(make_trace("waits", 1)));
        done_tx.send(()).unwrap();
    });
    // The third submit cannot finish while the server holds the first request.
    assert!(done.try_recv().is_err());
    release.send(()).unwrap();
    blocked.join().unwrap();
    assert!(exporter.flush(FLUSH));
    assert_eq!(exporter.stats(), DestinationStats::new(3, 0, 0, 0));
}

#[test]
fn the_block_policy_drops_after_its_timeout() {
    let (server, arrived, release) = holding_server();
    let client = OtlpClient::new(&format!("{}/v1/traces", server.url)).unwrap();
    let opts = one_at_a_time()
        .max_queue_traces(1)
        .policy(QueuePolicy::Block(Duration::from_millis(20)));
    let exporter = Exporter::otlp(client, opts).unwrap();
    exporter.submit(CompletedTrace::from_trace(make_trace("first", 1)));
    arrived.recv().unwrap();
    exporter.submit(CompletedTrace::from_trace(make_trace("queued", 1)));
    exporter.submit(CompletedTrace::from_trace(make_trace("gives up", 1)));
    assert_eq!(exporter.stats().dropped, 1);
    release.send(()).unwrap();
    assert!(exporter.flush(FLUSH));
    assert_eq!(exporter.stats(), DestinationStats::new(2, 1, 0, 0));
}

#[test]
fn flush_times_out_while_the_server_is_down_and_memory_stays_bounded() {
    // Nothing listens on this port: every attempt is refused.
    let port = common::free_port();
    let client = OtlpClient::new(&format!("http://127.0.0.1:{port}/v1/traces"))
        .unwrap()
        .retry(fast_retry());
    let exporter = Exporter::otlp(client, one_at_a_time().max_queue_traces(5)).unwrap();
    for i in 0..50 {
        exporter.submit(CompletedTrace::from_trace(make_trace(&format!("t{i}"), 1)));
    }
    assert!(!exporter.flush(Duration::from_millis(200)));
    let s = exporter.stats();
    // At most one in flight and five queued; the rest dropped, none exported.
    assert_eq!(s.exported, 0);
    assert!(s.dropped >= 44, "{s:?}");
    assert!(s.retried > 0, "{s:?}");
}

#[cfg(feature = "gzip")]
#[test]
fn an_mlflow_server_gets_spans_then_trace_info_with_auth_and_gzip() {
    use spanwise_otlp::{Compression, Experiment};
    let server = StandIn::start(|_, _| (200, vec![], "{}".into()));
    let client = MlflowClient::new(&server.url, Experiment::id("7"))
        .unwrap()
        .auth(Auth::bearer("tok-secret"))
        .compression(Compression::Gzip);
    let mut trace = make_trace("root", 1);
    trace.info.request_preview = Some("custom req".into());
    trace.info.client_request_id = Some("req-1".into());
    let outcomes = client.send_traces(std::slice::from_ref(&trace));
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0].result);
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    let (spans, info) = (&seen[0], &seen[1]);
    assert_eq!(
        (spans.method.as_str(), spans.path.as_str()),
        ("POST", "/v1/traces")
    );
    assert_eq!(spans.header("x-mlflow-experiment-id"), Some("7"));
    assert_eq!(spans.header("authorization"), Some("Bearer tok-secret"));
    assert_eq!(spans.header("content-encoding"), Some("gzip"));
    let mut plain = Vec::new();
    let mut gz = flate2::read::GzDecoder::new(&spans.body[..]);
    std::io::Read::read_to_end(&mut gz, &mut plain).unwrap();
    assert_eq!(spans_in(&plain), 2);
    assert_eq!(info.path, "/api/3.0/mlflow/traces");
    assert_eq!(info.header("authorization"), Some("Bearer tok-secret"));
    let body: serde_json::Value = serde_json::from_slice(&info.body).unwrap();
    let ti = &body["trace"]["trace_info"];
    assert_eq!(ti["trace_id"], trace.info.trace_id.to_string());
    assert_eq!(
        ti["trace_location"]["mlflow_experiment"]["experiment_id"],
        "7"
    );
    assert_eq!(ti["request_preview"], "custom req");
    assert_eq!(ti["client_request_id"], "req-1");
}

#[test]
fn experiments_are_looked_up_then_created_and_errors_hide_secrets() {
    let server = StandIn::start(|_, req| match req.path.as_str() {
        p if p.starts_with("/api/2.0/mlflow/experiments/get-by-name") => (
            404,
            vec![],
            r#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such experiment"}"#.into(),
        ),
        "/api/2.0/mlflow/experiments/create" => (200, vec![], r#"{"experiment_id": "12"}"#.into()),
        _ => (401, vec![], r#"{"message": "credentials rejected"}"#.into()),
    });
    let client = MlflowClient::new(&server.url, "my agent/exp")
        .unwrap()
        .auth(Auth::basic("ada", "pa55word"));
    assert_eq!(client.experiment_id().unwrap(), "12");
    let seen = server.requests();
    assert_eq!(
        seen[0].path,
        "/api/2.0/mlflow/experiments/get-by-name?experiment_name=my%20agent%2Fexp"
    );
    let created: serde_json::Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert_eq!(created["name"], "my agent/exp");
    // A rejected send says why, without the credentials.
    let outcomes = client.send_traces(&[make_trace("r", 0)]);
    let msg = outcomes[0].result.as_ref().unwrap_err().to_string();
    assert!(
        msg.contains("HTTP 401") && msg.contains("credentials rejected"),
        "{msg}"
    );
    assert!(!msg.contains("pa55word") && !msg.contains("YWRh"), "{msg}");
    assert!(!format!("{client:?}").contains("pa55word"));
}

/// A server that accepts connections and never answers them, for its first `hold`
/// connections; later ones are passed on to `to` (a stand-in that answers).
fn silent_then(hold: usize, to: String) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    let target = to.trim_start_matches("http://").to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n < hold {
                held.push(stream); // read nothing, answer nothing, keep it open
                continue;
            }
            let Ok(upstream) = TcpStream::connect(&target) else {
                continue;
            };
            let (mut a, b) = (stream.try_clone().unwrap(), upstream.try_clone().unwrap());
            std::thread::spawn(move || std::io::copy(&mut a, &mut b.try_clone().unwrap()));
            let (mut up, mut down) = (upstream, stream);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut up, &mut down);
                let _ = down.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (url, accepted)
}

#[test]
fn a_server_that_never_answers_times_out_and_the_traces_are_retried() {
    let answering = StandIn::start(|_, _| (200, vec![], String::new()));
    let (url, accepted) = silent_then(2, answering.url.clone());
    let client = OtlpClient::new(&format!("{url}/v1/traces"))
        .unwrap()
        .timeout(Duration::from_millis(300))
        .retry(fast_retry());
    let exporter =
        Exporter::otlp(client, ExportOptions::default().batch_delay(Duration::ZERO)).unwrap();
    exporter.submit(CompletedTrace::from_trace(make_trace("first", 1)));
    // The first request hangs on the silent server; meanwhile the application goes on: every
    // submit returns at once (the queue takes them), none waits for the hung request.
    while accepted.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    for i in 0..100 {
        exporter.submit(CompletedTrace::from_trace(make_trace(&format!("t{i}"), 1)));
    }
    assert_eq!(
        exporter.stats().exported,
        0,
        "all 100 were taken while the first request hung"
    );
    // The timeout fires (twice: two held connections), the batch is retried and delivered.
    assert!(exporter.flush(FLUSH));
    let s = exporter.stats();
    assert_eq!((s.exported, s.dropped, s.failed), (101, 0, 0), "{s:?}");
    assert!(s.retried >= 2, "{s:?}");
    let delivered: usize = answering.requests().iter().map(|r| spans_in(&r.body)).sum();
    assert_eq!(delivered, 2 * 101, "each trace (a root and a child) once");
}
