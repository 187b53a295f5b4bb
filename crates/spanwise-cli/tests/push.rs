//! `spanwise push` against a real MLflow 3.17.2 server (from `.venv-mlflow`, or
//! `SPANWISE_MLFLOW_VENV`): the fixed store arrives whole, and pushing again adds nothing.
//! Without a venv the server test is skipped, unless `SPANWISE_REQUIRE_MLFLOW=1`.

mod common;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixed_store, spanwise};
use spanwise_core::TraceId;
use spanwise_otlp::{Experiment, MlflowClient};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn venv() -> Option<PathBuf> {
    let dir = std::env::var_os("SPANWISE_MLFLOW_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv-mlflow"))
        });
    dir.join("bin/mlflow").is_file().then_some(dir)
}

/// The server and its workers, in a process group of their own, ended together on drop.
struct Server {
    child: Child,
    uri: String,
    _db: tempfile::TempDir,
}

impl Server {
    fn start(venv: &std::path::Path) -> Server {
        let db = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(venv.join("bin/mlflow"))
            .args([
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--workers",
                "1",
            ])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}/mlflow.db", db.path().display()))
            // No job runner and its worker processes: faster startup, fewer processes to end.
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let server = Server {
            child,
            uri: format!("http://127.0.0.1:{port}"),
            _db: db,
        };
        // Startup takes seconds to a minute on a busy machine: a generous bound.
        let deadline = Instant::now() + Duration::from_secs(240);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the MLflow server did not start");
            std::thread::sleep(Duration::from_millis(500));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        // Bounded: a server that ignores TERM is killed.
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

#[test]
fn push_twice_to_a_real_server_does_not_duplicate() {
    let Some(venv) = venv() else {
        assert!(
            std::env::var_os("SPANWISE_REQUIRE_MLFLOW").is_none_or(|v| v != "1"),
            "SPANWISE_REQUIRE_MLFLOW=1 but no MLflow venv was found"
        );
        eprintln!("skipped: no .venv-mlflow (run .ci/setup-mlflow.sh) and no SPANWISE_MLFLOW_VENV");
        return;
    };
    let server = Server::start(&venv);
    let store = fixed_store();
    let push = |extra: &[&str]| {
        let out = spanwise(store.path())
            .args([
                "push",
                "--mlflow",
                &server.uri,
                "--experiment",
                "spanwise-cli-push",
            ])
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };

    // The errors first, then everything: the second push skips what the first sent.
    let first = push(&["--filter", "state = ERROR"]);
    assert!(
        first.starts_with("pushed 2 traces to experiment "),
        "{first}"
    );
    let all = push(&[]);
    assert!(all.starts_with("pushed 10 traces"), "{all}");
    assert!(all.contains("; 2 already there, skipped"), "{all}");
    let again = push(&[]);
    assert!(again.starts_with("pushed 0 traces"), "{again}");
    assert!(again.contains("12 already there"), "{again}");

    let client = MlflowClient::new(&server.uri, Experiment::name("spanwise-cli-push")).unwrap();
    let infos = client.search_traces("", 100).unwrap();
    assert_eq!(infos.len(), 12, "one copy of each trace");

    // The agent trace, stored in two lines, arrives as one trace with all six spans.
    let agent: TraceId = "tr-fc243c2df8c69b4a15ab440e20ebb943".parse().unwrap();
    let got = client.get_trace(&agent).unwrap();
    let spans = got["trace"]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 6, "{got}");
    let info = &got["trace"]["trace_info"];
    assert_eq!(info["tags"]["fruit"], "banana", "{info}");
    assert_eq!(
        info["request_preview"], "What is the weather in Paris?",
        "{info}"
    );
}

#[test]
fn unreachable_server_is_a_user_error() {
    let store = fixed_store();
    let uri = format!("http://127.0.0.1:{}", free_port());
    let out = spanwise(store.path())
        .args([
            "push",
            "--mlflow",
            &uri,
            "--experiment",
            "1",
            "--retry-for",
            "1s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(&uri), "names the server: {stderr}");
}

#[test]
fn bad_uri_is_a_usage_error_and_nothing_to_push_is_fine() {
    let store = fixed_store();
    let out = spanwise(store.path())
        .args(["push", "--mlflow", "databricks", "--experiment", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // A filter that picks nothing needs no server at all.
    let out = spanwise(store.path())
        .args([
            "push",
            "--mlflow",
            "http://127.0.0.1:9",
            "--experiment",
            "1",
            "-f",
            "name = nothing",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "no traces to push\n"
    );
}
