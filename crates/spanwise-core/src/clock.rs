//! A cheap wall clock: a monotonic clock anchored to the wall time once per process.
//!
//! Spans need Unix-epoch nanoseconds, but reading the wall clock per span is slower and can go
//! backwards; reading the monotonic clock and adding a fixed offset is neither.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

struct Anchor {
    instant: Instant,
    unix_nanos: u64,
}

static ANCHOR: OnceLock<Anchor> = OnceLock::new();

fn anchor() -> &'static Anchor {
    ANCHOR.get_or_init(|| Anchor {
        instant: Instant::now(),
        unix_nanos: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    })
}

/// Nanoseconds since the Unix epoch, monotonic within the process.
///
/// ```
/// let a = spanwise_core::now_unix_nanos();
/// let b = spanwise_core::now_unix_nanos();
/// assert!(b >= a && a > 1_600_000_000_000_000_000);
/// ```
#[inline]
pub fn now_unix_nanos() -> u64 {
    let a = anchor();
    a.unix_nanos + a.instant.elapsed().as_nanos() as u64
}
