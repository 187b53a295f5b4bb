//! Trace and span identifiers: OpenTelemetry's 128-bit and 64-bit ids, and the
//! thread-local generator that makes them.

use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::Error;

/// A trace id: the 128-bit OpenTelemetry trace id.
///
/// It displays and parses in MLflow's form, `tr-` followed by 32 lowercase hex digits.
///
/// ```
/// use spanwise_core::TraceId;
/// let id: TraceId = "tr-8069a0265eec15a1d9bbfa62bf64cbf6".parse().unwrap();
/// assert_eq!(id.to_string(), "tr-8069a0265eec15a1d9bbfa62bf64cbf6");
/// assert_eq!(id.to_hex(), "8069a0265eec15a1d9bbfa62bf64cbf6");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub u128);

/// A span id: the 64-bit OpenTelemetry span id.
///
/// It displays as 16 lowercase hex digits; in MLflow's span JSON it is written as base64 of its
/// 8 big-endian bytes.
///
/// ```
/// use spanwise_core::SpanId;
/// let id = SpanId::from_base64("RNYFqWZ4/dI=").unwrap();
/// assert_eq!(id.to_base64(), "RNYFqWZ4/dI=");
/// assert_eq!(id.to_string(), "44d605a96678fdd2");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub u64);

impl TraceId {
    /// Makes a new random trace id (never zero).
    pub fn random() -> TraceId {
        let hi = next_random() as u128;
        let lo = next_random() as u128;
        TraceId((hi << 64) | lo | 1)
    }

    /// The 32 lowercase hex digits, without the `tr-` prefix (the W3C / OTLP JSON form).
    pub fn to_hex(&self) -> String {
        format!("{:032x}", self.0)
    }

    /// Parses 32 hex digits (no prefix).
    pub fn from_hex(s: &str) -> Result<TraceId, Error> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidId(format!(
                "a trace id needs 32 hex digits, got {s:?}"
            )));
        }
        u128::from_str_radix(s, 16)
            .map(TraceId)
            .map_err(|e| Error::InvalidId(format!("{s:?}: {e}")))
    }

    /// The 16 big-endian bytes.
    pub fn to_bytes(&self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// Base64 of the 16 big-endian bytes: the form of `trace_id` inside MLflow's span JSON.
    pub fn to_base64(&self) -> String {
        B64.encode(self.to_bytes())
    }

    /// Reads the base64 form written in MLflow's span JSON.
    pub fn from_base64(s: &str) -> Result<TraceId, Error> {
        let bytes = B64
            .decode(s)
            .map_err(|e| Error::InvalidId(format!("trace id {s:?} is not base64: {e}")))?;
        let arr: [u8; 16] = bytes.try_into().map_err(|b: Vec<u8>| {
            Error::InvalidId(format!("trace id {s:?} holds {} bytes, not 16", b.len()))
        })?;
        Ok(TraceId(u128::from_be_bytes(arr)))
    }
}

impl SpanId {
    /// Makes a new random span id (never zero).
    pub fn random() -> SpanId {
        SpanId(next_random() | 1)
    }

    /// The 16 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        format!("{:016x}", self.0)
    }

    /// Parses 16 hex digits.
    pub fn from_hex(s: &str) -> Result<SpanId, Error> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidId(format!(
                "a span id needs 16 hex digits, got {s:?}"
            )));
        }
        u64::from_str_radix(s, 16)
            .map(SpanId)
            .map_err(|e| Error::InvalidId(format!("{s:?}: {e}")))
    }

    /// The 8 big-endian bytes.
    pub fn to_bytes(&self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Base64 of the 8 big-endian bytes, as MLflow writes span ids.
    pub fn to_base64(&self) -> String {
        B64.encode(self.to_bytes())
    }

    /// Reads the base64 form MLflow writes.
    pub fn from_base64(s: &str) -> Result<SpanId, Error> {
        let bytes = B64
            .decode(s)
            .map_err(|e| Error::InvalidId(format!("span id {s:?} is not base64: {e}")))?;
        let arr: [u8; 8] = bytes.try_into().map_err(|b: Vec<u8>| {
            Error::InvalidId(format!("span id {s:?} holds {} bytes, not 8", b.len()))
        })?;
        Ok(SpanId(u64::from_be_bytes(arr)))
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tr-{:032x}", self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for TraceId {
    type Err = Error;
    /// Parses `tr-<32 hex>`; 32 bare hex digits are accepted too.
    fn from_str(s: &str) -> Result<TraceId, Error> {
        TraceId::from_hex(s.strip_prefix("tr-").unwrap_or(s))
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for SpanId {
    type Err = Error;
    fn from_str(s: &str) -> Result<SpanId, Error> {
        SpanId::from_hex(s)
    }
}

thread_local! {
    // xorshift64* state; 0 means "not seeded yet".
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A fast per-thread generator, seeded once per thread from the OS-seeded keys of std's
/// `RandomState`, so that nothing the application seeds (e.g. `rand::SeedableRng`) affects ids.
fn next_random() -> u64 {
    RNG.with(|cell| {
        let mut x = cell.get();
        if x == 0 {
            x = seed();
        }
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        cell.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

fn seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    let tid = std::thread::current().id();
    h.write(format!("{tid:?}").as_bytes());
    match h.finish() {
        0 => 0x9E37_79B9_7F4A_7C15,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_their_forms() {
        let t = TraceId::random();
        assert_eq!(t.to_string().parse::<TraceId>().unwrap(), t);
        assert_eq!(TraceId::from_base64(&t.to_base64()).unwrap(), t);
        let s = SpanId::random();
        assert_eq!(SpanId::from_base64(&s.to_base64()).unwrap(), s);
        assert_eq!(s.to_hex().parse::<SpanId>().unwrap(), s);
    }

    #[test]
    fn fixture_ids_decode_to_the_trace_id() {
        // From fixtures/nested.json: the span's base64 trace id is the info's tr- id.
        let t = TraceId::from_base64("gGmgJl7sFaHZu/piv2TL9g==").unwrap();
        assert_eq!(t.to_string(), "tr-8069a0265eec15a1d9bbfa62bf64cbf6");
    }

    #[test]
    fn bad_ids_are_errors() {
        assert!("tr-123".parse::<TraceId>().is_err());
        assert!(
            "tr-zz69a0265eec15a1d9bbfa62bf64cbf6"
                .parse::<TraceId>()
                .is_err()
        );
        assert!(SpanId::from_base64("!!").is_err());
        assert!(SpanId::from_base64("gGmgJl7sFaHZu/piv2TL9g==").is_err());
    }

    #[test]
    fn generator_does_not_repeat_quickly() {
        let ids: std::collections::HashSet<u64> = (0..10_000).map(|_| SpanId::random().0).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
