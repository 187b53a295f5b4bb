//! MLflow's trace JSON written by hand, straight from the span records into the caller's buffer.
//!
//! The output is byte for byte what serde_json gives for the model ([`Trace`](crate::Trace)) that
//! `finalize` would build: same fields in the same order, maps in the `BTreeMap` order of their
//! keys, strings escaped as serde_json escapes them. The size statistics
//! (`mlflow.trace.sizeStats`, see `size_stats`) are measured while the text is written, not by
//! a second pass over it.
//!
//! The spans are written first (into a buffer kept by the thread), since the info's statistics
//! need their sizes; then the info, then the spans after it. The tables and buffers a trace
//! needs are kept by the writing thread from one trace to the next.

use std::cell::RefCell;

use super::Completed;

mod info;
mod spans;
mod text;

pub(crate) use text::write_u64;

/// What a thread writing traces keeps from one trace to the next.
#[derive(Default)]
struct Scratch {
    /// The records' indices in start order.
    order: Vec<u32>,
    /// The spans' JSON, before it follows the info.
    spans_json: Vec<u8>,
    /// Each span's size as MLflow measures it.
    sizes: Vec<usize>,
    tables: spans::Tables,
    info: info::InfoScratch,
}

impl Scratch {
    /// Frees what one very large trace left (the buffers keep the room of the largest trace
    /// written, up to this).
    fn shrink(&mut self) {
        const KEEP_BYTES: usize = 1 << 20;
        if self.spans_json.capacity() > KEEP_BYTES {
            *self = Scratch::default();
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Appends `{"info":…,"data":{"spans":[…]}}` for the trace.
pub(super) fn write_trace(out: &mut Vec<u8>, c: &Completed) -> Result<(), serde_json::Error> {
    let mut with = |s: &mut Scratch| {
        let r = write_with(out, c, s);
        s.shrink();
        r
    };
    // A fresh scratch where the thread's is in use or gone (the thread is ending).
    match SCRATCH.try_with(|s| s.try_borrow_mut().ok().map(|mut s| with(&mut s))) {
        Ok(Some(r)) => r,
        _ => with(&mut Scratch::default()),
    }
}

fn write_with(out: &mut Vec<u8>, c: &Completed, s: &mut Scratch) -> Result<(), serde_json::Error> {
    let settings = crate::trace_settings::current();
    s.order.clear();
    s.order.extend(0..c.spans.len() as u32);
    // Stable: spans of the same start keep their order, as in `start_order`.
    s.order.sort_by_key(|&i| c.spans[i as usize].start);
    s.spans_json.clear();
    s.sizes.clear();
    let mut w = spans::SpanWriter::new(
        c.trace_id,
        &c.spans,
        &s.order,
        settings.name_suffixes,
        &mut s.tables,
    );
    for (i, &span) in s.order.iter().enumerate() {
        if i > 0 {
            s.spans_json.push(b',');
        }
        let size = w.write_span(&mut s.spans_json, i, span);
        s.sizes.push(size);
    }
    let first_start = s.order.first().map(|&i| c.spans[i as usize].start);
    out.extend_from_slice(b"{\"info\":");
    if info::can_write(c) {
        info::write_info(out, c, &settings, first_start, &mut s.sizes, &mut s.info);
    } else {
        // The model's path: the info built, completed and serialized.
        let mut info = super::trace_info(c, first_start);
        crate::size_stats::add(&mut info, &mut s.sizes);
        serde_json::to_writer(&mut *out, &info)?;
    }
    out.extend_from_slice(b",\"data\":{\"spans\":[");
    out.extend_from_slice(&s.spans_json);
    out.extend_from_slice(b"]}}");
    Ok(())
}
