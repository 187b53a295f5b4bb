//! How output looks: colors (only on a terminal, never with `NO_COLOR`), Unicode or ASCII
//! drawing characters, and the row width.

use std::io::IsTerminal;

/// The width rows are fitted to unless `--wide` is given.
pub const ROW_WIDTH: usize = 80;

/// When to color output, as given by `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Color when stdout is a terminal and `NO_COLOR` is not set.
    Auto,
    /// Always color (for `less -R`).
    Always,
    /// Never color.
    Never,
}

/// A color or emphasis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paint {
    Bold,
    Dim,
    Red,
    Green,
    Yellow,
    Cyan,
}

/// The output settings every command renders with.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
    pub ascii: bool,
    pub wide: bool,
}

impl Style {
    pub fn new(choice: ColorChoice, ascii: bool, wide: bool) -> Style {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                // https://no-color.org: set and not empty means no color.
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                !no_color && std::io::stdout().is_terminal()
            }
        };
        Style { color, ascii, wide }
    }

    /// `text` wrapped in the ANSI codes of `paint`, or as is without color.
    pub fn paint(&self, paint: Paint, text: &str) -> String {
        if !self.color || text.is_empty() {
            return text.to_string();
        }
        let code = match paint {
            Paint::Bold => "1",
            Paint::Dim => "2",
            Paint::Red => "31",
            Paint::Green => "32",
            Paint::Yellow => "33",
            Paint::Cyan => "36",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// The row width, `None` for `--wide` (nothing is cut).
    pub fn row_width(&self) -> Option<usize> {
        (!self.wide).then_some(ROW_WIDTH)
    }

    /// A duration in this style's alphabet.
    pub fn duration(&self, d: std::time::Duration) -> String {
        if self.ascii {
            crate::durations::format_ascii(d)
        } else {
            crate::durations::format(d)
        }
    }

    pub fn glyphs(&self) -> &'static Glyphs {
        if self.ascii { &ASCII } else { &UNICODE }
    }
}

/// The drawing characters of the tree and the timeline.
pub struct Glyphs {
    /// Before a child that has siblings after it.
    pub branch: &'static str,
    /// Before the last child.
    pub last: &'static str,
    /// Under a child that has siblings after it.
    pub pipe: &'static str,
    /// Under the last child.
    pub blank: &'static str,
    /// The part of a timeline the span covers.
    pub bar: char,
    /// The rest of the timeline.
    pub track: char,
    /// Between fields of a header line.
    pub dot: &'static str,
}

static UNICODE: Glyphs = Glyphs {
    branch: "├─ ",
    last: "└─ ",
    pipe: "│  ",
    blank: "   ",
    bar: '█',
    track: '·',
    dot: " · ",
};

static ASCII: Glyphs = Glyphs {
    branch: "|- ",
    last: "`- ",
    pipe: "|  ",
    blank: "   ",
    bar: '#',
    track: '.',
    dot: " - ",
};
