//! Warnings on stderr, in the same form and with the same switch (`SPANWISE_LOG=off`) as the
//! core's, so that an exporter never floods a log: each kind of trouble is reported once.

use std::collections::HashSet;
use std::sync::Mutex;

/// Writes one warning line to stderr unless `SPANWISE_LOG=off`.
pub(crate) fn warn(message: &str) {
    if std::env::var("SPANWISE_LOG").is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
        return;
    }
    eprintln!("spanwise: warning: {message}");
}

/// Remembers which kinds of warning one destination has already given.
#[derive(Default)]
pub(crate) struct Once {
    seen: Mutex<HashSet<String>>,
}

impl Once {
    /// Warns the first time `key` is seen; later calls with the same key are silent.
    pub(crate) fn warn(&self, key: &str, message: &str) {
        let first = self
            .seen
            .lock()
            .map(|mut s| s.insert(key.to_string()))
            .unwrap_or(false);
        if first {
            warn(message);
        }
    }
}
