//! `spanwise ui` end to end: the real binary serves a store of MLflow's fixtures, the traces
//! spanwise recorded and a chat trace recorded here, and a real headless Chromium (Debian's
//! `chromium`, driven over the DevTools protocol by `headless_chrome`) clicks through it.
//!
//! Without Chromium the test is skipped, unless `SPANWISE_REQUIRE_CHROMIUM=1` (as in CI).
//! `SPANWISE_UI_SCREENSHOTS=<dir>` saves the list and trace view screenshots there (the README's
//! come from `SPANWISE_UI_SCREENSHOTS=docs`, a path relative to this crate).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::{Value, json};
use spanwise_core::{Config, Span, SpanType, Trace, TraceId, TraceState, start_span};

/// The `spanwise ui` process, stopped when dropped.
struct Ui {
    child: Child,
    url: String,
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_ui(dir: &Path) -> Ui {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("spanwise"))
        .env_remove("SPANWISE_TRACE_DIR")
        .args(["ui", "--port", "0", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    assert!(
        !url.ends_with(":0/"),
        "port 0 is replaced by the chosen port: {url}"
    );
    Ui { child, url }
}

fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("SPANWISE_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("SPANWISE_REQUIRE_CHROMIUM").is_none(),
            "SPANWISE_REQUIRE_CHROMIUM is set but chromium is not installed"
        );
        eprintln!("skipped: no chromium (apt-get install chromium)");
    }
    found
}

fn launch(path: PathBuf, profile: &Path) -> Browser {
    // The flags that keep Chromium off the network and quiet; the profile is a fresh directory.
    let args: Vec<&std::ffi::OsStr> = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .into_iter()
    .map(std::ffi::OsStr::new)
    .collect();
    Browser::new(LaunchOptions {
        path: Some(path),
        headless: true,
        sandbox: false,
        window_size: Some((1360, 860)),
        user_data_dir: Some(profile.to_path_buf()),
        args,
        idle_browser_timeout: Duration::from_secs(120),
        ..LaunchOptions::default()
    })
    .expect("chromium starts")
}

/// The value of a JavaScript expression (passed as JSON text: the protocol returns only
/// primitive values by value).
fn js(tab: &Tab, expr: &str) -> Value {
    let wrapped = format!("JSON.stringify(({expr}) ?? null)");
    match tab
        .evaluate(&wrapped, false)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .value
    {
        Some(Value::String(s)) => serde_json::from_str(&s).unwrap(),
        other => panic!("{expr}: {other:?}"),
    }
}

/// Waits until the expression (evaluated to JSON) is truthy, and returns its value.
fn wait_for(tab: &Tab, expr: &str, what: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    let guarded =
        format!("(() => {{ try {{ return ({expr}); }} catch (e) {{ return null; }} }})()");
    let mut last = Value::Null;
    while Instant::now() < deadline {
        last = js(tab, &guarded);
        let truthy = match &last {
            Value::Null | Value::Bool(false) => false,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(_) | Value::Bool(true) => true,
        };
        if truthy {
            return last;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what} ({expr}); last value {last}");
}

fn click(tab: &Tab, selector: &str) {
    tab.wait_for_element(selector)
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
        .click()
        .unwrap_or_else(|e| panic!("click {selector}: {e}"));
}

fn screenshot(tab: &Tab, name: &str) {
    let Some(dir) = std::env::var_os("SPANWISE_UI_SCREENSHOTS") else {
        return;
    };
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(Path::new(&dir).join(name), png).unwrap();
}

/// A chat-model call in OpenAI's message format with a tool call, recorded by spanwise now.
fn record_chat_trace() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let guard = spanwise_core::init_with(Config::new().trace_dir(dir.path())).unwrap();
    {
        let root = start_span("weather_bot")
            .span_type(SpanType::Agent)
            .inputs(json!({"question": "Weather in Oslo?"}));
        {
            let chat = start_span("chat").span_type(SpanType::ChatModel).inputs(
                json!({"model": "gpt-4o-mini", "messages": [
                    {"role": "system", "content": "You answer weather questions."},
                    {"role": "user", "content": "Weather in Oslo?"}
                ]}),
            );
            chat.set_message_format("openai");
            chat.set_token_usage(spanwise_core::llm::TokenUsage::new(21, 9));
            std::thread::sleep(Duration::from_millis(3));
            chat.set_outputs(json!({"choices": [{"message": {
                "role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]
            }}]}));
        }
        root.set_outputs("rainy");
    }
    drop(guard);
    std::fs::read_to_string(dir.path().join("traces.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Spans in the order of the tree (depth-first, children in file order), with their depth.
fn tree(t: &Trace) -> Vec<(String, usize)> {
    fn walk(t: &Trace, s: &Span, depth: usize, out: &mut Vec<(String, usize)>) {
        out.push((s.name.clone(), depth));
        for c in t.children(&s.span_id) {
            walk(t, c, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(t, t.root().unwrap(), 0, &mut out);
    out
}

fn ids_of(traces: &[&Trace]) -> Vec<String> {
    traces.iter().map(|t| t.info.trace_id.to_string()).collect()
}

const ROW_IDS: &str =
    "[...document.querySelectorAll('#traces tbody tr')].map(r => r.dataset.traceId)";

#[test]
fn the_viewer_in_a_real_browser() {
    let Some(chromium) = chromium() else { return };
    let store = common::fixed_store();
    let file = store.path().join("traces.jsonl");
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        for line in record_chat_trace() {
            writeln!(f, "{line}").unwrap();
        }
        writeln!(f, "{{\"info\": this line is not a trace").unwrap();
    }
    let contents = spanwise_core::read_jsonl(&file).unwrap();
    assert_eq!(contents.problems.len(), 1);
    let traces = contents.traces;
    let mut newest: Vec<&Trace> = traces.iter().rev().collect();
    newest.sort_by_key(|t| std::cmp::Reverse(t.info.request_time));

    let ui = start_ui(store.path());
    let profile = tempfile::tempdir().unwrap();
    let browser = launch(chromium, profile.path());
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(20));
    tab.navigate_to(&ui.url)
        .unwrap()
        .wait_until_navigated()
        .unwrap();

    // The list: every trace, newest first; the corrupt line counted in the footer.
    let rows = wait_for(
        &tab,
        &format!("{ROW_IDS}.length === {} && {ROW_IDS}", traces.len()),
        "the list",
    );
    assert_eq!(rows, json!(ids_of(&newest)));
    let footer = wait_for(
        &tab,
        "document.querySelector('#corrupt').textContent",
        "the footer",
    );
    assert!(
        footer
            .as_str()
            .unwrap()
            .starts_with("1 corrupt line skipped"),
        "{footer}"
    );
    let chat_id = newest[0].info.trace_id.to_string();
    assert_eq!(newest[0].name(), Some("weather_bot"));
    let first = js(
        &tab,
        "[...document.querySelectorAll('#traces tbody tr:first-child td')].map(td => td.textContent)",
    );
    assert_eq!(first[1], "weather_bot");
    assert_eq!(first[3], "OK");
    assert_eq!(first[5], "30", "token usage: {first}");
    screenshot(&tab, "ui-list.png");

    // Sorting: by duration, longest first, then shortest first.
    let mut by_duration = newest.clone();
    by_duration.sort_by_key(|t| std::cmp::Reverse(t.root().and_then(|r| r.duration())));
    click(&tab, "th[data-sort=duration]");
    wait_for(
        &tab,
        &format!(
            "JSON.stringify({ROW_IDS}) === {:?}",
            json!(ids_of(&by_duration)).to_string()
        ),
        "rows sorted by duration",
    );
    click(&tab, "th[data-sort=duration]");
    wait_for(
        &tab,
        &format!(
            "location.hash.includes('order=asc') && {ROW_IDS}[0] === {:?}",
            ids_of(&by_duration).last().unwrap()
        ),
        "rows sorted by duration, ascending",
    );

    // The filter box: a good filter narrows the list, a malformed one shows the caret.
    let errors: Vec<&Trace> = newest
        .iter()
        .copied()
        .filter(|t| t.info.state == TraceState::Error)
        .collect();
    assert!(errors.len() >= 2);
    js(&tab, "location.hash = '#/'");
    wait_for(
        &tab,
        &format!("{ROW_IDS}.length === {}", traces.len()),
        "the whole list",
    );
    click(&tab, "#filter");
    tab.type_str("state = ERROR")
        .unwrap()
        .press_key("Enter")
        .unwrap();
    wait_for(
        &tab,
        &format!(
            "JSON.stringify({ROW_IDS}) === {:?}",
            json!(ids_of(&errors)).to_string()
        ),
        "only the failed traces",
    );
    js(&tab, "document.querySelector('#filter').value = ''");
    click(&tab, "#filter");
    tab.type_str("state = NOPE")
        .unwrap()
        .press_key("Enter")
        .unwrap();
    let shown = wait_for(
        &tab,
        "!document.querySelector('#filter-error').hidden && document.querySelector('#filter-error').textContent",
        "the filter error",
    );
    assert_eq!(
        shown.as_str().unwrap(),
        "invalid filter at column 9: unknown state \"NOPE\": use OK, ERROR, IN_PROGRESS or STATE_UNSPECIFIED\n  state = NOPE\n          ^"
    );
    assert_eq!(
        js(&tab, "document.querySelector('#filter').selectionStart"),
        json!(8)
    );
    js(&tab, "document.querySelector('#filter').value = ''");
    click(&tab, "#filter");
    tab.press_key("Enter").unwrap();
    wait_for(
        &tab,
        &format!(
            "document.querySelector('#filter-error').hidden && {ROW_IDS}.length === {}",
            traces.len()
        ),
        "the list back without a filter",
    );

    // The recorded agent trace: tree, timeline, inputs and outputs, the failed tool's exception.
    let agent = traces
        .iter()
        .find(|t| t.info.tags.get("fruit").map(String::as_str) == Some("banana"))
        .unwrap();
    let agent_id = agent.info.trace_id.to_string();
    click(&tab, &format!("tr[data-trace-id='{agent_id}'] td.name"));
    let shown_tree = wait_for(
        &tab,
        "[...document.querySelectorAll('.span-row')].map(r => [r.querySelector('.label').textContent, +r.dataset.depth])",
        "the span tree",
    );
    let expected_tree = tree(agent);
    assert_eq!(shown_tree, json!(expected_tree));
    assert_eq!(
        expected_tree
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        [
            "agent", "retrieve", "llm_1", "search_1", "search_2", "llm_2"
        ]
    );
    let icons = js(
        &tab,
        "[...document.querySelectorAll('.span-row .icon')].map(i => i.dataset.type)",
    );
    assert_eq!(
        icons,
        json!([
            "AGENT",
            "RETRIEVER",
            "CHAT_MODEL",
            "TOOL",
            "TOOL",
            "CHAT_MODEL"
        ])
    );

    // Bars: positioned by start and sized by duration relative to the trace, in start order,
    // the failed span marked; measured on the rendered page, in pixels.
    let bars = js(
        &tab,
        "[...document.querySelectorAll('.span-row')].map(r => { const t = r.querySelector('.track').getBoundingClientRect(); \
         const b = r.querySelector('.bar'); const x = b.getBoundingClientRect(); \
         return [(x.left - t.left) / t.width, x.width / t.width, b.classList.contains('error')]; })",
    );
    let origin = agent
        .data
        .spans
        .iter()
        .map(|s| s.start_time_unix_nano)
        .min()
        .unwrap();
    let end = agent
        .data
        .spans
        .iter()
        .filter_map(|s| s.end_time_unix_nano)
        .max()
        .unwrap();
    let total = (end - origin) as f64;
    let width_px = js(
        &tab,
        "document.querySelector('.track').getBoundingClientRect().width",
    )
    .as_f64()
    .unwrap();
    let tolerance = 1.5 / width_px;
    let mut last_left = -1.0;
    for (i, (name, _)) in expected_tree.iter().enumerate() {
        let span = agent.data.spans.iter().find(|s| &s.name == name).unwrap();
        let left = (span.start_time_unix_nano - origin) as f64 / total;
        let width = span.duration().unwrap().as_nanos() as f64 / total;
        let bar = &bars[i];
        assert!(
            (bar[0].as_f64().unwrap() - left).abs() < tolerance,
            "{name}: left {bar} vs {left}"
        );
        assert!(
            (bar[1].as_f64().unwrap() - width.max(2.0 / width_px)).abs() < tolerance,
            "{name}: width {bar} vs {width}"
        );
        assert_eq!(bar[2], json!(name == "search_1"), "{name}: error mark");
        assert!(bar[0].as_f64().unwrap() >= last_left, "bars in start order");
        last_left = bar[0].as_f64().unwrap();
    }
    assert!(
        bars[0][1].as_f64().unwrap() > 0.99,
        "the root spans the whole timeline"
    );

    let span_row = |name: &str| {
        let s = agent.data.spans.iter().find(|s| s.name == name).unwrap();
        format!(".span-row[data-span-id=\"{}\"]", s.span_id.to_hex())
    };
    click(&tab, &span_row("retrieve"));
    let inputs = wait_for(
        &tab,
        &format!(
            "document.querySelector('{} ').classList.contains('selected') && document.querySelector('#inputs').textContent",
            span_row("retrieve")
        ),
        "the retriever's inputs",
    );
    assert!(
        inputs
            .as_str()
            .unwrap()
            .contains("query: \"weather Paris\""),
        "{inputs}"
    );
    let outputs = js(&tab, "document.querySelector('#outputs').textContent");
    assert!(
        outputs
            .as_str()
            .unwrap()
            .contains("doc: \"Paris weather service\""),
        "{outputs}"
    );
    assert!(
        outputs.as_str().unwrap().contains("score: 0.91"),
        "{outputs}"
    );

    click(&tab, &span_row("search_1"));
    let exception = wait_for(
        &tab,
        "document.querySelector('#exceptions .exception') && document.querySelector('#exceptions .exception').textContent",
        "the failed tool's exception",
    );
    assert!(
        exception
            .as_str()
            .unwrap()
            .contains("search backend timed out"),
        "{exception}"
    );
    let status = js(
        &tab,
        "document.querySelector('#detail .status-msg').textContent",
    );
    assert!(
        status
            .as_str()
            .unwrap()
            .contains("search backend timed out"),
        "{status}"
    );

    click(&tab, &span_row("llm_2"));
    let chunks = wait_for(
        &tab,
        "[...document.querySelectorAll('#chunks .chunk')].map(c => c.textContent)",
        "the stream's chunks",
    );
    assert_eq!(chunks, json!(["It ", "is ", "sunny."]));
    let events = js(&tab, "document.querySelector('#events').textContent");
    assert!(events.as_str().unwrap().contains("cache_miss"), "{events}");

    click(&tab, &span_row("llm_1"));
    let tokens = wait_for(
        &tab,
        "document.querySelector('#detail .span-tokens') && document.querySelector('#detail .span-tokens').textContent",
        "span tokens",
    );
    assert_eq!(tokens, "tokens: 12 in, 7 out, 19 total");
    screenshot(&tab, "ui-trace.png");

    // MLflow's own exception event, with its Python stack trace.
    let caught = traces
        .iter()
        .find(|t| t.info.trace_id.to_string() == "tr-edeff4dcc9e6050529ca98b75f77a21a")
        .unwrap();
    let fails = caught
        .data
        .spans
        .iter()
        .find(|s| s.name == "fails")
        .unwrap();
    js(
        &tab,
        &format!(
            "location.hash = '#/trace/{}?span={}'",
            caught.info.trace_id,
            fails.span_id.to_hex()
        ),
    );
    let stack = wait_for(
        &tab,
        "document.querySelector('#exceptions pre.stacktrace') && document.querySelector('#exceptions').textContent",
        "MLflow's exception with its stack trace",
    );
    let stack = stack.as_str().unwrap();
    assert!(stack.starts_with("ValueError: bad value 3"), "{stack}");
    assert!(
        stack.contains("Traceback (most recent call last):"),
        "{stack}"
    );

    // The chat view of the OpenAI-format chat span: bubbles and the tool call.
    js(&tab, &format!("location.hash = '#/trace/{chat_id}'"));
    wait_for(
        &tab,
        "document.querySelectorAll('.span-row').length === 2",
        "the chat trace",
    );
    let chat_span = newest[0]
        .data
        .spans
        .iter()
        .find(|s| s.name == "chat")
        .unwrap();
    click(
        &tab,
        &format!(".span-row[data-span-id='{}']", chat_span.span_id.to_hex()),
    );
    let roles = wait_for(
        &tab,
        "[...document.querySelectorAll('#chat .bubble .role')].map(r => r.textContent)",
        "the chat bubbles",
    );
    assert_eq!(roles, json!(["system", "user", "assistant"]));
    let call = js(
        &tab,
        "document.querySelector('#chat .tool-call').textContent",
    );
    assert!(call.as_str().unwrap().contains("get_weather"), "{call}");
    assert!(
        call.as_str().unwrap().contains("\"city\": \"Oslo\""),
        "{call}"
    );
    screenshot(&tab, "ui-chat.png");

    // Live: a trace appended while the page is open appears; a re-published version of it
    // (a late span) replaces the older one instead of adding a row.
    js(&tab, "location.hash = '#/'");
    wait_for(
        &tab,
        &format!("{ROW_IDS}.length === {}", traces.len()),
        "the list again",
    );
    let mut late = traces
        .iter()
        .find(|t| t.name() == Some("embed"))
        .unwrap()
        .clone();
    late.info.trace_id = TraceId(0x5eed_0000_0000_0000_0000_0000_0000_0001);
    late.info.request_time = chrono::Utc::now();
    late.info
        .tags
        .insert("mlflow.traceName".into(), "appended".into());
    for s in &mut late.data.spans {
        s.trace_id = late.info.trace_id;
    }
    let late_id = late.info.trace_id.to_string();
    let append = |t: &Trace| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        writeln!(f, "{}", t.to_json()).unwrap();
    };
    append(&late);
    let first_row = wait_for(
        &tab,
        &format!(
            "{ROW_IDS}[0] === {late_id:?} && document.querySelector('#traces tbody tr').textContent"
        ),
        "the appended trace",
    );
    assert!(
        first_row.as_str().unwrap().contains("appended"),
        "{first_row}"
    );
    assert_eq!(
        js(&tab, &format!("{ROW_IDS}.length")),
        json!(traces.len() + 1)
    );

    let mut more = late.clone();
    let root = more.root().unwrap().clone();
    let mut extra = Span::new(
        more.info.trace_id,
        spanwise_core::SpanId(0xfeed),
        Some(root.span_id),
        "late_child",
        root.start_time_unix_nano + 1,
    );
    extra.end_time_unix_nano = Some(root.start_time_unix_nano + 2);
    more.data.spans = vec![extra];
    append(&more);
    wait_for(
        &tab,
        &format!(
            "document.querySelector(\"tr[data-trace-id='{late_id}'] td.spans\").textContent === '2'"
        ),
        "the re-published trace's new span count",
    );
    assert_eq!(
        js(&tab, &format!("{ROW_IDS}.length")),
        json!(traces.len() + 1)
    );
}

/// One raw HTTP/1.1 request with this `Host`; the status line and the body.
fn get(url: &str, path: &str, host: &str) -> (String, String) {
    use std::io::Read;
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// The server answers only requests naming 127.0.0.1 or localhost (no DNS rebinding), and
/// its API reads the store with the CLI's reader and filter parser (no browser needed).
#[test]
fn the_api_refuses_other_hosts_and_speaks_the_filter_language() {
    let store = common::fixed_store();
    let ui = start_ui(store.path());
    let addr = ui
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let (status, _) = get(&ui.url, "/api/status", "evil.example");
    assert!(status.contains(" 403 "), "{status}");
    let (status, body) = get(&ui.url, "/api/status", &addr);
    assert!(status.contains(" 200 "), "{status}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let expected = spanwise_core::read_jsonl(store.path().join("traces.jsonl"))
        .unwrap()
        .traces
        .len();
    let mut body: Value = serde_json::from_str(&body).unwrap();
    while body["traces"] != json!(expected) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        body = serde_json::from_str(&get(&ui.url, "/api/status", "localhost").1).unwrap();
    }
    assert_eq!(body["traces"], json!(expected));
    assert_eq!(body["corrupt_lines"], json!(0));

    let (status, body) = get(&ui.url, "/api/traces?filter=spans+%3E%3D+x", &addr);
    assert!(status.contains(" 400 "), "{status}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["position"], json!(9));
    assert!(
        body["display"]
            .as_str()
            .unwrap()
            .ends_with("  spans >= x\n           ^"),
        "{body}"
    );

    let (_, body) = get(
        &ui.url,
        "/api/traces?filter=tag.fruit+%3D+apple&limit=5",
        &addr,
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["total"], json!(1));
    let id = body["traces"][0]["trace_id"].as_str().unwrap().to_string();
    let (_, mlflow) = get(&ui.url, &format!("/api/traces/{id}/mlflow"), &addr);
    assert_eq!(
        Trace::from_json(&mlflow).unwrap().info.trace_id.to_string(),
        id
    );
    let (status, _) = get(
        &ui.url,
        "/api/traces/tr-ffffffffffffffffffffffffffffffff",
        &addr,
    );
    assert!(status.contains(" 404 "), "{status}");
}
