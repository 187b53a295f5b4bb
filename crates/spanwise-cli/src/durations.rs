//! Durations as people read and type them: `850µs`, `33.7ms`, `1.25s`, `2m05s`.

use std::time::Duration;

/// A short form with three significant digits at most, e.g. `0.52ms`, `33.7ms`, `1.25s`.
pub fn format(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", three_digits(ns as f64 / 1e3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", three_digits(ns as f64 / 1e6));
    }
    if ns < 60_000_000_000 {
        return format!("{}s", three_digits(ns as f64 / 1e9));
    }
    let secs = d.as_secs();
    if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

/// Like [`format`], with `µs` spelled `us` for ASCII-only output.
pub fn format_ascii(d: Duration) -> String {
    format(d).replace('µ', "u")
}

/// Keeps three significant digits and drops trailing zeros: 33.718 → "33.7", 0.5252 → "0.525".
fn three_digits(v: f64) -> String {
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Parses a number with a unit: `ns`, `us`/`µs`, `ms`, `s`, `m`, `h` (e.g. `100ms`, `1.5s`).
pub fn parse(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{text:?} needs a unit: ns, us, ms, s, m or h"))?;
    let (num, unit) = text.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{num:?} is not a number"))?;
    let nanos_per = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => return Err(format!("unknown unit {unit:?}: use ns, us, ms, s, m or h")),
    };
    let nanos = (value * nanos_per).round();
    // `as u64` would quietly make a huge value the largest duration.
    if nanos > u64::MAX as f64 {
        return Err(format!("{text:?} is too large (at most about 584 years)"));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_three_significant_digits() {
        assert_eq!(format(Duration::from_nanos(999)), "999ns");
        assert_eq!(format(Duration::from_nanos(141_420)), "141µs");
        assert_eq!(format(Duration::from_nanos(525_207)), "525µs");
        assert_eq!(format(Duration::from_nanos(2_491_405)), "2.49ms");
        assert_eq!(format(Duration::from_nanos(33_718_114)), "33.7ms");
        assert_eq!(format(Duration::from_millis(1000)), "1s");
        assert_eq!(format(Duration::from_millis(1250)), "1.25s");
        assert_eq!(format(Duration::from_secs(125)), "2m05s");
        assert_eq!(format(Duration::from_secs(7260)), "2h01m");
        assert_eq!(format_ascii(Duration::from_micros(5)), "5us");
    }

    #[test]
    fn parses_units() {
        assert_eq!(parse("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse("250µs").unwrap(), Duration::from_micros(250));
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
        assert!(parse("100").unwrap_err().contains("needs a unit"));
        assert!(parse("100parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse("1.2.3s").unwrap_err().contains("not a number"));
    }
}
