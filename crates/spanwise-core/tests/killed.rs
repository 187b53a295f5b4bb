//! Killed processes: a child that traces continuously into a JSONL file is killed with SIGKILL
//! at random moments, 50 times, each child appending to the same file. Every trace whose line
//! was complete reads back intact; a line torn by a kill is the only one skipped, reported
//! with its line number (and the next child starts on a line of its own, so nothing of its
//! own is lost to the torn piece).

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use spanwise_core::{JSONL_FILE_NAME, read_jsonl};

const CHILD: &str = "SPANWISE_KILLED_CHILD_DIR";
const KILLS: usize = 50;
const PAD: usize = 1024;

/// The child: traces until killed (a root with two children, 1 KiB of input each).
fn trace_forever(dir: &Path) -> ! {
    let _guard = spanwise_core::init_with(spanwise_core::Config::new().trace_dir(dir)).unwrap();
    let pad = "x".repeat(PAD);
    // Told apart from the other children's traces by the pid.
    let pid = std::process::id();
    for i in 0u64.. {
        let root = spanwise_core::start_span("kill_root");
        root.set_inputs(serde_json::json!({"pid": pid, "i": i, "pad": pad}));
        for name in ["a", "b"] {
            let child = spanwise_core::start_span(name);
            child.set_inputs(&pad);
        }
        drop(root);
        // Continuous but not flat out: the file stays a few MB over the 50 children.
        if i % 8 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    unreachable!()
}

fn random_below(n: u64) -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % n
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spanwise-killed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn complete_lines_survive_sigkill_and_only_a_torn_line_is_skipped() {
    if let Some(dir) = std::env::var_os(CHILD) {
        trace_forever(Path::new(&dir));
    }
    let dir = temp_dir();
    let path = dir.join(JSONL_FILE_NAME);
    let (mut torn_kills, mut cut_by_hand) = (0, 0);
    for kill in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "complete_lines_survive_sigkill_and_only_a_torn_line_is_skipped",
                "--nocapture",
            ])
            .env(CHILD, &dir)
            .env("SPANWISE_LOG", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(10 + random_below(60)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        // Whether this kill left the file on an unfinished line.
        let bytes = std::fs::read(&path).unwrap_or_default();
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            torn_kills += 1;
        } else if kill % 10 == 5 && bytes.len() > 200 {
            // A kill rarely lands inside a write (each batch of whole lines is one write):
            // tear the last line as a write cut short would, for the next child to start after.
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.set_len(bytes.len() as u64 - 2 - random_below(100))
                .unwrap();
            torn_kills += 1;
            cut_by_hand += 1;
        }
    }
    let contents = read_jsonl(&path).unwrap();
    assert!(
        !contents.traces.is_empty(),
        "the children wrote traces before they were killed"
    );
    // Only pieces that kills tore are skipped (one cut just before its newline reads whole),
    // each with its line number; only the file's last line can still be unfinished.
    let ends_torn = std::fs::read(&path).unwrap().last() != Some(&b'\n');
    assert!(
        contents.problems.len() <= torn_kills,
        "{:?}",
        contents.problems
    );
    assert!(
        contents.problems.len() >= cut_by_hand,
        "{:?}",
        contents.problems
    );
    for (i, p) in contents.problems.iter().enumerate() {
        let last = i + 1 == contents.problems.len();
        assert_eq!(p.torn, last && ends_torn, "{p:?}");
        assert!(p.line > 0 && !p.message.is_empty());
    }
    let mut by_child: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for t in &contents.traces {
        assert_eq!(t.data.spans.len(), 3, "a whole trace");
        let inputs = t.root().unwrap().inputs().unwrap();
        assert_eq!(inputs["pad"].as_str().unwrap().len(), PAD);
        for s in &t.data.spans[1..] {
            assert_eq!(s.inputs().unwrap().as_str().unwrap().len(), PAD);
        }
        let (pid, i) = (
            inputs["pid"].as_u64().unwrap(),
            inputs["i"].as_u64().unwrap(),
        );
        by_child.entry(pid).or_default().push(i);
    }
    // Each child's traces are all there from its first: a torn line before it cost it none.
    for (pid, mut seen) in by_child {
        seen.sort_unstable();
        let expected: Vec<u64> = (0..seen.len() as u64).collect();
        assert_eq!(seen, expected, "child {pid}");
    }
    eprintln!(
        "{KILLS} kills: {} traces read back; {torn_kills} torn lines ({cut_by_hand} cut by hand), {} lines skipped",
        contents.traces.len(),
        contents.problems.len()
    );
    std::fs::remove_dir_all(&dir).ok();
}
