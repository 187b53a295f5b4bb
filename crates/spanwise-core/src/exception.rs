//! Errors and panics as span events.
//!
//! An error becomes an `exception` event with `exception.type`, `exception.message` and
//! `exception.stacktrace`, and the span's status becomes ERROR with `"<Type>: <message>"`, as
//! MLflow records a Python exception. A panic is recorded the same way with type `panic`, its
//! message, and its location (plus a backtrace when `RUST_BACKTRACE` is set); the panic itself
//! continues unchanged.

use std::cell::RefCell;
use std::error::Error as StdError;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

use serde_json::Value;

use crate::counters::UserCode;
use crate::model::{SpanEvent, SpanStatus, keys};
use crate::record::SpanRecord;

/// What the panic hook saw of the last panic on this thread.
#[derive(Clone)]
struct PanicNote {
    message: String,
    location: String,
    backtrace: Option<String>,
}

thread_local! {
    static LAST_PANIC: RefCell<Option<PanicNote>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs (once) a panic hook that notes the panic's message and location for the spans that
/// end while the thread unwinds, then calls the hook that was there before.
pub(crate) fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = crate::capture::panic_text(info.payload());
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_else(|| "unknown location".to_string());
            let bt = std::backtrace::Backtrace::capture();
            let backtrace = match bt.status() {
                std::backtrace::BacktraceStatus::Captured => Some(bt.to_string()),
                _ => None,
            };
            let _ = LAST_PANIC.try_with(|p| {
                if let Ok(mut p) = p.try_borrow_mut() {
                    *p = Some(PanicNote {
                        message,
                        location,
                        backtrace,
                    });
                }
            });
            previous(info);
        }));
    });
}

/// Records the panic this thread is unwinding from on a span.
pub(crate) fn record_panic(rec: &mut SpanRecord) {
    let note = LAST_PANIC
        .try_with(|p| p.try_borrow().ok().and_then(|p| p.clone()))
        .ok()
        .flatten();
    let (message, stack) = match note {
        Some(n) => {
            let mut stack = format!("panicked at {}", n.location);
            if let Some(bt) = n.backtrace {
                stack.push_str("\nstack backtrace:\n");
                stack.push_str(&bt);
            }
            (n.message, stack)
        }
        None => (
            "panic (message unavailable: another panic hook replaced spanwise's)".to_string(),
            String::new(),
        ),
    };
    record_exception(rec, "panic", &message, &stack);
}

/// Adds an `exception` event and sets status ERROR.
pub(crate) fn record_exception(rec: &mut SpanRecord, ty: &str, message: &str, stack: &str) {
    let mut event = SpanEvent::new(keys::EXCEPTION_EVENT);
    event
        .attributes
        .insert(keys::EXCEPTION_TYPE.into(), Value::String(ty.to_string()));
    event.attributes.insert(
        keys::EXCEPTION_MESSAGE.into(),
        Value::String(message.to_string()),
    );
    event.attributes.insert(
        keys::EXCEPTION_STACKTRACE.into(),
        Value::String(stack.to_string()),
    );
    rec.events.push(event);
    rec.status = SpanStatus::error(format!("{ty}: {message}"));
    rec.has_exception = true;
}

/// The `source()` chain of an error, as the stack trace MLflow would show: the error's own line,
/// then `Caused by:` and one numbered line per source. (Also the `tracing` bridge's, through
/// `__private`.)
pub fn source_chain(ty: &str, err: &(dyn StdError + '_)) -> String {
    let mut out = format!("{ty}: {err}");
    let mut source = err.source();
    if source.is_some() {
        out.push_str("\nCaused by:");
    }
    let mut i = 0;
    while let Some(s) = source {
        out.push_str(&format!("\n  {i}: {s}"));
        i += 1;
        source = s.source();
    }
    out
}

/// Records a `std::error::Error` on a span. A `Display` that panics is contained: its
/// message becomes a marker.
pub(crate) fn record_std_error<E: StdError + ?Sized>(rec: &mut SpanRecord, err: &E) {
    let ty = crate::capture::short_type_name(std::any::type_name::<E>());
    let (message, stack) = match contain(UserCode::Display, || err.to_string()) {
        Ok(message) => {
            // A source's `Display` may panic too (counted on its own).
            let stack = contain(UserCode::Display, || source_chain(&ty, &ErrRef(err)))
                .unwrap_or_else(|m| panicked_marker(UserCode::Display, &m));
            (message, stack)
        }
        Err(m) => {
            let marker = panicked_marker(UserCode::Display, &m);
            (marker.clone(), format!("{ty}: {marker}"))
        }
    };
    record_exception(rec, &ty, &message, &stack);
}

/// Runs user code that spanwise calls (a `Display`, a `Drop`, ...), containing a panic: it
/// is counted in [`stats`](crate::stats) and its message returned.
pub(crate) fn contain<R>(what: UserCode, f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        crate::counters::user_code_panic(what);
        crate::capture::panic_text(&*p)
    })
}

/// The text recorded in place of what panicking user code should have given.
pub(crate) fn panicked_marker(what: UserCode, message: &str) -> String {
    format!("<{} panicked: {message}>", what.as_str())
}

/// Drops `value` (user code: its `Drop`), containing a panic; the message, if it panicked.
pub(crate) fn drop_contained<T>(value: T) -> Option<String> {
    contain(UserCode::Drop, move || drop(value)).err()
}

/// The span event that notes a contained panic of user code: what panicked and its message.
pub(crate) fn user_code_panic_event(what: UserCode, message: &str) -> SpanEvent {
    let mut event = SpanEvent::new(crate::counters::USER_CODE_PANIC_EVENT);
    event
        .attributes
        .insert("what".into(), Value::String(what.as_str().to_string()));
    event
        .attributes
        .insert("message".into(), Value::String(message.to_string()));
    event
}

// Lets an unsized `E: Error` be seen as `&dyn Error`.
struct ErrRef<'a, E: ?Sized>(&'a E);
impl<E: StdError + ?Sized> std::fmt::Debug for ErrRef<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.0, f)
    }
}
impl<E: StdError + ?Sized> std::fmt::Display for ErrRef<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self.0, f)
    }
}
impl<E: StdError + ?Sized> StdError for ErrRef<'_, E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}
