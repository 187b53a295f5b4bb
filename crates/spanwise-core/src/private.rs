//! What the `#[trace]` macro's expansions call. Not a public API: it may change at any release.
//!
//! Expansions stay short: a `static SpanMeta` holds what is known at compile time, and the
//! argument, output and error capture goes through the autoref-specialized traits of
//! `capture` and of this module, resolved at the expansion site on the concrete types.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt::{Debug, Display};
use std::future::Future;

pub use crate::capture::{ViaDebug, ViaFast, ViaSerialize, ViaTypeName, Wrap};
use crate::capture::{short_type_name, write_str_json};
use crate::context::Local;
use crate::counters::UserCode;
use crate::exception;
/// An error's stack text as spanwise records it (for integrations of the workspace).
pub use crate::exception::source_chain;
use crate::instrument::{Instrumented, SpanBuilder};
use crate::record::Json;
/// Whether the `compile-out` feature is on: the expansions test it so that a traced function is
/// its plain body when tracing is compiled out (a constant the optimizer folds, unlike a
/// `#[cfg(feature)]` in the expansion, which would read the features of the user's crate).
pub use crate::runtime::COMPILED_OUT;
use crate::span::{ActiveSpan, Slot, SpanGuard};

/// What the macro knows at compile time.
pub struct SpanMeta {
    /// The span name.
    pub name: &'static str,
    /// The function's name (`mlflow.spanFunctionName`), if it is to be recorded.
    pub function_name: Option<&'static str>,
    /// The span type's MLflow string, when given as a literal or a built-in variant.
    pub span_type: &'static str,
}

/// Collects the inputs object and the attributes of a span about to start. The JSON is written
/// straight into the `String`s the span keeps.
pub struct Prep {
    /// The inputs object without its closing brace; empty until the first argument.
    inputs: String,
    span_type: Option<Cow<'static, str>>,
    attributes: Vec<(Cow<'static, str>, String)>,
}

impl Prep {
    /// Adds one argument to the inputs object.
    #[inline]
    pub fn input(&mut self, name: &'static str, capture: impl FnOnce(&mut String)) {
        if self.inputs.is_empty() {
            self.open_inputs();
        } else {
            self.inputs.push(',');
        }
        write_str_json(name, &mut self.inputs);
        self.inputs.push(':');
        capture(&mut self.inputs);
    }

    /// Adds one argument to the inputs object, its name given as the JSON text `"name":` (the
    /// macro writes it out at compile time: argument names need no escaping).
    #[inline]
    pub fn input_json_key(&mut self, key: &'static str, capture: impl FnOnce(&mut String)) {
        if self.inputs.is_empty() {
            self.open_inputs();
        } else {
            self.inputs.push(',');
        }
        self.inputs.push_str(key);
        capture(&mut self.inputs);
    }

    /// Starts the inputs object in this thread's scratch buffer (taken only by functions with
    /// arguments).
    #[inline]
    fn open_inputs(&mut self) {
        self.inputs = scratch::take();
        self.inputs.reserve(64);
        self.inputs.push('{');
    }

    /// Adds one attribute.
    #[inline]
    pub fn attribute(&mut self, key: &'static str, capture: impl FnOnce(&mut String)) {
        let mut out = String::new();
        capture(&mut out);
        self.attributes.push((Cow::Borrowed(key), out));
    }

    /// Sets the span type from a runtime value (`span_type = some_expr`).
    #[inline]
    pub fn span_type(&mut self, t: impl Into<crate::model::SpanType>) {
        self.span_type = Some(crate::span::type_str(t.into()));
    }

    fn into_prepared(mut self, meta: &'static SpanMeta) -> Prepared {
        // A function without arguments records `{}`, as MLflow does.
        let inputs = if self.inputs.is_empty() {
            Json::const_new("{}")
        } else {
            self.inputs.push('}');
            let json = Json::new(&self.inputs);
            scratch::give_back(self.inputs);
            json
        };
        Prepared {
            meta,
            inputs,
            span_type: self.span_type,
            attributes: self.attributes,
        }
    }
}

/// The span of a traced function, prepared (arguments captured) but not started: smaller than
/// a [`SpanBuilder`], and started by the sync path without one, since that path runs for every
/// call (the async and item-by-item paths, which carry their span across polls, convert it).
pub struct Prepared {
    meta: &'static SpanMeta,
    inputs: Json,
    span_type: Option<Cow<'static, str>>,
    attributes: Vec<(Cow<'static, str>, String)>,
}

/// What a traced function's expansion starts its span from: a [`Prepared`] span, or the static
/// [`SpanMeta`] alone when there is nothing to capture before the call (a pointer, not a
/// struct of captured values, moved through the call).
#[allow(private_interfaces)]
pub trait StartSpan: Sized {
    /// Starts the span under the top of `local`'s stack.
    #[doc(hidden)]
    fn start_in(self, local: &mut Local) -> Slot;
    /// The same span as a builder (for the paths that carry it across polls).
    #[doc(hidden)]
    fn into_builder(self) -> SpanBuilder;
    /// Starts the span and makes it current until the guard drops.
    #[doc(hidden)]
    #[inline]
    fn start(self) -> SpanGuard {
        SpanGuard::enter_with(|l| self.start_in(l))
    }
}

// (`Local` and `Slot` are the crate's own: nothing outside implements or calls this.)
#[allow(private_interfaces)]
impl StartSpan for &'static SpanMeta {
    #[inline]
    fn start_in(self, local: &mut Local) -> Slot {
        let parent = local.parent();
        Slot::start_filled(
            &mut local.cells,
            parent,
            Cow::Borrowed(self.name),
            move |r| {
                r.span_type = Cow::Borrowed(self.span_type);
                r.function_name = self.function_name;
                // A function without arguments records `{}`, as MLflow does.
                r.inputs = Some(Json::const_new("{}"));
            },
        )
    }

    fn into_builder(self) -> SpanBuilder {
        prepared_full(self).into_builder()
    }
}

#[allow(private_interfaces)]
impl StartSpan for Prepared {
    fn into_builder(self) -> SpanBuilder {
        SpanBuilder {
            name: Cow::Borrowed(self.meta.name),
            span_type: Some(self.span_type.unwrap_or(Cow::Borrowed(self.meta.span_type))),
            function_name: self.meta.function_name,
            inputs: Some(self.inputs),
            attributes: self.attributes,
            parent: None,
        }
    }

    /// Starts the span under the top of `local`'s stack, the fields written straight into the
    /// record.
    #[inline]
    fn start_in(self, local: &mut Local) -> Slot {
        let Prepared {
            meta,
            inputs,
            span_type,
            attributes,
        } = self;
        let parent = local.parent();
        Slot::start_filled(
            &mut local.cells,
            parent,
            Cow::Borrowed(meta.name),
            move |r| {
                r.span_type = span_type.unwrap_or(Cow::Borrowed(meta.span_type));
                r.function_name = meta.function_name;
                r.inputs = Some(inputs);
                if !attributes.is_empty() {
                    for (k, v) in attributes {
                        r.set_attribute(k, v);
                    }
                }
            },
        )
    }
}

/// Prepares a span: runs `prep` (argument capture) only when tracing is on.
///
/// Only the test of the flag is inlined into the traced function: the rest is out of line, so
/// that the disabled path of the caller stays a test and a call of the body.
#[inline]
pub fn prepare(meta: &'static SpanMeta, prep: impl FnOnce(&mut Prep)) -> Option<Prepared> {
    if !crate::runtime::is_enabled() {
        return None;
    }
    Some(prepare_on(meta, prep))
}

/// Whether spans are recorded now: the test the expansions make before anything else.
#[inline]
pub fn enabled() -> bool {
    crate::runtime::is_enabled()
}

/// Prepares a span, tracing being on (the expansions test [`enabled`] first).
// Cold and out of line: the traced path is not the one that must stay short, and its code
// stays out of the caller, whose disabled path is laid out first.
#[cold]
#[inline(never)]
pub fn prepare_on(meta: &'static SpanMeta, prep: impl FnOnce(&mut Prep)) -> Prepared {
    let mut p = Prep {
        inputs: String::new(),
        span_type: None,
        attributes: Vec::new(),
    };
    prep(&mut p);
    p.into_prepared(meta)
}

/// The span of a function with nothing to capture before the call (no arguments recorded, no
/// attributes, a static span type), tracing being on.
#[inline]
pub fn prepared(meta: &'static SpanMeta) -> &'static SpanMeta {
    meta
}

/// [`prepared`] as a full [`Prepared`].
fn prepared_full(meta: &'static SpanMeta) -> Prepared {
    Prepared {
        meta,
        inputs: Json::const_new("{}"),
        span_type: None,
        attributes: Vec::new(),
    }
}

/// Runs the body of a sync function in the span prepared for it, then records the outcome
/// with `finish` (generated at the expansion site). Out of line for the reason of [`prepare`].
#[inline(never)]
pub fn call<R>(
    span: impl StartSpan,
    body: impl FnOnce() -> R,
    finish: impl FnOnce(&ActiveSpan, &R),
) -> R {
    let guard = span.start();
    let ret = body();
    if guard.is_recording() {
        finish(&guard, &ret);
    }
    ret
}

/// Starts the span of a sync function whose span was prepared (tracing on).
#[inline]
pub fn start(span: impl StartSpan) -> SpanGuard {
    span.start()
}

/// Wraps the body of an async function whose span was prepared (tracing on).
#[inline]
pub fn instrument_some<F: Future>(span: impl StartSpan, fut: F) -> Instrumented<F> {
    Instrumented::with_builder(fut, Some(span.into_builder()))
}

/// Hands the body closure of a traced sync function back unchanged. Binding the closure through
/// a `FnOnce` bound makes it `FnOnce` (as [`call_once`] does), so a body may return borrows of a
/// `&mut` argument it captured, while the expansion calls it from either of two branches.
#[inline(always)]
pub fn once<R, F: FnOnce() -> R>(f: F) -> F {
    f
}

/// Starts the span of a sync function.
#[inline]
pub fn enter(span: Option<impl StartSpan>) -> SpanGuard {
    match span {
        Some(b) => b.start(),
        None => SpanGuard::off(),
    }
}

/// Wraps the body of an async function.
#[inline]
pub fn instrument<F: Future>(span: Option<impl StartSpan>, fut: F) -> Instrumented<F> {
    Instrumented::with_builder(fut, span.map(StartSpan::into_builder))
}

/// The current span, for recording an async function's output from inside its span.
#[inline]
pub fn current() -> Option<ActiveSpan> {
    crate::span::current_span()
}

/// Records the output of a call.
#[inline]
pub fn output(span: &ActiveSpan, capture: impl FnOnce(&mut String)) {
    if !span.is_recording() {
        return;
    }
    let mut json = scratch::take();
    capture(&mut json);
    span.with_record(|r| r.outputs = Some(Json::new(&json)));
    scratch::give_back(json);
}

/// A buffer per thread that captured values are written into before they are copied into the
/// record (inline when short): capturing allocates only for long values.
mod scratch {
    use std::cell::Cell;

    thread_local! {
        static SCRATCH: Cell<String> = const { Cell::new(String::new()) };
    }

    /// Buffers longer than this are not kept (one huge value should not pin its memory).
    const KEEP_BYTES: usize = 4096;

    /// The thread's buffer, empty (a new one when it is in use: a value's `Serialize` that
    /// calls a traced function).
    #[inline]
    pub(super) fn take() -> String {
        SCRATCH.try_with(Cell::take).unwrap_or_default()
    }

    /// Returns a buffer taken with [`take`].
    #[inline]
    pub(super) fn give_back(mut buf: String) {
        if buf.capacity() <= KEEP_BYTES {
            buf.clear();
            let _ = SCRATCH.try_with(|s| s.set(buf));
        }
    }
}

/// What the macro wraps an error in to pick how to record it.
pub struct ErrWrap<'a, E: ?Sized>(pub &'a E);

/// A boxed `dyn Error` (which does not itself implement `Error`).
pub trait ErrBoxed {
    fn __spanwise_record_error(&self, span: &ActiveSpan);
}
/// Any `std::error::Error`.
pub trait ErrStd {
    fn __spanwise_record_error(&self, span: &ActiveSpan);
}
/// `Display + Debug` without `Error` (e.g. `anyhow::Error`): Display is the message, Debug the
/// stack trace (anyhow's Debug holds the cause chain and backtrace).
pub trait ErrDisplay {
    fn __spanwise_record_error(&self, span: &ActiveSpan);
}
/// `Debug` only.
pub trait ErrDebug {
    fn __spanwise_record_error(&self, span: &ActiveSpan);
}

macro_rules! boxed_dyn_error {
    ($($t:ty),*) => {$(
        impl ErrBoxed for &&&ErrWrap<'_, Box<$t>> {
            fn __spanwise_record_error(&self, span: &ActiveSpan) {
                let e: &$t = &**self.0;
                span.with_record(|r| exception::record_std_error::<$t>(r, e));
            }
        }
    )*};
}
boxed_dyn_error!(
    dyn StdError,
    dyn StdError + Send,
    dyn StdError + Send + Sync
);

impl<E: StdError> ErrStd for &&ErrWrap<'_, E> {
    fn __spanwise_record_error(&self, span: &ActiveSpan) {
        span.with_record(|r| exception::record_std_error(r, self.0));
    }
}

impl<E: Display + Debug + ?Sized> ErrDisplay for &ErrWrap<'_, E> {
    fn __spanwise_record_error(&self, span: &ActiveSpan) {
        let ty = short_type_name(std::any::type_name::<E>());
        let msg = exception::contain(UserCode::Display, || self.0.to_string())
            .unwrap_or_else(|m| exception::panicked_marker(UserCode::Display, &m));
        let stack = exception::contain(UserCode::Debug, || format!("{:?}", self.0))
            .unwrap_or_else(|m| exception::panicked_marker(UserCode::Debug, &m));
        span.with_record(|r| exception::record_exception(r, &ty, &msg, &stack));
    }
}

impl<E: Debug + ?Sized> ErrDebug for ErrWrap<'_, E> {
    fn __spanwise_record_error(&self, span: &ActiveSpan) {
        let ty = short_type_name(std::any::type_name::<E>());
        let msg = exception::contain(UserCode::Debug, || format!("{:?}", self.0))
            .unwrap_or_else(|m| exception::panicked_marker(UserCode::Debug, &m));
        span.with_record(|r| exception::record_exception(r, &ty, &msg, ""));
    }
}

/// The fallback for errors with neither `Debug` nor `Display`.
pub fn record_opaque_error<E: ?Sized>(span: &ActiveSpan, _e: &E) {
    let ty = short_type_name(std::any::type_name::<E>());
    span.with_record(|r| exception::record_exception(r, &ty, &ty, ""));
}

// ---- Added for the `#[trace]` expansions and `trace_fn!` (issue 3). ----

/// Runs the body of a traced sync function. Taking `FnOnce` makes the closure `FnOnce`, so a
/// body may return borrows of a `&mut` argument it captured.
#[inline(always)]
pub fn call_once<R>(f: impl FnOnce() -> R) -> R {
    f()
}

impl<E: ?Sized> Clone for ErrWrap<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E: ?Sized> Copy for ErrWrap<'_, E> {}

/// Errors with neither `Debug` nor `Display`: the last step of the autoref chain, by value.
pub trait ErrOpaque {
    fn __spanwise_record_error(self, span: &ActiveSpan);
}

impl<E: ?Sized> ErrOpaque for ErrWrap<'_, E> {
    fn __spanwise_record_error(self, span: &ActiveSpan) {
        record_opaque_error(span, self.0);
    }
}

/// What the macro wraps a return value in to tell `Result` from other values.
pub struct ResWrap<'a, T: ?Sized>(pub &'a T);

/// The error type of a return value that is not a `Result`: there is no error.
#[derive(Debug)]
pub enum Never {}

/// A `Result`: `Ok` is the output, `Err` the error.
pub trait SplitResult<'a> {
    type Ok: ?Sized;
    type Err: ?Sized;
    fn __spanwise_split(&self) -> Result<&'a Self::Ok, &'a Self::Err>;
}

/// Any other value: it is the output.
pub trait SplitPlain<'a> {
    type Ok: ?Sized;
    type Err: ?Sized;
    fn __spanwise_split(&self) -> Result<&'a Self::Ok, &'a Self::Err>;
}

impl<'a, T, E> SplitResult<'a> for &ResWrap<'a, Result<T, E>> {
    type Ok = T;
    type Err = E;
    #[inline]
    fn __spanwise_split(&self) -> Result<&'a T, &'a E> {
        self.0.as_ref()
    }
}

impl<'a, T: ?Sized> SplitPlain<'a> for ResWrap<'a, T> {
    type Ok = T;
    type Err = Never;
    #[inline]
    fn __spanwise_split(&self) -> Result<&'a T, &'a Never> {
        Ok(self.0)
    }
}

macro_rules! traced_arity {
    ($(#[$doc:meta])* $name:ident, $($a:ident),*) => {
        $(#[$doc])*
        /// The argument types come from `f`, so the closure `w` built by `trace_fn!` at the call
        /// site sees concrete types and its captures resolve there.
        #[allow(non_snake_case)]
        pub fn $name<F, W, R, $($a),*>(f: F, w: W) -> impl Fn($($a),*) -> R
        where
            F: Fn($($a),*) -> R,
            W: Fn(&F, $($a),*) -> R,
        {
            move |$($a),*| w(&f, $($a),*)
        }
    };
}

traced_arity!(
    /// `trace_fn!` for functions of no argument.
    traced0,
);
traced_arity!(
    /// `trace_fn!` for functions of one argument.
    traced1, A0
);
traced_arity!(
    /// `trace_fn!` for functions of two arguments.
    traced2, A0, A1
);
traced_arity!(
    /// `trace_fn!` for functions of three arguments.
    traced3, A0, A1, A2
);
traced_arity!(
    /// `trace_fn!` for functions of four arguments.
    traced4, A0, A1, A2, A3
);
traced_arity!(
    /// `trace_fn!` for functions of five arguments.
    traced5, A0, A1, A2, A3, A4
);
traced_arity!(
    /// `trace_fn!` for functions of six arguments.
    traced6, A0, A1, A2, A3, A4, A5
);

// ---- Added for traced iterators and streams (issue 4). ----

pub use crate::stream::ItemOut;
use crate::stream::{StreamOptions, TracedIter, TracedStream};
pub use futures_core::Stream;

/// Options typed after the iterator, so that a reducer closure given to the macro sees the item
/// type without annotations.
#[inline]
pub fn iter_options<I: Iterator>(_: &I) -> StreamOptions<I::Item> {
    StreamOptions::new()
}

/// Options typed after the stream (see [`iter_options`]).
#[inline]
pub fn stream_options<S: Stream>(_: &S) -> StreamOptions<S::Item> {
    StreamOptions::new()
}

/// Wraps the iterator a traced function returns; `capture` is generated at the expansion site.
#[inline]
pub fn iter<I: Iterator>(
    inner: I,
    span: impl StartSpan,
    options: StreamOptions<I::Item>,
    capture: impl FnMut(&I::Item, &mut ItemOut) + Send + 'static,
) -> TracedIter<I> {
    crate::stream::__iter(inner, span.into_builder(), options, capture)
}

/// The iterator wrapper when tracing is off: it only passes items through.
#[inline]
pub fn iter_off<I: Iterator>(inner: I) -> TracedIter<I> {
    crate::stream::__iter_off(inner)
}

/// Wraps the stream a traced function returns.
#[inline]
pub fn stream<S: Stream>(
    inner: S,
    span: impl StartSpan,
    options: StreamOptions<S::Item>,
    capture: impl FnMut(&S::Item, &mut ItemOut) + Send + 'static,
) -> TracedStream<S> {
    crate::stream::__stream(inner, span.into_builder(), options, capture)
}

/// The stream wrapper when tracing is off.
#[inline]
pub fn stream_off<S: Stream>(inner: S) -> TracedStream<S> {
    crate::stream::__stream_off(inner)
}

// The `Err` of an item: the same autoref chain as for a function's error (`ErrBoxed` ...
// `ErrOpaque`), but filling `ItemOut` (the wrapper records it on the span) instead of a span.

/// Fills `out.error` (and the item's JSON, the error message) from an error item.
fn item_error(out: &mut ItemOut, ty: String, message: String, stack: String) {
    if out.want_json {
        write_str_json(&message, &mut out.json);
    }
    out.error = Some((ty, message, stack));
}

/// A boxed `dyn Error` item error.
pub trait ItemErrBoxed {
    fn __spanwise_item_error(&self, out: &mut ItemOut);
}
/// A `std::error::Error` item error.
pub trait ItemErrStd {
    fn __spanwise_item_error(&self, out: &mut ItemOut);
}
/// A `Display + Debug` item error (e.g. `anyhow::Error`).
pub trait ItemErrDisplay {
    fn __spanwise_item_error(&self, out: &mut ItemOut);
}
/// A `Debug`-only item error.
pub trait ItemErrDebug {
    fn __spanwise_item_error(&self, out: &mut ItemOut);
}
/// An item error with neither `Debug` nor `Display`, by value (last step of the chain).
pub trait ItemErrOpaque {
    fn __spanwise_item_error(self, out: &mut ItemOut);
}

macro_rules! item_boxed_dyn_error {
    ($($t:ty),*) => {$(
        impl ItemErrBoxed for &&&ErrWrap<'_, Box<$t>> {
            fn __spanwise_item_error(&self, out: &mut ItemOut) {
                let e: &$t = &**self.0;
                let ty = short_type_name(std::any::type_name::<$t>());
                let stack = exception::source_chain(&ty, e);
                item_error(out, ty, e.to_string(), stack);
            }
        }
    )*};
}
item_boxed_dyn_error!(
    dyn StdError,
    dyn StdError + Send,
    dyn StdError + Send + Sync
);

impl<E: StdError> ItemErrStd for &&ErrWrap<'_, E> {
    fn __spanwise_item_error(&self, out: &mut ItemOut) {
        let ty = short_type_name(std::any::type_name::<E>());
        let stack = exception::source_chain(&ty, self.0);
        item_error(out, ty, self.0.to_string(), stack);
    }
}

impl<E: Display + Debug + ?Sized> ItemErrDisplay for &ErrWrap<'_, E> {
    fn __spanwise_item_error(&self, out: &mut ItemOut) {
        let ty = short_type_name(std::any::type_name::<E>());
        item_error(out, ty, self.0.to_string(), format!("{:?}", self.0));
    }
}

impl<E: Debug + ?Sized> ItemErrDebug for ErrWrap<'_, E> {
    fn __spanwise_item_error(&self, out: &mut ItemOut) {
        let ty = short_type_name(std::any::type_name::<E>());
        item_error(out, ty, format!("{:?}", self.0), String::new());
    }
}

impl<E: ?Sized> ItemErrOpaque for ErrWrap<'_, E> {
    fn __spanwise_item_error(self, out: &mut ItemOut) {
        let ty = short_type_name(std::any::type_name::<E>());
        item_error(out, ty.clone(), ty, String::new());
    }
}
