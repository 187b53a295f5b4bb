//! Plain `spanwise::init()` in a program built with the `otlp` feature sends its traces where
//! MLflow's own variables say, with nothing else in the environment, and says so on stderr.
//!
//! The program is this test binary itself, run again as a child process with a cleared
//! environment and the ignored test `child` selected.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use spanwise_otlp::MlflowClient;

/// The child: traces one request through plain `spanwise::init()`. Run only by the tests
/// below (ignored in a normal run).
#[test]
#[ignore = "run as a child process by the tests of this file"]
fn child() {
    match spanwise::init() {
        Ok(guard) => {
            {
                let root = spanwise::start_span("from-env");
                root.set_inputs(serde_json::json!({"question": "where do traces go?"}));
                let _step = spanwise::start_span("step");
                root.set_outputs("to MLflow");
            }
            drop(guard); // waits for the exporter
            println!("child: traced");
        }
        Err(e) => println!("child: init failed: {e}"),
    }
}

/// Runs [`child`] in `dir` with exactly the variables `vars`.
fn run_child(dir: &Path, vars: &[(&str, &str)]) -> Output {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .envs(vars.iter().copied())
        .current_dir(dir)
        .output()
        .expect("the test binary runs again");
    assert!(out.status.success(), "child failed: {out:?}");
    out
}

#[test]
fn plain_init_exports_to_the_server_that_mlflow_variables_name() {
    let Some(venv) = common::mlflow_venv("plain_init_exports_to_the_server") else {
        return;
    };
    let server = common::MlflowServer::start(&venv);
    let dir = common::temp_dir("init-env");
    let out = run_child(
        &dir,
        &[
            ("MLFLOW_TRACKING_URI", server.url.as_str()),
            ("MLFLOW_EXPERIMENT_NAME", "from-env"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("child: traced"), "{stdout}");
    let announcement = format!(
        "spanwise: exporting to MLflow at {}, experiment from-env\n",
        server.url
    );
    assert_eq!(
        stderr.matches(&announcement).count(),
        1,
        "said once where traces go: {stderr}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");

    // The trace is on the server, in the experiment named by the environment, with its spans.
    let client = MlflowClient::new(&server.url, "from-env").unwrap();
    let found = client.search_traces("", 10).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let info = &found[0];
    assert_eq!(info["tags"]["mlflow.traceName"], "from-env", "{info}");
    let id = info["trace_id"].as_str().unwrap();
    let trace = client.get_trace(&id.parse().unwrap()).unwrap();
    let spans = trace["trace"]["spans"].as_array().unwrap();
    let mut names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["from-env", "step"]);
    // And it was stored locally too, in the default store under the working directory.
    let local = std::fs::read_to_string(dir.join("spanwise-traces/traces.jsonl")).unwrap();
    assert!(local.contains(id), "{local}");

    // SPANWISE_LOG=off silences the announcement; the trace still goes to the server.
    let out = run_child(
        &dir,
        &[
            ("MLFLOW_TRACKING_URI", server.url.as_str()),
            ("MLFLOW_EXPERIMENT_NAME", "from-env"),
            ("SPANWISE_LOG", "off"),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(client.search_traces("", 10).unwrap().len(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_mlflow_variable_is_an_error_from_init_naming_it() {
    let dir = common::temp_dir("init-env-bad");
    let out = run_child(&dir, &[("MLFLOW_TRACKING_URI", "localhost:5000")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("child: init failed:"), "{stdout}");
    assert!(stdout.contains("MLFLOW_TRACKING_URI"), "{stdout}");
    // Nothing was exported or announced.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("exporting to"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn no_announcement_without_exporters() {
    let dir = common::temp_dir("init-env-quiet");
    let out = run_child(&dir, &[("SPANWISE_DESTINATION", "none")]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("child: traced"));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    std::fs::remove_dir_all(&dir).ok();
}
