//! `spanwise push`: sends stored traces to an MLflow tracking server through `spanwise-otlp`,
//! skipping the ones the experiment already holds, with a progress bar on a terminal.

use std::io::Write;
use std::path::Path;

use spanwise_core::Trace;
use spanwise_otlp::{Auth, Experiment, MlflowClient, RetryPolicy};

use crate::cli::PushArgs;
use crate::error::CliError;
use crate::progress::Progress;
use crate::style::Style;

/// Traces per request: small enough for a steady progress bar and modest request bodies.
const BATCH: usize = 20;

pub fn run(args: &PushArgs, dir: &Path, style: &Style) -> Result<(), CliError> {
    let filter = super::parse_filter(args.filter.as_deref())?;
    let experiment = experiment(&args.experiment);
    let client = MlflowClient::new(&args.mlflow, experiment)
        .map_err(|e| CliError::usage(format!("--mlflow / --experiment: {e}")))?
        .auth(Auth::from_env())
        .retry(RetryPolicy::default().max_elapsed(args.retry_for));

    let mut traces = crate::store::load(dir)?;
    traces.retain(|t| filter.matches(t));
    crate::trace_view::sort_newest_first(&mut traces);
    if let Some(n) = args.limit {
        traces.truncate(n);
    }
    let mut out = std::io::stdout().lock();
    if traces.is_empty() {
        writeln!(out, "no traces to push")?;
        return Ok(());
    }

    // One search first turns a wrong address, experiment or credentials into one clear error
    // (and resolves, or creates, a named experiment).
    let unusable = |e: spanwise_core::Error| {
        CliError::user(format!(
            "cannot use experiment {:?} on {}: {e}",
            args.experiment,
            client.tracking_uri()
        ))
    };
    client.search_traces("", 1).map_err(unusable)?;
    let experiment_id = client.experiment_id().map_err(unusable)?;

    let progress = Progress::new("pushing", traces.len(), style.ascii);
    let mut sent = 0;
    let mut skipped = 0;
    let mut failures = Vec::new();
    for (i, batch) in traces.chunks(BATCH).enumerate() {
        let (present, missing): (Vec<&Trace>, Vec<&Trace>) =
            batch.iter().partition(|t| on_server(&client, t));
        skipped += present.len();
        let missing: Vec<Trace> = missing.into_iter().cloned().collect();
        for outcome in client.send_traces(&missing) {
            match outcome.result {
                Ok(()) => sent += 1,
                Err(e) => failures.push(format!("{}: {e}", outcome.trace_id)),
            }
        }
        progress.set((i * BATCH + batch.len()).min(traces.len()));
    }
    progress.finish();

    writeln!(
        out,
        "pushed {sent} trace{} to experiment {experiment_id} on {}{}",
        if sent == 1 { "" } else { "s" },
        client.tracking_uri(),
        if skipped > 0 {
            format!("; {skipped} already there, skipped")
        } else {
            String::new()
        }
    )?;
    if failures.is_empty() {
        return Ok(());
    }
    let mut err = std::io::stderr().lock();
    const SHOWN: usize = 10;
    for f in failures.iter().take(SHOWN) {
        let _ = writeln!(err, "failed: {f}");
    }
    if failures.len() > SHOWN {
        let _ = writeln!(err, "… and {} more", failures.len() - SHOWN);
    }
    Err(CliError::user(format!(
        "{} of {} traces were not pushed",
        failures.len(),
        traces.len()
    )))
}

/// All digits is an experiment id (MLflow's ids are numbers); anything else a name.
fn experiment(text: &str) -> Experiment {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        Experiment::id(t)
    } else {
        Experiment::name(t)
    }
}

/// Whether the server already holds this trace. A failed lookup counts as "not there": sending
/// then reports the real problem.
fn on_server(client: &MlflowClient, trace: &Trace) -> bool {
    client.get_trace(&trace.info.trace_id).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_an_id_and_anything_else_a_name() {
        assert_eq!(experiment("12"), Experiment::id("12"));
        assert_eq!(experiment(" 0 "), Experiment::id("0"));
        assert_eq!(experiment("my-agent"), Experiment::name("my-agent"));
        assert_eq!(experiment("12b"), Experiment::name("12b"));
    }
}
