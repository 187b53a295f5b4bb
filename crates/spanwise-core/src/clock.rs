//! A cheap wall clock: the CPU's time-stamp counter, anchored to the wall time.
//!
//! Spans need Unix-epoch nanoseconds, two per span. `clock_gettime` costs about 50 ns per read
//! on the machines we measured, a fifth of a span; the time-stamp counter (through `quanta`,
//! which calibrates it once against the monotonic clock, ~1 ms, and falls back to the monotonic
//! clock where the counter is not reliable) about half of that.
//!
//! A calibrated counter still drifts from the system clock (we measured ~1 µs per second), so
//! each thread re-anchors itself to the monotonic clock every [`REANCHOR_NANOS`] and never
//! returns a time earlier than one it returned before.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The process-wide parts: the calibrated counter, and the wall time of one monotonic instant.
struct Base {
    counter: quanta::Clock,
    instant: Instant,
    unix_nanos: u64,
    /// [`REANCHOR_NANOS`] in counter ticks (at least 1).
    reanchor_ticks: u64,
}

/// How long a thread extrapolates with the counter before it reads the monotonic clock again.
const REANCHOR_NANOS: u64 = 100_000_000;

static BASE: OnceLock<Base> = OnceLock::new();

fn base() -> &'static Base {
    BASE.get_or_init(|| {
        let counter = quanta::Clock::new();
        // Ticks per REANCHOR_NANOS, from the calibration: nanoseconds of a known tick count.
        let probe: u64 = 1 << 32;
        let nanos = counter.delta_as_nanos(1, 1 + probe).max(1);
        let reanchor_ticks = ((u128::from(REANCHOR_NANOS) * u128::from(probe)) / u128::from(nanos))
            .clamp(1, u128::from(u64::MAX)) as u64;
        Base {
            counter,
            instant: Instant::now(),
            unix_nanos: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
            reanchor_ticks,
        }
    })
}

impl Base {
    /// The wall time from the monotonic clock (the slow, exact read).
    fn monotonic_unix_nanos(&self) -> u64 {
        self.unix_nanos + self.instant.elapsed().as_nanos() as u64
    }
}

/// A thread's anchor: a counter value, its wall time, and the last time handed out.
#[derive(Clone, Copy)]
struct Anchor {
    raw: u64,
    unix: u64,
    last: u64,
}

thread_local! {
    static ANCHOR: Cell<Anchor> = const { Cell::new(Anchor { raw: 0, unix: 0, last: 0 }) };
}

/// Nanoseconds since the Unix epoch; never earlier than a time this thread read before.
///
/// ```
/// let a = spanwise_core::now_unix_nanos();
/// let b = spanwise_core::now_unix_nanos();
/// assert!(b >= a && a > 1_600_000_000_000_000_000);
/// ```
#[inline]
pub fn now_unix_nanos() -> u64 {
    let base = base();
    let raw = base.counter.raw();
    ANCHOR
        .try_with(|cell| {
            let mut a = cell.get();
            let now = if a.unix == 0 || raw.wrapping_sub(a.raw) >= base.reanchor_ticks {
                reanchor(base, &mut a, raw)
            } else {
                a.unix + base.counter.delta_as_nanos(a.raw, raw)
            };
            let now = now.max(a.last);
            a.last = now;
            cell.set(a);
            now
        })
        // The thread is being torn down: no anchor to keep.
        .unwrap_or_else(|_| base.monotonic_unix_nanos())
}

#[cold]
fn reanchor(base: &Base, a: &mut Anchor, raw: u64) -> u64 {
    a.raw = raw;
    a.unix = base.monotonic_unix_nanos();
    a.unix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_system_clock_and_never_goes_back() {
        let system = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        };
        let before = system();
        let mut prev = now_unix_nanos();
        for _ in 0..100_000 {
            let t = now_unix_nanos();
            assert!(t >= prev, "{t} < {prev}");
            prev = t;
        }
        // Past a re-anchoring, still close to the system clock.
        std::thread::sleep(std::time::Duration::from_nanos(REANCHOR_NANOS + 1_000_000));
        let t = now_unix_nanos();
        let after = system();
        assert!(t >= prev);
        // Anchored to the wall time once per process: within a second of the system clock
        // (the system clock may itself be stepped meanwhile, hence a loose bound).
        assert!(t + 1_000_000_000 > before && t < after + 1_000_000_000);
    }
}
