//! [`Scalar`]: an attribute value of a primitive type, encoded as JSON by hand (what serde_json
//! would write), for bridges that set many small values per span. A leaf, beside `capture`.

use crate::finalize::json::text::decimal;
use crate::record::Json;

/// A scalar attribute value for [`DetachedSpan::set_scalar_attribute`](crate::DetachedSpan::set_scalar_attribute).
///
/// ```
/// let value = spanwise_core::Scalar::Bool(true);
/// # let _ = value;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar<'a> {
    /// A string.
    Str(&'a str),
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A float (not finite: `null`, as serde_json writes it).
    F64(f64),
    /// A boolean.
    Bool(bool),
}

impl Scalar<'_> {
    /// The JSON text serde_json writes for the value (strings over the capture size limit
    /// truncated as `capture` truncates them).
    pub(crate) fn to_json(self) -> Json {
        match self {
            Scalar::Str(s) => {
                let plain = s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
                if !plain || s.len() + 2 > crate::capture::max_value_bytes() {
                    // Escapes or truncation: the general path.
                    return crate::capture::to_json(s).into();
                }
                quoted(s)
            }
            Scalar::I64(n) => {
                let mut buf = [0u8; 20];
                let digits = decimal(n.unsigned_abs(), &mut buf);
                if n >= 0 {
                    return ascii(digits);
                }
                let mut signed = [b'-'; 21];
                signed[1..=digits.len()].copy_from_slice(digits);
                ascii(&signed[..=digits.len()])
            }
            Scalar::U64(n) => ascii(decimal(n, &mut [0u8; 20])),
            Scalar::F64(x) => crate::capture::to_json(&x).into(),
            Scalar::Bool(b) => Json::const_new(if b { "true" } else { "false" }),
        }
    }
}

/// `s` between quotes: built in place when it fits inline (`CompactString::push` checks its
/// representation at each call).
fn quoted(s: &str) -> Json {
    const INLINE: usize = std::mem::size_of::<Json>();
    let n = s.len();
    if n + 2 <= INLINE {
        let mut buf = [0u8; INLINE];
        buf[0] = b'"';
        buf[1..1 + n].copy_from_slice(s.as_bytes());
        buf[1 + n] = b'"';
        // SAFETY: `s` between two ASCII quotes is UTF-8 (validating it again cost more than
        // the rest of the encoding, measured in `benches/bridge.rs`).
        return unsafe { Json::from_utf8_unchecked(&buf[..n + 2]) };
    }
    let mut out = String::with_capacity(n + 2);
    out.push('"');
    out.push_str(s);
    out.push('"');
    // The string's buffer is kept.
    Json::from(out)
}

/// Digits (and a sign) as a JSON text (inline: at most 21 bytes).
fn ascii(bytes: &[u8]) -> Json {
    debug_assert!(bytes.is_ascii());
    // SAFETY: only called with the ASCII output of `decimal` (and a `-`).
    unsafe { Json::from_utf8_unchecked(bytes) }
}

/// Appends the decimal digits of `n`.
pub(crate) fn push_digits(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(decimal(n, &mut [0u8; 20]));
}

#[cfg(test)]
mod tests {
    use super::Scalar;

    #[test]
    fn scalars_are_written_as_serde_json_writes_them() {
        let strs = [
            "",
            "plain",
            "caf\u{e9} \u{1f600}",
            "a\"b",
            "back\\slash",
            "tab\tnl\n",
            "\u{7f}",
        ];
        for s in strs {
            assert_eq!(
                Scalar::Str(s).to_json(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
        for n in [0, 7, -1, i64::MIN, i64::MAX] {
            assert_eq!(Scalar::I64(n).to_json(), n.to_string());
        }
        for n in [0, 10, u64::MAX] {
            assert_eq!(Scalar::U64(n).to_json(), n.to_string());
        }
        for x in [0.0, 1.0, -2.5, 1e300, f64::NAN, f64::INFINITY] {
            assert_eq!(Scalar::F64(x).to_json(), serde_json::to_string(&x).unwrap());
        }
        assert_eq!(Scalar::Bool(true).to_json(), "true");
        assert_eq!(Scalar::Bool(false).to_json(), "false");
        // Over the capture limit: truncated as any captured value is.
        let long = "x".repeat(crate::capture::max_value_bytes() + 10);
        assert_eq!(Scalar::Str(&long).to_json(), crate::capture::to_json(&long));
    }
}
