//! Traced iterators and streams when nothing is recorded: tracing disabled, or an unsampled
//! trace. Items pass through unchanged, reducers are never built or run, nothing is stored.
//! A binary of its own, because `disable()` is process-wide.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use spanwise::{Reducer, TraceId, propagation, trace};

static SLICE_CALLS: AtomicUsize = AtomicUsize::new(0);
static PUSHES: AtomicUsize = AtomicUsize::new(0);

fn sum(items: &[u32]) -> u32 {
    SLICE_CALLS.fetch_add(1, Ordering::Relaxed);
    items.iter().sum()
}

struct Counting;

impl Reducer<u32> for Counting {
    type Output = ();
    fn push(&mut self, _: &u32) {
        PUSHES.fetch_add(1, Ordering::Relaxed);
    }
    fn finish(self) {}
}

#[trace(output_reducer = sum)]
fn numbers(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[trace(reducer = Counting)]
fn numbers_stream(n: u32) -> impl futures::Stream<Item = u32> {
    futures::stream::iter(0..n)
}

fn run_both() -> (Vec<u32>, Vec<u32>) {
    let a = numbers(3).collect();
    let b = futures::executor::block_on(numbers_stream(3).collect());
    (a, b)
}

#[test]
fn nothing_is_recorded_and_no_reducer_runs_when_disabled_or_unsampled() {
    spanwise::disable();
    assert_eq!(run_both(), (vec![0, 1, 2], vec![0, 1, 2]));
    assert_eq!(spanwise::last_active_trace_id(), None);
    assert_eq!(SLICE_CALLS.load(Ordering::Relaxed), 0);
    assert_eq!(PUSHES.load(Ordering::Relaxed), 0);
    spanwise::enable();

    // Under a caller that did not sample the trace (traceparent flags 00).
    let trace_id = TraceId::random();
    let header = format!("00-{}-00f067aa0ba902b7-00", trace_id.to_hex());
    let ctx = propagation::extract(
        &[("traceparent".to_string(), header)]
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>(),
    )
    .unwrap();
    {
        let _attached = ctx.attach();
        assert_eq!(run_both(), (vec![0, 1, 2], vec![0, 1, 2]));
    }
    assert!(spanwise::get_trace(&trace_id).is_none());
    assert_eq!(spanwise::last_active_trace_id(), None);
    assert_eq!(SLICE_CALLS.load(Ordering::Relaxed), 0);
    assert_eq!(PUSHES.load(Ordering::Relaxed), 0);

    // And recorded again once sampled and enabled.
    assert_eq!(run_both(), (vec![0, 1, 2], vec![0, 1, 2]));
    assert_eq!(SLICE_CALLS.load(Ordering::Relaxed), 1);
    assert_eq!(PUSHES.load(Ordering::Relaxed), 3);
    let t = spanwise::get_trace(&spanwise::last_active_trace_id().unwrap()).unwrap();
    assert_eq!(t.root().unwrap().name, "numbers_stream");
}
