//! Token usage in the CLI, on traces spanwise records now: the `list` TOKENS column, the trace
//! total and per-span usage in `show`, the sums and percentiles of `stats`.

mod common;

use spanwise_core::llm::TokenUsage;
use spanwise_core::{Config, SpanType, start_span};

/// Three traces with LLM calls (one with a wrapper reporting the total of its nested calls)
/// and one without.
fn record() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let guard = spanwise_core::init_with(Config::new().trace_dir(dir.path())).unwrap();
    let chat = |name: &'static str, i, o| {
        let s = start_span(name).span_type(SpanType::ChatModel);
        s.set_token_usage(TokenUsage::new(i, o));
        s
    };
    {
        let _root = start_span("small").inputs("q1");
        drop(chat("call", 10, 5));
    }
    {
        let _root = start_span("nested").inputs("q2");
        let wrapper = chat("planner", 300, 120);
        drop(chat("inner_a", 100, 20));
        drop(chat("inner_b", 200, 100));
        drop(wrapper);
        drop(chat("summarize", 1000, 12_000));
    }
    {
        let _root = start_span("cached").inputs("q3");
        let s = start_span("call").span_type(SpanType::ChatModel);
        s.set_token_usage(TokenUsage {
            cache_read_input_tokens: Some(40),
            ..TokenUsage::new(50, 50)
        });
    }
    drop(start_span("no_llm").inputs("q4"));
    drop(guard);
    dir
}

#[test]
fn list_show_and_stats_show_token_usage() {
    let dir = record();
    let list = common::stdout_of(common::spanwise(dir.path()).arg("list"));
    let tokens: Vec<(&str, &str)> = list
        .lines()
        .skip(1)
        .map(|row| {
            let cols: Vec<&str> = row.split_whitespace().collect();
            (cols[3], cols[7])
        })
        .collect();
    assert_eq!(
        tokens,
        [
            ("no_llm", "-"),
            ("cached", "100"),
            ("nested", "13.4k"),
            ("small", "15")
        ],
        "{list}"
    );

    let ids: Vec<String> = spanwise_core::read_jsonl(dir.path().join("traces.jsonl"))
        .unwrap()
        .traces
        .iter()
        .map(|t| t.info.trace_id.to_string())
        .collect();
    let show = common::stdout_of(common::spanwise(dir.path()).args(["show", &ids[3]]));
    assert!(!show.contains("tokens:"), "{show}");
    let show = common::stdout_of(common::spanwise(dir.path()).args(["show", &ids[1]]));
    let lines: Vec<&str> = show.lines().map(str::trim_start).collect();
    assert!(
        lines.contains(&"tokens: 1300 in, 12120 out, 13420 total"),
        "{show}"
    );
    // Per span, each its own usage (the nested ones too).
    for usage in [
        "tokens: 300 in, 120 out, 420 total",
        "tokens: 100 in, 20 out, 120 total",
        "tokens: 1000 in, 12000 out, 13000 total",
    ] {
        assert!(show.lines().any(|l| l.ends_with(usage)), "{usage}: {show}");
    }
    let show = common::stdout_of(common::spanwise(dir.path()).args(["show", &ids[2]]));
    assert!(
        show.lines()
            .any(|l| l == "tokens: 50 in (40 cached), 50 out, 100 total"),
        "{show}"
    );

    let stats = common::stdout_of(common::spanwise(dir.path()).arg("stats"));
    let table: Vec<&str> = stats
        .lines()
        .skip_while(|l| !l.starts_with("TOKENS"))
        .take(4)
        .collect();
    assert_eq!(
        table,
        [
            "TOKENS           SUM  TRACES     P50     P90     P99     MAX",
            "input           1360       3      50    1300    1300    1300",
            "output         12175       3      50   12120   12120   12120",
            "total          13535       3     100   13420   13420   13420",
        ],
        "{stats}"
    );
    let json: serde_json::Value = serde_json::from_str(&common::stdout_of(
        common::spanwise(dir.path()).args(["stats", "--json"]),
    ))
    .unwrap();
    assert_eq!(
        json["tokens"],
        serde_json::json!({"traces": 3,
            "input": {"sum": 1360, "p50": 50, "p90": 1300, "p99": 1300, "max": 1300},
            "output": {"sum": 12175, "p50": 50, "p90": 12120, "p99": 12120, "max": 12120},
            "total": {"sum": 13535, "p50": 100, "p90": 13420, "p99": 13420, "max": 13420}})
    );
}
