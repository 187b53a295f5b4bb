//! The fixed test store and expected-output checks shared by the CLI tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// MLflow 3.17.2's own traces, kept beside the repository in `shared/`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mlflow-3.17.2")
}

/// Traces recorded by spanwise (see `recorded.rs`, `regenerate_recorded_fixture`).
pub fn recorded_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/recorded.jsonl")
}

/// One compact JSON line per MLflow fixture, in file-name order.
pub fn fixture_lines() -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures/mlflow-3.17.2 in the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            v.to_string()
        })
        .collect()
}

/// A store directory holding the MLflow fixtures and the spanwise-recorded traces.
pub fn fixed_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut text = fixture_lines().join("\n");
    text.push('\n');
    text.push_str(&std::fs::read_to_string(recorded_file()).unwrap());
    std::fs::write(dir.path().join("traces.jsonl"), text).unwrap();
    dir
}

/// The `spanwise` binary with a clean environment: no colors, no inherited store.
pub fn spanwise(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("spanwise").unwrap();
    cmd.env_remove("SPANWISE_TRACE_DIR")
        .env_remove("MLFLOW_TRACKING_URI")
        .env("NO_COLOR", "1")
        .arg("--dir")
        .arg(dir);
    cmd
}

/// Compares `actual` with `tests/expected/<name>`; `SPANWISE_BLESS=1` rewrites the file instead.
pub fn assert_expected(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name);
    if std::env::var_os("SPANWISE_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with SPANWISE_BLESS=1", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "output differs from {} at line {}\n--- expected\n{expected}\n--- actual\n{actual}\n\
             (SPANWISE_BLESS=1 rewrites the expected file)",
            path.display(),
            first + 1
        );
    }
}

/// Runs the command, expects success, returns stdout.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "failed with {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
