//! Python's `json.dumps` text form of a JSON text: what MLflow's Python SDK writes.
//!
//! spanwise keeps values as compact JSON (serde_json's `{"x":4}`). Where MLflow's own text is
//! compared or measured, the same value must read as Python writes it: `", "` and `": "`
//! between items, floats as Python's `repr` writes them (`1e+20`, `1e-05`), and, with
//! `ensure_ascii`, every character outside printable ASCII as a `\uXXXX` escape (a surrogate
//! pair above U+FFFF). MLflow writes the trace's `mlflow.traceInputs` / `traceOutputs` and
//! previews without `ensure_ascii` (non-ASCII kept) and measures `mlflow.trace.sizeStats`
//! with it (Python's default).
//!
//! The input is a JSON text as serde_json writes it (any whitespace between tokens is
//! dropped); a text that is not JSON comes out with its string and number tokens unchanged.

/// Where the Python form goes: a string, or a counter of its UTF-8 bytes.
trait Out {
    fn bytes(&mut self, b: &[u8]);
    fn char(&mut self, c: char);
}

impl Out for String {
    fn bytes(&mut self, b: &[u8]) {
        // Only ever handed whole UTF-8 sequences or ASCII.
        self.push_str(std::str::from_utf8(b).unwrap_or_default());
    }
    fn char(&mut self, c: char) {
        self.push(c);
    }
}

impl Out for Vec<u8> {
    fn bytes(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
    fn char(&mut self, c: char) {
        let mut utf8 = [0u8; 4];
        self.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }
}

struct Count(usize);

impl Out for Count {
    fn bytes(&mut self, b: &[u8]) {
        self.0 += b.len();
    }
    fn char(&mut self, c: char) {
        self.0 += c.len_utf8();
    }
}

/// `json` as Python's `json.dumps(json.loads(json))` writes it, non-ASCII kept
/// (`ensure_ascii=False`).
pub(crate) fn dumps(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 8);
    convert(json, false, &mut out);
    out
}

/// [`dumps`] into `out` (emptied first), whose room is kept from one call to the next: the
/// text, as UTF-8 (only whole UTF-8 sequences and ASCII are written).
pub(crate) fn dumps_into<'a>(json: &str, out: &'a mut Vec<u8>) -> &'a str {
    out.clear();
    out.reserve(json.len() + json.len() / 8);
    convert(json, false, out);
    std::str::from_utf8(out).unwrap_or_default()
}

/// The length in UTF-8 bytes of Python's `json.dumps(json.loads(json))` (`ensure_ascii=True`),
/// counted without building the text: the input's length, plus one byte per separator, plus
/// what escaping adds to each character outside printable ASCII, plus the difference of
/// Python's float text (this runs over every span a JSONL writer writes, so it is one pass
/// over the bytes).
pub(crate) fn dumps_ascii_len(json: &str) -> usize {
    let b = json.as_bytes();
    let mut len = b.len();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() {
                    // Eight plain bytes at a time: the usual case in attribute values.
                    while let Some(w) = b.get(i..i + 8) {
                        let w = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
                        let special = special_bytes(w);
                        if special != 0 {
                            // Straight to the first special byte of the word.
                            i += (special.trailing_zeros() / 8) as usize;
                            break;
                        }
                        i += 8;
                    }
                    if i >= b.len() {
                        break;
                    }
                    match b[i] {
                        b'"' => break,
                        // An escape: the byte after the backslash is ASCII and kept.
                        b'\\' => i += 1,
                        // `\u007f` for one byte.
                        0x7f => len += 5,
                        // A UTF-8 lead byte: `\uXXXX` (6 bytes) for a 2- or 3-byte
                        // character, a surrogate pair (12) for a 4-byte one.
                        0xc0..=0xdf => len += 4,
                        0xe0..=0xef => len += 3,
                        0xf0..=0xff => len += 8,
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
            }
            b',' | b':' => {
                len += 1;
                i += 1;
            }
            b' ' | b'\n' | b'\r' | b'\t' => {
                len -= 1;
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let end = b[i..]
                    .iter()
                    .position(|c| !matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .map_or(b.len(), |p| i + p);
                let token = &json[i..end];
                if token.contains(['.', 'e', 'E']) {
                    let mut n = Count(0);
                    number(token, &mut n);
                    len = len + n.0 - token.len();
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    len
}

/// The high bit of each byte of `w` (eight string bytes) that may be `"`, `\\` or from 0x7f
/// up; 0 when none is. The lowest one set is exact (a false positive only comes after a real
/// one, by a borrow).
#[inline]
fn special_bytes(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has = |c: u8| {
        let x = w ^ (ONES * u64::from(c));
        x.wrapping_sub(ONES) & !x & HIGH
    };
    // 0x7f and up: adding 0x01 to each 7-bit part sets the high bit for 0x7f only.
    let high = (w | ((w & !HIGH) + ONES)) & HIGH;
    high | has(b'"') | has(b'\\')
}

/// [`dumps_ascii_len`] by building the text (what it must agree with).
#[cfg(test)]
fn dumps_ascii_len_slow(json: &str) -> usize {
    let mut n = Count(0);
    convert(json, true, &mut n);
    n.0
}

fn convert(json: &str, ascii: bool, out: &mut impl Out) {
    let b = json.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => i = string(json, i, ascii, out),
            b',' => {
                out.bytes(b", ");
                i += 1;
            }
            b':' => {
                out.bytes(b": ");
                i += 1;
            }
            b' ' | b'\n' | b'\r' | b'\t' => i += 1,
            b'-' | b'0'..=b'9' => {
                let (mut end, mut float) = (i, false);
                while let Some(&c) = b.get(end)
                    && matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    float |= matches!(c, b'.' | b'e' | b'E');
                    end += 1;
                }
                if float {
                    number(&json[i..end], out);
                } else {
                    // An integer, as written.
                    out.bytes(&b[i..end]);
                }
                i = end;
            }
            c if c.is_ascii() => {
                // Structural characters and the letters of true/false/null.
                out.bytes(&b[i..i + 1]);
                i += 1;
            }
            _ => {
                let c = json[i..].chars().next().unwrap_or('\u{fffd}');
                out.char(c);
                i += c.len_utf8();
            }
        }
    }
}

/// Writes the string token starting at `start` (its opening quote); returns the index after it.
fn string(json: &str, start: usize, ascii: bool, out: &mut impl Out) -> usize {
    let b = json.as_bytes();
    let mut i = start + 1;
    out.bytes(b"\"");
    while i < b.len() {
        // The run that needs no change is copied as one piece.
        let run = b[i..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || (ascii && !(0x20..0x7f).contains(&c)))
            .map_or(b.len(), |p| i + p);
        out.bytes(&b[i..run]);
        i = run;
        if i >= b.len() {
            break;
        }
        match b[i] {
            b'"' => {
                out.bytes(b"\"");
                return i + 1;
            }
            b'\\' => {
                // An escape as serde_json writes it is also Python's; kept as written.
                let len = if b.get(i + 1) == Some(&b'u') { 6 } else { 2 };
                let end = (i + len).min(b.len());
                out.bytes(&b[i..end]);
                i = end;
            }
            _ => {
                // ensure_ascii: a character outside printable ASCII (raw in serde's output).
                let c = json[i..].chars().next().unwrap_or('\u{fffd}');
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.bytes(format!("\\u{u:04x}").as_bytes());
                }
                i += c.len_utf8();
            }
        }
    }
    i
}

/// A number token: integers as written, floats as Python's `repr`.
fn number(token: &str, out: &mut impl Out) {
    if !token.contains(['.', 'e', 'E']) {
        out.bytes(token.as_bytes());
        return;
    }
    match token.parse::<f64>() {
        Ok(f) if f.is_finite() => out.bytes(float_repr(f).as_bytes()),
        _ => out.bytes(token.as_bytes()),
    }
}

/// Python's `repr(f)` of a finite float: the shortest digits that read back as `f`,
/// positional when the decimal exponent is in -4..16, else `d.ddde±XX`.
pub(crate) fn float_repr(f: f64) -> String {
    let sci = format!("{:e}", f.abs()); // e.g. "1.2345e-7", "1e16", "0e0"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            let (int, frac) = digits.split_at((exp + 1) as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_and_nesting() {
        assert_eq!(dumps(r#"{"x":4}"#), r#"{"x": 4}"#);
        assert_eq!(dumps("[0,1,2,3,4]"), "[0, 1, 2, 3, 4]");
        assert_eq!(
            dumps(r#"{"a":[],"b":{},"c":[{"d":null,"e":true}],"f":false}"#),
            r#"{"a": [], "b": {}, "c": [{"d": null, "e": true}], "f": false}"#
        );
        assert_eq!(dumps(r#""plain""#), r#""plain""#);
        assert_eq!(dumps("-12"), "-12");
    }

    #[test]
    fn strings_keep_their_separators_and_escapes() {
        assert_eq!(
            dumps(r#"{"k, v":"a: \"b\", c\\d\n\u001f"}"#),
            r#"{"k, v": "a: \"b\", c\\d\n\u001f"}"#
        );
    }

    #[test]
    fn non_ascii_kept_or_escaped() {
        let json = "[\"héllo 中 😀 \u{7f}\"]";
        assert_eq!(dumps(json), "[\"héllo 中 😀 \u{7f}\"]");
        let ascii = r#"["h\u00e9llo \u4e2d \ud83d\ude00 \u007f"]"#;
        assert_eq!(dumps_ascii_len(json), ascii.len());
        assert_eq!(dumps_ascii_len_slow(json), ascii.len());
    }

    #[test]
    fn the_fast_count_agrees_with_the_text() {
        for json in [
            r#"{"x":4}"#,
            "[0,1,2,1e20,1.0,-0.5,3]",
            r#"{"k, v":"a: \"b\", c\\d\n\u001f","é":["中",{"😀":null}]}"#,
            "{ \"a\" : [ 1 , 2 ] }",
            "\"\u{7f}\"",
            "[]",
            r#"["a long plain string of many words, then é and more plain text \" and \\ here"]"#,
            r#"{"abcdefgh\u{7f}ijklmnop":"0123456\"89abcdefghijklmnop中qrstuvwxyz"}"#,
        ] {
            assert_eq!(dumps_ascii_len(json), dumps_ascii_len_slow(json), "{json}");
        }
    }

    #[test]
    fn floats_as_python_repr() {
        // Checked against CPython 3.11: repr(x) for each.
        for (f, py) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1e20, "1e+20"),
            (1234567890123456.0, "1234567890123456.0"),
            (1.5e300, "1.5e+300"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.2345e-7, "1.2345e-07"),
            (123.456, "123.456"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(float_repr(f), py, "{f}");
        }
        assert_eq!(dumps("[1e20,1.0,2]"), "[1e+20, 1.0, 2]");
    }
}
