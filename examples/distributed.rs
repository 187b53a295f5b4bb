//! Distributed tracing: one trace across two processes, joined by a W3C `traceparent` header.
//!
//! Run with `cargo run --example distributed`. The example starts itself a second time as a
//! server on a loopback TCP port. The client's `get_forecast` span injects its context into the
//! request headers; the server extracts it and starts its `handle_forecast` span under it, so
//! both processes' spans carry the same trace id. Each process stores its own part in the same
//! JSONL file (a temporary directory, removed at the end); `read_jsonl` merges the parts by trace
//! id and the client prints the whole trace as one tree.
//!
//! Every wait is bounded (10 s), so the example cannot hang in CI; it exits non-zero if the two
//! halves do not join.

use std::collections::HashMap;
use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;
use spanwise::{Config, JSONL_FILE_NAME, SpanType, propagation, span, start_span};

const TIMEOUT: Duration = Duration::from_secs(10);

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("--server"), Some(dir)) => server(Path::new(dir)),
        _ => client(),
    }
}

// ---------------------------------------------------------------- the calling process

fn client() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("spanwise-distributed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let outcome = run_client(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn run_client(dir: &Path) -> Result<()> {
    let guard = spanwise::init_with(Config::new().trace_dir(dir))?;
    let mut server = Server::start(dir)?;

    let root = span("plan_trip")
        .span_type(SpanType::Agent)
        .inputs(json!({"city": "Lisbon"}))
        .start();
    let trace_id = root.trace_id().ok_or("tracing is off")?;
    let call_id;
    let forecast = {
        let call = span("get_forecast")
            .span_type(SpanType::Tool)
            .inputs(json!({"city": "Lisbon"}))
            .start();
        call_id = call.span_id().ok_or("tracing is off")?;
        let mut headers = HashMap::new();
        propagation::inject(&mut headers);
        println!("client: traceparent {}", headers[propagation::TRACEPARENT]);
        let forecast = http_get(server.port, "/forecast?city=Lisbon", &headers)?;
        call.set_outputs(&forecast);
        forecast
    };
    root.set_outputs(format!("Pack sunglasses: {forecast}"));
    drop(root);

    server.wait()?;
    drop(guard); // flushes this process's part to the file

    let contents = spanwise::read_jsonl(dir.join(JSONL_FILE_NAME))?;
    let trace = contents
        .traces
        .into_iter()
        .find(|t| t.info.trace_id == trace_id)
        .ok_or("the trace is not in the store")?;
    println!();
    print!("{}", trace.render_tree());

    // Both halves joined: the server's local root is a child of the client's call span.
    let handler = trace
        .spans_named("handle_forecast")
        .next()
        .ok_or("the server's part is missing")?;
    if handler.parent_span_id != Some(call_id) || trace.data.spans.len() != 4 {
        return Err("the server's spans did not join the client's trace".into());
    }
    Ok(())
}

/// The server process; killed if still running when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path) -> Result<Server> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--server")
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no server stdout")?;
        let mut server = Server { child, port: 0 };
        // The server prints its port once listening; read it without waiting forever.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(TIMEOUT)?;
        server.port = line.trim().parse()?;
        Ok(server)
    }

    fn wait(&mut self) -> Result<()> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("the server failed: {status}").into())
                };
            }
            if Instant::now() > deadline {
                return Err("the server did not finish in time".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn http_get(port: u16, path: &str, headers: &HashMap<String, String>) -> Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or("malformed response")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("server answered {head:?}").into());
    }
    Ok(body.to_string())
}

// ---------------------------------------------------------------- the called process

fn server(dir: &Path) -> Result<()> {
    let _guard = spanwise::init_with(Config::new().trace_dir(PathBuf::from(dir)))?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    std::io::stdout().flush()?;

    let stream = accept_within(&listener, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let (path, headers) = read_request(&stream)?;

    let handler = match propagation::extract(&headers) {
        Some(ctx) => span("handle_forecast").remote_parent(ctx),
        // No (valid) traceparent: this request starts a trace of its own.
        None => span("handle_forecast"),
    };
    let body = {
        let handler = handler
            .span_type(SpanType::Chain)
            .inputs(json!({"path": path}))
            .start();
        let city = path.rsplit('=').next().unwrap_or("nowhere").to_string();
        let forecast = lookup_forecast(&city);
        handler.set_outputs(&forecast);
        forecast
    };
    // This process's part is on disk before the answer, so the caller can read both parts.
    spanwise::flush();

    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}

fn lookup_forecast(city: &str) -> String {
    let span = start_span("lookup_forecast")
        .span_type(SpanType::Retriever)
        .inputs(json!({ "city": city }));
    let forecast = format!("sunny in {city}, 24 C");
    span.set_outputs(&forecast);
    forecast
}

fn accept_within(listener: &TcpListener, timeout: Duration) -> Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads the request line and headers (names lowercased, as HTTP names are case-insensitive).
fn read_request(stream: &TcpStream) -> Result<(String, HashMap<String, String>)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line
        .split_whitespace()
        .nth(1)
        .ok_or("malformed request line")?
        .to_string();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    Ok((path, headers))
}
