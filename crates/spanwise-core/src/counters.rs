//! Process-wide counters of what went wrong without reaching the application: values that did
//! not serialize, panics in user code that spanwise called and contained. A leaf module: the
//! low-level modules (capture, exception, destination) write here, and
//! [`stats`](crate::stats) reads from here, so that none of them imports the runtime.

use std::sync::atomic::{AtomicU64, Ordering};

static CAPTURE_ERRORS: AtomicU64 = AtomicU64::new(0);
static PROCESSOR_PANICS: AtomicU64 = AtomicU64::new(0);
static USER_CODE_PANICS: AtomicU64 = AtomicU64::new(0);

/// Which user code panicked, for the counters and the note left on the span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserCode {
    Serialize,
    Debug,
    Display,
    Drop,
    Reducer,
    SpanProcessor,
}

impl UserCode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UserCode::Serialize => "Serialize",
            UserCode::Debug => "Debug",
            UserCode::Display => "Display",
            UserCode::Drop => "Drop",
            UserCode::Reducer => "output reducer",
            UserCode::SpanProcessor => "span processor",
        }
    }
}

/// A value's `Serialize` failed or panicked (the value was recorded as a marker).
pub(crate) fn capture_error() {
    CAPTURE_ERRORS.fetch_add(1, Ordering::Relaxed);
}

/// User code panicked inside a spanwise call and the panic was contained.
pub(crate) fn user_code_panic(what: UserCode) {
    USER_CODE_PANICS.fetch_add(1, Ordering::Relaxed);
    if what == UserCode::SpanProcessor {
        PROCESSOR_PANICS.fetch_add(1, Ordering::Relaxed);
    }
}

/// The counts so far: capture errors, span processor panics, all contained user-code panics.
pub(crate) fn snapshot() -> (u64, u64, u64) {
    (
        CAPTURE_ERRORS.load(Ordering::Relaxed),
        PROCESSOR_PANICS.load(Ordering::Relaxed),
        USER_CODE_PANICS.load(Ordering::Relaxed),
    )
}

/// The name of the span event that notes a contained panic in user code.
pub(crate) const USER_CODE_PANIC_EVENT: &str = "spanwise.user_code_panicked";
