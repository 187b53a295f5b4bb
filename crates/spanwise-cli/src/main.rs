//! `spanwise`: the command-line viewer of the local trace store written by spanwise (MLflow's
//! trace JSON, one trace a line in `spanwise-traces/traces.jsonl`).
//!
//! `spanwise list`, `show`, `tail`, `stats`, `push` and `ui`; `spanwise --help` shows examples.

mod cli;
mod commands;
mod durations;
mod error;
mod filter;
mod progress;
mod store;
mod style;
mod text;
mod trace_view;
#[cfg(feature = "ui")]
mod ui;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::CliError;
use crate::style::Style;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's codes: 0 for --help/--version, 2 for usage errors.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let style = Style::new(cli.color, cli.ascii, cli.wide);
    let result = match &cli.command {
        Command::List(args) => commands::list::run(args, &cli.dir, &style),
        Command::Show(args) => commands::show::run(args, &cli.dir, &style),
        Command::Tail(args) => commands::tail::run(args, &cli.dir, &style),
        Command::Stats(args) => commands::stats::run(args, &cli.dir, &style),
        Command::Push(args) => commands::push::run(args, &cli.dir, &style),
        #[cfg(feature = "ui")]
        Command::Ui(args) => ui::run(args, &cli.dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::ClosedOutput) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
