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
use crate::collector::SpanRecord;
use crate::context::{Frame, with_local};
use crate::exception;
use crate::model::{SpanEvent, SpanType};
use crate::span::{SpanGuard, Slot, type_str};

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
    pub(crate) inputs: Option<String>,
    pub(crate) attributes: Vec<(Cow<'static, str>, String)>,
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
            self.inputs = Some(capture::to_json(&inputs));
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

    /// Starts the span on this thread: current until the guard drops.
    pub fn start(self) -> SpanGuard {
        let guard = SpanGuard::enter(self.name.clone());
        guard.slot.with_record(|r| self.apply(r));
        guard
    }

    pub(crate) fn apply(self, r: &mut SpanRecord) {
        r.name = self.name;
        if let Some(t) = self.span_type {
            r.span_type = t;
        }
        r.function_name = self.function_name;
        if self.inputs.is_some() {
            r.inputs = self.inputs;
        }
        for (k, v) in self.attributes {
            r.set_attribute(k, v);
        }
    }

    fn start_slot(self) -> Slot {
        let slot = with_local(|l| Slot::start(l, Cow::Borrowed("")));
        slot.with_record(|r| self.apply(r));
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
struct PollFrame<'a> {
    frame: Option<Frame>,
    slot: &'a Slot,
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
        let frame = slot.frame();
        if let Some(f) = frame {
            with_local(|l| l.stack.push(f));
        }
        let res = {
            let _pop = PollFrame { frame, slot };
            this.inner.poll(cx)
        };
        if res.is_ready() {
            slot.end_detached();
            *this.state = State::Done;
        }
        res
    }
}
