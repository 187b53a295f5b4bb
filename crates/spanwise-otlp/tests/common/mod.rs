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
        // The keeper shell starts the server in its own process group and, when our end of its
        // stdin closes (this process ended or dropped it), stops the whole group.
        let script = format!(
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid {mlflow} server --host 127.0.0.1 --port {port} \
             --backend-store-uri sqlite:///{dir}/mlflow.db \
             --default-artifact-root {dir}/artifacts --workers 1 \
             >{dir}/server.log 2>&1 & pid=$!; read _; kill -TERM -$pid 2>/dev/null; \
             sleep 1; kill -KILL -$pid 2>/dev/null; wait",
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
