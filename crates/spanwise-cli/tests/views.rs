//! Expected output of `list`, `show` and `stats` on the fixed store: MLflow 3.17.2's fixtures plus
//! the traces spanwise recorded (`tests/data/recorded.jsonl`). `SPANWISE_BLESS=1` rewrites them.

mod common;

use common::{assert_expected, fixed_store, spanwise, stdout_of};

fn check(name: &str, args: &[&str]) {
    let store = fixed_store();
    let out = stdout_of(spanwise(store.path()).args(args));
    assert_expected(name, &out);
}

fn assert_fits_80_columns(text: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "wider than 80 columns: {line:?}"
        );
    }
}

#[test]
fn list() {
    check("list.txt", &["list"]);
}

#[test]
fn list_alias_filter_and_limit() {
    check("list_errors.txt", &["ls", "--filter", "state = ERROR"]);
    check("list_limit.txt", &["ls", "-n", "2"]);
    check(
        "list_filter_and.txt",
        &[
            "ls",
            "--filter",
            "span.type = TOOL and duration > 1ms and tag.fruit = banana",
        ],
    );
}

#[test]
fn list_wide_and_ascii() {
    check("list_wide_ascii.txt", &["list", "--wide", "--ascii"]);
}

#[test]
fn show_nested() {
    check("show_nested.txt", &["show", "8069a0"]);
}

#[test]
fn show_merged_agent_trace() {
    // Written in two lines (root part, children part): shown as one trace of 6 spans.
    check(
        "show_agent.txt",
        &["show", "tr-fc243c2df8c69b4a15ab440e20ebb943"],
    );
    check("show_agent_ascii.txt", &["show", "fc243c2d", "--ascii"]);
}

#[test]
fn show_errors_streams_attrs_full() {
    check("show_root_error.txt", &["show", "3891"]);
    check("show_caught_error_full.txt", &["show", "edeff4", "--full"]);
    check("show_stream.txt", &["show", "1ae2"]);
    check("show_attrs.txt", &["show", "fab5", "--attrs"]);
    check("show_last.txt", &["show", "last"]);
}

#[test]
fn stats() {
    check("stats.txt", &["stats"]);
    check("stats_agent.txt", &["stats", "--filter", "name = agent"]);
    check("stats.json", &["stats", "--json"]);
}

#[test]
fn rows_fit_80_columns_unless_wide() {
    let store = fixed_store();
    for args in [
        vec!["list"],
        vec!["stats"],
        vec!["show", "fc243c2d"],
        vec!["show", "f5b2"],
        vec!["show", "8069"],
    ] {
        assert_fits_80_columns(&stdout_of(spanwise(store.path()).args(&args)));
    }
    let wide = stdout_of(spanwise(store.path()).args(["show", "fc243c2d", "--wide"]));
    assert!(wide.lines().any(|l| l.chars().count() > 80));
    assert!(
        wide.contains("What is the weather in Paris?\"}]}"),
        "{wide}"
    );
}

#[test]
fn colors_only_when_asked_or_on_a_terminal() {
    let store = fixed_store();
    let piped = stdout_of(spanwise(store.path()).args(["list"]));
    assert!(!piped.contains('\x1b'), "no colors when piped");
    let forced = stdout_of(spanwise(store.path()).args(["list", "--color", "always"]));
    assert!(forced.contains("\x1b[31mERROR"), "errors in red: {forced}");
    let never = stdout_of(spanwise(store.path()).args(["show", "3891", "--color", "never"]));
    assert!(!never.contains('\x1b'));
}
