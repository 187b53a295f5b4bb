//! Shared by the integration tests: finding the MLflow venv, starting a real `mlflow server` on
//! 127.0.0.1, and building traces.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The MLflow venv, or why there is none. With `SPANWISE_REQUIRE_MLFLOW=1` a missing venv fails
/// the test instead of skipping it.
pub fn mlflow_venv(test: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = std::env::var_os("SPANWISE_MLFLOW_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv-mlflow"));
    if venv.join("bin/mlflow").exists() {
        return Some(venv);
    }
    let why = format!(
        "{test}: skipped: no MLflow at {} (run `bash .ci/setup-mlflow.sh` or set SPANWISE_MLFLOW_VENV)",
        venv.display()
    );
    if std::env::var("SPANWISE_REQUIRE_MLFLOW").is_ok_and(|v| v == "1") {
        panic!("{why}, and SPANWISE_REQUIRE_MLFLOW=1 requires it");
    }
    eprintln!("{why}");
    None
}

/// A free port on 127.0.0.1 (released, so a server can take it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `mlflow server`; stopped (with its workers) when dropped or when the test process
/// ends, whichever comes first.
pub struct MlflowServer {
    pub url: String,
    pub dir: PathBuf,
    keeper: Child,
}

impl MlflowServer {
    /// Starts a server on `port` with a fresh sqlite store, without waiting for it.
    pub fn spawn(venv: &Path, port: u16) -> MlflowServer {
        let dir =
            std::env::temp_dir().join(format!("spanwise-mlflow-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The keeper shell starts the server in its own process group; on a `restart` line it
        // kills the group and starts it again on the same store; when our end of its stdin
        // closes (this process ended or dropped it), it stops the whole group and removes the
        // server's directory (the log is read, when needed, while the test runs).
        let script = format!(
            "start() {{ MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid {mlflow} server --host 127.0.0.1 --port {port} \
             --backend-store-uri sqlite:///{dir}/mlflow.db \
             --default-artifact-root {dir}/artifacts --workers 1 \
             >>{dir}/server.log 2>&1 & pid=$!; }}; \
             stop() {{ kill -KILL -$pid 2>/dev/null; wait $pid 2>/dev/null; }}; \
             start; while read cmd && [ \"$cmd\" = restart ]; do stop; start; done; \
             kill -TERM -$pid 2>/dev/null; sleep 1; stop; wait; rm -rf {dir}",
            mlflow = venv.join("bin/mlflow").display(),
            dir = dir.display(),
        );
        let keeper = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh runs");
        MlflowServer {
            url: format!("http://127.0.0.1:{port}"),
            dir,
            keeper,
        }
    }

    /// Starts a server and waits until it answers (up to 3 minutes: a cold start of MLflow on a
    /// busy 2-core machine is slow).
    pub fn start(venv: &Path) -> MlflowServer {
        let server = MlflowServer::spawn(venv, free_port());
        server.wait_ready(Duration::from_secs(180));
        server
    }

    /// Kills the server (SIGKILL, as a crash) and starts it again on the same store and port,
    /// without waiting for it to answer.
    pub fn restart(&mut self) {
        let stdin = self.keeper.stdin.as_mut().expect("the keeper runs");
        stdin.write_all(b"restart\n").unwrap();
        stdin.flush().unwrap();
    }

    pub fn wait_ready(&self, bound: Duration) {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .new_agent();
        let start = Instant::now();
        while start.elapsed() < bound {
            if agent.get(format!("{}/health", self.url)).call().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        panic!("mlflow server did not answer within {bound:?}; its log:\n{log}");
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.keeper.stdin.take() {
            let _ = stdin.write_all(b"stop\n");
        }
        let _ = self.keeper.wait();
    }
}

/// Runs `python` from the venv with `script`, returning stdout; panics with stderr on failure.
pub fn python(venv: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spanwise-otlp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A trace built by hand (no runtime): a root and `children` child spans, with inputs and
/// outputs, in a new trace.
pub fn make_trace(name: &str, children: usize) -> spanwise_core::Trace {
    use spanwise_core::{Span, SpanId, SpanStatus, TraceId, keys};
    let tid = TraceId::random();
    let start = spanwise_core::now_unix_nanos();
    let mut root = Span::new(tid, SpanId::random(), None, name, start);
    root.end_time_unix_nano = Some(start + 1_000_000);
    root.status = SpanStatus::ok();
    root.attributes
        .insert(keys::SPAN_INPUTS.into(), r#"{"n":1}"#.into());
    root.attributes
        .insert(keys::SPAN_OUTPUTS.into(), "2".into());
    root.attributes
        .insert(keys::TRACE_REQUEST_ID.into(), format!("\"{tid}\""));
    let mut spans = vec![root.clone()];
    for i in 0..children {
        let mut c = Span::new(
            tid,
            SpanId::random(),
            Some(root.span_id),
            format!("step_{i}"),
            start + 10,
        );
        c.end_time_unix_nano = Some(start + 20);
        c.status = SpanStatus::ok();
        c.attributes
            .insert(keys::SPAN_INPUTS.into(), format!(r#"{{"i":{i}}}"#));
        spans.push(c);
    }
    let info = serde_json::json!({
        "trace_id": tid.to_string(),
        "request_time": "2026-01-01T00:00:00.000Z",
        "state": "OK",
        "tags": {"mlflow.traceName": name},
        "execution_duration_ms": 1,
    });
    spanwise_core::Trace {
        info: serde_json::from_value(info).unwrap(),
        data: spanwise_core::TraceData { spans },
    }
}

/// One request as a stand-in server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a stand-in answers: status, extra headers, body.
pub type Answer = (u16, Vec<(String, String)>, String);

/// A tiny HTTP server on 127.0.0.1 that answers each request with `respond(index, request)`
/// (which may block, to hold a request in flight) and records what it saw. One request per
/// connection (`Connection: close`).
pub struct StandIn {
    pub url: String,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl StandIn {
    pub fn start(mut respond: impl FnMut(usize, &Seen) -> Answer + Send + 'static) -> StandIn {
        use std::io::{BufRead, BufReader, Read};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Seen>::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_string();
                let path = parts.next().unwrap_or_default().to_string();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let req = Seen {
                    method,
                    path,
                    headers,
                    body,
                };
                log.lock().unwrap().push(req.clone());
                let (status, extra, text) = respond(i, &req);
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    text.len()
                );
                for (k, v) in extra {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(text.as_bytes());
            }
        });
        StandIn { url, seen }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// An OTLP `AnyValue` as MLflow's REST API returns it (`{"string_value": …}`, …), as plain JSON.
pub fn plain(any: &serde_json::Value) -> serde_json::Value {
    let Some((kind, v)) = any.as_object().and_then(|o| o.iter().next()) else {
        return serde_json::Value::Null;
    };
    match kind.as_str() {
        "int_value" => match v {
            serde_json::Value::String(s) => serde_json::json!(s.parse::<i64>().unwrap()),
            other => other.clone(),
        },
        "array_value" => serde_json::Value::Array(
            v["values"]
                .as_array()
                .map(|a| a.iter().map(plain).collect())
                .unwrap_or_default(),
        ),
        "kvlist_value" => serde_json::Value::Object(
            v["values"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|kv| (kv["key"].as_str().unwrap().to_string(), plain(&kv["value"])))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => v.clone(),
    }
}
