//! Traced iterators and streams (Python's generators): one span over the whole iteration, an
//! event per item, and an output made from the items.
//!
//! The span starts when the consumer first asks for an item (its parent is the span current at
//! that moment) and is current while the inner `next`/`poll_next` runs, so spans made while
//! producing an item nest under it. Each item adds an event `mlflow.chunk.item.<i>` holding the
//! item's JSON. At the end the output is the reducer's result, or the JSON list of the items.
//!
//! If the consumer drops the iterator or stream early (`break`, `take(n)`, a losing `select!`
//! branch), the span still ends, at the drop, with the items seen so far as output and an event
//! `stopped_early`; the trace is finalized as usual. An item that is `Err` is what a Python
//! generator that raises is to MLflow: it adds an `exception` event and sets status ERROR, and
//! is neither a chunk event nor part of the outputs; a stream that ends on an `Err` (or is
//! dropped right after one) leaves the span without outputs. The item is passed through
//! unchanged, and items the stream yields after it are recorded as usual. A reducer that panics is
//! recorded (event `output_reducer_failed`, status ERROR) and the iteration goes on.
//!
//! # Reducers
//!
//! Two forms, both set on [`StreamOptions`]:
//! - [`StreamOptions::output_reducer`] takes `fn(&[T]) -> R` (or a closure), as MLflow's
//!   `output_reducer` takes the list of items. The wrapper hands each item on to the consumer,
//!   so keeping the items for the reducer needs a copy of each: this form requires `T: Clone`.
//! - [`StreamOptions::reducer`] takes a [`Reducer`], fed one item at a time by reference and
//!   finished once: no `Clone`, and nothing is kept, so a very long stream costs no memory. With
//!   it, per-item events can be turned off too ([`StreamOptions::chunk_events`]).
//!
//! ```
//! use spanwise_core::{IteratorExt, StreamOptions};
//! let text: String = "hello"
//!     .chars()
//!     .map(|c| c.to_string())
//!     .traced_with(
//!         "stream_data",
//!         StreamOptions::new().output_reducer(|chunks: &[String]| chunks.join(",")),
//!     )
//!     .collect();
//! assert_eq!(text, "hello");
//! let trace = spanwise_core::get_trace(&spanwise_core::last_active_trace_id().unwrap()).unwrap();
//! assert_eq!(trace.root().unwrap().outputs(), Some(serde_json::json!("h,e,l,l,o")));
//! ```

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_core::FusedStream;
/// The `Stream` trait (of `futures-core`) that traced streams implement, re-exported so that a
/// stream type can be written without depending on `futures` directly.
pub use futures_core::Stream;
use pin_project_lite::pin_project;
use serde::Serialize;

use crate::capture;
use crate::exception;
use crate::instrument::{PollFrame, SpanBuilder, span};
use crate::model::{SpanEvent, SpanStatus, SpanType};
use crate::record::{Json, SpanRecord};
use crate::span::Slot;

/// Reduces the items of a traced iterator or stream to its output, one item at a time.
///
/// ```
/// use spanwise_core::Reducer;
/// /// Concatenates streamed tokens.
/// #[derive(Default)]
/// struct Concat(String);
/// impl Reducer<String> for Concat {
///     type Output = String;
///     fn push(&mut self, token: &String) { self.0.push_str(token) }
///     fn finish(self) -> String { self.0 }
/// }
/// let mut r = Concat::default();
/// r.push(&"Hello".to_string());
/// r.push(&" World".to_string());
/// assert_eq!(r.finish(), "Hello World");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Reducer` of items of type `{T}`",
    label = "not a `Reducer<{T}>`",
    note = "`reducer = ...` takes a value implementing `spanwise::Reducer<{T}>` (`push(&mut self, &{T})`, `finish(self)`); for a function of the list of items use `output_reducer = f` with `f: fn(&[{T}]) -> R`"
)]
pub trait Reducer<T> {
    /// What the items reduce to; recorded as the span's output.
    type Output: Serialize;
    /// Takes one item.
    fn push(&mut self, item: &T);
    /// Gives the output once the items are done (or the consumer stopped early).
    fn finish(self) -> Self::Output;
}

/// `fn(&[T]) -> R` as a [`Reducer`]: keeps a copy of each item.
struct SliceReducer<T, F> {
    items: Vec<T>,
    f: F,
}

impl<T: Clone, R: Serialize, F: FnOnce(&[T]) -> R> Reducer<T> for SliceReducer<T, F> {
    type Output = R;
    fn push(&mut self, item: &T) {
        self.items.push(item.clone());
    }
    fn finish(self) -> R {
        (self.f)(&self.items)
    }
}

/// A reducer with its types erased, producing the output's JSON.
trait ErasedReducer<T>: Send {
    fn push(&mut self, item: &T);
    fn finish(self: Box<Self>) -> String;
}

impl<T, R: Reducer<T> + Send> ErasedReducer<T> for R {
    fn push(&mut self, item: &T) {
        Reducer::push(self, item)
    }
    fn finish(self: Box<Self>) -> String {
        capture::to_json(&Reducer::finish(*self))
    }
}

/// What one item became: its JSON, and an error when it was an `Err`.
#[doc(hidden)]
#[derive(Default)]
pub struct ItemOut {
    /// Whether the item's JSON is wanted (chunk events or the list output). When not, a capture
    /// function only looks for an error, so items are never serialized for nothing.
    pub want_json: bool,
    /// The item's JSON.
    pub json: Vec<u8>,
    /// `(type, message, stack)` when the item is an error.
    pub error: Option<(String, String, String)>,
}

type CaptureFn<T> = Box<dyn FnMut(&T, &mut ItemOut) + Send>;

/// Options of a traced iterator or stream: span type, attributes, inputs, reducer, events.
///
/// `T` is the item type.
pub struct StreamOptions<T> {
    span_type: Option<SpanType>,
    attributes: Vec<(Cow<'static, str>, String)>,
    inputs: Option<Json>,
    reducer: Option<Box<dyn ErasedReducer<T>>>,
    chunk_events: bool,
    capture_output: bool,
}

impl<T> Default for StreamOptions<T> {
    fn default() -> Self {
        StreamOptions::new()
    }
}

impl<T> StreamOptions<T> {
    /// Defaults: type UNKNOWN, per-item events on, output = the list of items.
    pub fn new() -> Self {
        StreamOptions {
            span_type: None,
            attributes: Vec::new(),
            inputs: None,
            reducer: None,
            chunk_events: true,
            capture_output: true,
        }
    }

    /// Sets the span type.
    pub fn span_type(mut self, t: SpanType) -> Self {
        self.span_type = Some(t);
        self
    }

    /// Adds an attribute.
    pub fn attribute<V: Serialize>(mut self, key: impl Into<Cow<'static, str>>, value: V) -> Self {
        self.attributes.push((key.into(), capture::to_json(&value)));
        self
    }

    /// Sets the inputs.
    pub fn inputs<V: Serialize>(mut self, inputs: V) -> Self {
        self.inputs = Some(Json::from(capture::to_json(&inputs)));
        self
    }

    /// Reduces the list of items to the output (MLflow's `output_reducer`). Keeps a copy of each
    /// item, hence `T: Clone`; see [`StreamOptions::reducer`] for the form that keeps nothing.
    pub fn output_reducer<R, F>(mut self, f: F) -> Self
    where
        T: Clone + Send + 'static,
        R: Serialize,
        F: FnOnce(&[T]) -> R + Send + 'static,
    {
        self.reducer = Some(Box::new(SliceReducer {
            items: Vec::new(),
            f,
        }));
        self
    }

    /// Reduces the items one at a time with an incremental [`Reducer`].
    pub fn reducer<R: Reducer<T> + Send + 'static>(mut self, reducer: R) -> Self
    where
        T: 'static,
    {
        self.reducer = Some(Box::new(reducer));
        self
    }

    /// Turns the per-item `mlflow.chunk.item.<i>` events on or off (on by default).
    ///
    /// ```
    /// use spanwise_core::{IteratorExt, StreamOptions};
    /// let n = (0..1000).traced_with("quiet", StreamOptions::new().chunk_events(false)).count();
    /// assert_eq!(n, 1000);
    /// let t = spanwise_core::get_trace(&spanwise_core::last_active_trace_id().unwrap()).unwrap();
    /// assert!(t.root().unwrap().events.is_empty());
    /// ```
    pub fn chunk_events(mut self, on: bool) -> Self {
        self.chunk_events = on;
        self
    }

    /// Records the output (the reducer's result, or the list of items) or not (on by default).
    /// With this off and [`chunk_events`](Self::chunk_events) off too, item values are never
    /// serialized; `Err` items are still recorded as exceptions.
    ///
    /// ```
    /// use spanwise_core::{IteratorExt, StreamOptions};
    /// let n = (0..3)
    ///     .traced_with("secret", StreamOptions::new().capture_output(false).chunk_events(false))
    ///     .count();
    /// assert_eq!(n, 3);
    /// let t = spanwise_core::get_trace(&spanwise_core::last_active_trace_id().unwrap()).unwrap();
    /// assert_eq!(t.root().unwrap().outputs(), None);
    /// ```
    pub fn capture_output(mut self, on: bool) -> Self {
        self.capture_output = on;
        self
    }

    /// Adds the type, inputs and attributes of the options to `b`.
    fn apply(&mut self, mut b: SpanBuilder) -> SpanBuilder {
        if let Some(t) = self.span_type.take() {
            b = b.span_type(t);
        }
        if let Some(i) = self.inputs.take() {
            b.inputs = Some(i);
        }
        b.attributes.append(&mut self.attributes);
        b
    }
}

/// The shared state machine of traced iterators and streams.
///
/// What only a recorded span needs lives behind one box, allocated when tracing is on: a
/// wrapper made while tracing is off stays small and cheap to move.
struct Core<T> {
    state: State,
    capture: CaptureFn<T>,
    rec: Option<Box<Recording<T>>>,
}

/// The recording side of a wrapper.
struct Recording<T> {
    reducer: Option<Box<dyn ErasedReducer<T>>>,
    /// The JSON list of the items so far, when it is the output.
    list: Option<Vec<u8>>,
    chunk_events: bool,
    index: u64,
    item: ItemOut,
    /// The last item was an `Err`: if the stream ends now, the span has no outputs.
    ended_on_err: bool,
}

enum State {
    /// Not asked for an item yet: the span to start then.
    Pending(Box<SpanBuilder>),
    Running(Slot),
    Done,
}

impl<T> Core<T> {
    fn new(name: Cow<'static, str>, options: StreamOptions<T>, capture: CaptureFn<T>) -> Self {
        let builder = crate::runtime::is_enabled().then(|| span(name));
        Core::with_builder(builder, options, capture)
    }

    /// Records nothing: no options, no capture, items pass straight through.
    #[inline]
    fn off() -> Self {
        Core {
            state: State::Done,
            // A zero-sized closure: boxing it does not allocate.
            capture: Box::new(|_: &T, _: &mut ItemOut| {}),
            rec: None,
        }
    }

    /// `builder` is `None` when tracing is off: the wrapper then only passes items through.
    fn with_builder(
        builder: Option<SpanBuilder>,
        mut options: StreamOptions<T>,
        capture: CaptureFn<T>,
    ) -> Self {
        let Some(builder) = builder else {
            return Core {
                state: State::Done,
                capture,
                rec: None,
            };
        };
        let builder = options.apply(builder);
        let reducer = if options.capture_output {
            options.reducer
        } else {
            None
        };
        let list = (options.capture_output && reducer.is_none()).then(|| vec![b'[']);
        Core {
            state: State::Pending(Box::new(builder)),
            capture,
            rec: Some(Box::new(Recording {
                reducer,
                list,
                chunk_events: options.chunk_events,
                index: 0,
                item: ItemOut::default(),
                ended_on_err: false,
            })),
        }
    }

    /// Starts the span on first use; the slot to enter around the inner call.
    #[inline]
    fn slot(&mut self) -> Option<&Slot> {
        if matches!(self.state, State::Pending(_)) {
            let State::Pending(b) = std::mem::replace(&mut self.state, State::Done) else {
                unreachable!("matched above")
            };
            self.state = State::Running(b.start_slot());
        }
        match &self.state {
            State::Running(slot) => Some(slot),
            _ => None,
        }
    }

    fn on_item(&mut self, item: &T) {
        let (State::Running(slot), Some(rec)) = (&self.state, &mut self.rec) else {
            return;
        };
        if matches!(slot, Slot::Off | Slot::Unsampled) {
            return;
        }
        let out = &mut rec.item;
        out.json.clear();
        out.error = None;
        out.want_json = rec.chunk_events || rec.list.is_some();
        // Called even when no JSON is wanted: it is also what finds `Err` items.
        (self.capture)(item, out);
        if let Some(error) = out.error.take() {
            // Python's generator that raised: an exception, never a chunk nor part of the
            // outputs (and the index stays, so chunk events stay numbered 0, 1, 2, ...).
            rec.ended_on_err = true;
            slot.with_record(|r| {
                let (ty, msg, stack) = &error;
                exception::record_exception(r, ty, msg, stack);
            });
            return;
        }
        rec.ended_on_err = false;
        let mut failed = None;
        if let Some(r) = &mut rec.reducer
            && let Err(p) = catch_unwind(AssertUnwindSafe(|| r.push(item)))
        {
            failed = Some(capture::panic_text(&*p));
            // A reducer that panicked once is not trusted with more items.
            if let Some(r) = rec.reducer.take() {
                exception::drop_contained(r);
            }
        }
        let out = &mut rec.item;
        if let Some(list) = &mut rec.list {
            if list.len() > 1 {
                list.push(b',');
            }
            list.extend_from_slice(&out.json);
        }
        let index = rec.index;
        rec.index += 1;
        if !rec.chunk_events && failed.is_none() {
            return;
        }
        let chunk = rec
            .chunk_events
            .then(|| String::from_utf8_lossy(&out.json).into_owned());
        slot.with_record(|r| {
            if let Some(json) = chunk {
                // Kept compact (time, JSON); the `mlflow.chunk.item.<i>` events are made when
                // the trace's model is built.
                debug_assert_eq!(index as usize, r.chunks.len());
                r.chunks.push((crate::clock::now_unix_nanos(), json));
            }
            if let Some(msg) = failed {
                reducer_failed(r, &msg);
            }
        });
    }

    /// Ends the span: sets the output and, when stopped early, adds `stopped_early`.
    fn finish(&mut self, early: bool) {
        let State::Running(mut slot) = std::mem::replace(&mut self.state, State::Done) else {
            return;
        };
        if let Some(rec) = self.rec.take()
            && !matches!(slot, Slot::Off | Slot::Unsampled)
        {
            let Recording {
                reducer,
                list,
                ended_on_err,
                ..
            } = *rec;
            let output = match reducer {
                // As MLflow: a generator that raised has no outputs.
                _ if ended_on_err => None,
                Some(r) => match catch_unwind(AssertUnwindSafe(|| r.finish())) {
                    Ok(json) => Some(json),
                    Err(p) => {
                        let msg = capture::panic_text(&*p);
                        slot.with_record(|r| reducer_failed(r, &msg));
                        None
                    }
                },
                None => list.map(|mut l| {
                    l.push(b']');
                    String::from_utf8(l).unwrap_or_default()
                }),
            };
            slot.with_record(|r| {
                if early {
                    r.events.push(SpanEvent::new("stopped_early"));
                }
                if let Some(o) = output {
                    r.outputs = Some(Json::from(o));
                }
            });
        }
        slot.end_detached();
    }
}

/// Event added when a reducer panics.
pub const REDUCER_FAILED_EVENT: &str = "output_reducer_failed";

fn reducer_failed(r: &mut SpanRecord, msg: &str) {
    crate::counters::user_code_panic(crate::counters::UserCode::Reducer);
    if r.events.iter().any(|e| e.name == REDUCER_FAILED_EVENT) {
        return;
    }
    r.events
        .push(SpanEvent::new(REDUCER_FAILED_EVENT).with_attribute("message", msg));
    r.status = SpanStatus::error(format!("output_reducer_failed: {msg}"));
    r.has_exception = true;
}

/// An iterator traced as one span; see the [module docs](self).
pub struct TracedIter<I: Iterator> {
    inner: I,
    core: Core<I::Item>,
}

impl<I: Iterator> Iterator for TracedIter<I> {
    type Item = I::Item;

    #[inline]
    fn next(&mut self) -> Option<I::Item> {
        let Some(slot) = self.core.slot() else {
            return self.inner.next();
        };
        let item = {
            let _frame = PollFrame::enter(slot);
            self.inner.next()
        };
        match &item {
            Some(i) => self.core.on_item(i),
            None => self.core.finish(false),
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Items taken from the back are recorded like the others, in the order they are taken.
impl<I: DoubleEndedIterator> DoubleEndedIterator for TracedIter<I> {
    fn next_back(&mut self) -> Option<I::Item> {
        let Some(slot) = self.core.slot() else {
            return self.inner.next_back();
        };
        let item = {
            let _frame = PollFrame::enter(slot);
            self.inner.next_back()
        };
        match &item {
            Some(i) => self.core.on_item(i),
            None => self.core.finish(false),
        }
        item
    }
}

impl<I: ExactSizeIterator> ExactSizeIterator for TracedIter<I> {}

/// Once the inner iterator has returned `None` the span is ended and later calls go straight to
/// it, so the wrapper is fused when the inner iterator is.
impl<I: std::iter::FusedIterator> std::iter::FusedIterator for TracedIter<I> {}

impl<I: Iterator> Drop for TracedIter<I> {
    #[inline]
    fn drop(&mut self) {
        if let State::Running(_) = self.core.state {
            self.core.finish(true);
        }
    }
}

pin_project! {
    /// A stream traced as one span; see the [module docs](self).
    pub struct TracedStream<S: Stream> {
        #[pin]
        inner: S,
        core: Core<S::Item>,
    }

    impl<S: Stream> PinnedDrop for TracedStream<S> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let State::Running(_) = this.core.state {
                this.core.finish(true);
            }
        }
    }
}

impl<S: Stream> Stream for TracedStream<S> {
    type Item = S::Item;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let Some(slot) = this.core.slot() else {
            return this.inner.poll_next(cx);
        };
        let res = {
            let _frame = PollFrame::enter(slot);
            this.inner.poll_next(cx)
        };
        match &res {
            Poll::Ready(Some(i)) => this.core.on_item(i),
            Poll::Ready(None) => this.core.finish(false),
            Poll::Pending => {}
        }
        res
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S: FusedStream> FusedStream for TracedStream<S> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

fn serialize_capture<T: Serialize>() -> CaptureFn<T> {
    Box::new(|item: &T, out: &mut ItemOut| {
        if out.want_json {
            capture::write_json(item, &mut out.json)
        }
    })
}

/// Captures `Ok` values as JSON, and `Err` items as exceptions.
fn result_capture<T: Serialize, E: std::error::Error>() -> CaptureFn<Result<T, E>> {
    Box::new(|item: &Result<T, E>, out: &mut ItemOut| match item {
        Ok(v) => {
            if out.want_json {
                capture::write_json(v, &mut out.json)
            }
        }
        Err(e) => {
            let ty = capture::short_type_name(std::any::type_name::<E>());
            let stack = exception::source_chain(&ty, e);
            out.error = Some((ty, e.to_string(), stack));
        }
    })
}

/// `.traced(name)` for iterators whose items are `Serialize`.
pub trait IteratorExt: Iterator + Sized {
    /// Traces the iteration as one span named `name`, with the defaults of [`StreamOptions`].
    ///
    /// ```
    /// use spanwise_core::IteratorExt;
    /// let total: i32 = (0..5).traced("stream_data").sum();
    /// assert_eq!(total, 10);
    /// let trace = spanwise_core::get_trace(&spanwise_core::last_active_trace_id().unwrap()).unwrap();
    /// assert_eq!(trace.root().unwrap().outputs(), Some(serde_json::json!([0, 1, 2, 3, 4])));
    /// ```
    fn traced(self, name: impl Into<Cow<'static, str>>) -> TracedIter<Self>
    where
        Self::Item: Serialize,
    {
        self.traced_with(name, StreamOptions::new())
    }

    /// Traces the iteration as one span with options.
    fn traced_with(
        self,
        name: impl Into<Cow<'static, str>>,
        options: StreamOptions<Self::Item>,
    ) -> TracedIter<Self>
    where
        Self::Item: Serialize,
    {
        TracedIter {
            inner: self,
            core: Core::new(name.into(), options, serialize_capture()),
        }
    }

    /// Traces an iterator of `Result`s: `Ok` values are recorded as JSON, each `Err` as an
    /// `exception` event that sets status ERROR, not as a chunk nor as part of the outputs (the
    /// item is passed on unchanged). Ending on an `Err` leaves the span without outputs.
    ///
    /// ```
    /// use spanwise_core::{IteratorExt, StreamOptions};
    /// let items = vec![Ok(1), "x".parse::<i32>(), Ok(3)];
    /// let n = items.into_iter().traced_results("parse", StreamOptions::new()).count();
    /// assert_eq!(n, 3);
    /// let t = spanwise_core::get_trace(&spanwise_core::last_active_trace_id().unwrap()).unwrap();
    /// let root = t.root().unwrap();
    /// assert_eq!(root.status.code, spanwise_core::StatusCode::Error);
    /// assert_eq!(root.outputs(), Some(serde_json::json!([1, 3])));
    /// ```
    fn traced_results<T, E>(
        self,
        name: impl Into<Cow<'static, str>>,
        options: StreamOptions<Self::Item>,
    ) -> TracedIter<Self>
    where
        Self: Iterator<Item = Result<T, E>>,
        T: Serialize,
        E: std::error::Error,
    {
        TracedIter {
            inner: self,
            core: Core::new(name.into(), options, result_capture()),
        }
    }
}

impl<I: Iterator> IteratorExt for I {}

/// `.traced(name)` for streams whose items are `Serialize`.
pub trait StreamExt: Stream + Sized {
    /// Traces the stream as one span named `name`, with the defaults of [`StreamOptions`].
    ///
    /// ```
    /// use futures::StreamExt as _;
    /// use spanwise_core::StreamExt;
    /// # futures::executor::block_on(async {
    /// let items: Vec<u8> = futures::stream::iter([1u8, 2, 3]).traced("numbers").collect().await;
    /// assert_eq!(items, [1, 2, 3]);
    /// # });
    /// ```
    fn traced(self, name: impl Into<Cow<'static, str>>) -> TracedStream<Self>
    where
        Self::Item: Serialize,
    {
        self.traced_with(name, StreamOptions::new())
    }

    /// Traces the stream as one span with options.
    fn traced_with(
        self,
        name: impl Into<Cow<'static, str>>,
        options: StreamOptions<Self::Item>,
    ) -> TracedStream<Self>
    where
        Self::Item: Serialize,
    {
        TracedStream {
            inner: self,
            core: Core::new(name.into(), options, serialize_capture()),
        }
    }
}

impl<S: Stream> StreamExt for S {}

/// Builds a traced iterator with a capture function chosen by the macro (autoref capture at the
/// expansion site, `Err` items recorded as exceptions), its span prepared by the macro.
#[doc(hidden)]
pub fn __iter<I: Iterator>(
    inner: I,
    span: SpanBuilder,
    options: StreamOptions<I::Item>,
    capture: impl FnMut(&I::Item, &mut ItemOut) + Send + 'static,
) -> TracedIter<I> {
    TracedIter {
        inner,
        core: Core::with_builder(Some(span), options, Box::new(capture)),
    }
}

/// A wrapper that records nothing (tracing off): items pass straight through.
#[doc(hidden)]
#[inline]
pub fn __iter_off<I: Iterator>(inner: I) -> TracedIter<I> {
    TracedIter {
        inner,
        core: Core::off(),
    }
}

/// Builds a traced stream with a capture function chosen by the macro.
#[doc(hidden)]
pub fn __stream<S: Stream>(
    inner: S,
    span: SpanBuilder,
    options: StreamOptions<S::Item>,
    capture: impl FnMut(&S::Item, &mut ItemOut) + Send + 'static,
) -> TracedStream<S> {
    TracedStream {
        inner,
        core: Core::with_builder(Some(span), options, Box::new(capture)),
    }
}

/// A stream wrapper that records nothing (tracing off).
#[doc(hidden)]
#[inline]
pub fn __stream_off<S: Stream>(inner: S) -> TracedStream<S> {
    TracedStream {
        inner,
        core: Core::off(),
    }
}
