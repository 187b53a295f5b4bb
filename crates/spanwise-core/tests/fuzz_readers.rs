//! Generated input for every reader of traces and trace context: `Trace::from_json`,
//! `read_jsonl`, `TraceParent::parse` and the `tracestate` handling of `extract`/`inject`.
//! None may panic, and each error says what is wrong and where.
//!
//! CI runs proptest's default number of cases (256 per property). For a longer run:
//!
//! ```text
//! PROPTEST_CASES=20000 cargo test -p spanwise-core --release --test fuzz_readers
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::Value;
use spanwise_core::propagation::{TraceParent, extract, inject};
use spanwise_core::{
    ExperimentLocation, Span, SpanEvent, SpanId, SpanStatus, StatusCode, Trace, TraceData, TraceId,
    TraceInfo, TraceLocation, TraceState, read_jsonl,
};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mlflow-3.17.2")
}

/// MLflow's own traces, each on one line (as in a JSONL file).
fn fixture_lines() -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    let lines: Vec<String> = names
        .iter()
        .map(|p| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            serde_json::to_string(&v).unwrap()
        })
        .collect();
    assert_eq!(lines.len(), 9, "the 9 MLflow fixtures");
    lines
}

fn temp_file(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("spanwise-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{tag}-{n}.jsonl"))
}

/// A serde_json error names a line and a column; ours wraps it.
fn says_where(e: &spanwise_core::Error) -> bool {
    let text = e.to_string();
    text.contains("line ") && text.contains("column ")
}

/// The spans of these tests are kept in memory, not written to the current directory.
fn in_memory_only() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::mem::forget(
            spanwise_core::init_with(spanwise_core::Config::new().no_destination()).unwrap(),
        );
    });
}

#[test]
fn every_fixture_reads_as_it_is() {
    for line in fixture_lines() {
        Trace::from_json(&line).unwrap();
    }
}

proptest! {
    #[test]
    fn arbitrary_text_is_an_error_with_a_place_or_a_trace(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = Trace::from_json(&text) {
            prop_assert!(says_where(&e), "{e}");
        }
    }

    #[test]
    fn truncated_fixtures_fail_with_a_place(which in 0usize..9, cut in 0.0f64..1.0) {
        let line = &fixture_lines()[which];
        let mut at = (line.len() as f64 * cut) as usize;
        while !line.is_char_boundary(at) {
            at -= 1;
        }
        let e = Trace::from_json(&line[..at]).unwrap_err();
        prop_assert!(says_where(&e), "{e}");
    }

    #[test]
    fn bit_flipped_fixtures_never_panic(which in 0usize..9, flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4)) {
        let mut bytes = fixture_lines()[which].clone().into_bytes();
        for (i, bit) in flips {
            let i = i.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        // A flip that makes a newline (`J` is `\n` with bit 6 set) splits the line in two:
        // what follows is about one line.
        prop_assume!(!bytes.contains(&b'\n'));
        // Through the file reader, which gets the bytes as they are (maybe not UTF-8).
        let path = temp_file("flip");
        let mut file = bytes.clone();
        file.push(b'\n');
        std::fs::write(&path, &file).unwrap();
        let contents = read_jsonl(&path).unwrap();
        std::fs::remove_file(&path).ok();
        match contents.problems.as_slice() {
            [] => prop_assert_eq!(contents.traces.len(), 1),
            [p] => {
                prop_assert_eq!(p.line, 1);
                prop_assert!(!p.torn, "a complete line is not torn");
                prop_assert!(contents.traces.is_empty());
            }
            more => prop_assert!(false, "one line, {} problems", more.len()),
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = Trace::from_json(text).map(|t| t.to_json());
        }
    }

    #[test]
    fn jsonl_files_of_good_bad_and_torn_lines(
        kinds in proptest::collection::vec(0u8..4, 1..12),
        torn_at in any::<prop::sample::Index>(),
    ) {
        // 0: a fixture, 1: garbage, 2: invalid UTF-8 inside a fixture, 3: an empty line.
        let lines = fixture_lines();
        let mut file = Vec::new();
        let mut bad = Vec::new();
        let mut good = 0;
        for (n, k) in kinds.iter().enumerate() {
            match k {
                0 => {
                    file.extend_from_slice(lines[n % 9].as_bytes());
                    good += 1;
                }
                1 => {
                    file.extend_from_slice(b"{\"info\": [1, 2");
                    bad.push(n + 1);
                }
                2 => {
                    let mut l = lines[n % 9].clone().into_bytes();
                    let at = l.len() / 2;
                    l.insert(at, 0xff);
                    file.extend_from_slice(&l);
                    bad.push(n + 1);
                }
                _ => {}
            }
            file.push(b'\n');
        }
        // The last line torn by a crash: cut inside it, without its newline.
        let last_start = file[..file.len() - 1].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let last_len = file.len() - 1 - last_start;
        let last_kind = *kinds.last().unwrap();
        let torn = last_kind == 0 && last_len > 1;
        if torn {
            let cut = last_start + 1 + torn_at.index(last_len - 1);
            file.truncate(cut);
            good -= 1;
            bad.push(kinds.len());
        }
        let path = temp_file("mixed");
        std::fs::write(&path, &file).unwrap();
        let contents = read_jsonl(&path).unwrap();
        std::fs::remove_file(&path).ok();
        let lines_seen: Vec<usize> = contents.problems.iter().map(|p| p.line).collect();
        prop_assert_eq!(&lines_seen, &bad);
        for p in &contents.problems {
            prop_assert_eq!(p.torn, torn && p.line == kinds.len(), "{:?}", p);
            prop_assert!(!p.message.is_empty());
        }
        // Fixtures share ids in places (merged by id): count the distinct ones written.
        prop_assert!(contents.traces.len() <= good);
        prop_assert_eq!(good == 0, contents.traces.is_empty());
    }

    #[test]
    fn huge_numbers_are_errors_or_values(digits in "[1-9][0-9]{0,400}", exp in proptest::option::of(-400i32..400), field in 0usize..4) {
        let number = match exp {
            Some(e) => format!("{digits}e{e}"),
            None => digits,
        };
        let mut v: Value = serde_json::from_str(&fixture_lines()[1]).unwrap();
        match field {
            0 => v["info"]["execution_duration_ms"] = Value::Null,
            1 => v["data"]["spans"][0]["start_time_unix_nano"] = Value::Null,
            2 => v["data"]["spans"][0]["end_time_unix_nano"] = Value::Null,
            _ => v["data"]["spans"][0]["events"] = serde_json::json!([{"name": "e", "attributes": {}}]),
        }
        let text = serde_json::to_string(&v).unwrap();
        let text = match field {
            0 => text.replacen("\"execution_duration_ms\":null", &format!("\"execution_duration_ms\":{number}"), 1),
            1 => text.replacen("\"start_time_unix_nano\":null", &format!("\"start_time_unix_nano\":{number}"), 1),
            2 => text.replacen("\"end_time_unix_nano\":null", &format!("\"end_time_unix_nano\":{number}"), 1),
            _ => text.replacen("\"attributes\":{}}]", &format!("\"attributes\":{{}},\"time_unix_nano\":{number}}}]"), 1),
        };
        match Trace::from_json(&text) {
            Ok(t) => {
                let again = Trace::from_json(&t.to_json()).unwrap();
                prop_assert_eq!(again, t);
            }
            Err(e) => prop_assert!(says_where(&e), "{e}"),
        }
    }

    #[test]
    fn traceparent_parse_never_panics(s in "\\PC{0,80}") {
        if let Err(e) = TraceParent::parse(&s) {
            prop_assert!(e.to_string().contains("traceparent") || e.to_string().contains("id"), "{e}");
        }
    }

    #[test]
    fn traceparent_near_misses(
        trace in any::<u128>(), span in any::<u64>(), flags in any::<u8>(),
        edit in any::<prop::sample::Index>(), with in any::<char>(), extra in "(-[0-9a-f]{0,8})?",
        version in "[0-9a-f]{2}",
    ) {
        let good = format!("{version}-{trace:032x}-{span:016x}-{flags:02x}{extra}");
        match TraceParent::parse(&good) {
            Ok(tp) => {
                prop_assert_eq!(tp.trace_id, TraceId(trace));
                prop_assert_eq!(tp.span_id, SpanId(span));
                prop_assert_eq!(tp.sampled, flags & 1 == 1);
                prop_assert_eq!(TraceParent::parse(&tp.to_string()).ok(), Some(tp));
            }
            Err(e) => {
                // Why a well-formed-looking value is refused: these are the only reasons.
                let why = e.to_string();
                prop_assert!(
                    version == "ff" || trace == 0 || span == 0 || (version == "00" && !extra.is_empty()),
                    "{why}"
                );
            }
        }
        let mut chars: Vec<char> = good.chars().collect();
        let i = edit.index(chars.len());
        chars[i] = with;
        let _ = TraceParent::parse(&chars.iter().collect::<String>());
    }

    #[test]
    fn tracestate_is_passed_on_only_when_valid_and_stays_so(state in "[a-z0-9=,@ _*/\\-\\t]{0,120}|\\PC{0,60}") {
        in_memory_only();
        let mut headers: HashMap<String, String> = HashMap::new();
        headers.insert("traceparent".into(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
        headers.insert("tracestate".into(), state);
        let ctx = extract(&headers).unwrap();
        let _in_ctx = ctx.attach();
        let span = spanwise_core::start_span("called");
        let mut out: HashMap<String, String> = HashMap::new();
        prop_assert!(inject(&mut out));
        drop(span);
        if let Some(passed) = out.get("tracestate") {
            // What is passed on reads back as itself.
            let mut again = headers.clone();
            again.insert("tracestate".into(), passed.clone());
            let ctx = extract(&again).unwrap();
            let _in = ctx.attach();
            let s = spanwise_core::start_span("again");
            let mut out2: HashMap<String, String> = HashMap::new();
            inject(&mut out2);
            drop(s);
            prop_assert_eq!(out2.get("tracestate"), Some(passed));
        }
    }

    #[test]
    fn any_trace_the_model_holds_reads_back_equal(trace in a_trace()) {
        let json = trace.to_json();
        let back = Trace::from_json(&json).unwrap();
        prop_assert_eq!(&back, &trace);
        // And through a JSONL file, as the destination writes it.
        let path = temp_file("roundtrip");
        std::fs::write(&path, format!("{json}\n")).unwrap();
        let contents = read_jsonl(&path).unwrap();
        std::fs::remove_file(&path).ok();
        prop_assert!(contents.problems.is_empty());
        prop_assert_eq!(contents.traces.len(), 1);
        let mut read = contents.traces.into_iter().next().unwrap();
        // The reader keeps spans in start order (the stable sort of merging).
        let mut expected = trace;
        expected.data.spans.sort_by_key(|s| s.start_time_unix_nano);
        read.data.spans.sort_by_key(|s| s.start_time_unix_nano);
        prop_assert_eq!(read, expected);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [100, 1_000, 100_000] {
        let value = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let line = fixture_lines()[0].replacen(
            "\"state\":\"OK\"",
            &format!("\"state\":\"OK\",\"x\":{value}"),
            1,
        );
        // An unknown field is skipped (without recursion, so any depth is fine).
        Trace::from_json(&line).unwrap();
        // In a link (kept as JSON values) and in a file.
        let link = fixture_lines()[0].replacen("\"links\":[]", &format!("\"links\":[{value}]"), 1);
        let path = temp_file("deep");
        std::fs::write(&path, format!("{link}\n")).unwrap();
        let contents = read_jsonl(&path).unwrap();
        std::fs::remove_file(&path).ok();
        // Kept as a value it is read up to serde_json's depth limit, refused past it.
        if depth < 128 {
            assert_eq!(contents.traces.len(), 1);
        } else {
            let p = &contents.problems[0];
            assert_eq!(p.line, 1);
            assert!(
                p.message.contains("recursion limit") && p.message.contains("column"),
                "{}",
                p.message
            );
        }
    }
}

#[test]
fn invalid_utf8_is_reported_with_its_line_and_byte() {
    let lines = fixture_lines();
    let mut file = Vec::new();
    file.extend_from_slice(lines[0].as_bytes());
    file.extend_from_slice(b"\n");
    let mut bad = lines[1].clone().into_bytes();
    bad.insert(10, 0xc3);
    file.extend_from_slice(&bad);
    file.extend_from_slice(b"\n");
    let path = temp_file("utf8");
    std::fs::write(&path, &file).unwrap();
    let contents = read_jsonl(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(contents.traces.len(), 1);
    assert_eq!(contents.problems.len(), 1);
    let p = &contents.problems[0];
    assert_eq!(p.line, 2);
    assert!(
        p.message.contains("UTF-8") && p.message.contains("byte 11"),
        "{}",
        p.message
    );
}

// ---- a generator of traces the model can hold ----

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9_. -]{0,12}", "\\PC{0,12}", Just(String::new())]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((text(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn a_span(trace_id: TraceId) -> impl Strategy<Value = Span> {
    (
        any::<u64>(),
        proptest::option::of(any::<u64>()),
        text(),
        any::<u64>(),
        proptest::option::of(any::<u64>()),
        (0u8..3, text()),
        proptest::collection::vec(
            (
                text(),
                any::<u64>(),
                proptest::collection::btree_map(text(), json_value(), 0..3),
            ),
            0..3,
        ),
        proptest::collection::btree_map(text(), json_value().prop_map(|v| v.to_string()), 0..4),
        proptest::collection::vec(json_value(), 0..2),
    )
        .prop_map(
            move |(id, parent, name, start, end, (code, message), events, attributes, links)| {
                let mut span = Span::new(trace_id, SpanId(id), parent.map(SpanId), name, start);
                span.end_time_unix_nano = end;
                span.status = SpanStatus {
                    code: [StatusCode::Unset, StatusCode::Ok, StatusCode::Error][code as usize],
                    message,
                };
                span.events = events
                    .into_iter()
                    .map(|(name, time, attributes)| {
                        let mut e = SpanEvent::new(name);
                        e.time_unix_nano = time;
                        e.attributes = attributes;
                        e
                    })
                    .collect();
                span.attributes = attributes;
                span.links = links;
                span
            },
        )
}

fn a_trace() -> impl Strategy<Value = Trace> {
    (1u128.., -62_000_000_000_000i64..250_000_000_000_000i64).prop_flat_map(|(id, ms)| {
        let trace_id = TraceId(id);
        (
            proptest::option::of(text()),
            proptest::option::of(text()),
            0u8..4,
            proptest::collection::btree_map(text(), text(), 0..4),
            proptest::collection::btree_map(text(), text(), 0..4),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(any::<u64>()),
            proptest::collection::vec(a_span(trace_id), 0..5),
        )
            .prop_map(
                move |(req, exp, state, metadata, tags, rp, sp, duration, spans)| Trace {
                    info: TraceInfo {
                        trace_id,
                        client_request_id: req,
                        trace_location: TraceLocation {
                            kind: "MLFLOW_EXPERIMENT".into(),
                            mlflow_experiment: exp
                                .map(|experiment_id| ExperimentLocation { experiment_id }),
                        },
                        request_time: chrono::DateTime::from_timestamp_millis(ms).unwrap(),
                        state: [
                            TraceState::Ok,
                            TraceState::Error,
                            TraceState::InProgress,
                            TraceState::Unspecified,
                        ][state as usize],
                        trace_metadata: metadata,
                        tags,
                        request_preview: rp,
                        response_preview: sp,
                        execution_duration_ms: duration,
                    },
                    data: TraceData {
                        spans: dedup_ids(spans),
                    },
                },
            )
    })
}

/// Span ids are unique within a trace (the reader merges by them).
fn dedup_ids(spans: Vec<Span>) -> Vec<Span> {
    let mut seen = BTreeMap::new();
    for s in spans {
        seen.entry(s.span_id).or_insert(s);
    }
    seen.into_values().collect()
}
