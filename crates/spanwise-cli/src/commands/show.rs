//! `spanwise show`: one trace as a span tree with a timeline bar per span, then per span its
//! inputs, outputs, errors, events and (with `--attrs`) attributes.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use serde_json::Value;
use spanwise_core::{Span, SpanId, StatusCode, Trace, TraceState, keys};

use crate::cli::ShowArgs;
use crate::error::CliError;
use crate::style::{Paint, Style};
use crate::text::{cell, cell_right, cut, one_line, width};
use crate::trace_view;

pub fn run(args: &ShowArgs, dir: &Path, style: &Style) -> Result<(), CliError> {
    let traces = crate::store::load(dir)?;
    let trace = crate::store::resolve(&traces, &args.id)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", trace.to_json_pretty())?;
        return Ok(());
    }
    let view = View {
        style: *style,
        full: args.full,
        attrs: args.attrs,
    };
    for line in view.render(trace) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

const TYPE: usize = 10;
const DURATION: usize = 8;
const NAME: usize = 33;
const BAR: usize = 24;
const WIDE_BAR: usize = 40;

/// Everything `show` prints, as lines.
struct View {
    style: Style,
    full: bool,
    attrs: bool,
}

/// The spans of a trace arranged as a forest.
struct Tree<'a> {
    children: HashMap<SpanId, Vec<&'a Span>>,
    tops: Vec<&'a Span>,
}

impl<'a> Tree<'a> {
    /// Tops are spans without a parent in this trace (the root, or parts whose parent was not
    /// recorded). Spans caught in a parent cycle would never be reached, so they become tops too.
    fn new(trace: &'a Trace) -> Tree<'a> {
        let ids: HashSet<SpanId> = trace.data.spans.iter().map(|s| s.span_id).collect();
        let mut children: HashMap<SpanId, Vec<&Span>> = HashMap::new();
        let mut tops = Vec::new();
        for s in &trace.data.spans {
            match s.parent_span_id {
                Some(p) if ids.contains(&p) && p != s.span_id => {
                    children.entry(p).or_default().push(s)
                }
                _ => tops.push(s),
            }
        }
        let mut tree = Tree { children, tops };
        let mut seen = HashSet::new();
        let mut stack: Vec<&Span> = tree.tops.clone();
        while let Some(s) = stack.pop() {
            if seen.insert(s.span_id) {
                stack.extend(tree.kids(s));
            }
        }
        for s in &trace.data.spans {
            if !seen.contains(&s.span_id) {
                seen.insert(s.span_id);
                tree.children
                    .values_mut()
                    .for_each(|v| v.retain(|c| c.span_id != s.span_id));
                tree.tops.push(s);
            }
        }
        tree
    }

    fn kids(&self, s: &Span) -> Vec<&'a Span> {
        self.children.get(&s.span_id).cloned().unwrap_or_default()
    }
}

/// The time range the timeline covers.
struct Scale {
    start: u64,
    nanos: u64,
    width: usize,
}

impl Scale {
    fn new(trace: &Trace, width: usize) -> Scale {
        let (start, end) = trace.time_range();
        Scale {
            start,
            nanos: end.saturating_sub(start),
            width,
        }
    }

    /// The cells `[from, to)` a span covers; at least one cell so short spans stay visible.
    fn cells(&self, s: &Span) -> (usize, usize) {
        if self.nanos == 0 {
            return (0, self.width);
        }
        let w = self.width as f64;
        let pos = |t: u64| (t.saturating_sub(self.start)) as f64 / self.nanos as f64 * w;
        let end = s.end_time_unix_nano.unwrap_or(self.start + self.nanos);
        let from = (pos(s.start_time_unix_nano).floor() as usize).min(self.width - 1);
        let to = (pos(end).ceil() as usize).clamp(from + 1, self.width);
        (from, to)
    }
}

impl View {
    fn render(&self, trace: &Trace) -> Vec<String> {
        let mut lines = self.header(trace);
        lines.push(String::new());
        let tree = Tree::new(trace);
        let g = self.style.glyphs();
        let name_width = if self.style.wide {
            let mut widest = 0;
            for top in &tree.tops {
                self.widest(&tree, top, 0, &mut widest);
            }
            widest.max(NAME)
        } else {
            NAME
        };
        let bar = if self.style.wide { WIDE_BAR } else { BAR };
        let scale = Scale::new(trace, bar);
        let a = self.style.ascii;
        lines.push(self.style.paint(
            Paint::Bold,
            &format!(
                "{} {} {}  TIMELINE",
                cell("SPAN", name_width, a),
                cell("TYPE", TYPE, a),
                cell_right("DURATION", DURATION, a)
            ),
        ));
        let layout = Layout {
            name_width,
            scale,
            glyphs: g,
        };
        for top in &tree.tops {
            self.span(&tree, top, "", None, &layout, &mut lines);
        }
        lines
    }

    fn widest(&self, tree: &Tree, s: &Span, depth: usize, widest: &mut usize) {
        *widest = (*widest).max(depth * 3 + width(&s.name));
        for k in tree.kids(s) {
            self.widest(tree, k, depth + 1, widest);
        }
    }

    fn header(&self, t: &Trace) -> Vec<String> {
        let s = &self.style;
        let g = s.glyphs();
        let mut lines = vec![format!(
            "{}  {}",
            s.paint(Paint::Bold, t.name().unwrap_or("(unnamed)")),
            s.paint(Paint::Cyan, &t.info.trace_id.to_string())
        )];
        let state = t.info.state.as_str();
        let state = match t.info.state {
            TraceState::Ok => s.paint(Paint::Green, state),
            TraceState::Error => s.paint(Paint::Red, state),
            _ => s.paint(Paint::Yellow, state),
        };
        let mut facts = vec![trace_view::start_time(t), state];
        if let Some(d) = trace_view::duration(t) {
            facts.push(s.duration(d));
        }
        let n = t.data.spans.len();
        facts.push(format!("{n} span{}", if n == 1 { "" } else { "s" }));
        lines.push(facts.join(g.dot));
        let tags = trace_view::user_tags(t);
        if !tags.is_empty() {
            lines.push(self.labelled("tags", &tags.join(" "), 0));
        }
        for (label, key) in [("session", keys::TRACE_SESSION), ("user", keys::TRACE_USER)] {
            if let Some(v) = t.info.trace_metadata.get(key) {
                lines.push(self.labelled(label, v, 0));
            }
        }
        if let Some(id) = &t.info.client_request_id {
            lines.push(self.labelled("client request id", id, 0));
        }
        if let Some(u) = spanwise_core::llm::TokenUsage::of_trace(t) {
            let cached = u
                .cache_read_input_tokens
                .map(|c| format!(" ({c} cached)"))
                .unwrap_or_default();
            let text = format!(
                "{} in{cached}, {} out, {} total",
                u.input_tokens, u.output_tokens, u.total_tokens
            );
            lines.push(self.labelled("tokens", &text, 0));
        }
        if let Some(r) = &t.info.request_preview {
            lines.push(self.labelled("request", r, 0));
        }
        if let Some(r) = &t.info.response_preview {
            lines.push(self.labelled("response", r, 0));
        }
        lines
    }

    /// `label: value` on one line cut to the row width (after `indent` columns), or whole with
    /// `--full`/`--wide`.
    fn labelled(&self, label: &str, value: &str, indent: usize) -> String {
        let text = format!("{label}: {}", one_line(value));
        match self.style.row_width() {
            Some(w) if !self.full => cut(&text, w.saturating_sub(indent), self.style.ascii),
            _ => text,
        }
    }

    fn span(
        &self,
        tree: &Tree,
        s: &Span,
        prefix: &str,
        is_last: Option<bool>,
        layout: &Layout,
        lines: &mut Vec<String>,
    ) {
        let st = &self.style;
        let g = layout.glyphs;
        let a = st.ascii;
        let (head, child_prefix) = match is_last {
            None => (String::new(), String::new()),
            Some(true) => (
                format!("{prefix}{}", g.last),
                format!("{prefix}{}", g.blank),
            ),
            Some(false) => (
                format!("{prefix}{}", g.branch),
                format!("{prefix}{}", g.pipe),
            ),
        };
        let failed = s.status.code == StatusCode::Error;
        let name_room = layout.name_width.saturating_sub(width(&head));
        let name = cell(&s.name, name_room, a);
        let name = if failed {
            st.paint(Paint::Red, &name)
        } else {
            name
        };
        let duration = s
            .duration()
            .map(|d| st.duration(d))
            .unwrap_or_else(|| "open".into());
        let (from, to) = layout.scale.cells(s);
        let track = |n: usize| layout.glyphs.track.to_string().repeat(n);
        let covered = layout.glyphs.bar.to_string().repeat(to - from);
        let covered = st.paint(if failed { Paint::Red } else { Paint::Green }, &covered);
        lines.push(format!(
            "{head}{name} {} {}  {}{covered}{}",
            st.paint(Paint::Dim, &cell(s.span_type().as_str(), TYPE, a)),
            cell_right(&duration, DURATION, a),
            st.paint(Paint::Dim, &track(from)),
            st.paint(Paint::Dim, &track(layout.scale.width - to)),
        ));
        let kids = tree.kids(s);
        let detail_prefix = format!(
            "{child_prefix}{}",
            if kids.is_empty() { g.blank } else { g.pipe }
        );
        for d in self.details(s, width(&detail_prefix)) {
            lines.push(format!("{}{d}", st.paint(Paint::Dim, &detail_prefix)));
        }
        for (i, k) in kids.iter().enumerate() {
            self.span(
                tree,
                k,
                &child_prefix,
                Some(i + 1 == kids.len()),
                layout,
                lines,
            );
        }
    }

    /// The lines under a span: inputs, outputs, errors, events, token usage, attributes.
    fn details(&self, s: &Span, indent: usize) -> Vec<String> {
        let st = &self.style;
        let mut out = Vec::new();
        if let Some(v) = s.inputs() {
            out.extend(self.value("in", &v, indent));
        }
        if let Some(v) = s.outputs() {
            out.extend(self.value("out", &v, indent));
        }
        let mut errors: Vec<String> = Vec::new();
        for e in s.exceptions() {
            let kind = plain(e.attributes.get(keys::EXCEPTION_TYPE));
            let msg = plain(e.attributes.get(keys::EXCEPTION_MESSAGE));
            let text = match (kind.is_empty(), msg.is_empty()) {
                (false, false) => format!("{kind}: {msg}"),
                (false, true) => kind,
                _ => msg,
            };
            errors.push(text.clone());
            out.push(st.paint(Paint::Red, &self.labelled("error", &text, indent)));
            if self.full {
                let trace = plain(e.attributes.get(keys::EXCEPTION_STACKTRACE));
                for l in trace.lines().filter(|l| !l.trim().is_empty()) {
                    out.push(st.paint(Paint::Dim, &format!("  {l}")));
                }
            }
        }
        if s.status.code == StatusCode::Error
            && !s.status.message.is_empty()
            && !errors.contains(&s.status.message)
        {
            out.push(st.paint(
                Paint::Red,
                &self.labelled("error", &s.status.message, indent),
            ));
        }
        let chunks = s
            .events
            .iter()
            .filter(|e| e.name.starts_with(keys::CHUNK_ITEM_PREFIX))
            .count();
        if chunks > 0 && !self.full {
            out.push(format!(
                "stream: {chunks} chunk{}",
                if chunks == 1 { "" } else { "s" }
            ));
        }
        for e in &s.events {
            if e.name == keys::EXCEPTION_EVENT
                || (!self.full && e.name.starts_with(keys::CHUNK_ITEM_PREFIX))
            {
                continue;
            }
            let text = if e.attributes.is_empty() {
                e.name.clone()
            } else {
                format!(
                    "{} {}",
                    e.name,
                    compact(&serde_json::to_value(&e.attributes).unwrap_or(Value::Null))
                )
            };
            out.push(self.labelled("event", &text, indent));
        }
        if let Some(u) = s.attribute(keys::TOKEN_USAGE) {
            let n = |k: &str| u.get(k).map(compact).unwrap_or_else(|| "?".into());
            out.push(format!(
                "tokens: {} in, {} out, {} total",
                n("input_tokens"),
                n("output_tokens"),
                n("total_tokens")
            ));
        }
        if self.attrs {
            const SHOWN: [&str; 4] = [
                keys::SPAN_INPUTS,
                keys::SPAN_OUTPUTS,
                keys::SPAN_TYPE,
                keys::TRACE_REQUEST_ID,
            ];
            for (k, _) in s
                .attributes
                .iter()
                .filter(|(k, _)| !SHOWN.contains(&k.as_str()))
            {
                let v = s.attribute(k).unwrap_or(Value::Null);
                out.push(self.labelled(&format!("@{k}"), &compact(&v), indent));
            }
        }
        out
    }

    /// A value as compact JSON on one line (cut to fit), or pretty JSON over several with `--full`.
    fn value(&self, label: &str, v: &Value, indent: usize) -> Vec<String> {
        if self.full {
            let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
            let mut lines = pretty.lines();
            let first = lines.next().unwrap_or("");
            let pad = " ".repeat(label.len() + 2);
            let mut out = vec![format!("{label}: {first}")];
            out.extend(lines.map(|l| format!("{pad}{l}")));
            out
        } else {
            vec![self.labelled(label, &compact(v), indent)]
        }
    }
}

struct Layout {
    name_width: usize,
    scale: Scale,
    glyphs: &'static crate::style::Glyphs,
}

/// JSON as MLflow's Python shows it: `{"x": 4}` with a space after `:` and `,`.
fn compact(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), compact(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(compact).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// An event attribute as plain text (strings without their quotes).
fn plain(v: Option<&Value>) -> String {
    match v {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_json_has_python_spacing() {
        let v = serde_json::json!({"a": [1, 2], "b": {"c": "d"}});
        assert_eq!(compact(&v), r#"{"a": [1, 2], "b": {"c": "d"}}"#);
        assert_eq!(compact(&serde_json::json!("x")), r#""x""#);
    }
}
