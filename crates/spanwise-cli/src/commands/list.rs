//! `spanwise list`: one row per trace, newest first; also the row format `tail` prints.

use std::io::Write;
use std::path::Path;

use spanwise_core::llm::TokenUsage;
use spanwise_core::{Trace, TraceState};

use crate::cli::ListArgs;
use crate::error::CliError;
use crate::style::{Paint, Style};
use crate::text::{cell, cell_right, one_line, width};
use crate::trace_view;

pub fn run(args: &ListArgs, dir: &Path, style: &Style) -> Result<(), CliError> {
    let filter = super::parse_filter(args.filter.as_deref())?;
    let mut traces = crate::store::load(dir)?;
    traces.retain(|t| filter.matches(t));
    trace_view::sort_newest_first(&mut traces);
    if let Some(n) = args.limit {
        traces.truncate(n);
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        for t in &traces {
            writeln!(out, "{}", t.to_json())?;
        }
        return Ok(());
    }
    if traces.is_empty() {
        eprintln!(
            "no traces{}",
            if args.filter.is_some() {
                " match the filter"
            } else {
                ""
            }
        );
        return Ok(());
    }
    let table = Table::new(*style, &traces);
    writeln!(out, "{}", table.header())?;
    for t in &traces {
        writeln!(out, "{}", table.row(t))?;
    }
    Ok(())
}

const TIME: usize = 14;
const ID: usize = 8;
const NAME: usize = 14;
const STATE: usize = 5;
const DURATION: usize = 8;
const SPANS: usize = 5;
const TOKENS: usize = 6;

/// The column layout of trace rows.
pub struct Table {
    style: Style,
    name_width: usize,
}

impl Table {
    /// A layout for these traces: fixed widths within 80 columns, or in `--wide` mode a name
    /// column as wide as the longest name.
    pub fn new(style: Style, traces: &[Trace]) -> Table {
        let name_width = if style.wide {
            traces
                .iter()
                .map(|t| width(t.name().unwrap_or("-")))
                .max()
                .unwrap_or(0)
                .max(NAME)
        } else {
            NAME
        };
        Table { style, name_width }
    }

    fn fixed_width(&self) -> usize {
        TIME + ID + self.name_width + STATE + DURATION + SPANS + TOKENS + 7
    }

    pub fn header(&self) -> String {
        let a = self.style.ascii;
        let line = format!(
            "{} {} {} {} {} {} {} REQUEST/TAGS",
            cell("TIME (UTC)", TIME, a),
            cell("ID", ID, a),
            cell("NAME", self.name_width, a),
            cell("STATE", STATE, a),
            cell_right("DURATION", DURATION, a),
            cell_right("SPANS", SPANS, a),
            cell_right("TOKENS", TOKENS, a),
        );
        self.style.paint(Paint::Bold, &line)
    }

    pub fn row(&self, t: &Trace) -> String {
        let s = &self.style;
        let a = s.ascii;
        let state = cell(trace_view::state_label(t.info.state), STATE, a);
        let state = match t.info.state {
            TraceState::Ok => s.paint(Paint::Green, &state),
            TraceState::Error => s.paint(Paint::Red, &state),
            _ => s.paint(Paint::Yellow, &state),
        };
        let duration = trace_view::duration(t)
            .map(|d| s.duration(d))
            .unwrap_or_else(|| "-".into());
        let tokens = TokenUsage::of_trace(t)
            .map(|u| compact_count(u.total_tokens))
            .unwrap_or_else(|| "-".into());
        let request = one_line(t.info.request_preview.as_deref().unwrap_or(""));
        let tags = trace_view::user_tags(t).join(" ");
        let (request, tags) = match s.row_width() {
            None => (request, tags),
            Some(row) => fit_pair(&request, &tags, row.saturating_sub(self.fixed_width()), a),
        };
        let mut line = format!(
            "{} {} {} {} {} {} {} {}",
            t.info.request_time.format("%m-%d %H:%M:%S"),
            s.paint(Paint::Cyan, &trace_view::short_id(t)),
            cell(t.name().unwrap_or("-"), self.name_width, a),
            state,
            cell_right(&duration, DURATION, a),
            cell_right(&t.data.spans.len().to_string(), SPANS, a),
            cell_right(&tokens, TOKENS, a),
            request,
        );
        if !tags.is_empty() {
            if !request.is_empty() {
                line.push(' ');
            }
            line.push_str(&s.paint(Paint::Dim, &tags));
        }
        line.trim_end().to_string()
    }
}

/// A token count in at most 6 columns: `9999`, `12.3k`, `123k`, `1.2M`.
pub fn compact_count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=99_999 => format!("{:.1}k", n as f64 / 1e3),
        100_000..=999_999 => format!("{}k", n / 1000),
        1_000_000..=99_999_999 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{}M", n / 1_000_000),
    }
}

/// Shares `room` columns between the request preview and the tags (a space between them):
/// each gets what it needs if both fit, else the tags get at most half.
fn fit_pair(request: &str, tags: &str, room: usize, ascii: bool) -> (String, String) {
    use crate::text::cut;
    let (rw, tw) = (width(request), width(tags));
    if tw == 0 {
        return (cut(request, room, ascii), String::new());
    }
    if rw == 0 {
        return (String::new(), cut(tags, room, ascii));
    }
    if rw + 1 + tw <= room {
        return (request.to_string(), tags.to_string());
    }
    let room = room.saturating_sub(1);
    let tag_room = tw.min(room / 2);
    let request_room = room - tag_room;
    (
        cut(request, request_room, ascii),
        cut(tags, tag_room, ascii),
    )
}

#[cfg(test)]
mod tests {
    use super::{compact_count, fit_pair};

    #[test]
    fn counts_fit_six_columns() {
        for (n, s) in [
            (0, "0"),
            (9_999, "9999"),
            (12_345, "12.3k"),
            (123_456, "123k"),
            (1_234_567, "1.2M"),
            (123_456_789, "123M"),
        ] {
            assert_eq!(compact_count(n), s);
        }
    }

    #[test]
    fn fit_pair_shares_the_room() {
        assert_eq!(
            fit_pair("abc", "x=1", 10, false),
            ("abc".into(), "x=1".into())
        );
        assert_eq!(
            fit_pair("abcdefghij", "x=1", 10, false),
            ("abcde…".into(), "x=1".into())
        );
        assert_eq!(
            fit_pair("abcdefghij", "xyz=1234", 11, false),
            ("abcd…".into(), "xyz=…".into())
        );
        assert_eq!(
            fit_pair("", "xyz=1234", 5, false),
            ("".into(), "xyz=…".into())
        );
        assert_eq!(fit_pair("abcdef", "", 4, true), ("a...".into(), "".into()));
    }
}
