//! The record of one span as the runtime keeps it while the span runs and until its trace is
//! built: values already encoded as JSON, keys mostly static. A leaf of the crate: spans,
//! contexts, exception capture and the collector all hold records, none of them is needed to
//! define one.

use std::borrow::Cow;

use crate::id::SpanId;
use crate::model::{SpanEvent, SpanStatus};

/// A JSON text as a span record keeps it: inline (no allocation) up to 24 bytes, which most
/// captured arguments and results are.
pub(crate) type Json = compact_str::CompactString;

/// A span as the runtime records it: values already JSON-encoded, keys mostly static.
#[derive(Debug, Clone)]
pub(crate) struct SpanRecord {
    pub span_id: SpanId,
    pub parent_id: Option<SpanId>,
    pub name: Cow<'static, str>,
    pub span_type: Cow<'static, str>,
    pub function_name: Option<&'static str>,
    pub start: u64,
    pub end: Option<u64>,
    pub inputs: Option<Json>,
    pub outputs: Option<Json>,
    /// Values inline up to 24 bytes, as most are (numbers, flags, names, short texts).
    pub attributes: Vec<(Cow<'static, str>, Json)>,
    pub events: Vec<SpanEvent>,
    /// Streamed items of a traced iterator or stream: (time, JSON), in order.
    pub chunks: Vec<(u64, String)>,
    pub status: SpanStatus,
    pub has_exception: bool,
}

impl SpanRecord {
    pub(crate) fn new(span_id: SpanId, parent_id: Option<SpanId>, name: Cow<'static, str>) -> Self {
        SpanRecord {
            span_id,
            parent_id,
            name,
            span_type: Cow::Borrowed("UNKNOWN"),
            function_name: None,
            start: crate::clock::now_unix_nanos(),
            end: None,
            inputs: None,
            outputs: None,
            attributes: Vec::new(),
            events: Vec::new(),
            chunks: Vec::new(),
            status: SpanStatus::default(),
            has_exception: false,
        }
    }

    /// Writes what [`SpanRecord::new`] gives into `at`, field by field: a record built elsewhere
    /// and moved in would be copied (it is large, and this runs for every span).
    ///
    /// # Safety
    /// `at` is valid for writes and aligned; whatever it held is overwritten without a drop.
    #[inline]
    pub(crate) unsafe fn init(
        at: *mut SpanRecord,
        span_id: SpanId,
        parent_id: Option<SpanId>,
        name: Cow<'static, str>,
    ) {
        // SAFETY: the caller's contract; each field is written once.
        unsafe {
            (&raw mut (*at).span_id).write(span_id);
            (&raw mut (*at).parent_id).write(parent_id);
            (&raw mut (*at).name).write(name);
            (&raw mut (*at).span_type).write(Cow::Borrowed("UNKNOWN"));
            (&raw mut (*at).function_name).write(None);
            (&raw mut (*at).start).write(crate::clock::now_unix_nanos());
            (&raw mut (*at).end).write(None);
            (&raw mut (*at).inputs).write(None);
            (&raw mut (*at).outputs).write(None);
            (&raw mut (*at).attributes).write(Vec::new());
            (&raw mut (*at).events).write(Vec::new());
            (&raw mut (*at).chunks).write(Vec::new());
            (&raw mut (*at).status).write(SpanStatus::default());
            (&raw mut (*at).has_exception).write(false);
        }
    }

    /// Whether dropping the record frees anything. Most records own no allocation (static names,
    /// inline JSON, no attributes or events); a list of such records can be let go without
    /// visiting each one (see `reclaim`). Every field is named, so that a new field cannot be
    /// forgotten here.
    #[inline]
    pub(crate) fn owns_heap(&self) -> bool {
        let SpanRecord {
            span_id: _,
            parent_id: _,
            name,
            span_type,
            function_name: _,
            start: _,
            end: _,
            inputs,
            outputs,
            attributes,
            events,
            chunks,
            status,
            has_exception: _,
        } = self;
        matches!(name, Cow::Owned(_))
            | matches!(span_type, Cow::Owned(_))
            | inputs.as_ref().is_some_and(Json::is_heap_allocated)
            | outputs.as_ref().is_some_and(Json::is_heap_allocated)
            | (attributes.capacity() != 0)
            | (events.capacity() != 0)
            | (chunks.capacity() != 0)
            | (status.message.capacity() != 0)
    }

    pub(crate) fn set_attribute(&mut self, key: Cow<'static, str>, json: impl Into<Json>) {
        let json = json.into();
        if let Some(slot) = self.attributes.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = json;
        } else {
            self.attributes.push((key, json));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> SpanRecord {
        let mut r = SpanRecord::new(SpanId(3), Some(SpanId(1)), Cow::Borrowed("child"));
        r.inputs = Some(Json::const_new("{}"));
        r.outputs = Some(Json::new(r#"{"a": 7, "b": "hello"}"#));
        r
    }

    #[test]
    fn owns_heap_is_false_for_static_names_and_inline_values_only() {
        assert!(!plain().owns_heap());
        let heap: [fn(&mut SpanRecord); 8] = [
            |r| r.name = Cow::Owned("dynamic".into()),
            |r| r.span_type = Cow::Owned("MY_TYPE".into()),
            |r| r.inputs = Some(Json::new("x".repeat(40))),
            |r| r.outputs = Some(Json::new("y".repeat(40))),
            |r| r.set_attribute(Cow::Borrowed("k"), "1"),
            |r| r.events.push(SpanEvent::new("e")),
            |r| r.chunks.push((1, "2".into())),
            |r| r.status = SpanStatus::error("E: boom"),
        ];
        for (i, set) in heap.iter().enumerate() {
            let mut r = plain();
            set(&mut r);
            assert!(r.owns_heap(), "field {i} owns an allocation");
        }
        // Emptied but still allocated: still owned.
        let mut r = plain();
        r.attributes.reserve(1);
        assert!(r.owns_heap());
    }
}
