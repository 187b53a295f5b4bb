//! Retries with exponential backoff, honouring the server's `Retry-After`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::http::Failure;

/// How failed requests are retried: connection errors, timeouts, 408, 429 and 5xx are retried
/// after a delay that doubles from `initial_backoff` up to `max_backoff` (or after the server's
/// `Retry-After`, capped at `max_backoff`), until `max_elapsed` has passed; other failures are
/// not retried.
///
/// ```
/// use std::time::Duration;
/// let policy = spanwise_otlp::RetryPolicy::default().max_elapsed(Duration::from_secs(10));
/// assert_eq!(policy.max_elapsed, Duration::from_secs(10));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The first delay (default 250 ms).
    pub initial_backoff: Duration,
    /// The longest delay between two attempts (default 10 s).
    pub max_backoff: Duration,
    /// How long one request keeps being retried before it is given up (default 5 minutes).
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_elapsed: Duration::ZERO,
            ..RetryPolicy::default()
        }
    }

    /// Sets the first delay.
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Sets the longest delay.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Sets how long a request is retried.
    pub fn max_elapsed(mut self, d: Duration) -> Self {
        self.max_elapsed = d;
        self
    }
}

/// Runs requests under a [`RetryPolicy`], counting retries in `retried` and waiting through
/// `sleep`, which returns false when the wait was cut short (the exporter is closing).
pub(crate) struct Retrier<'a> {
    pub policy: &'a RetryPolicy,
    pub retried: &'a AtomicU64,
    pub sleep: &'a dyn Fn(Duration) -> bool,
    /// Called once per failed attempt that will be retried (for a first warning).
    pub on_retry: &'a dyn Fn(&Failure),
}

impl Retrier<'_> {
    pub(crate) fn run<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let start = Instant::now();
        let mut backoff = self.policy.initial_backoff;
        loop {
            let failure = match attempt() {
                Ok(t) => return Ok(t),
                Err(f) if !f.retryable => return Err(f),
                Err(f) => f,
            };
            let wait = failure
                .retry_after
                .unwrap_or_else(|| jitter(backoff))
                .min(self.policy.max_backoff);
            if start.elapsed() + wait > self.policy.max_elapsed {
                return Err(failure);
            }
            (self.on_retry)(&failure);
            if !(self.sleep)(wait) {
                return Err(failure);
            }
            self.retried.fetch_add(1, Ordering::Relaxed);
            backoff = (backoff * 2).min(self.policy.max_backoff);
        }
    }
}

/// Between 75% and 100% of `d`, so that many clients do not retry in step.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    d.mul_f64(0.75 + 0.25 * f64::from(nanos % 1000) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    fn failure(retryable: bool, retry_after: Option<Duration>) -> Failure {
        Failure {
            retryable,
            retry_after,
            status: Some(503),
            message: "x".into(),
        }
    }

    #[test]
    fn retries_until_success_with_growing_waits_and_retry_after() {
        let policy = RetryPolicy::default();
        let retried = AtomicU64::new(0);
        let waits = RefCell::new(Vec::new());
        let sleep = |d: Duration| {
            waits.borrow_mut().push(d);
            true
        };
        let r = Retrier {
            policy: &policy,
            retried: &retried,
            sleep: &sleep,
            on_retry: &|_| {},
        };
        let n = Cell::new(0);
        let out = r.run(|| {
            n.set(n.get() + 1);
            match n.get() {
                1 | 2 => Err(failure(true, None)),
                3 => Err(failure(true, Some(Duration::from_secs(2)))),
                _ => Ok(n.get()),
            }
        });
        assert_eq!(out, Ok(4));
        assert_eq!(retried.load(Ordering::Relaxed), 3);
        let w = waits.borrow();
        assert!(w[1] > w[0], "{w:?}");
        assert_eq!(w[2], Duration::from_secs(2));
    }

    #[test]
    fn other_failures_are_not_retried() {
        let policy = RetryPolicy::default();
        let retried = AtomicU64::new(0);
        let r = Retrier {
            policy: &policy,
            retried: &retried,
            sleep: &|_| true,
            on_retry: &|_| {},
        };
        let n = Cell::new(0);
        let out: Result<(), _> = r.run(|| {
            n.set(n.get() + 1);
            Err(failure(false, None))
        });
        assert!(out.is_err());
        assert_eq!(n.get(), 1);
        assert_eq!(retried.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_cut_short_wait_or_no_policy_gives_up() {
        let retried = AtomicU64::new(0);
        let none = RetryPolicy::none();
        let r = Retrier {
            policy: &none,
            retried: &retried,
            sleep: &|_| true,
            on_retry: &|_| {},
        };
        assert!(r.run(|| Err::<(), _>(failure(true, None))).is_err());
        let policy = RetryPolicy::default();
        let r = Retrier {
            policy: &policy,
            retried: &retried,
            sleep: &|_| false,
            on_retry: &|_| {},
        };
        assert!(r.run(|| Err::<(), _>(failure(true, None))).is_err());
        assert_eq!(retried.load(Ordering::Relaxed), 0);
    }
}
