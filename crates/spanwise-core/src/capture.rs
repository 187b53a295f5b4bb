//! Turning values into the JSON that spans keep.
//!
//! Every captured value is encoded once, when it is recorded, into a JSON string (the form MLflow
//! stores in span attributes). A value larger than the configured limit is replaced by a JSON
//! string holding its start and a `...[truncated N bytes]` marker. A `Serialize` impl that fails or
//! panics yields a marker string for that one value; the application never sees the failure.
//!
//! The `#[trace]` macro captures arguments without asking for trait bounds: it picks `Serialize`
//! when the argument's type implements it, else `Debug` (recorded as a JSON string), else the
//! string `"<unserializable: Type>"`. The choice is made on the concrete type at the macro's
//! expansion site, so in a generic function the bounds in scope decide: with `T: Serialize` the
//! argument is JSON, with only `T: Debug` it is its debug text.

use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use serde_json::Value;

/// Default largest captured value: 1 MiB.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1 << 20;

static MAX_VALUE_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_VALUE_BYTES);

pub(crate) fn set_max_value_bytes(n: usize) {
    MAX_VALUE_BYTES.store(n.max(16), Ordering::Relaxed);
}

pub(crate) fn max_value_bytes() -> usize {
    MAX_VALUE_BYTES.load(Ordering::Relaxed)
}

/// Encodes a value as JSON, never failing: a failing or panicking `Serialize` becomes a marker
/// string, a too-large value a truncated string.
///
/// ```
/// assert_eq!(spanwise_core::capture::to_json(&vec![1, 2]), "[1,2]");
/// ```
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(32);
    write_json(value, &mut out);
    // serde_json writes UTF-8 only, and markers are built from &str.
    String::from_utf8(out).unwrap_or_default()
}

/// Like [`to_json`] but gives a decoded [`Value`] (for event attributes, which are plain).
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
    match catch_unwind(AssertUnwindSafe(|| serde_json::to_value(value))) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => Value::String(format!("<unserializable: {e}>")),
        Err(p) => Value::String(format!(
            "<unserializable: Serialize panicked: {}>",
            panic_text(&*p)
        )),
    }
}

/// Appends the JSON of `value` to `out`, with the failure and size rules of the module.
pub fn write_json<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    let start = out.len();
    let res = catch_unwind(AssertUnwindSafe(|| serde_json::to_writer(&mut *out, value)));
    match res {
        Ok(Ok(())) => {
            crate::capture::limit_size(out, start);
        }
        Ok(Err(e)) => {
            out.truncate(start);
            crate::runtime::count_capture_error();
            write_str_json(&format!("<unserializable: {e}>"), out);
        }
        Err(p) => {
            out.truncate(start);
            crate::runtime::count_capture_error();
            write_str_json(
                &format!("<unserializable: Serialize panicked: {}>", panic_text(&*p)),
                out,
            );
        }
    }
}

/// Appends a string as a JSON string literal.
pub(crate) fn write_str_json(s: &str, out: &mut Vec<u8>) {
    // Writing a &str to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Replaces `out[start..]` by a truncation marker when it is over the limit.
fn limit_size(out: &mut Vec<u8>, start: usize) {
    let max = max_value_bytes();
    let len = out.len() - start;
    if len <= max {
        return;
    }
    let keep = max / 2;
    let mut cut = start + keep;
    // Cut on a character boundary: skip UTF-8 continuation bytes.
    while cut > start && (out[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    let head = String::from_utf8_lossy(&out[start..cut]).into_owned();
    let dropped = len - (cut - start);
    out.truncate(start);
    write_str_json(&format!("{head}...[truncated {dropped} bytes]"), out);
}

pub(crate) fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// The type name without its module path: `my_crate::errors::LlmError` → `LlmError`,
/// `Box<dyn std::error::Error>` → `Box<dyn Error>`.
///
/// ```
/// assert_eq!(spanwise_core::capture::short_type_name("a::b::C<d::E>"), "C<E>");
/// ```
pub fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    for ch in full.chars() {
        if ch.is_alphanumeric() || ch == '_' || ch == ':' {
            segment.push(ch);
        } else {
            out.push_str(segment.rsplit("::").next().unwrap_or(""));
            segment.clear();
            out.push(ch);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(""));
    out
}

/// What the macro wraps an argument in to pick the capture path (see the module docs).
#[doc(hidden)]
pub struct Wrap<'a, T: ?Sized>(pub &'a T);

/// Capture through `Serialize` (the first choice).
#[doc(hidden)]
pub trait ViaSerialize {
    fn __spanwise_capture(&self, out: &mut Vec<u8>);
}

/// Capture through `Debug` (when the type is not `Serialize`).
#[doc(hidden)]
pub trait ViaDebug {
    fn __spanwise_capture(&self, out: &mut Vec<u8>);
}

/// Capture of the type name (when the type is neither).
#[doc(hidden)]
pub trait ViaTypeName {
    fn __spanwise_capture(&self, out: &mut Vec<u8>);
}

impl<T: Serialize + ?Sized> ViaSerialize for &&Wrap<'_, T> {
    #[inline]
    fn __spanwise_capture(&self, out: &mut Vec<u8>) {
        write_json(self.0, out);
    }
}

impl<T: Debug + ?Sized> ViaDebug for &Wrap<'_, T> {
    fn __spanwise_capture(&self, out: &mut Vec<u8>) {
        let text = match catch_unwind(AssertUnwindSafe(|| format!("{:?}", self.0))) {
            Ok(t) => t,
            Err(p) => format!("<unserializable: Debug panicked: {}>", panic_text(&*p)),
        };
        let start = out.len();
        write_str_json(&text, out);
        limit_size(out, start);
    }
}

impl<T: ?Sized> ViaTypeName for Wrap<'_, T> {
    fn __spanwise_capture(&self, out: &mut Vec<u8>) {
        write_str_json(
            &format!("<unserializable: {}>", std::any::type_name::<T>()),
            out,
        );
    }
}

#[cfg(test)]
// The `&&&` receivers are the point: they pick the capture path.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;

    struct Plain;
    #[derive(Debug)]
    struct OnlyDebug(#[allow(dead_code)] u8);
    struct Panics;
    impl Serialize for Panics {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            panic!("boom")
        }
    }
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("nope"))
        }
    }

    fn cap_serialize<T: Serialize>(v: &T) -> String {
        let mut out = Vec::new();
        (&&&Wrap(v)).__spanwise_capture(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn autoref_picks_serialize_then_debug_then_type_name() {
        let mut out = Vec::new();
        (&&&Wrap(&5u8)).__spanwise_capture(&mut out);
        assert_eq!(out, b"5");
        out.clear();
        (&&&Wrap(&OnlyDebug(3))).__spanwise_capture(&mut out);
        assert_eq!(String::from_utf8(out.clone()).unwrap(), "\"OnlyDebug(3)\"");
        out.clear();
        (&&&Wrap(&Plain)).__spanwise_capture(&mut out);
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("<unserializable: spanwise_core")
        );
        assert_eq!(cap_serialize(&"x"), "\"x\"");
    }

    #[test]
    fn failing_and_panicking_serialize_become_markers() {
        assert!(to_json(&Fails).contains("<unserializable: nope>"));
        let j = to_json(&Panics);
        assert!(j.contains("Serialize panicked: boom"), "{j}");
        let v: Value = serde_json::from_str(&j).unwrap();
        assert!(v.is_string());
    }

    #[test]
    fn large_values_are_truncated_to_a_string() {
        let big = "é".repeat(DEFAULT_MAX_VALUE_BYTES);
        let j = to_json(&big);
        let v: Value = serde_json::from_str(&j).unwrap();
        let s = v.as_str().unwrap();
        assert!(s.contains("...[truncated "), "{}", &s[s.len() - 40..]);
        assert!(j.len() < DEFAULT_MAX_VALUE_BYTES);
    }

    #[test]
    fn short_type_names() {
        assert_eq!(short_type_name("anyhow::Error"), "Error");
        assert_eq!(
            short_type_name("alloc::boxed::Box<dyn core::error::Error + core::marker::Send>"),
            "Box<dyn Error + Send>"
        );
    }
}
