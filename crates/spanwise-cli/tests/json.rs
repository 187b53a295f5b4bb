//! `--json` output is MLflow's trace JSON and reads back to the same traces.

mod common;

use common::{fixed_store, fixtures_dir, spanwise, stdout_of};
use spanwise_core::Trace;

fn stored(dir: &std::path::Path) -> Vec<Trace> {
    spanwise_core::read_jsonl(dir.join("traces.jsonl"))
        .unwrap()
        .traces
}

#[test]
fn list_json_round_trips() {
    let store = fixed_store();
    let original = stored(store.path());
    let out = stdout_of(spanwise(store.path()).args(["list", "--json"]));
    let listed: Vec<Trace> = out.lines().map(|l| Trace::from_json(l).unwrap()).collect();
    assert_eq!(listed.len(), original.len());
    for t in &original {
        let back = listed
            .iter()
            .find(|l| l.info.trace_id == t.info.trace_id)
            .unwrap();
        assert_eq!(back, t, "{}", t.info.trace_id);
    }
    // Newest first, like the table.
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].info.request_time >= w[1].info.request_time)
    );
    // Merged: the agent trace written in two lines is one line of 6 spans.
    let agent = listed
        .iter()
        .find(|t| t.info.trace_id.to_hex().starts_with("fc243c2d"))
        .unwrap();
    assert_eq!(agent.data.spans.len(), 6);

    // The JSON lines are themselves a store the CLI reads the same way.
    let copy = tempfile::tempdir().unwrap();
    std::fs::write(copy.path().join("traces.jsonl"), &out).unwrap();
    assert_eq!(
        stdout_of(spanwise(copy.path()).arg("list")),
        stdout_of(spanwise(store.path()).arg("list"))
    );
}

#[test]
fn list_json_respects_filter_and_limit() {
    let store = fixed_store();
    let out =
        stdout_of(spanwise(store.path()).args(["ls", "--json", "-f", "state = ERROR", "-n", "1"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1);
    let t = Trace::from_json(lines[0]).unwrap();
    assert_eq!(t.name(), Some("agent"));
    assert_eq!(t.info.state.as_str(), "ERROR");
}

#[test]
fn show_json_is_the_mlflow_fixture() {
    let store = fixed_store();
    for (file, prefix) in [
        ("nested.json", "8069a0"),
        ("caught_error.json", "edeff4"),
        ("stream_list.json", "1ae2"),
    ] {
        let fixture = std::fs::read_to_string(fixtures_dir().join(file)).unwrap();
        let out = stdout_of(spanwise(store.path()).args(["show", prefix, "--json"]));
        assert_eq!(
            Trace::from_json(&out).unwrap(),
            Trace::from_json(&fixture).unwrap(),
            "{file}"
        );
        // Same JSON values, field by field, as MLflow wrote them.
        let ours: serde_json::Value = serde_json::from_str(&out).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(&fixture).unwrap();
        assert_eq!(ours["data"], theirs["data"], "{file}");
        assert_eq!(ours["info"]["tags"], theirs["info"]["tags"], "{file}");
    }
}
