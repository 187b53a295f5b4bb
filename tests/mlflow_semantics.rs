//! MLflow's fluent-API semantics that issue 20 brought in line, each as in MLflow 3.17.2's own
//! `tests/tracing/test_fluent.py` (translated): the Default experiment `"0"`, a client span
//! under a `start_span` span, a generator that raises, and the switch for the duplicate-name
//! suffixes. Each is checked in the model (`get_trace`) and in the JSONL store, which is written
//! by a separate serializer.
//!
//! These tests change the process-wide settings, so they take a lock and run one at a time.

use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::json;
use spanwise::{
    Client, Config, EndOptions, Error, IteratorExt, SpanOptions, StatusCode, StreamOptions, Trace,
    TraceId, TraceState, current_span, get_trace, init_with, last_active_trace_id, read_jsonl,
    start_span, trace,
};

static SERIAL: Mutex<()> = Mutex::new(());

/// `config` in force with a fresh trace directory, and the lock held.
fn setup(
    name: &str,
    config: Config,
) -> (
    PathBuf,
    (spanwise::FlushGuard, std::sync::MutexGuard<'static, ()>),
) {
    let lock = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir =
        std::env::temp_dir().join(format!("spanwise-semantics-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = init_with(config.trace_dir(&dir)).unwrap();
    (dir, (guard, lock))
}

/// `Config::from_env()` with `key` set to `value` (under the lock: no other test reads the
/// environment meanwhile).
fn from_env_with(key: &str, value: &str) -> Result<Config, Error> {
    let _lock = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // SAFETY: the tests of this binary touch the environment only under the lock.
    unsafe { std::env::set_var(key, value) };
    let config = Config::from_env();
    unsafe { std::env::remove_var(key) };
    config
}

/// The trace as the JSONL store has it (flushed first).
fn stored(dir: &std::path::Path, id: &TraceId) -> Trace {
    assert!(spanwise::flush_timeout(std::time::Duration::from_secs(30)));
    read_jsonl(dir.join(spanwise::JSONL_FILE_NAME))
        .unwrap()
        .traces
        .into_iter()
        .find(|t| t.info.trace_id == *id)
        .expect("in the JSONL store")
}

fn experiment(t: &Trace) -> String {
    t.info
        .trace_location
        .mlflow_experiment
        .as_ref()
        .unwrap()
        .experiment_id
        .clone()
}

/// `test_trace`: with no experiment configured a trace is in MLflow's Default experiment "0".
#[test]
fn no_configured_experiment_means_the_default_experiment() {
    let (dir, _g) = setup("experiment", Config::new());
    drop(start_span("predict"));
    let id = last_active_trace_id().unwrap();
    assert_eq!(experiment(&get_trace(&id).unwrap()), "0");
    assert_eq!(experiment(&stored(&dir, &id)), "0");
    // The source metadata MLflow's SDK writes, in both forms.
    for t in [get_trace(&id).unwrap(), stored(&dir, &id)] {
        let m = &t.info.trace_metadata;
        assert_eq!(m["mlflow.source.type"], "LOCAL");
        let exe = std::env::current_exe().unwrap();
        assert_eq!(
            m["mlflow.source.name"],
            exe.file_name().unwrap().to_str().unwrap()
        );
        assert!(!m["mlflow.user"].is_empty());
        assert!(m["mlflow.trace.sizeStats"].starts_with("{\"total_size_bytes\": "));
    }
    drop(_g);

    // Configured: by the builder, or MLFLOW_EXPERIMENT_ID (and a chosen source name).
    let (dir, _g) = setup(
        "experiment-7",
        Config::new().experiment_id("7").source_name("agent"),
    );
    drop(start_span("predict"));
    let id = last_active_trace_id().unwrap();
    let t = stored(&dir, &id);
    assert_eq!(experiment(&t), "7");
    assert_eq!(t.info.trace_metadata["mlflow.source.name"], "agent");
    drop(_g);
    let from_env = from_env_with("MLFLOW_EXPERIMENT_ID", "12").unwrap();
    let (_dir, _g) = setup("experiment-env", from_env);
    drop(start_span("predict"));
    assert_eq!(
        experiment(&get_trace(&last_active_trace_id().unwrap()).unwrap()),
        "12"
    );
}

/// `test_start_span_context_manager_with_imperative_apis`: a client span whose parent is a
/// `start_span` span joins its trace; the trace ends when its root does.
#[test]
fn a_client_span_under_a_start_span_span_joins_its_trace() {
    let (dir, _g) = setup("client", Config::new());
    let client = Client::new();
    let trace_id = {
        let parent = start_span("parent");
        let (trace_id, parent_id) = (parent.trace_id().unwrap(), parent.span_id().unwrap());
        let child = client
            .start_span(
                "child",
                trace_id,
                parent_id,
                SpanOptions::new().inputs(json!({"x": 1})),
            )
            .unwrap();
        assert_eq!(child.trace_id, trace_id);
        // A grandchild under the client span, by its ids.
        let grandchild = client
            .start_span("grandchild", trace_id, child.span_id, SpanOptions::new())
            .unwrap();
        client
            .end_span(trace_id, grandchild.span_id, EndOptions::new())
            .unwrap();
        client
            .end_span(trace_id, child.span_id, EndOptions::new().outputs(2))
            .unwrap();
        // Ending it again, or ending the trace through the client, is a typed error.
        assert!(matches!(
            client.end_span(trace_id, child.span_id, EndOptions::new()),
            Err(Error::InvalidSpan(_))
        ));
        assert!(get_trace(&trace_id).is_none(), "the root is still open");
        trace_id
    };
    for t in [get_trace(&trace_id).unwrap(), stored(&dir, &trace_id)] {
        assert_eq!(t.data.spans.len(), 3);
        let root = t.root().unwrap();
        let child = t.spans_named("child").next().unwrap();
        assert_eq!(child.parent_span_id, Some(root.span_id));
        assert_eq!(child.outputs(), Some(json!(2)));
        let grandchild = t.spans_named("grandchild").next().unwrap();
        assert_eq!(grandchild.parent_span_id, Some(child.span_id));
        assert_eq!(t.info.state, TraceState::Ok);
    }

    // Under a #[trace] function, with the ids from current_span().
    #[trace]
    fn handler() -> TraceId {
        let me = current_span().unwrap();
        let (t, s) = (me.trace_id().unwrap(), me.span_id().unwrap());
        let c = Client::new()
            .start_span("lookup", t, s, SpanOptions::new())
            .unwrap();
        Client::new()
            .end_span(t, c.span_id, EndOptions::new())
            .unwrap();
        t
    }
    let id = handler();
    let t = get_trace(&id).unwrap();
    assert_eq!(t.children(&t.root().unwrap().span_id)[0].name, "lookup");

    // Ids that name no live trace or span stay typed errors.
    let ended = TraceId::random();
    let err = client
        .start_span("x", ended, spanwise::SpanId::random(), SpanOptions::new())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidSpan(_)), "{err}");
    {
        let live = start_span("live");
        let err = client
            .start_span(
                "x",
                live.trace_id().unwrap(),
                spanwise::SpanId::random(),
                SpanOptions::new(),
            )
            .unwrap_err();
        assert!(matches!(err, Error::InvalidSpan(_)), "{err}");
    }
    // A span that has ended is no parent either.
    let err = client
        .start_span("x", id, t.root().unwrap().span_id, SpanOptions::new())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidSpan(_)), "{err}");
}

#[derive(Debug)]
struct ValueError;
impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Some error")
    }
}
impl std::error::Error for ValueError {}

/// `test_trace_with_generator` raising after two items: chunk events for the two, an exception
/// event, ERROR, and no outputs (`mlflow.traceOutputs` empty).
#[test]
fn a_stream_that_fails_is_a_generator_that_raised() {
    let (dir, _g) = setup("raising", Config::new());
    let items = [Ok(0), Ok(1), Err(ValueError)];
    let seen: Vec<_> = items
        .into_iter()
        .traced_results("stream", StreamOptions::new())
        .collect();
    assert!(seen[2].is_err(), "the consumer gets the error");
    let id = last_active_trace_id().unwrap();
    for t in [get_trace(&id).unwrap(), stored(&dir, &id)] {
        let root = t.root().unwrap();
        let names: Vec<&str> = root.events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["mlflow.chunk.item.0", "mlflow.chunk.item.1", "exception"]
        );
        assert_eq!(root.status.code, StatusCode::Error);
        assert_eq!(root.outputs(), None);
        assert_eq!(t.info.state, TraceState::Error);
        assert_eq!(t.info.trace_metadata["mlflow.traceOutputs"], "");
        assert_eq!(t.info.response_preview, None);
    }
}

/// The names of the spans of the last trace, in the model and in the store.
fn names_of_last(dir: &std::path::Path) -> [Vec<String>; 2] {
    let id = last_active_trace_id().unwrap();
    let names = |t: Trace| t.data.spans.into_iter().map(|s| s.name).collect();
    [names(get_trace(&id).unwrap()), names(stored(dir, &id))]
}

fn calculator_trace() {
    let _root = start_span("agent");
    drop(start_span("calculator"));
    drop(start_span("calculator"));
    drop(start_span("search"));
}

/// Duplicate names get `_1`, `_2` by default (MLflow's manual-tracing guide); the switch, in
/// `Config` or the environment, keeps them as given (MLflow 3.17).
#[test]
fn duplicate_name_suffixes_are_the_default_and_can_be_turned_off() {
    let suffixed = ["agent", "calculator_1", "calculator_2", "search"];
    let plain = ["agent", "calculator", "calculator", "search"];
    {
        let (dir, _g) = setup("suffixes-on", Config::new());
        calculator_trace();
        assert_eq!(names_of_last(&dir), [suffixed, suffixed]);
    }
    {
        let (dir, _g) = setup("suffixes-off", Config::new().span_name_suffixes(false));
        calculator_trace();
        assert_eq!(names_of_last(&dir), [plain, plain]);
    }
    let err = from_env_with("SPANWISE_SPAN_NAME_SUFFIXES", "sometimes").unwrap_err();
    assert!(
        err.to_string().contains("SPANWISE_SPAN_NAME_SUFFIXES"),
        "{err}"
    );
    let off = from_env_with("SPANWISE_SPAN_NAME_SUFFIXES", "off").unwrap();
    let (dir, _g) = setup("suffixes-env", off);
    calculator_trace();
    assert_eq!(names_of_last(&dir), [plain, plain]);
}
