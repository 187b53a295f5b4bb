//! The pieces the trace JSON is made of, each written as serde_json writes it: escaped strings,
//! decimal numbers, base64 and hex ids, the request time.
//!
//! Each piece also tells how much longer Python's `json.dumps` (with `ensure_ascii`, as MLflow
//! measures `mlflow.trace.sizeStats`) would write it, its *Python extra*: `", "` and `": "`
//! between items (one byte more per structural `,` or `:`), and `\uXXXX` for each character
//! outside printable ASCII inside strings. What the writer adds up equals
//! [`dumps_ascii_len`](crate::pyjson::dumps_ascii_len) of what it wrote, without a second pass
//! over the text (the tests check it on every trace they write).

/// The structural `,` and `:` of a literal of JSON structure and key names (no key name has
/// either): its Python extra.
pub(crate) const fn seps(lit: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < lit.len() {
        if lit[i] == b',' || lit[i] == b':' {
            n += 1;
        }
        i += 1;
    }
    n
}

/// Appends a literal of JSON structure and key names and adds its Python extra to `$py`
/// (counted at compile time).
macro_rules! structure {
    ($out:expr, $py:expr, $lit:expr) => {{
        const LIT: &[u8] = $lit;
        const SEPS: usize = $crate::finalize::json::text::seps(LIT);
        $out.extend_from_slice(LIT);
        $py += SEPS;
    }};
}
pub(crate) use structure;

/// What serde_json writes for each byte: 0 for itself, else the letter after `\` (`u` for
/// `\u00XX`).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// What `ensure_ascii` adds for each byte of a string (serde_json leaves these raw): `\u007f`
/// for DEL, `\uXXXX` for a 2- or 3-byte character (counted at its lead byte), a surrogate pair
/// for a 4-byte one.
static PY_EXTRA: [u8; 256] = {
    let mut t = [0u8; 256];
    t[0x7f] = 5;
    let mut i = 0xc0;
    while i < 0x100 {
        t[i] = if i < 0xe0 {
            4
        } else if i < 0xf0 {
            3
        } else {
            8
        };
        i += 1;
    }
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Whether all 8 bytes are written as they are by both serde_json and `ensure_ascii`: none is
/// a control character, `"`, `\`, or 0x7f and up (exact).
#[inline]
fn plain_word(w: u64) -> bool {
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    // 0x7f and up: adding 0x01 to each 7-bit part sets the high bit for 0x7f only.
    let high = (w | ((w & !HIGH) + ONES)) & HIGH;
    (below_space
        | high
        | has_zero(w ^ (ONES * u64::from(b'"')))
        | has_zero(w ^ (ONES * u64::from(b'\\'))))
        == 0
}

/// The 8 bytes of `bytes` at `i`, as a word.
#[inline]
fn word_at(bytes: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[i..i + 8]);
    u64::from_le_bytes(w)
}

/// Appends the characters of `s` escaped as serde_json escapes them inside a string literal
/// (no quotes); returns their Python extra.
#[inline]
pub(crate) fn escape(out: &mut Vec<u8>, s: &str) -> usize {
    let bytes = s.as_bytes();
    let n = bytes.len();
    // The usual case: nothing to do, found eight bytes at a time (the last word overlapping
    // the one before it; a short string read as two overlapping halves), then one copy.
    let mut i = 0;
    let plain = if n >= 8 {
        while i + 8 <= n && plain_word(word_at(bytes, i)) {
            i += 8;
        }
        i + 8 > n && (i == n || plain_word(word_at(bytes, n - 8)))
    } else if n >= 4 {
        let half = |at: usize| {
            let mut h = [0u8; 4];
            h.copy_from_slice(&bytes[at..at + 4]);
            u64::from(u32::from_le_bytes(h))
        };
        plain_word(half(0) | (half(n - 4) << 32))
    } else {
        bytes
            .iter()
            .all(|&b| ESCAPE[b as usize] == 0 && PY_EXTRA[b as usize] == 0)
    };
    if plain {
        out.extend_from_slice(bytes);
        return 0;
    }
    out.extend_from_slice(&bytes[..i]);
    escape_from(out, &bytes[i..])
}

/// [`escape`] of bytes that may need something, a block of eight at a time: a block that needs
/// nothing is copied whole, the others escaped byte by byte into a buffer of the block's
/// largest escaped size, then copied (escapes in JSON values come in clusters: `{"a":"b"}`,
/// so a scan for the next special byte would stop at nearly every one).
fn escape_from(out: &mut Vec<u8>, bytes: &[u8]) -> usize {
    out.reserve(bytes.len() + 8);
    let mut extra = 0;
    for block in bytes.chunks(8) {
        if let Ok(word) = <[u8; 8]>::try_from(block)
            && plain_word(u64::from_le_bytes(word))
        {
            out.extend_from_slice(&word);
            continue;
        }
        // At most six bytes (`\u00XX`) for each of eight.
        let mut buf = [0u8; 48];
        let mut k = 0;
        for &b in block {
            extra += usize::from(PY_EXTRA[b as usize]);
            match ESCAPE[b as usize] {
                0 => {
                    buf[k] = b;
                    k += 1;
                }
                b'u' => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    buf[k..k + 6].copy_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[(b >> 4) as usize],
                        HEX[(b & 0xf) as usize],
                    ]);
                    k += 6;
                }
                e => {
                    buf[k] = b'\\';
                    buf[k + 1] = e;
                    k += 2;
                }
            }
        }
        // The whole buffer, then cut: a copy of fixed size, no call.
        let at = out.len();
        out.extend_from_slice(&buf);
        out.truncate(at + k);
    }
    extra
}

/// Appends `s` as a JSON string literal, escaped exactly as serde_json escapes it; returns its
/// Python extra.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) -> usize {
    out.push(b'"');
    let extra = escape(out, s);
    out.push(b'"');
    extra
}

/// Appends the JSON string literal of the JSON string literal of `s` (a span type or function
/// name as MLflow keeps it in an attribute: `"\"UNKNOWN\""`); returns its Python extra.
/// `tmp` is a buffer for the inner literal.
pub(crate) fn write_str_of_str(out: &mut Vec<u8>, s: &str, tmp: &mut Vec<u8>) -> usize {
    tmp.clear();
    write_str(tmp, s);
    // Escaping writes ASCII and copies whole UTF-8 sequences: `tmp` is UTF-8.
    write_str(out, std::str::from_utf8(tmp).unwrap_or_default())
}

/// Appends the decimal digits of `n`.
pub(crate) fn write_u64(out: &mut Vec<u8>, n: u64) {
    // The digits end at byte 20 of a buffer of 40: the 20 bytes from the first digit are copied
    // at once (a copy of fixed size, no call), then cut to the digits.
    let mut buf = [0u8; 40];
    let digits = buf
        .first_chunk_mut::<20>()
        .map_or(0, |head| decimal(n, head).len());
    let at = out.len();
    out.extend_from_slice(&buf[20 - digits..40 - digits]);
    out.truncate(at + digits);
}

/// Appends `bytes[start..start + len]`, by a copy of 32 bytes when `bytes` has them from
/// `start` (a copy of fixed size, no call), then cut to `len`.
#[inline]
pub(crate) fn copy_short(out: &mut Vec<u8>, bytes: &[u8], start: usize, len: usize) {
    const SHORT: usize = 32;
    if len <= SHORT
        && let Some(chunk) = bytes.get(start..start + SHORT)
    {
        let at = out.len();
        out.extend_from_slice(chunk);
        out.truncate(at + len);
    } else {
        out.extend_from_slice(&bytes[start..start + len]);
    }
}

/// The decimal digits of `n`, written at the end of `buf`: eight digits at a time in 32-bit
/// arithmetic, two digits a step (timestamps have 19 digits).
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    while n >= 100_000_000 {
        let mut chunk = (n % 100_000_000) as u32;
        n /= 100_000_000;
        for _ in 0..4 {
            i -= 2;
            buf[i..i + 2].copy_from_slice(pair(chunk % 100));
            chunk /= 100;
        }
    }
    let mut n = n as u32;
    while n >= 100 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(pair(n % 100));
        n /= 100;
    }
    if n >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(pair(n));
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    &buf[i..]
}

/// The two digits of `n` (below 100).
#[inline]
fn pair(n: u32) -> &'static [u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let p = n as usize * 2;
    &PAIRS[p..p + 2]
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Four base64 characters of three bytes.
#[inline]
fn b64_group(b0: u8, b1: u8, b2: u8, out: &mut [u8]) {
    let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
    for (c, o) in out.iter_mut().take(4).enumerate() {
        *o = B64[((n >> (18 - 6 * c)) & 63) as usize];
    }
}

/// Standard base64 (with padding) of the 8 big-endian bytes of a span id: 12 characters.
pub(crate) fn span_id_base64(id: u64) -> [u8; 12] {
    let b = id.to_be_bytes();
    let mut out = [b'='; 12];
    b64_group(b[0], b[1], b[2], &mut out[0..4]);
    b64_group(b[3], b[4], b[5], &mut out[4..8]);
    // Two bytes left: three characters and one `=`.
    b64_group(b[6], b[7], 0, &mut out[8..12]);
    out[11] = b'=';
    out
}

/// Standard base64 (with padding) of the 16 big-endian bytes of a trace id: 24 characters.
pub(crate) fn trace_id_base64(id: u128) -> [u8; 24] {
    let b = id.to_be_bytes();
    let mut out = [b'='; 24];
    for g in 0..5 {
        b64_group(
            b[3 * g],
            b[3 * g + 1],
            b[3 * g + 2],
            &mut out[4 * g..4 * g + 4],
        );
    }
    // One byte left: two characters and `==`.
    b64_group(b[15], 0, 0, &mut out[20..24]);
    out[22] = b'=';
    out[23] = b'=';
    out
}

/// `tr-` and the 32 lowercase hex digits of a trace id (its `Display`).
pub(crate) fn trace_id_text(id: u128) -> [u8; 35] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 35];
    out[..3].copy_from_slice(b"tr-");
    for (i, o) in out[3..].iter_mut().enumerate() {
        *o = HEX[((id >> (124 - 4 * i)) & 0xf) as usize];
    }
    out
}

/// The UTC time of `ms` milliseconds since the Unix epoch as RFC 3339 with milliseconds and
/// `Z` (`2026-11-22T01:46:21.714Z`), as chrono's `to_rfc3339_opts(Millis, true)` writes it, for
/// years 0 to 9999.
pub(crate) fn rfc3339_millis(ms: u64) -> [u8; 24] {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let day_secs = (secs % 86_400) as u32;
    // Days to a civil date (proleptic Gregorian), by eras of 400 years starting in March.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u32;
    let mut out = *b"0000-00-00T00:00:00.000Z";
    out[0..2].copy_from_slice(pair(year / 100 % 100));
    out[2..4].copy_from_slice(pair(year % 100));
    out[5..7].copy_from_slice(pair(month));
    out[8..10].copy_from_slice(pair(day));
    out[11..13].copy_from_slice(pair(day_secs / 3600));
    out[14..16].copy_from_slice(pair(day_secs / 60 % 60));
    out[17..19].copy_from_slice(pair(day_secs % 60));
    let milli = (ms % 1000) as u32;
    out[20] = b'0' + (milli / 100) as u8;
    out[21..23].copy_from_slice(pair(milli % 100));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them_with_their_python_extra() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é中😀\u{7f}\u{2028}\"\\ end");
        let samples = [
            "",
            "plain",
            "exactly8",
            "sixteen chars ok",
            "\"",
            "\\",
            "a\"b\\c\nd\te\u{1}f\u{1f}",
            "{\"a\":0,\"b\":\"hello\"}",
            "long text without anything to escape in it at all, more than eight bytes",
            "ünïcödé \u{0} nul",
            "plain ascii then é, then plain ascii again for a while, then 😀 at the end",
            "\u{7f}\u{7f}\u{7f}\u{7f}\u{7f}\u{7f}\u{7f}\u{7f}\u{7f}",
            "中文\"引号\"和\\反斜杠\n还有😀表情\u{7f}以及ü",
            "{\"a\":0}",
            "a\"",
            "\"é",
            "é\u{1}",
            &all,
        ];
        for s in samples {
            let mut mine = Vec::new();
            let extra = write_str(&mut mine, s);
            let mine = String::from_utf8(mine).unwrap();
            assert_eq!(mine, serde_json::to_string(s).unwrap(), "{s:?}");
            assert_eq!(
                mine.len() + extra,
                crate::pyjson::dumps_ascii_len(&mine),
                "{s:?}"
            );
        }
    }

    proptest::proptest! {
        /// Any text, mostly what needs escaping or is outside ASCII, at any length and offset
        /// of the eight-byte scan.
        #[test]
        fn any_string_is_escaped_as_serde_json_escapes_it(
            s in "[a\"\\\\\u{0}-\u{1f}\u{7f}é中😀 ]{0,40}",
        ) {
            let mut mine = Vec::new();
            let extra = write_str(&mut mine, &s);
            let mine = String::from_utf8(mine).unwrap();
            proptest::prop_assert_eq!(&mine, &serde_json::to_string(&s).unwrap());
            proptest::prop_assert_eq!(mine.len() + extra, crate::pyjson::dumps_ascii_len(&mine));
        }
    }

    #[test]
    fn a_string_of_a_string_is_escaped_twice() {
        for s in ["UNKNOWN", "my \"custom\" type", "é\n"] {
            let mut mine = Vec::new();
            let extra = write_str_of_str(&mut mine, s, &mut Vec::new());
            let mine = String::from_utf8(mine).unwrap();
            let twice = serde_json::to_string(&serde_json::to_string(s).unwrap()).unwrap();
            assert_eq!(mine, twice);
            assert_eq!(mine.len() + extra, crate::pyjson::dumps_ascii_len(&mine));
        }
    }

    #[test]
    fn structure_counts_its_separators() {
        const { assert!(seps(b"{\"a\":1,\"b\":[2,3]}") == 4) };
        let mut out = Vec::new();
        let mut py = 0;
        structure!(out, py, b",\"name\":");
        assert_eq!((out.as_slice(), py), (&b",\"name\":"[..], 2));
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        let mut n = 1u64;
        let mut cases = vec![0, 9, 10, 99, 100, 101, u64::MAX, 1_779_000_000_123_456_789];
        while let Some(m) = n.checked_mul(7) {
            cases.push(m);
            cases.push(m - 1);
            n = m;
        }
        for n in cases {
            let mut out = Vec::new();
            write_u64(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }

    #[test]
    fn ids_are_standard_base64_and_hex() {
        for id in [0, 1, u64::MAX, 0x44d6_05a9_6678_fdd2, 0x0123_4567_89ab_cdef] {
            let sid = crate::SpanId(id);
            assert_eq!(
                std::str::from_utf8(&span_id_base64(id)).unwrap(),
                sid.to_base64()
            );
        }
        for id in [
            0,
            1,
            u128::MAX,
            0x8069_a026_5eec_15a1_d9bb_fa62_bf64_cbf6,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ] {
            let tid = crate::TraceId(id);
            assert_eq!(
                std::str::from_utf8(&trace_id_base64(id)).unwrap(),
                tid.to_base64()
            );
            assert_eq!(
                std::str::from_utf8(&trace_id_text(id)).unwrap(),
                tid.to_string()
            );
        }
    }

    #[test]
    fn request_times_are_written_as_chrono_writes_them() {
        let mut ms = 0u64;
        // Every few days and hours over the years a trace can carry (its start in u64
        // nanoseconds reaches 2554), leap days and whole seconds included.
        let mut cases = vec![
            0,
            951_782_400_000, // 2000-02-29
            1_795_311_981_000,
            1_795_311_981_714,
            u64::MAX / 1_000_000,
        ];
        while ms < u64::MAX / 1_000_000 {
            cases.push(ms);
            ms += 86_400_000 * 3 + 3_600_000 * 7 + 61_001;
        }
        for ms in cases {
            let chrono = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            assert_eq!(std::str::from_utf8(&rfc3339_millis(ms)).unwrap(), chrono);
        }
    }

    #[test]
    fn the_plain_test_of_a_word_finds_every_byte_that_needs_something() {
        for b in 0..=255u8 {
            let special = b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f;
            for pos in 0..8 {
                let mut word = [b'a'; 8];
                word[pos] = b;
                assert_eq!(
                    plain_word(u64::from_le_bytes(word)),
                    !special,
                    "{b} at {pos}"
                );
                let mut word = [b'~'; 8];
                word[pos] = b;
                assert_eq!(plain_word(u64::from_le_bytes(word)), !special);
            }
        }
    }
}
