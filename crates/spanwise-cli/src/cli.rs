//! The command line: global options, subcommands and their arguments, with examples in `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use spanwise_core::DEFAULT_TRACE_DIR;

use crate::style::ColorChoice;

const MAIN_EXAMPLES: &str = "\
Examples:
  spanwise list                         newest traces first
  spanwise ls --filter \"state = ERROR\"  only the failed ones
  spanwise show last                    the newest trace as a tree with a timeline
  spanwise show 8069a0                  a trace by a unique prefix of its id
  spanwise tail                         print traces as they are recorded
  spanwise stats                        counts and latency percentiles
  spanwise push --mlflow http://127.0.0.1:5000 --experiment 1
  spanwise ui --open                    the web viewer in a browser

Exit codes: 0 success, 1 user error (no store, unknown id, ...), 2 usage error (bad
arguments, invalid filter).";

/// View, filter, follow and push the traces spanwise recorded.
#[derive(Debug, Parser)]
#[command(name = "spanwise", version, after_help = MAIN_EXAMPLES)]
pub struct Cli {
    /// The trace directory (holding traces.jsonl), or a JSONL file.
    #[arg(long, global = true, env = "SPANWISE_TRACE_DIR", default_value = DEFAULT_TRACE_DIR, value_name = "DIR")]
    pub dir: PathBuf,

    /// Draw with ASCII characters only.
    #[arg(long, global = true)]
    pub ascii: bool,

    /// Do not fit rows to 80 columns; show whole values.
    #[arg(long, global = true)]
    pub wide: bool,

    /// When to use colors (auto: on a terminal, unless NO_COLOR is set).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List traces, newest first: time, id, name, state, duration, spans, request, tags.
    #[command(visible_alias = "ls", after_help = LIST_HELP)]
    List(ListArgs),
    /// Show one trace as a span tree with a timeline, inputs, outputs and errors.
    #[command(after_help = SHOW_HELP)]
    Show(ShowArgs),
    /// Follow the store and print each new trace as it lands, until interrupted.
    #[command(after_help = TAIL_HELP)]
    Tail(TailArgs),
    /// Count traces by name and state; latency percentiles per span name.
    #[command(after_help = STATS_HELP)]
    Stats(StatsArgs),
    /// Send stored traces to an MLflow tracking server.
    #[command(after_help = PUSH_HELP)]
    Push(PushArgs),
    /// Serve a web viewer of the store on 127.0.0.1: trace list, span tree, timeline, live.
    #[cfg(feature = "ui")]
    #[command(after_help = UI_HELP)]
    Ui(UiArgs),
}

const LIST_HELP: &str = concat!(
    "Examples:
  spanwise list
  spanwise ls --limit 5
  spanwise ls --filter \"name = 'agent' and duration > 2s\"
  spanwise ls --filter \"tag.fruit = 'apple'\" --json > apples.jsonl

",
    "Filter language (conditions joined with `and`):
  name = 'x'            the trace's name (also !=, and ~ for \"contains\")
  state = ERROR         OK, ERROR, IN_PROGRESS or STATE_UNSPECIFIED
  duration > 100ms      =, !=, >, >=, <, <= with ns, us, ms, s, m, h
  spans >= 3            the number of spans
  tag.fruit = 'apple'   a tag; metadata.<key> reads trace metadata
  request ~ 'hello'     the request (or response) preview
  span.type = LLM       some span has this type (!= : no span has it)
  span.name = 'search'  some span has this name"
);

const SHOW_HELP: &str = "\
Examples:
  spanwise show last                 the newest trace
  spanwise show tr-8069a0265eec15a1d9bbfa62bf64cbf6
  spanwise show 8069a0 --full        whole inputs and outputs, stack traces
  spanwise show 8069a0 --attrs       every span attribute
  spanwise show last --json          MLflow's JSON of the trace";

const TAIL_HELP: &str = concat!(
    "Examples:
  spanwise tail                       new traces from now on
  spanwise tail -n 5                  the last 5 first, then new ones
  spanwise tail --filter \"state = ERROR\"
  spanwise tail --json | jq .info.trace_id

A trace written again (a late span) is printed again.

",
    "Filter language (conditions joined with `and`):
  name = 'x', state = ERROR, duration > 100ms, tag.fruit = 'apple', span.type = LLM
  (see `spanwise list --help` for all of it)"
);

const STATS_HELP: &str = "\
Examples:
  spanwise stats
  spanwise stats --filter \"name = 'agent'\"
  spanwise stats --json

Percentiles are nearest-rank over the spans with that name (open spans left out). Names
made unique within a trace (search_1, search_2) count under their original name (search).";

const PUSH_HELP: &str = "\
Examples:
  spanwise push --mlflow http://127.0.0.1:5000 --experiment 1
  spanwise push --mlflow http://127.0.0.1:5000 --experiment my-agent --filter \"state = ERROR\"

A trace the experiment already holds is skipped, so pushing twice does not duplicate it.
Authentication comes from MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD.";

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only traces matching this filter (see below).
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Option<String>,

    /// At most this many traces.
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,

    /// One MLflow JSON trace per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A trace id (tr-…), a unique prefix of its hex digits, or `last`.
    #[arg(value_name = "ID")]
    pub id: String,

    /// Whole inputs, outputs and events, and stack traces.
    #[arg(long)]
    pub full: bool,

    /// Every span attribute.
    #[arg(long)]
    pub attrs: bool,

    /// MLflow's JSON of the trace instead of the tree.
    #[arg(long, conflicts_with_all = ["full", "attrs"])]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    /// Only traces matching this filter.
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Option<String>,

    /// First print the last N traces already in the store.
    #[arg(short = 'n', long = "last", default_value_t = 0, value_name = "N")]
    pub last: usize,

    /// Stop after printing N new traces (default: run until interrupted).
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,

    /// One MLflow JSON trace per line instead of a table row.
    #[arg(long)]
    pub json: bool,

    /// How often to look for new lines.
    #[arg(long, default_value = "200ms", value_name = "DURATION", value_parser = parse_interval)]
    pub interval: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only traces matching this filter.
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Option<String>,

    /// Machine-readable JSON (durations in nanoseconds).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The MLflow tracking server, e.g. http://127.0.0.1:5000.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub mlflow: String,

    /// The experiment: its id, or its name (created when missing).
    #[arg(long, value_name = "ID|NAME")]
    pub experiment: String,

    /// Only traces matching this filter.
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Option<String>,

    /// At most this many traces (newest first).
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,

    /// How long to keep retrying an unreachable or busy server.
    #[arg(long, default_value = "15s", value_name = "DURATION", value_parser = parse_interval)]
    pub retry_for: std::time::Duration,
}

#[cfg(feature = "ui")]
const UI_HELP: &str = "\
Examples:
  spanwise ui                        http://127.0.0.1:8077/
  spanwise ui --port 0 --open        a free port, opened in the default browser
  spanwise ui --dir ./spanwise-traces

The server only listens on 127.0.0.1 and only reads the store; new traces appear while the
page is open. The JSON API the page uses (/api/...) is described in the CLI's README.";

#[cfg(feature = "ui")]
#[derive(Debug, Args)]
pub struct UiArgs {
    /// The port on 127.0.0.1 (0: a free one, printed).
    #[arg(long, default_value_t = 8077, value_name = "N")]
    pub port: u16,

    /// Open the page in the default browser.
    #[arg(long)]
    pub open: bool,
}

fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let d = crate::durations::parse(text)?;
    if d.is_zero() {
        return Err("the interval must be longer than zero".into());
    }
    Ok(d)
}
