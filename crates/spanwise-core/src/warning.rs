//! Warnings on stderr, the one way spanwise tells a person something went wrong (set
//! `SPANWISE_LOG=off` to silence them). A leaf module, usable from every other one.

use std::collections::HashSet;
use std::sync::Mutex;

/// Writes a warning to stderr.
pub(crate) fn warn(message: &str) {
    if std::env::var("SPANWISE_LOG").is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
        return;
    }
    eprintln!("spanwise: warning: {message}");
}

/// [`warn`], once per key for the life of the process.
pub(crate) fn warn_once(key: &'static str, message: &str) {
    static SEEN: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let first = SEEN
        .lock()
        .map(|mut s| s.get_or_insert_with(HashSet::new).insert(key))
        .unwrap_or(false);
    if first {
        warn(message);
    }
}
