//! Against a real MLflow server, through the runtime and the default exporter settings:
//! tracing begins before the server is up (connection refused first) and nothing is lost; then
//! the burst that made MLflow's Python SDK discard 90 of 200 traces (200 traces of 101 spans,
//! as fast as possible) is delivered whole.
//!
//! One test: the runtime is global, and one server start is shared by both phases.

mod common;

use std::time::{Duration, Instant};

use serde_json::json;
use spanwise_core::{Config, SpanType, start_span};
use spanwise_otlp::ConfigExt;

fn mlflow_stats() -> spanwise_core::DestinationStats {
    spanwise_core::stats()
        .destinations
        .into_iter()
        .find(|(n, _)| n == "mlflow")
        .map(|(_, s)| s)
        .expect("the mlflow destination is configured")
}

#[test]
fn late_server_and_burst_lose_nothing() {
    let Some(venv) = common::mlflow_venv("late_server_and_burst_lose_nothing") else {
        return;
    };
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _guard =
        spanwise_core::init_with(Config::new().no_destination().mlflow(&url, "late").unwrap())
            .unwrap();

    // Phase 1: the application traces while nothing listens on the port.
    let mut ids = Vec::new();
    for i in 0..5 {
        let root = start_span("request").span_type(SpanType::Chain);
        root.set_inputs(json!({"i": i}));
        {
            let c = start_span("step").span_type(SpanType::Tool);
            c.set_outputs(i * 2);
        }
        root.set_outputs(i);
        ids.push(root.trace_id().unwrap());
    }
    // The exporter meets a refused connection and retries.
    let waiting = Instant::now();
    while mlflow_stats().retried == 0 && waiting.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(mlflow_stats().retried > 0, "{:?}", mlflow_stats());
    assert_eq!(mlflow_stats().exported, 0);

    let server = common::MlflowServer::spawn(&venv, port);
    assert!(
        spanwise_core::flush_timeout(Duration::from_secs(300)),
        "{:?}",
        mlflow_stats()
    );
    let s = mlflow_stats();
    assert_eq!((s.exported, s.dropped, s.failed), (5, 0, 0), "{s:?}");
    let client = spanwise_otlp::MlflowClient::new(&server.url, "late").unwrap();
    for id in &ids {
        let t = client.get_trace(id).unwrap();
        assert_eq!(t["trace"]["spans"].as_array().unwrap().len(), 2);
        assert_eq!(t["trace"]["trace_info"]["state"], "OK");
    }

    // Phase 2: the burst, with default settings.
    let started = Instant::now();
    for t in 0..200 {
        let root = start_span("burst");
        root.set_inputs(json!({"t": t}));
        for i in 0..100 {
            let c = start_span("child");
            c.set_inputs(json!({"i": i}));
            c.set_outputs(i);
        }
        root.set_outputs(t);
    }
    let traced = started.elapsed();
    assert!(spanwise_core::flush_timeout(Duration::from_secs(600)));
    let delivered = started.elapsed();
    let s = mlflow_stats();
    eprintln!(
        "burst: 200 traces x 101 spans traced in {traced:?}, on the server after {delivered:?}; {s:?}"
    );
    assert_eq!((s.exported, s.dropped, s.failed), (205, 0, 0), "{s:?}");
    let found = client.search_traces("", 1000).unwrap();
    assert_eq!(found.len(), 205);
}
