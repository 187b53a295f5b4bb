//! A progress bar on stderr for long operations, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};

const WIDTH: usize = 30;

pub struct Progress {
    total: usize,
    visible: bool,
    bar: char,
    track: char,
    label: &'static str,
}

impl Progress {
    /// A bar for `total` steps; invisible when stderr is not a terminal or there is little to do.
    pub fn new(label: &'static str, total: usize, ascii: bool) -> Progress {
        Progress {
            total,
            visible: total > 1 && std::io::stderr().is_terminal(),
            bar: if ascii { '#' } else { '█' },
            track: if ascii { '.' } else { '░' },
            label,
        }
    }

    pub fn set(&self, done: usize) {
        if !self.visible {
            return;
        }
        let filled = (done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        let bar: String = std::iter::repeat_n(self.bar, filled)
            .chain(std::iter::repeat_n(self.track, WIDTH - filled))
            .collect();
        let _ = write!(
            std::io::stderr(),
            "\r{} {bar} {done}/{}",
            self.label,
            self.total
        );
    }

    /// Clears the bar's line.
    pub fn finish(&self) {
        if self.visible {
            let _ = write!(std::io::stderr(), "\r{}\r", " ".repeat(WIDTH + 40));
        }
    }
}
