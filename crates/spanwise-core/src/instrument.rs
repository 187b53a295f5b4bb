//! Spans over futures: [`SpanBuilder`] describes a span before it starts, and
//! [`FutureExt::in_span`] runs a future inside one.
//!
//! A future's span starts when it is first polled (its parent is the span current at that
//! moment) and ends when it completes. While it is polled it is the current span, so spans made
//! inside nest under it across `.await` points and across the threads of a multi-threaded
//! runtime. A future dropped before completion ends its span with an event `cancelled`
//! (cancellation alone is not an error); a panic inside a poll is recorded as with guards.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;
use serde::Serialize;

use crate::capture;
use crate::context::{Context, Frame, Local, with_local};
use crate::exception;
use crate::model::{SpanEvent, SpanType};
use crate::record::Json;
use crate::span::{Slot, SpanGuard, type_str};

/// A span described before it starts: its name, type, inputs and attributes.
///
/// ```
/// use spanwise_core::{span, SpanType};
/// let guard = span("retrieve").span_type(SpanType::Retriever).inputs("query").start();
/// drop(guard);
/// ```
#[derive(Clone, Debug)]
pub struct SpanBuilder {
    pub(crate) name: Cow<'static, str>,
    pub(crate) span_type: Option<Cow<'static, str>>,
    pub(crate) function_name: Option<&'static str>,
    pub(crate) inputs: Option<Json>,
    pub(crate) attributes: Vec<(Cow<'static, str>, String)>,
    /// The context to start under instead of the current one (see `remote_parent`).
    pub(crate) parent: Option<Context>,
}

/// Describes a span named `name`; start it with [`SpanBuilder::start`] or run a future in it
/// with [`FutureExt::in_span`].
pub fn span(name: impl Into<Cow<'static, str>>) -> SpanBuilder {
    SpanBuilder {
        name: name.into(),
        span_type: None,
        function_name: None,
        inputs: None,
        attributes: Vec::new(),
        parent: None,
    }
}

impl SpanBuilder {
    /// Sets the span type.
    pub fn span_type(mut self, span_type: SpanType) -> Self {
        self.span_type = Some(type_str(span_type));
        self
    }

    /// Sets the inputs (encoded now).
    pub fn inputs<T: Serialize>(mut self, inputs: T) -> Self {
        if crate::runtime::is_enabled() {
            self.inputs = Some(Json::from(capture::to_json(&inputs)));
        }
        self
    }

    /// Adds an attribute (encoded now).
    pub fn attribute<T: Serialize>(mut self, key: impl Into<Cow<'static, str>>, value: T) -> Self {
        if crate::runtime::is_enabled() {
            self.attributes.push((key.into(), capture::to_json(&value)));
        }
        self
    }

    /// Starts the span under `parent` instead of the current span: typically a context
    /// [`extract`](crate::propagation::extract)ed from another process's request, making this
    /// span the local root of that process's part of the trace. Any [`Context`] works (an empty
    /// one starts a new trace).
    ///
    /// ```
    /// use spanwise_core::{Context, SpanId, TraceId, span};
    /// let remote = Context::remote(TraceId(0x4bf92f3577b34da6a3ce929d0e0e4736), SpanId(0xf067aa0ba902b7));
    /// let guard = span("handle_request").remote_parent(remote).start();
    /// assert_eq!(guard.trace_id(), Some(TraceId(0x4bf92f3577b34da6a3ce929d0e0e4736)));
    /// ```
    pub fn remote_parent(mut self, parent: Context) -> Self {
        self.parent = Some(parent);
        self
    }

    /// Starts the span on this thread: current until the guard drops.
    pub fn start(mut self) -> SpanGuard {
        // The parent is read from the top of the stack when the span starts, so the context is
        // attached only for that moment; its frame then leaves from under the new span's.
        let attached = self.parent.take().map(|c| c.attach());
        let guard = SpanGuard::enter_with(|l| self.start_in(l));
        drop(attached);
        guard
    }

    /// Starts the slot under the top of `local`'s stack with the builder's fields, moved
    /// straight into the record.
    #[inline]
    fn start_in(self, local: &mut Local) -> Slot {
        if !crate::runtime::is_enabled() {
            return Slot::Off;
        }
        let SpanBuilder {
            name,
            span_type,
            function_name,
            inputs,
            attributes,
            parent: _,
        } = self;
        let parent = local.parent();
        Slot::start_filled(&mut local.cells, parent, name, move |r| {
            if let Some(t) = span_type {
                r.span_type = t;
            }
            r.function_name = function_name;
            r.inputs = inputs;
            for (k, v) in attributes {
                r.set_attribute(k, v);
            }
        })
    }

    pub(crate) fn start_slot(mut self) -> Slot {
        let attached = self.parent.take().map(|c| c.attach());
        let slot = with_local(|l| self.start_in(l));
        drop(attached);
        slot
    }
}

/// Future combinators of spanwise.
pub trait FutureExt: Future + Sized {
    /// Runs this future inside a span that starts at the first poll and ends at completion.
    ///
    /// ```
    /// use spanwise_core::{FutureExt, span};
    /// # futures::executor::block_on(async {
    /// let answer = async { 42 }.in_span(span("compute")).await;
    /// assert_eq!(answer, 42);
    /// # });
    /// ```
    fn in_span(self, span: SpanBuilder) -> Instrumented<Self> {
        Instrumented {
            inner: self,
            state: State::Pending(Some(span)),
        }
    }
}

impl<F: Future> FutureExt for F {}

pub(crate) enum State {
    Pending(Option<SpanBuilder>),
    Running(Slot),
    Done,
}

pin_project! {
    /// A future running inside a span; see [`FutureExt::in_span`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        state: State,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let State::Running(slot) = this.state {
                slot.with_record(|r| {
                    if !r.has_exception && !std::thread::panicking() {
                        r.events.push(SpanEvent::new("cancelled"));
                    }
                });
                slot.end_detached();
            }
        }
    }
}

impl<F> Instrumented<F> {
    /// Wraps a future with an already prepared span state (the macro's entry point).
    pub(crate) fn with_builder(inner: F, span: Option<SpanBuilder>) -> Instrumented<F> {
        Instrumented {
            inner,
            state: match span {
                Some(b) => State::Pending(Some(b)),
                None => State::Done,
            },
        }
    }
}

/// Pops the span's frame after a poll, even when the poll panics (then it records the panic).
pub(crate) struct PollFrame<'a> {
    frame: Option<Frame>,
    slot: &'a Slot,
}

impl<'a> PollFrame<'a> {
    /// Pushes the slot's frame (if any) until the returned value drops.
    pub(crate) fn enter(slot: &'a Slot) -> PollFrame<'a> {
        let frame = slot.frame();
        if let Some(f) = frame {
            with_local(|l| l.stack.push(f));
        }
        PollFrame { frame, slot }
    }
}

impl Drop for PollFrame<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.slot.with_record(|r| {
                if !r.has_exception {
                    exception::record_panic(r);
                }
            });
        }
        if let Some(f) = self.frame {
            with_local(|l| l.remove(f));
        }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let State::Pending(b) = this.state {
            let slot = match b.take() {
                Some(b) => b.start_slot(),
                None => Slot::Off,
            };
            *this.state = State::Running(slot);
        }
        let State::Running(slot) = this.state else {
            return this.inner.poll(cx);
        };
        let res = {
            let _frame = PollFrame::enter(slot);
            this.inner.poll(cx)
        };
        if res.is_ready() {
            slot.end_detached();
            *this.state = State::Done;
        }
        res
    }
}

/// Future combinators that carry a [`Context`](crate::Context) into another task.
pub trait ContextExt: Future + Sized {
    /// Runs this future with the context current where `in_current_context` is called: spans
    /// made while it is polled are children of that span, whichever thread polls it.
    ///
    /// ```
    /// use spanwise_core::ContextExt;
    /// # futures::executor::block_on(async {
    /// let root = spanwise_core::start_span("request");
    /// let task = async { spanwise_core::start_span("in task").trace_id() }.in_current_context();
    /// let root_id = root.trace_id();
    /// drop(root);
    /// assert_eq!(task.await, root_id); // a late span of the same trace
    /// # });
    /// ```
    fn in_current_context(self) -> WithContext<Self> {
        self.in_context(crate::context::Context::current())
    }

    /// Runs this future with `ctx` current while it is polled.
    fn in_context(self, ctx: crate::context::Context) -> WithContext<Self> {
        WithContext { inner: self, ctx }
    }
}

impl<F: Future> ContextExt for F {}

pin_project! {
    /// A future polled inside a [`Context`](crate::Context); see [`ContextExt`].
    #[must_use = "futures do nothing unless polled"]
    pub struct WithContext<F> {
        #[pin]
        inner: F,
        ctx: crate::context::Context,
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _attached = this.ctx.attach();
        this.inner.poll(cx)
    }
}

/// Spawns a task on the current tokio runtime, carrying the current context (as
/// `tokio::spawn(fut.in_current_context())`). Spans in the task nest under the spawning span,
/// even when the task outlives it: they are then late spans of the trace (see the crate docs).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let root = spanwise_core::start_span("request");
/// let handle = spanwise_core::spawn(async { spanwise_core::start_span("task").trace_id() });
/// let root_id = root.trace_id();
/// drop(root);
/// assert_eq!(handle.await.unwrap(), root_id);
/// # }
/// ```
#[cfg(feature = "tokio")]
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(fut.in_current_context())
}
