//! `spanwise tail` follows the store: lines appended while it runs are printed as they land,
//! a line written in two pieces waits for its end, and the filter applies.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::fixture_lines;

/// The longest the test waits for the CLI before failing (a bound, not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(60);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prints_traces_appended_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.jsonl");
    let lines = fixture_lines(); // async, caught_error, chat, context_manager, nested, root_error, ...
    std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[1])).unwrap();

    let bin = assert_cmd::cargo::cargo_bin("spanwise");
    let child = std::process::Command::new(bin)
        .env("NO_COLOR", "1")
        .arg("--dir")
        .arg(dir.path())
        .args([
            "tail",
            "-n",
            "1",
            "--count",
            "2",
            "--interval",
            "10ms",
            "--filter",
            "state = OK",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Killed(child);

    // Wait until it has read the existing lines and follows the file.
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let ready = rx
        .recv_timeout(PATIENCE)
        .expect("tail announces that it follows the file");
    assert!(ready.starts_with("following "), "{ready}");

    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    // An ERROR trace: filtered out.
    writeln!(file, "{}", lines[5]).unwrap();
    // A trace in two writes, as a writer cut short between them would leave it.
    let (head, rest) = lines[2].split_at(100);
    file.write_all(head.as_bytes()).unwrap();
    file.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    writeln!(file, "{rest}").unwrap();
    writeln!(file, "not json").unwrap();
    writeln!(file, "{}", lines[4]).unwrap();
    file.flush().unwrap();

    // --count 2: it stops by itself after two new traces.
    let (done_tx, done_rx) = mpsc::channel();
    let mut stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        let _ = done_tx.send(out);
    });
    let out = done_rx
        .recv_timeout(PATIENCE)
        .expect("tail stops after --count traces");
    let status = child.0.wait().unwrap();
    assert!(status.success());

    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows.len(),
        4,
        "the header, the last existing trace, two new traces:\n{out}"
    );
    assert!(rows[0].starts_with("TIME (UTC)"));
    assert!(
        rows[1].contains(" outer "),
        "-n 1 shows the last existing match first: {out}"
    );
    assert!(rows[2].contains(" chat "), "{out}");
    assert!(rows[3].contains(" Trace Test "), "{out}");
    assert!(!out.contains(" fails "), "the ERROR trace is filtered out");

    let warning = rx.recv_timeout(PATIENCE).unwrap();
    assert!(
        warning.contains("traces.jsonl:5: skipped a line that is not a trace"),
        "{warning}"
    );
}

#[test]
fn waits_for_a_store_that_does_not_exist_yet() {
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("spanwise");
    let child = std::process::Command::new(bin)
        .arg("--dir")
        .arg(dir.path())
        .args(["tail", "--count", "1", "--interval", "10ms", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("waiting for "), "{line}");

    let lines = fixture_lines();
    std::fs::write(dir.path().join("traces.jsonl"), "").unwrap();
    line.clear();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("following "), "{line}");
    std::fs::write(dir.path().join("traces.jsonl"), format!("{}\n", lines[4])).unwrap();

    let mut out = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.0.wait().unwrap().success());
    let t = spanwise_core::Trace::from_json(out.trim()).unwrap();
    assert_eq!(t.name(), Some("Trace Test"));
}
