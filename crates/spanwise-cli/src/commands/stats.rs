//! `spanwise stats`: traces counted by name and state, token usage totals and percentiles per
//! trace, and latency percentiles per span name.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use spanwise_core::llm::TokenUsage;
use spanwise_core::{StatusCode, Trace, TraceState};

use crate::cli::StatsArgs;
use crate::error::CliError;
use crate::style::{Paint, Style};
use crate::text::{cell, cell_right, width};

pub fn run(args: &StatsArgs, dir: &Path, style: &Style) -> Result<(), CliError> {
    let filter = super::parse_filter(args.filter.as_deref())?;
    let mut traces = crate::store::load(dir)?;
    traces.retain(|t| filter.matches(t));
    let stats = Stats::of(&traces);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&stats.to_json()).unwrap_or_default()
        )?;
    } else {
        for line in stats.render(style) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

#[derive(Default)]
struct NameCounts {
    total: usize,
    ok: usize,
    error: usize,
}

struct SpanLatency {
    name: String,
    count: usize,
    errors: usize,
    /// Sorted ascending; open spans are not in it.
    durations: Vec<Duration>,
}

impl SpanLatency {
    /// Nearest-rank percentile: the smallest value with at least `p`% of values at or below it.
    fn percentile(&self, p: f64) -> Option<Duration> {
        percentile(&self.durations, p)
    }
}

fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

struct Stats {
    traces: usize,
    spans: usize,
    by_state: BTreeMap<&'static str, usize>,
    by_name: Vec<(String, NameCounts)>,
    latency: Vec<SpanLatency>,
    tokens: Tokens,
}

/// Token usage of the traces that have some: each count per trace, sorted ascending.
#[derive(Default)]
struct Tokens {
    input: Vec<u64>,
    output: Vec<u64>,
    total: Vec<u64>,
}

impl Tokens {
    fn add(&mut self, u: &TokenUsage) {
        self.input.push(u.input_tokens);
        self.output.push(u.output_tokens);
        self.total.push(u.total_tokens);
    }

    fn rows(&self) -> [(&'static str, &[u64]); 3] {
        [
            ("input", &self.input),
            ("output", &self.output),
            ("total", &self.total),
        ]
    }
}

impl Stats {
    fn of(traces: &[Trace]) -> Stats {
        let mut by_state = BTreeMap::new();
        let mut by_name: BTreeMap<String, NameCounts> = BTreeMap::new();
        let mut spans: BTreeMap<&str, SpanLatency> = BTreeMap::new();
        let mut span_count = 0;
        let mut tokens = Tokens::default();
        for t in traces {
            if let Some(u) = TokenUsage::of_trace(t) {
                tokens.add(&u);
            }
            *by_state.entry(t.info.state.as_str()).or_insert(0) += 1;
            let c = by_name
                .entry(t.name().unwrap_or("(unnamed)").to_string())
                .or_default();
            c.total += 1;
            match t.info.state {
                TraceState::Ok => c.ok += 1,
                TraceState::Error => c.error += 1,
                _ => {}
            }
            let names = original_names(t);
            for (s, name) in t.data.spans.iter().zip(names) {
                span_count += 1;
                let l = spans.entry(name).or_insert_with(|| SpanLatency {
                    name: name.to_string(),
                    count: 0,
                    errors: 0,
                    durations: Vec::new(),
                });
                l.count += 1;
                if s.status.code == StatusCode::Error {
                    l.errors += 1;
                }
                l.durations.extend(s.duration());
            }
        }
        let mut by_name: Vec<_> = by_name.into_iter().collect();
        by_name.sort_by(|a, b| b.1.total.cmp(&a.1.total).then_with(|| a.0.cmp(&b.0)));
        let mut latency: Vec<SpanLatency> = spans.into_values().collect();
        for l in &mut latency {
            l.durations.sort();
        }
        latency.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        for v in [&mut tokens.input, &mut tokens.output, &mut tokens.total] {
            v.sort_unstable();
        }
        Stats {
            traces: traces.len(),
            spans: span_count,
            by_state,
            by_name,
            latency,
            tokens,
        }
    }

    fn render(&self, style: &Style) -> Vec<String> {
        let a = style.ascii;
        let states: Vec<String> = self
            .by_state
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let mut lines = vec![format!(
            "{} traces ({}), {} spans",
            self.traces,
            if states.is_empty() {
                "none".to_string()
            } else {
                states.join(", ")
            },
            self.spans
        )];
        if self.traces == 0 {
            return lines;
        }
        // As wide as the longest name (at least the header), within the row width.
        let name_col = |names: &mut dyn Iterator<Item = &str>, fixed: usize| {
            let widest = names.map(width).max().unwrap_or(0).max(10);
            match style.row_width() {
                Some(row) => widest.min(row.saturating_sub(fixed)),
                None => widest,
            }
        };
        const N: usize = 7;
        const D: usize = 9;

        lines.push(String::new());
        let w = name_col(
            &mut self.by_name.iter().map(|(n, _)| n.as_str()),
            4 * (N + 1),
        );
        lines.push(style.paint(
            Paint::Bold,
            &format!(
                "{} {} {} {} {}",
                cell("TRACE NAME", w, a),
                cell_right("TRACES", N, a),
                cell_right("OK", N, a),
                cell_right("ERROR", N, a),
                cell_right("OTHER", N, a)
            ),
        ));
        for (name, c) in &self.by_name {
            let error = cell_right(&c.error.to_string(), N, a);
            let error = if c.error > 0 {
                style.paint(Paint::Red, &error)
            } else {
                error
            };
            lines.push(format!(
                "{} {} {} {} {}",
                cell(name, w, a),
                cell_right(&c.total.to_string(), N, a),
                cell_right(&c.ok.to_string(), N, a),
                error,
                cell_right(&(c.total - c.ok - c.error).to_string(), N, a)
            ));
        }

        if !self.tokens.total.is_empty() {
            lines.push(String::new());
            lines.push(style.paint(
                Paint::Bold,
                &format!(
                    "{} {} {} {} {} {} {}",
                    cell("TOKENS", 10, a),
                    cell_right("SUM", D, a),
                    cell_right("TRACES", N, a),
                    cell_right("P50", N, a),
                    cell_right("P90", N, a),
                    cell_right("P99", N, a),
                    cell_right("MAX", N, a)
                ),
            ));
            for (label, counts) in self.tokens.rows() {
                let p = |q: f64| percentile(counts, q).map_or("-".into(), |n| n.to_string());
                lines.push(format!(
                    "{} {} {} {} {} {} {}",
                    cell(label, 10, a),
                    cell_right(&counts.iter().sum::<u64>().to_string(), D, a),
                    cell_right(&counts.len().to_string(), N, a),
                    cell_right(&p(50.0), N, a),
                    cell_right(&p(90.0), N, a),
                    cell_right(&p(99.0), N, a),
                    cell_right(&p(100.0), N, a)
                ));
            }
        }

        lines.push(String::new());
        let w = name_col(
            &mut self.latency.iter().map(|l| l.name.as_str()),
            2 * (N + 1) + 4 * (D + 1),
        );
        lines.push(style.paint(
            Paint::Bold,
            &format!(
                "{} {} {} {} {} {} {}",
                cell("SPAN NAME", w, a),
                cell_right("SPANS", N, a),
                cell_right("ERRORS", N, a),
                cell_right("P50", D, a),
                cell_right("P90", D, a),
                cell_right("P99", D, a),
                cell_right("MAX", D, a)
            ),
        ));
        for l in &self.latency {
            let d = |p: f64| {
                l.percentile(p)
                    .map(|d| style.duration(d))
                    .unwrap_or_else(|| "-".into())
            };
            let errors = cell_right(&l.errors.to_string(), N, a);
            let errors = if l.errors > 0 {
                style.paint(Paint::Red, &errors)
            } else {
                errors
            };
            lines.push(format!(
                "{} {} {} {} {} {} {}",
                cell(&l.name, w, a),
                cell_right(&l.count.to_string(), N, a),
                errors,
                cell_right(&d(50.0), D, a),
                cell_right(&d(90.0), D, a),
                cell_right(&d(99.0), D, a),
                cell_right(&d(100.0), D, a)
            ));
        }
        lines
    }

    fn to_json(&self) -> serde_json::Value {
        let nanos = |d: Option<Duration>| d.map(|d| d.as_nanos() as u64);
        let tokens = (!self.tokens.total.is_empty()).then(|| {
            let mut m = serde_json::Map::new();
            m.insert("traces".into(), json!(self.tokens.total.len()));
            for (label, counts) in self.tokens.rows() {
                m.insert(
                    label.into(),
                    json!({
                        "sum": counts.iter().sum::<u64>(),
                        "p50": percentile(counts, 50.0), "p90": percentile(counts, 90.0),
                        "p99": percentile(counts, 99.0), "max": percentile(counts, 100.0),
                    }),
                );
            }
            m
        });
        json!({
            "traces": self.traces,
            "spans": self.spans,
            "states": self.by_state,
            "trace_names": self.by_name.iter().map(|(n, c)| json!({
                "name": n, "traces": c.total, "ok": c.ok, "error": c.error,
                "other": c.total - c.ok - c.error,
            })).collect::<Vec<_>>(),
            "span_latency": self.latency.iter().map(|l| json!({
                "name": l.name, "spans": l.count, "errors": l.errors,
                "p50_ns": nanos(l.percentile(50.0)), "p90_ns": nanos(l.percentile(90.0)),
                "p99_ns": nanos(l.percentile(99.0)), "max_ns": nanos(l.percentile(100.0)),
            })).collect::<Vec<_>>(),
            "tokens": tokens,
        })
    }
}

/// The name of each span before MLflow made repeated names unique: when a trace holds
/// `search_1` and `search_2`, both count as `search`, so repeated calls share one latency row.
fn original_names(t: &Trace) -> Vec<&str> {
    let has = |n: &str| t.data.spans.iter().any(|s| s.name == n);
    t.data
        .spans
        .iter()
        .map(|s| {
            let Some((base, n)) = s.name.rsplit_once('_') else {
                return s.name.as_str();
            };
            let numbered = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
            if numbered && has(&format!("{base}_1")) && has(&format!("{base}_2")) {
                base
            } else {
                s.name.as_str()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixed_names_count_under_their_original_name() {
        let span = |name: &str, id: &str| {
            format!(
                r#"{{"trace_id": "gGmgJl7sFaHZu/pivvZMvw==", "span_id": "{id}", "parent_span_id": null,
                 "name": "{name}", "start_time_unix_nano": 1, "end_time_unix_nano": 2}}"#
            )
        };
        let spans = [
            span("search_1", "AAAAAAAAAAE="),
            span("search_2", "AAAAAAAAAAI="),
            span("step_1", "AAAAAAAAAAM="),
            span("v_2", "AAAAAAAAAAQ="),
            span("plain", "AAAAAAAAAAU="),
        ];
        let json = format!(
            r#"{{"info": {{"trace_id": "tr-8069a0265eec15a1d9bbfa62bf64cbf6",
              "request_time": "2026-11-22T01:46:21.714Z", "state": "OK"}},
              "data": {{"spans": [{}]}}}}"#,
            spans.join(",")
        );
        let t = Trace::from_json(&json).unwrap();
        assert_eq!(
            original_names(&t),
            ["search", "search", "step_1", "v_2", "plain"]
        );
    }

    #[test]
    fn nearest_rank_percentiles() {
        let ms: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 50.0), Some(Duration::from_millis(5)));
        assert_eq!(percentile(&ms, 90.0), Some(Duration::from_millis(9)));
        assert_eq!(percentile(&ms, 99.0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&ms, 100.0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&ms, 0.0), Some(Duration::from_millis(1)));
        assert_eq!(percentile::<Duration>(&[], 50.0), None);
        let one = [Duration::from_millis(7)];
        assert_eq!(percentile(&one, 99.0), Some(Duration::from_millis(7)));
    }
}
