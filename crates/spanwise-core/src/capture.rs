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

#[inline]
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
    let mut out = String::with_capacity(32);
    write_json_to(value, &mut out);
    out
}

/// Like [`to_json`] but gives a decoded [`Value`] (for event attributes, which are plain).
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
    match catch_unwind(AssertUnwindSafe(|| serde_json::to_value(value))) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            crate::counters::capture_error();
            Value::String(format!("<unserializable: {e}>"))
        }
        Err(p) => {
            crate::counters::capture_error();
            crate::counters::user_code_panic(crate::counters::UserCode::Serialize);
            Value::String(format!(
                "<unserializable: Serialize panicked: {}>",
                panic_text(&*p)
            ))
        }
    }
}

/// Appends the JSON of `value` to `out`, with the failure and size rules of the module.
///
/// ```
/// let mut out = b"[".to_vec();
/// spanwise_core::capture::write_json(&"a", &mut out);
/// assert_eq!(out, b"[\"a\"");
/// ```
pub fn write_json<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    write_json_to(value, out);
}

/// A buffer that captured JSON is appended to: the `String` a span keeps, or bytes (a streamed
/// item's). Writing into the `String` itself spares a conversion (and its UTF-8 check) later.
#[doc(hidden)]
pub trait JsonBuf {
    /// The bytes written so far.
    fn json_bytes(&self) -> &[u8];
    /// Cuts the buffer back to `len` bytes (a length it had before).
    fn json_truncate(&mut self, len: usize);
    /// Appends text that is JSON already.
    fn json_push(&mut self, s: &str);
    /// Appends one ASCII byte of JSON.
    fn json_push_ascii(&mut self, b: u8);
    /// Appends `s` between double quotes (`s` needs no escaping).
    fn json_push_quoted(&mut self, s: &str);
    /// Appends `value` as serde_json writes it.
    fn json_serialize<T: Serialize + ?Sized>(&mut self, value: &T) -> serde_json::Result<()>;
}

impl JsonBuf for Vec<u8> {
    #[inline]
    fn json_bytes(&self) -> &[u8] {
        self
    }
    #[inline]
    fn json_truncate(&mut self, len: usize) {
        self.truncate(len);
    }
    #[inline]
    fn json_push(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    #[inline]
    fn json_push_ascii(&mut self, b: u8) {
        self.push(b);
    }
    #[inline]
    fn json_push_quoted(&mut self, s: &str) {
        self.reserve(s.len() + 2);
        self.push(b'"');
        self.extend_from_slice(s.as_bytes());
        self.push(b'"');
    }
    #[inline]
    fn json_serialize<T: Serialize + ?Sized>(&mut self, value: &T) -> serde_json::Result<()> {
        serde_json::to_writer(self, value)
    }
}

impl JsonBuf for String {
    #[inline]
    fn json_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    #[inline]
    fn json_truncate(&mut self, len: usize) {
        self.truncate(len);
    }
    #[inline]
    fn json_push(&mut self, s: &str) {
        self.push_str(s);
    }
    #[inline]
    fn json_push_ascii(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.push(char::from(b));
    }
    #[inline]
    fn json_push_quoted(&mut self, s: &str) {
        self.reserve(s.len() + 2);
        self.push('"');
        self.push_str(s);
        self.push('"');
    }
    #[inline]
    fn json_serialize<T: Serialize + ?Sized>(&mut self, value: &T) -> serde_json::Result<()> {
        serde_json::to_writer(StringWriter(self), value)
    }
}

/// Lets serde_json write into a `String`. serde_json hands over whole UTF-8 sequences (it cuts
/// strings only at the ASCII characters it escapes), so each piece is checked on its own: short
/// ASCII pieces (punctuation, numbers) byte by byte, others with `str::from_utf8`. A piece that
/// is not UTF-8 fails the write, and the value is recorded as unserializable.
struct StringWriter<'a>(&'a mut String);

impl std::io::Write for StringWriter<'_> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if buf.len() <= 8 && buf.is_ascii() {
            self.0.extend(buf.iter().map(|&b| char::from(b)));
        } else {
            let s = std::str::from_utf8(buf).map_err(std::io::Error::other)?;
            self.0.push_str(s);
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// [`write_json`] into any [`JsonBuf`].
pub(crate) fn write_json_to<T: Serialize + ?Sized, B: JsonBuf + ?Sized>(value: &T, out: &mut B) {
    let start = out.json_bytes().len();
    let res = catch_unwind(AssertUnwindSafe(|| out.json_serialize(value)));
    match res {
        Ok(Ok(())) => limit_size(out, start),
        Ok(Err(e)) => {
            out.json_truncate(start);
            crate::counters::capture_error();
            write_str_json(&format!("<unserializable: {e}>"), out);
        }
        Err(p) => {
            out.json_truncate(start);
            crate::counters::capture_error();
            crate::counters::user_code_panic(crate::counters::UserCode::Serialize);
            write_str_json(
                &format!("<unserializable: Serialize panicked: {}>", panic_text(&*p)),
                out,
            );
        }
    }
}

/// Appends a string as a JSON string literal.
#[inline]
pub(crate) fn write_str_json<B: JsonBuf + ?Sized>(s: &str, out: &mut B) {
    // Most strings written here (argument names, short texts) need no escape: they are copied
    // between quotes without going through serde_json's writer.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.json_push_quoted(s);
    } else {
        // Writing a &str cannot fail.
        let _ = out.json_serialize(s);
    }
}

/// Replaces `out[start..]` by a truncation marker when it is over the limit.
#[inline]
fn limit_size<B: JsonBuf + ?Sized>(out: &mut B, start: usize) {
    let len = out.json_bytes().len() - start;
    if len > max_value_bytes() {
        truncate_value(out, start, len);
    }
}

#[cold]
fn truncate_value<B: JsonBuf + ?Sized>(out: &mut B, start: usize, len: usize) {
    let bytes = out.json_bytes();
    let keep = max_value_bytes() / 2;
    let mut cut = start + keep;
    // Cut on a character boundary: skip UTF-8 continuation bytes.
    while cut > start && (bytes[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    let head = String::from_utf8_lossy(&bytes[start..cut]).into_owned();
    let dropped = len - (cut - start);
    out.json_truncate(start);
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

/// Values whose JSON is written directly, without serde_json's writer: integers, booleans and
/// strings, the most common arguments. The JSON is the one serde_json writes.
#[doc(hidden)]
pub trait FastJson {
    fn write_fast<B: JsonBuf + ?Sized>(&self, out: &mut B);
}

macro_rules! fast_unsigned {
    ($($t:ty),*) => {$(
        impl FastJson for $t {
            #[inline]
            fn write_fast<B: JsonBuf + ?Sized>(&self, out: &mut B) {
                write_u128(*self as u128, out);
            }
        }
    )*};
}
fast_unsigned!(u8, u16, u32, u64, u128, usize);

macro_rules! fast_signed {
    ($($t:ty),*) => {$(
        impl FastJson for $t {
            #[inline]
            fn write_fast<B: JsonBuf + ?Sized>(&self, out: &mut B) {
                if *self < 0 {
                    out.json_push_ascii(b'-');
                }
                write_u128(self.unsigned_abs() as u128, out);
            }
        }
    )*};
}
fast_signed!(i8, i16, i32, i64, i128, isize);

impl FastJson for bool {
    #[inline]
    fn write_fast<B: JsonBuf + ?Sized>(&self, out: &mut B) {
        out.json_push(if *self { "true" } else { "false" });
    }
}

impl FastJson for str {
    #[inline]
    fn write_fast<B: JsonBuf + ?Sized>(&self, out: &mut B) {
        let start = out.json_bytes().len();
        write_str_json(self, out);
        limit_size(out, start);
    }
}

impl FastJson for String {
    #[inline]
    fn write_fast<B: JsonBuf + ?Sized>(&self, out: &mut B) {
        self.as_str().write_fast(out);
    }
}

impl<T: FastJson + ?Sized> FastJson for &T {
    #[inline]
    fn write_fast<B: JsonBuf + ?Sized>(&self, out: &mut B) {
        (**self).write_fast(out);
    }
}

/// Appends the decimal digits of `n` (64-bit division unless `n` needs more).
#[inline]
fn write_u128<B: JsonBuf + ?Sized>(n: u128, out: &mut B) {
    if n < 10 {
        out.json_push_ascii(b'0' + n as u8);
        return;
    }
    let mut digits = [0u8; 39];
    let mut i = digits.len();
    match u64::try_from(n) {
        Ok(mut n) => {
            while n > 0 {
                i -= 1;
                digits[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        Err(_) => {
            let mut n = n;
            while n > 0 {
                i -= 1;
                digits[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
    }
    for &d in &digits[i..] {
        out.json_push_ascii(d);
    }
}

/// Capture of the types of [`FastJson`] (before `Serialize`, which they also implement).
#[doc(hidden)]
pub trait ViaFast {
    fn __spanwise_capture<B: JsonBuf + ?Sized>(&self, out: &mut B);
}

impl<T: FastJson + ?Sized> ViaFast for &&&Wrap<'_, T> {
    #[inline]
    fn __spanwise_capture<B: JsonBuf + ?Sized>(&self, out: &mut B) {
        self.0.write_fast(out);
    }
}

/// Capture through `Serialize` (the first choice).
#[doc(hidden)]
pub trait ViaSerialize {
    fn __spanwise_capture<B: JsonBuf + ?Sized>(&self, out: &mut B);
}

/// Capture through `Debug` (when the type is not `Serialize`).
#[doc(hidden)]
pub trait ViaDebug {
    fn __spanwise_capture<B: JsonBuf + ?Sized>(&self, out: &mut B);
}

/// Capture of the type name (when the type is neither).
#[doc(hidden)]
pub trait ViaTypeName {
    fn __spanwise_capture<B: JsonBuf + ?Sized>(&self, out: &mut B);
}

impl<T: Serialize + ?Sized> ViaSerialize for &&Wrap<'_, T> {
    #[inline]
    fn __spanwise_capture<B: JsonBuf + ?Sized>(&self, out: &mut B) {
        write_json_to(self.0, out);
    }
}

impl<T: Debug + ?Sized> ViaDebug for &Wrap<'_, T> {
    fn __spanwise_capture<B: JsonBuf + ?Sized>(&self, out: &mut B) {
        let text = match catch_unwind(AssertUnwindSafe(|| format!("{:?}", self.0))) {
            Ok(t) => t,
            Err(p) => {
                crate::counters::user_code_panic(crate::counters::UserCode::Debug);
                format!("<unserializable: Debug panicked: {}>", panic_text(&*p))
            }
        };
        let start = out.json_bytes().len();
        write_str_json(&text, out);
        limit_size(out, start);
    }
}

impl<T: ?Sized> ViaTypeName for Wrap<'_, T> {
    fn __spanwise_capture<B: JsonBuf + ?Sized>(&self, out: &mut B) {
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
        (&&&&Wrap(v)).__spanwise_capture(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn autoref_picks_serialize_then_debug_then_type_name() {
        let mut out = Vec::new();
        (&&&&Wrap(&5u8)).__spanwise_capture(&mut out);
        assert_eq!(out, b"5");
        out.clear();
        (&&&&Wrap(&vec![1u8])).__spanwise_capture(&mut out);
        assert_eq!(out, b"[1]");
        out.clear();
        (&&&&Wrap(&OnlyDebug(3))).__spanwise_capture(&mut out);
        assert_eq!(String::from_utf8(out.clone()).unwrap(), "\"OnlyDebug(3)\"");
        out.clear();
        (&&&&Wrap(&Plain)).__spanwise_capture(&mut out);
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("<unserializable: spanwise_core")
        );
        assert_eq!(cap_serialize(&"x"), "\"x\"");
    }

    #[test]
    fn fast_json_writes_what_serde_json_writes() {
        fn both<T: FastJson + Serialize + ?Sized>(v: &T) {
            let mut s = String::new();
            v.write_fast(&mut s);
            let mut b = Vec::new();
            v.write_fast(&mut b);
            let expected = serde_json::to_string(v).unwrap();
            assert_eq!(s, expected);
            assert_eq!(b, expected.as_bytes());
        }
        for n in [0u64, 7, 10, 99, 12345, u64::MAX] {
            both(&n);
        }
        for n in [0i64, -1, -10, 42, i64::MIN, i64::MAX] {
            both(&n);
        }
        both(&u128::MAX);
        both(&i128::MIN);
        both(&-128i8);
        both(&true);
        both(&false);
        for s in [
            "",
            "hello",
            "é ✓",
            "quote \" and \\",
            "tab\tnl\n\u{1}",
            "\u{7f}",
        ] {
            both(s);
            both(&s.to_string());
            both(&s);
        }
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
        // The same through the direct path of strings, into a `String`.
        let mut out = String::new();
        (&&&&Wrap(&big)).__spanwise_capture(&mut out);
        assert_eq!(out, j);
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
