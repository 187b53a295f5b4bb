//! Warnings on stderr, in the same form and with the same switch (`SPANWISE_LOG=off`) as the
//! core's, so that an exporter never floods a log: each kind of trouble is reported once.

use std::collections::HashSet;
use std::sync::Mutex;

fn silenced() -> bool {
    std::env::var("SPANWISE_LOG").is_ok_and(|v| v.eq_ignore_ascii_case("off"))
}

/// Writes one warning line to stderr unless `SPANWISE_LOG=off`.
pub(crate) fn warn(message: &str) {
    if !silenced() {
        eprintln!("spanwise: warning: {message}");
    }
}

/// Writes one line of information to stderr unless `SPANWISE_LOG=off`.
pub(crate) fn note(message: &str) {
    if !silenced() {
        eprintln!("spanwise: {message}");
    }
}

/// Remembers which kinds of warning one destination has already given.
#[derive(Default)]
pub(crate) struct Once {
    seen: Mutex<HashSet<String>>,
}

impl Once {
    fn first(&self, key: &str) -> bool {
        self.seen
            .lock()
            .map(|mut s| s.insert(key.to_string()))
            .unwrap_or(false)
    }

    /// Warns the first time `key` is seen; later calls with the same key are silent.
    pub(crate) fn warn(&self, key: &str, message: &str) {
        if self.first(key) {
            warn(message);
        }
    }

    /// Gives the information `message` the first time `key` is seen.
    pub(crate) fn note(&self, key: &str, message: &str) {
        if self.first(key) {
            note(message);
        }
    }
}
