//! Bad input: a clear message, the right exit code (1 user error, 2 usage error), never a panic.

mod common;

use common::{fixed_store, fixture_lines, spanwise};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &std::path::Path, args: &[&str]) -> Run {
    let out = spanwise(dir).args(args).output().unwrap();
    let run = Run {
        code: out.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

#[test]
fn missing_store_is_a_user_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    for args in [
        &["list"][..],
        &["show", "last"],
        &["stats"],
        &["ls", "--json"],
    ] {
        let r = run(&missing, args);
        assert_eq!(r.code, 1, "{args:?}");
        assert!(
            r.stderr.starts_with("error: no trace store at "),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("nowhere/traces.jsonl"), "{}", r.stderr);
        assert!(r.stderr.contains("SPANWISE_TRACE_DIR"), "{}", r.stderr);
    }
}

#[test]
fn store_directory_comes_from_the_environment() {
    let store = fixed_store();
    let out = assert_cmd::Command::cargo_bin("spanwise")
        .unwrap()
        .env("SPANWISE_TRACE_DIR", store.path())
        .args(["show", "8069a0", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("tr-8069a0265eec15a1d9bbfa62bf64cbf6"));
}

#[test]
fn corrupt_and_torn_lines_are_reported_and_the_rest_shown() {
    let dir = tempfile::tempdir().unwrap();
    let lines = fixture_lines();
    let text = format!(
        "{}\nthis is not json\n{}\n{{\"info\": {{\"trace_id\": \"tr-0\"}}}}\n\n{}",
        lines[0],
        lines[1],
        &lines[2][..lines[2].len() / 2]
    );
    std::fs::write(dir.path().join("traces.jsonl"), text).unwrap();
    let r = run(dir.path(), &["list"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.lines().count(),
        3,
        "header and two traces:\n{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(" aio ") && r.stdout.contains(" outer "),
        "{}",
        r.stdout
    );
    let file = dir.path().join("traces.jsonl").display().to_string();
    let warnings: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(warnings.len(), 3, "{}", r.stderr);
    assert!(warnings[0].starts_with(&format!(
        "warning: {file}:2: skipped a line that is not a trace"
    )));
    assert!(warnings[1].starts_with(&format!("warning: {file}:4: skipped a line")));
    assert!(warnings[2].starts_with(&format!("warning: {file}:6: skipped a torn last line")));

    // The other commands show the rest too.
    assert_eq!(run(dir.path(), &["show", "7fae"]).code, 0);
    let stats = run(dir.path(), &["stats"]);
    assert!(stats.stdout.starts_with("2 traces"), "{}", stats.stdout);
    assert_eq!(stats.stderr.lines().count(), 3);
}

#[test]
fn unknown_and_malformed_ids() {
    let store = fixed_store();
    let r = run(store.path(), &["show", "abcdef"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "error: no trace with id abcdef; `spanwise list` shows the ids\n"
    );

    let r = run(
        store.path(),
        &["show", "tr-8069a0265eec15a1d9bbfa62bf64cbf0"],
    );
    assert_eq!(r.code, 1);

    let r = run(store.path(), &["show", "not-an-id"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("\"not-an-id\" is not a trace id"),
        "{}",
        r.stderr
    );
}

#[test]
fn ambiguous_prefix_lists_the_candidates() {
    let store = fixed_store();
    // tr-7fae3991… (aio) and tr-7974edb6… (chat) share "7".
    let r = run(store.path(), &["show", "7"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("error: 7 is ambiguous: 2 traces start with it"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("\n  tr-7fae3991afe6be85327f8e2b29865f4d  2026-11-22 01:46:30.071 UTC  aio")
    );
    assert!(
        r.stderr
            .contains("\n  tr-7974edb6a5dd2c013650ab4c1ed122ea  2026-11-22 01:46:27.993 UTC  chat")
    );
    // Upper case and the tr- prefix are accepted.
    assert_eq!(run(store.path(), &["show", "TR-7FAE"]).code, 0);
}

#[test]
fn empty_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("traces.jsonl"), "").unwrap();
    let r = run(dir.path(), &["list"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "", "no traces\n")
    );
    let r = run(dir.path(), &["show", "last"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("holds no traces"));
    let r = run(dir.path(), &["stats"]);
    assert_eq!(r.stdout, "0 traces (none), 0 spans\n");
}

#[test]
fn invalid_filter_is_a_usage_error_with_its_position() {
    let store = fixed_store();
    for cmd in ["list", "stats", "tail"] {
        let r = run(store.path(), &[cmd, "--filter", "state = DONE"]);
        assert_eq!(r.code, 2, "{cmd}");
        assert_eq!(
            r.stderr,
            "error: invalid filter at column 9: unknown state \"DONE\": use OK, ERROR, \
             IN_PROGRESS or STATE_UNSPECIFIED\n  state = DONE\n          ^\n"
        );
    }
    // Checked before the store is read: the position matters more than a missing store.
    let r = run(
        &store.path().join("missing"),
        &["list", "--filter", "name ~~ x"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("column 7"), "{}", r.stderr);
}

#[test]
fn usage_errors_exit_2() {
    let store = fixed_store();
    for args in [
        &["show"][..],
        &["frobnicate"],
        &["list", "--limit", "many"],
        &["show", "last", "--json", "--full"],
        &["tail", "--interval", "0ms"],
        &["push", "--experiment", "1"],
    ] {
        let r = run(store.path(), args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    }
}

#[test]
fn every_command_has_help_with_examples() {
    let store = fixed_store();
    for cmd in ["list", "ls", "show", "tail", "stats", "push"] {
        let r = run(store.path(), &[cmd, "--help"]);
        assert_eq!(r.code, 0, "{cmd}");
        assert!(
            r.stdout.contains("Examples:\n  spanwise "),
            "{cmd}: {}",
            r.stdout
        );
    }
    let r = run(store.path(), &["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Exit codes:"));
    let r = run(store.path(), &["list", "--help"]);
    assert!(
        r.stdout.contains("span.type = LLM"),
        "the filter language is documented"
    );
}
