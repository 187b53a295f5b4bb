//! `spanwise ui`: a read-only web viewer of the store, served on 127.0.0.1.
//!
//! One thread follows the store file (the first pass indexes it, then it polls for appended
//! lines, like `spanwise tail`); a few threads answer HTTP requests from the shared index.
//! The page polls `/api/status` and reloads what changed, so new traces appear while the
//! application writes.
//!
//! - [`index`]: the light per-trace index and the follower that keeps it current
//! - [`api`]: the JSON answers under `/api/`
//! - [`server`]: the HTTP server and its routes
//! - [`assets`]: the page, embedded in the binary

mod api;
mod assets;
mod index;
mod server;

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::cli::UiArgs;
use crate::error::CliError;

/// How often the store file is looked at once it has been read to its end.
const POLL: Duration = Duration::from_millis(250);

/// Threads answering requests (a page asks for a few things at once).
const WORKERS: usize = 4;

pub fn run(args: &UiArgs, dir: &Path) -> Result<(), CliError> {
    let file = crate::store::file_of(dir);
    if !file.is_file() && !dir.is_dir() {
        return Err(crate::store::missing(&file));
    }
    let server = tiny_http::Server::http(("127.0.0.1", args.port))
        .map_err(|e| CliError::user(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .unwrap_or(args.port);
    let url = format!("http://127.0.0.1:{port}/");

    let ix = Arc::new(RwLock::new(index::Index::default()));
    {
        let ix = Arc::clone(&ix);
        let mut follower = index::Follower::new(file.clone());
        let announce = file.clone();
        std::thread::spawn(move || {
            let mut reported = false;
            loop {
                let more = follower.poll(&ix);
                if !reported && !more {
                    let r = index::read(&ix);
                    if let Some(d) = r.first_pass {
                        reported = true;
                        eprintln!(
                            "indexed {}: {} traces, {} bytes in {:.0} ms{}",
                            announce.display(),
                            r.entries.len(),
                            r.indexed_bytes,
                            d.as_secs_f64() * 1000.0,
                            match r.problem_count {
                                0 => String::new(),
                                n => format!(", {n} unreadable lines skipped"),
                            }
                        );
                    }
                }
                if !more {
                    std::thread::sleep(POLL);
                }
            }
        });
    }

    println!(
        "spanwise ui: {url}  (store {}; Ctrl-C to stop)",
        file.display()
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    if args.open {
        open_browser(&url);
    }

    let server = Arc::new(server);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let server = Arc::clone(&server);
            let ix = Arc::clone(&ix);
            let file = file.clone();
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    server::answer(request, &file, &ix);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

/// Asks the desktop to open the page; a failure only prints the reason.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("cannot open a browser ({opener}: {e}); open {url} yourself");
    }
}
