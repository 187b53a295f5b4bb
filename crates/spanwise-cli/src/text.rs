//! Fitting text into terminal cells: one line, a width in characters, an ellipsis when cut.

/// Newlines, tabs and runs of spaces become one space, so a value fits one row.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

/// Cuts `text` to at most `width` characters, ending with `…` (or `...` in ASCII mode) when cut.
pub fn cut(text: &str, width: usize, ascii: bool) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    let ellipsis = if ascii { "..." } else { "…" };
    let keep = width.saturating_sub(ellipsis.chars().count());
    if keep == 0 {
        return text.chars().take(width).collect();
    }
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(ellipsis);
    out
}

/// `text` cut to `width` and padded with spaces to exactly `width` characters.
pub fn cell(text: &str, width: usize, ascii: bool) -> String {
    let cut = cut(text, width, ascii);
    let pad = width - cut.chars().count();
    format!("{cut}{}", " ".repeat(pad))
}

/// Like [`cell`], aligned right.
pub fn cell_right(text: &str, width: usize, ascii: bool) -> String {
    let cut = cut(text, width, ascii);
    let pad = width - cut.chars().count();
    format!("{}{cut}", " ".repeat(pad))
}

/// The number of characters, the unit every width here is counted in.
pub fn width(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_collapses_whitespace() {
        assert_eq!(one_line("  a\n\tb   c \n"), "a b c");
        assert_eq!(one_line(""), "");
    }

    #[test]
    fn cut_adds_an_ellipsis_only_when_needed() {
        assert_eq!(cut("hello", 5, false), "hello");
        assert_eq!(cut("hello world", 6, false), "hello…");
        assert_eq!(cut("hello world", 6, true), "hel...");
        assert_eq!(cut("héllo wörld", 3, false), "hé…");
        assert_eq!(cut("hello", 2, true), "he");
        assert_eq!(cut("hello", 0, false), "");
    }

    #[test]
    fn cells_have_an_exact_width() {
        assert_eq!(cell("ab", 4, false), "ab  ");
        assert_eq!(cell("abcdef", 4, false), "abc…");
        assert_eq!(cell_right("ab", 4, false), "  ab");
        assert_eq!(width("µs"), 2);
    }
}
