//! The texts the stand-in reads and writes: message text, token counts, reply, ids.

use serde_json::Value;

/// The fixed `created` time of every answer.
pub(crate) const CREATED: u64 = 1_700_000_000;

/// Words of a text: the stand-in's tokens.
pub(crate) fn tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// The text of a message `content`: a string, or the `text` of its parts.
pub(crate) fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The reply to a prompt whose last message says `last`.
pub(crate) fn reply(last: &str) -> String {
    format!("Stand-in reply to: {last}")
}

/// A short id made from the request (FNV-1a, hex).
pub(crate) fn hash_id(raw: &str) -> String {
    format!("{:016x}", fnv(raw.as_bytes()))
}

pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The reply split as a stream sends it: words, each after the first with its leading space.
pub(crate) fn pieces(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, w) in text.split(' ').enumerate() {
        out.push(if i == 0 {
            w.to_string()
        } else {
            format!(" {w}")
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_rebuild_the_text() {
        let t = "Stand-in reply to: hello  there";
        assert_eq!(pieces(t).concat(), t);
        assert_eq!(tokens(t), 5);
    }
}
