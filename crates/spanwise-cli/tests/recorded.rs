//! Traces recorded by spanwise itself, read back by the CLI: live in a temporary store, and the
//! generator of the committed `tests/data/recorded.jsonl` used by the expected-output tests.

mod common;

use std::time::Duration;

use serde_json::json;
use spanwise_core::{Config, SpanEvent, SpanType, Trace, TraceUpdate, start_span};

/// Records the scenario: an agent trace with retrieval, chat model calls, a failing and a retried
/// tool, a stream; a failed trace; an embedding with a long input. Sleeps give the timeline shape.
fn record_scenario() {
    let pause = |ms| std::thread::sleep(Duration::from_millis(ms));
    {
        let root = start_span("agent")
            .span_type(SpanType::Agent)
            .inputs(json!({
                "messages": [{"role": "user", "content": "What is the weather in Paris?"}]
            }));
        spanwise_core::update_current_trace(
            TraceUpdate::new()
                .tag("fruit", "banana")
                .session_id("s-1")
                .user("ann"),
        )
        .unwrap();
        {
            let s = start_span("retrieve")
                .span_type(SpanType::Retriever)
                .inputs(json!({"query": "weather Paris"}));
            pause(3);
            s.set_outputs(json!([{"doc": "Paris weather service", "score": 0.91}]));
        }
        {
            let s = start_span("llm")
                .span_type(SpanType::ChatModel)
                .inputs(json!({
                    "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
                    "model": "gpt-4o-mini"
                }));
            s.set_attribute(
                "mlflow.chat.tokenUsage",
                json!({"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}),
            );
            pause(8);
            s.set_outputs(json!({"choices": [{"message": {"role": "assistant", "content": "Calling search."}}]}));
        }
        {
            let s = start_span("search")
                .span_type(SpanType::Tool)
                .inputs(json!({"q": "Paris"}));
            pause(2);
            s.record_error(&std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "search backend timed out",
            ));
        }
        {
            let s = start_span("search")
                .span_type(SpanType::Tool)
                .inputs(json!({"q": "Paris"}));
            pause(4);
            s.set_outputs("sunny, 24°C");
        }
        {
            let s = start_span("llm")
                .span_type(SpanType::ChatModel)
                .inputs(json!({"messages": []}));
            for (i, chunk) in ["It ", "is ", "sunny."].iter().enumerate() {
                pause(2);
                s.add_event(
                    SpanEvent::new(format!("mlflow.chunk.item.{i}"))
                        .with_attribute("mlflow.chunk.value", json!(chunk).to_string()),
                );
            }
            s.add_event(SpanEvent::new("cache_miss").with_attribute("key", "paris"));
            s.set_outputs("It is sunny.");
        }
        root.set_outputs(json!({"choices": [{"message": {"role": "assistant", "content": "It is sunny in Paris."}}]}));
    }
    {
        let root = start_span("agent")
            .span_type(SpanType::Agent)
            .inputs(json!({"question": "Book a table"}));
        {
            let _plan = start_span("plan").span_type(SpanType::Chain);
            pause(1);
        }
        pause(1);
        root.record_error(&std::io::Error::other("no restaurant tool configured"));
    }
    {
        let s = start_span("embed").span_type(SpanType::Embedding);
        let text = json!({"text": "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam."});
        s.set_inputs(&text);
        pause(2);
        s.set_outputs(json!([0.12, -0.5, 0.33]));
    }
}

/// Writes `tests/data/recorded.jsonl`: run with
/// `cargo test -p spanwise-cli --test recorded -- --ignored` after changing the scenario, then
/// re-bless the expected outputs. The last trace is written in two parts (root, then the
/// rest), as two processes sharing a store would, so the merge of parts is covered too.
#[test]
#[ignore]
fn regenerate_recorded_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let guard = spanwise_core::init_with(Config::new().trace_dir(dir.path())).unwrap();
    record_scenario();
    drop(guard);
    let contents = spanwise_core::read_jsonl(dir.path().join("traces.jsonl")).unwrap();
    assert!(contents.problems.is_empty());
    let mut lines: Vec<String> = contents.traces.iter().map(Trace::to_json).collect();
    let agent = &contents.traces[0];
    let mut root_part = agent.clone();
    root_part.data.spans.retain(|s| s.parent_span_id.is_none());
    let mut child_part = agent.clone();
    child_part.data.spans.retain(|s| s.parent_span_id.is_some());
    lines[0] = root_part.to_json();
    lines.push(child_part.to_json());
    std::fs::write(common::recorded_file(), lines.join("\n") + "\n").unwrap();
}

/// What spanwise records now (not the committed file) is read back by every command.
#[test]
fn cli_reads_a_store_spanwise_just_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let guard = spanwise_core::init_with(Config::new().trace_dir(dir.path())).unwrap();
    record_scenario();
    drop(guard);

    let list = common::stdout_of(common::spanwise(dir.path()).arg("list"));
    let rows: Vec<&str> = list.lines().collect();
    assert_eq!(rows.len(), 4, "header and three traces:\n{list}");
    assert!(
        rows[1].contains(" embed ") && rows[1].contains(" OK "),
        "{list}"
    );
    assert!(
        rows[2].contains(" agent ") && rows[2].contains(" ERROR "),
        "{list}"
    );
    assert!(
        rows[3].contains(" agent ") && rows[3].contains("fruit"),
        "{list}"
    );
    assert!(
        rows[3].contains(" 19 What"),
        "tokens and chat request preview: {list}"
    );
    for r in &rows {
        assert!(r.chars().count() <= 80, "row wider than 80 columns: {r:?}");
    }

    let filtered = common::stdout_of(common::spanwise(dir.path()).args([
        "list",
        "--filter",
        "span.type = TOOL and state = OK",
    ]));
    assert_eq!(filtered.lines().count(), 2, "{filtered}");

    let id = spanwise_core::read_jsonl(dir.path().join("traces.jsonl"))
        .unwrap()
        .traces[0]
        .info
        .trace_id
        .to_hex();
    let show = common::stdout_of(common::spanwise(dir.path()).args(["show", &id[..12]]));
    for expected in [
        "agent  tr-",
        "├─ retrieve",
        "├─ llm_1",
        "├─ search_1",
        "error: Error: search backend timed out",
        "└─ llm_2",
        "stream: 3 chunks",
        "tokens: 12 in, 7 out, 19 total",
        "event: cache_miss {\"key\": \"paris\"}",
        "tags: fruit=banana",
        "session: s-1",
        "user: ann",
    ] {
        assert!(show.contains(expected), "missing {expected:?} in:\n{show}");
    }

    let last = common::stdout_of(common::spanwise(dir.path()).args(["show", "last", "--json"]));
    let trace = Trace::from_json(&last).unwrap();
    assert_eq!(trace.name(), Some("embed"));
}
