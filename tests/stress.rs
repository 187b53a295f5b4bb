//! No loss, no mixing, under load: many threads, many tasks, one trace over many threads.
//!
//! Every span carries a `who` attribute naming the trace and depth it was made for; the checks
//! rebuild each trace from that and compare it with what the runtime assembled, in the
//! in-memory store, in a collecting destination and in the JSONL file.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spanwise::{
    CompletedTrace, Config, Destination, DestinationStats, FutureExt, Trace, TraceId, get_trace,
    init_with, read_jsonl, span, start_span,
};

/// Keeps the latest version of every trace it is given.
#[derive(Default)]
struct Collect(Mutex<HashMap<TraceId, Arc<Trace>>>);

impl Destination for Collect {
    fn name(&self) -> &str {
        "collect"
    }
    fn submit(&self, trace: CompletedTrace) {
        self.0
            .lock()
            .unwrap()
            .insert(trace.trace_id(), trace.trace());
    }
    fn flush(&self, _: Duration) -> bool {
        true
    }
    fn stats(&self) -> DestinationStats {
        DestinationStats::default()
    }
}

static SERIAL: Mutex<()> = Mutex::new(());

struct Setup {
    sink: Arc<Collect>,
    dir: std::path::PathBuf,
    _guard: spanwise::FlushGuard,
    _serial: std::sync::MutexGuard<'static, ()>,
}

fn setup(tag: &str, capacity: usize) -> Setup {
    let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = std::env::temp_dir().join(format!(
        "spanwise-stress-{tag}-{}-{}",
        std::process::id(),
        spanwise::now_unix_nanos()
    ));
    let sink = Arc::new(Collect::default());
    let guard = init_with(
        Config::new()
            .trace_dir(&dir)
            .memory_capacity(capacity)
            .add_destination(sink.clone()),
    )
    .unwrap();
    Setup {
        sink,
        dir,
        _guard: guard,
        _serial: serial,
    }
}

/// Checks one trace: a chain `root -> d1 -> ... -> d{depth-1}` of spans all tagged `key`.
fn check_chain(t: &Trace, key: &str, depth: usize) {
    assert_eq!(t.data.spans.len(), depth, "{key}: span count");
    let mut seen = HashSet::new();
    for s in &t.data.spans {
        assert!(seen.insert(s.span_id), "{key}: duplicate span");
        assert_eq!(s.trace_id, t.info.trace_id);
        let who = s.attribute("who").unwrap();
        let who = who.as_str().unwrap();
        let (k, d) = who.rsplit_once('/').unwrap();
        assert_eq!(k, key, "a span of another trace got mixed in");
        let d: usize = d.parse().unwrap();
        if d == 0 {
            assert_eq!(s.parent_span_id, None);
        } else {
            let p = t.span(&s.parent_span_id.unwrap()).unwrap();
            assert_eq!(p.attribute("who").unwrap(), format!("{key}/{}", d - 1));
        }
    }
}

fn nest(key: &str, depth: usize, d: usize) {
    if d == depth {
        return;
    }
    let s = start_span(format!("level-{d}"));
    s.set_attribute("who", format!("{key}/{d}"));
    nest(key, depth, d + 1);
}

#[test]
fn eight_threads_times_2000_traces_of_10_nested_spans() {
    const THREADS: usize = 8;
    const TRACES: usize = 2000;
    const DEPTH: usize = 10;
    let setup = setup("threads", THREADS * TRACES);
    let ids: Vec<Vec<(String, TraceId)>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    (0..TRACES)
                        .map(|i| {
                            let key = format!("t{t}-{i}");
                            nest(&key, DEPTH, 0);
                            (key, spanwise::last_active_trace_id().unwrap())
                        })
                        .collect()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(spanwise::flush());
    let all: Vec<(String, TraceId)> = ids.into_iter().flatten().collect();
    assert_eq!(all.len(), THREADS * TRACES);
    let distinct: HashSet<_> = all.iter().map(|(_, id)| *id).collect();
    assert_eq!(distinct.len(), all.len(), "every trace has its own id");

    let sink = setup.sink.0.lock().unwrap();
    assert_eq!(sink.len(), all.len());
    for (key, id) in &all {
        check_chain(&get_trace(id).unwrap(), key, DEPTH);
        check_chain(&sink[id], key, DEPTH);
    }
    drop(sink);
    let file = read_jsonl(setup.dir.join("traces.jsonl")).unwrap();
    assert!(file.problems.is_empty());
    assert_eq!(file.traces.len(), all.len());
    let by_id: HashMap<TraceId, &Trace> =
        file.traces.iter().map(|t| (t.info.trace_id, t)).collect();
    for (key, id) in &all {
        check_chain(by_id[id], key, DEPTH);
    }
    let _ = std::fs::remove_dir_all(&setup.dir);
}

async fn nest_async(key: String, depth: usize, d: usize) {
    if d == depth {
        return;
    }
    let who = format!("{key}/{d}");
    async move {
        if d % 2 == 0 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Box::pin(nest_async(key, depth, d + 1)).await;
        tokio::task::yield_now().await;
    }
    .in_span(span(format!("level-{d}")).attribute("who", who))
    .await
}

#[test]
fn a_thousand_concurrent_tokio_tasks_each_with_a_nested_trace() {
    const TASKS: usize = 1000;
    const DEPTH: usize = 6;
    let setup = setup("tokio", TASKS);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let results: Vec<(String, TraceId)> = rt.block_on(async {
        let hs: Vec<_> = (0..TASKS)
            .map(|i| {
                tokio::spawn(async move {
                    let key = format!("task{i}");
                    let (tx, rx) = std::sync::mpsc::channel();
                    let k = key.clone();
                    async move {
                        tx.send(spanwise::current_trace_id().unwrap()).unwrap();
                        Box::pin(nest_async(k, DEPTH, 1)).await;
                    }
                    .in_span(span("level-0").attribute("who", format!("{key}/0")))
                    .await;
                    (key, rx.recv().unwrap())
                })
            })
            .collect();
        let mut out = Vec::new();
        for h in hs {
            out.push(h.await.unwrap());
        }
        out
    });
    assert!(spanwise::flush());
    let sink = setup.sink.0.lock().unwrap();
    assert_eq!(sink.len(), TASKS);
    for (key, id) in &results {
        check_chain(&get_trace(id).unwrap(), key, DEPTH);
        check_chain(&sink[id], key, DEPTH);
    }
    drop(sink);
    let file = read_jsonl(setup.dir.join("traces.jsonl")).unwrap();
    assert!(file.problems.is_empty());
    let by_id: HashMap<TraceId, &Trace> =
        file.traces.iter().map(|t| (t.info.trace_id, t)).collect();
    assert_eq!(by_id.len(), TASKS);
    for (key, id) in &results {
        check_chain(by_id[id], key, DEPTH);
    }
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[test]
fn one_trace_spread_over_eight_threads() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 200;
    let setup = setup("spread", 100);
    let id = {
        let root = start_span("root");
        spanwise::thread::scope(|s| {
            for t in 0..THREADS {
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        let c = start_span("child");
                        c.set_attribute("who", format!("{t}-{i}"));
                        let g = start_span("grandchild");
                        g.set_attribute("who", format!("{t}-{i}"));
                    }
                });
            }
        });
        root.trace_id().unwrap()
    };
    assert!(spanwise::flush());
    let check = |t: &Trace| {
        assert_eq!(t.data.spans.len(), 1 + THREADS * PER_THREAD * 2);
        let root = t.root().unwrap();
        let mut whos = HashSet::new();
        for s in &t.data.spans {
            if s.span_id == root.span_id {
                continue;
            }
            let parent = t.span(&s.parent_span_id.unwrap()).unwrap();
            let who = s.attribute("who").unwrap();
            if s.name.starts_with("grandchild") {
                assert!(parent.name.starts_with("child"));
                assert_eq!(parent.attribute("who").unwrap(), who);
            } else {
                assert_eq!(parent.span_id, root.span_id);
                assert!(whos.insert(who), "each child once");
            }
        }
        assert_eq!(whos.len(), THREADS * PER_THREAD);
    };
    check(&get_trace(&id).unwrap());
    check(&setup.sink.0.lock().unwrap()[&id]);
    let file = read_jsonl(setup.dir.join("traces.jsonl")).unwrap();
    assert_eq!(file.traces.len(), 1);
    check(&file.traces[0]);
    let _ = std::fs::remove_dir_all(&setup.dir);
}
