//! The `#[trace]` attribute of spanwise. Use it through the `spanwise` crate, which documents it
//! as `spanwise::trace`.

use proc_macro::TokenStream;

mod attr;
mod expand;

/// Records every call of a function as a span: its name, inputs, output, duration and errors.
///
/// ```
/// use spanwise::{trace, SpanType};
///
/// #[trace(span_type = "func", attributes(key = "value"))]
/// fn add_1(x: i64) -> i64 {
///     x + 1
/// }
///
/// #[trace(name = "Trace Test")]
/// fn trace_test(x: i64) -> i64 {
///     add_1(x) - 1
/// }
///
/// assert_eq!(trace_test(4), 4);
/// let trace = spanwise::get_trace(&spanwise::last_active_trace_id().unwrap()).unwrap();
/// let root = trace.root().unwrap();
/// assert_eq!(root.name, "Trace Test");
/// assert_eq!(root.inputs(), Some(serde_json::json!({"x": 4})));
/// let child = &trace.children(&root.span_id)[0];
/// assert_eq!(child.span_type(), SpanType::Custom("func".into()));
/// assert_eq!(child.attribute("key"), Some(serde_json::json!("value")));
/// ```
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `name = "lit"` | the span's name (default: the function's name, without its path) |
/// | `span_type = SpanType::Llm` | a built-in type, resolved at compile time |
/// | `span_type = "func"` | a custom type string, used as is |
/// | `span_type = expr` | any `impl Into<SpanType>`, evaluated per call |
/// | `attributes(key = expr, "dotted.key" = expr)` | attributes; each value is any expression, evaluated per call before the body runs, and may use the arguments (it borrows them) |
/// | `skip(a, b)` / `skip_all` | leave arguments out of the inputs (secrets, bulky values) |
/// | `capture_output = false` | do not record the return value (errors are still recorded); on an iterator or stream function, neither the items nor an output |
/// | `output_reducer = f` | iterators and streams: the output is `f(&items)`, `f: fn(&[T]) -> R` or a closure, `R: Serialize` (items must be `Clone + Send + 'static`, see below) |
/// | `reducer = expr` | iterators and streams: the output comes from an incremental [`Reducer<T>`](../spanwise/trait.Reducer.html) value, fed each item by reference; nothing is kept |
/// | `chunk_events = false` | iterators and streams: no `mlflow.chunk.item.<i>` event per item |
/// | `iter` / `stream` | the function returns a named iterator / stream type (see below) |
///
/// # What is recorded
///
/// - **Inputs**: a JSON object from argument name to value, in declaration order; `self` is left
///   out; destructured parameters are named `arg0`, `arg1`... by position. `mlflow.spanFunctionName`
///   is the function's name.
/// - **Capture needs no trait bound.** Each value is recorded as JSON when its type implements
///   `serde::Serialize`, else as its `Debug` text (a JSON string), else as
///   `"<unserializable: Type>"`. The choice is made on the type as written at the function, so in
///   a generic function the bounds in scope decide: with `T: Serialize` the value is JSON, with
///   only `T: Debug` it is its debug text, with neither it is the type name. A `Serialize` that
///   fails or panics gives an error marker in that one value; the call is unaffected.
/// - **Output**: the return value; `()` is recorded as `null`; `Option` is an ordinary value.
/// - **Errors**: when the function returns `Result::Err(e)` (through any alias: `io::Result`,
///   `anyhow::Result`, your own), the span gets status ERROR with message `"<Type>: <message>"`
///   and an `exception` event (type without its path, message = `Display`, stack trace = the
///   `source()` chain, or `Debug` for `anyhow::Error`, which carries its cause chain and
///   backtrace there), and no outputs. Error types that implement only `Debug`, or nothing,
///   work too. The `Result` is recognized on the concrete type: a generic `R` that happens to be
///   a `Result` is recorded as a value.
/// - **Panics** end the span with an `exception` event of type `panic`; the panic keeps
///   unwinding.
///
/// # Iterators and streams (Python's generators)
///
/// A function returning `impl Iterator<Item = T>`, `Box<dyn Iterator<Item = T>>`,
/// `impl Stream<Item = T>` or `Pin<Box<dyn Stream<Item = T>>>` (also through
/// `DoubleEndedIterator`, `ExactSizeIterator`, `FusedIterator`, `FusedStream`, `TryStream`),
/// or an `async fn` returning one of these, is traced item by item, as MLflow traces
/// generators:
///
/// - The call records the inputs and returns the iterator or stream wrapped
///   ([`TracedIter`](../spanwise/struct.TracedIter.html) /
///   [`TracedStream`](../spanwise/struct.TracedStream.html)); the span starts when the consumer
///   first asks for an item, under the span current at that moment, and is current while each
///   item is produced, so spans made then nest under it.
/// - Each item adds an event `mlflow.chunk.item.<i>` with attribute `mlflow.chunk.value`, the
///   item's JSON (captured like arguments: `Serialize`, else `Debug`, else the type name; no
///   trait bound is asked).
/// - At the end the output is the list of items, or the reducer's result, and the span ends.
///   `mlflow.spanFunctionName` is not set, as MLflow does not set it for generators.
/// - **Early stop**: when the consumer drops the iterator or stream first (`break`, `take(n)`, a
///   `select!` branch that loses), the span ends at the drop with the items seen so far (reducer
///   applied) and an event `stopped_early`; the trace is finalized. An iterator never used
///   records nothing.
/// - **`Result` items**: an `Err` item adds an `exception` event and sets status ERROR; it is
///   passed on unchanged, and its message stands for it in the list output.
/// - A reducer that panics is recorded (event `output_reducer_failed`, status ERROR); the
///   items keep flowing.
/// - With tracing disabled or the trace unsampled, items pass straight through and reducers
///   are neither built nor run.
///
/// Two reducer forms. `output_reducer` takes the list, like MLflow's: since every item is
/// handed on to the consumer, keeping them for the reducer takes a copy of each, hence
/// `T: Clone` (and `Send + 'static`, as the wrapper may cross threads; for borrowed items use
/// `reducer` or map them to owned ones). `reducer` takes a
/// [`Reducer`](../spanwise/trait.Reducer.html) that sees each item once by reference and keeps
/// what it wants: no `Clone`, and with `chunk_events = false` a stream of any length costs no
/// memory. Reducer expressions are evaluated per call, only when the span is recorded.
///
/// ```
/// use spanwise::{Reducer, trace};
///
/// #[trace(output_reducer = |x: &[String]| x.join(","))]
/// fn stream_data() -> impl Iterator<Item = String> {
///     "hello".chars().map(String::from)
/// }
///
/// assert_eq!(stream_data().collect::<String>(), "hello");
/// let trace = spanwise::get_trace(&spanwise::last_active_trace_id().unwrap()).unwrap();
/// let span = trace.root().unwrap();
/// assert_eq!(span.outputs(), Some(serde_json::json!("h,e,l,l,o")));
/// assert_eq!(span.events[0].name, "mlflow.chunk.item.0");
///
/// /// Counts the items and sums them, keeping nothing.
/// #[derive(Default)]
/// struct Sum(u64, u64);
/// impl Reducer<u64> for Sum {
///     type Output = (u64, u64);
///     fn push(&mut self, x: &u64) { self.0 += 1; self.1 += x }
///     fn finish(self) -> (u64, u64) { (self.0, self.1) }
/// }
///
/// #[trace(reducer = Sum::default(), chunk_events = false)]
/// fn numbers(n: u64) -> Box<dyn Iterator<Item = u64> + Send> {
///     Box::new(1..=n)
/// }
///
/// for x in numbers(1_000_000) {
///     if x == 3 {
///         break; // early stop: the span ends here, with what was seen
///     }
/// }
/// let trace = spanwise::get_trace(&spanwise::last_active_trace_id().unwrap()).unwrap();
/// let span = trace.root().unwrap();
/// assert_eq!(span.outputs(), Some(serde_json::json!([3, 6])));
/// assert_eq!(span.events.last().unwrap().name, "stopped_early");
/// ```
///
/// **Named types.** The iterator or stream is recognized from the return type as written. A
/// function returning a named type that implements `Iterator` or `Stream` is marked with
/// `iter` or `stream`; it then returns `TracedIter<Type>` / `TracedStream<Type>` instead of
/// `Type` (the same `Item`):
///
/// ```
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use spanwise::{TracedStream, stream::Stream, trace};
///
/// /// Counts down to zero.
/// struct Countdown(u32);
/// impl Stream for Countdown {
///     type Item = u32;
///     fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
///         let left = self.0.checked_sub(1);
///         Poll::Ready(left.map(|n| { self.0 = n; n }))
///     }
/// }
///
/// #[trace(stream, span_type = "timer")]
/// fn countdown(from: u32) -> Countdown {
///     Countdown(from)
/// }
///
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     let mut s: TracedStream<Countdown> = countdown(2);
///     let mut s = Pin::new(&mut s);
///     while let Some(_) = std::future::poll_fn(|cx| s.as_mut().poll_next(cx)).await {}
/// });
/// let trace = spanwise::get_trace(&spanwise::last_active_trace_id().unwrap()).unwrap();
/// assert_eq!(trace.root().unwrap().outputs(), Some(serde_json::json!([1, 0])));
/// ```
///
/// **`async fn` returning a stream.** The `async` part (what runs before the stream is
/// returned, such as sending a request) runs when the call is awaited, outside the stream's
/// span: spans it makes are siblings of the stream's span, under the caller's. The inputs are
/// recorded at the first poll of that future, and the stream's span starts when the stream is
/// first polled. (In Python an async generator's body runs only once iteration starts, so
/// there the request would sit inside the generator's span.)
///
/// A wrapped iterator or stream is `Send` when the original is; a panic while the original
/// body builds the iterator is not recorded (no span has started yet).
///
/// # Kinds of functions
///
/// Sync functions; `async fn` (also in traits); `fn -> impl Future` whose body ends with an
/// `async` block or `Box::pin(async ...)`; methods with any receiver (`&self`, `&mut self`,
/// `self`, `self: Arc<Self>`); generics and `where` clauses; `impl Trait` arguments; lifetimes;
/// `unsafe fn`; early `return` and `?`. Other attributes and doc comments are kept. A `const fn`
/// is refused.
///
/// An async span starts when the future is first polled (its parent is the span current then)
/// and ends when it completes; while polled it is the current span, on whichever thread polls
/// it. The inputs of an `async fn` are recorded at the first poll; for `fn -> impl Future` they
/// are recorded at the call. The future is `Send` whenever the original is. A future dropped
/// before it completes ends its span with a `cancelled` event.
///
/// # Ordering with other attribute macros
///
/// Rust expands attribute macros from the first written to the last, each one receiving the
/// function with the attributes below it still unexpanded, so a macro that wraps the body would
/// normally end up *inside* the attributes written after it. `#[trace]` therefore re-emits itself
/// behind every other attribute macro of the function (it leaves inert attributes such as
/// `#[must_use]`, `#[inline]`, `#[doc]`, lints, `#[cfg]` in place) and expands last: **written
/// first, `#[trace]` is the outermost layer** and its span covers what the other attribute macros
/// add, as `@mlflow.trace` written first does in Python. Written below another attribute macro,
/// it traces whatever function that macro emits with `#[trace]` still on it.
///
/// - `#[trace] #[tokio::main] async fn main()`: the span is the whole `main`, runtime start-up
///   included (tokio turns `main` into a sync function that `#[trace]` then wraps). The same for
///   `#[trace] #[tokio::test]`.
/// - `#[tokio::main] #[trace] async fn main()`: the same result: tokio expands first and keeps
///   `#[trace]` on the sync `main` it emits.
/// - `#[async_trait]` on an `impl` block always expands before the `#[trace]` of its methods;
///   `#[trace]` recognizes the `Box::pin(async move { ... })` body it emits, so the span follows
///   the future and the arguments are recorded (under the names `async_trait` gives them).
///
/// ```
/// #[spanwise::trace]
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> u32 {
///     7
/// }
///
/// assert_eq!(main(), 7);
/// let trace = spanwise::get_trace(&spanwise::last_active_trace_id().unwrap()).unwrap();
/// assert_eq!(trace.root().unwrap().outputs(), Some(serde_json::json!(7)));
/// ```
///
/// # Misuse
///
/// An unknown or duplicated option, `skip` of an argument that does not exist, a `name` that is
/// not a string literal, the iterator options on a function that returns no iterator or
/// stream, `iter` on a stream (or `stream` on an iterator), `output_reducer` and `reducer`
/// together, or a reducer with `capture_output = false` are compile errors that point at the
/// offending token. A reducer of the wrong shape is a type error at the reducer expression.
#[proc_macro_attribute]
pub fn trace(attr: TokenStream, item: TokenStream) -> TokenStream {
    let raw_args = proc_macro2::TokenStream::from(attr.clone());
    let args = match syn::parse::<attr::TraceArgs>(attr) {
        Ok(a) => a,
        Err(e) => return with_item(e, item),
    };
    let func = match syn::parse::<syn::ItemFn>(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let e = syn::Error::new(
                proc_macro2::Span::call_site(),
                "#[trace] goes on a function with a body (a free function, a method, or a trait method with a default body)",
            );
            return with_item(e, item);
        }
    };
    match expand::expand(args, raw_args, func) {
        Ok(ts) => ts.into(),
        Err(e) => with_item(e, item),
    }
}

/// The error, plus the function unchanged so that its callers do not get follow-up errors.
fn with_item(e: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = e.to_compile_error();
    out.extend(proc_macro2::TokenStream::from(item));
    out.into()
}
