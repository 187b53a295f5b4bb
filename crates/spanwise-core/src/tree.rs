//! A plain-text tree of a trace, for examples, logs and tests.

use std::fmt::Write as _;
use std::time::Duration;

use crate::model::{Span, StatusCode, Trace};

/// Longest inputs/outputs text shown per span.
const VALUE_CHARS: usize = 60;

impl Trace {
    /// Renders the trace as an indented tree: one line per span with its name, type,
    /// duration, status, and `inputs -> outputs` (shortened), plus one line per exception.
    ///
    /// ```
    /// let root = spanwise_core::start_span("Trace Test");
    /// {
    ///     let child = spanwise_core::start_span("add_1");
    ///     child.set_inputs(&serde_json::json!({"x": 4}));
    ///     child.set_outputs(5);
    /// }
    /// let id = root.trace_id().unwrap();
    /// drop(root);
    /// let text = spanwise_core::get_trace(&id).unwrap().render_tree();
    /// assert!(text.contains("└─ add_1 [UNKNOWN]"));
    /// assert!(text.contains(r#"{"x":4} -> 5"#));
    /// ```
    pub fn render_tree(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} {} {} {}",
            self.name().unwrap_or("(unnamed)"),
            self.info.trace_id,
            self.info.state,
            self.info
                .execution_duration_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_else(|| "-".into()),
        );
        let ids: std::collections::HashSet<_> = self.data.spans.iter().map(|s| s.span_id).collect();
        let roots: Vec<&Span> = self
            .data
            .spans
            .iter()
            .filter(|s| s.parent_span_id.is_none_or(|p| !ids.contains(&p)))
            .collect();
        for (i, root) in roots.iter().enumerate() {
            self.render_span(root, "", i + 1 == roots.len(), &mut out);
        }
        out
    }

    fn render_span(&self, span: &Span, prefix: &str, last: bool, out: &mut String) {
        let branch = if last { "└─ " } else { "├─ " };
        let status = match span.status.code {
            StatusCode::Error => "ERROR",
            StatusCode::Ok => "OK",
            StatusCode::Unset => "UNSET",
        };
        let io = match (span.inputs(), span.outputs()) {
            (None, None) => String::new(),
            (i, o) => format!(
                "  {} -> {}",
                i.map(|v| shorten(&v.to_string()))
                    .unwrap_or_else(|| "-".into()),
                o.map(|v| shorten(&v.to_string()))
                    .unwrap_or_else(|| "-".into()),
            ),
        };
        let _ = writeln!(
            out,
            "{prefix}{branch}{} [{}] {} {status}{io}",
            span.name,
            span.span_type(),
            span.duration()
                .map(fmt_duration)
                .unwrap_or_else(|| "open".into()),
        );
        let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
        for ev in span.exceptions() {
            let _ = writeln!(
                out,
                "{child_prefix}! {}: {}",
                ev.attributes
                    .get(crate::keys::EXCEPTION_TYPE)
                    .and_then(|v| v.as_str())
                    .unwrap_or("?"),
                ev.attributes
                    .get(crate::keys::EXCEPTION_MESSAGE)
                    .and_then(|v| v.as_str())
                    .unwrap_or(""),
            );
        }
        let children = self.children(&span.span_id);
        for (i, c) in children.iter().enumerate() {
            self.render_span(c, &child_prefix, i + 1 == children.len(), out);
        }
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= VALUE_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(VALUE_CHARS - 1).collect();
        t.push('…');
        t
    }
}

/// `1.234 ms`-style durations.
fn fmt_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}
