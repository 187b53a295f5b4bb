//! Against a real MLflow server, through the runtime: (a) a trace re-published after a late
//! span leaves no duplicate spans on the server; (b) the server killed and restarted in the
//! middle of a burst of 500 traces: nothing is lost within the queue bound, and what is beyond
//! it is counted exactly.
//!
//! One test: the runtime is global, and one server start is shared by both phases.

mod common;

use std::time::Duration;

use serde_json::json;
use spanwise_core::{Config, Context, DestinationStats, start_span};
use spanwise_otlp::{ExportOptions, Exporter, MlflowClient};

fn mlflow_stats() -> DestinationStats {
    spanwise_core::stats()
        .destinations
        .into_iter()
        .find(|(n, _)| n == "mlflow")
        .map(|(_, s)| s)
        .expect("the mlflow destination is configured")
}

fn spans_on_server(client: &MlflowClient, id: &spanwise_core::TraceId) -> Vec<String> {
    let t = client.get_trace(id).unwrap();
    t["trace"]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn late_spans_and_a_restarted_server() {
    let Some(venv) = common::mlflow_venv("late_spans_and_a_restarted_server") else {
        return;
    };
    let mut server = common::MlflowServer::start(&venv);
    const QUEUE: usize = 300;
    let client = MlflowClient::new(&server.url, "faults").unwrap();
    let exporter = Exporter::mlflow(
        client.clone(),
        ExportOptions::default().max_queue_traces(QUEUE),
    )
    .unwrap();
    let _guard = spanwise_core::init_with(
        Config::new()
            .no_destination()
            .add_destination(std::sync::Arc::new(exporter)),
    )
    .unwrap();

    // (a) The root ends and the trace is exported; then two late spans, each re-publishing it.
    let (id, ctx) = {
        let root = start_span("request");
        root.set_inputs(json!({"q": 1}));
        drop(start_span("early"));
        (root.trace_id().unwrap(), Context::current())
    };
    assert!(spanwise_core::flush());
    assert_eq!(spans_on_server(&client, &id).len(), 2);
    for name in ["late_1", "late_2"] {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let _in = ctx.attach();
            drop(start_span(name));
        })
        .join()
        .unwrap();
        assert!(spanwise_core::flush());
    }
    let mut names = spans_on_server(&client, &id);
    names.sort();
    assert_eq!(
        names,
        ["early", "late_1", "late_2", "request"],
        "no duplicates"
    );
    let before = mlflow_stats();

    // (b) 500 traces; after 100 the server is killed and started again.
    let mut ids = Vec::new();
    for t in 0..500 {
        if t == 100 {
            server.restart();
        }
        let root = start_span("burst");
        root.set_inputs(json!({"t": t}));
        for i in 0..3 {
            let c = start_span("child");
            c.set_outputs(i);
        }
        ids.push(root.trace_id().unwrap());
    }
    server.wait_ready(Duration::from_secs(180));
    assert!(spanwise_core::flush_timeout(Duration::from_secs(300)));
    let s = mlflow_stats();
    let (exported, dropped) = (s.exported - before.exported, s.dropped - before.dropped);
    eprintln!("burst of 500 across a restart: {s:?}");
    assert_eq!(s.failed, before.failed, "{s:?}");
    assert_eq!(
        exported + dropped,
        500,
        "every trace delivered or counted as dropped"
    );
    assert!(
        exported >= QUEUE as u64,
        "all that fit in the queue while the server was down were delivered: {s:?}"
    );
    let mut on_server = 0u64;
    for id in &ids {
        if let Ok(t) = client.get_trace(id) {
            assert_eq!(t["trace"]["spans"].as_array().unwrap().len(), 4);
            on_server += 1;
        }
    }
    assert_eq!(
        on_server, exported,
        "the server holds exactly the delivered traces"
    );
}
