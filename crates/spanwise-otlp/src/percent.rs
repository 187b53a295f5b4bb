//! Percent-decoding of the values of `OTEL_EXPORTER_OTLP_HEADERS` and
//! `OTEL_RESOURCE_ATTRIBUTES` (W3C baggage style: `%XX` escapes, anything else as it is).

/// `s` with its `%XX` escapes decoded; a `%` not followed by two hex digits stays as it is, and
/// bytes that do not form UTF-8 become U+FFFD.
pub(crate) fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            )
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn escapes_are_decoded_and_stray_percents_kept() {
        assert_eq!(decode("a%20b%"), "a b%");
        assert_eq!(decode("100%zz"), "100%zz");
        assert_eq!(decode("%41%4a%4A"), "AJJ");
        assert_eq!(decode("%ff"), "\u{fffd}");
    }
}
