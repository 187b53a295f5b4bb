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
/// | `capture_output = false` | do not record the return value (errors are still recorded) |
/// | `output_reducer`, `iter`, `stream`, `chunk_events` | reserved for tracing iterators and streams item by item (a later version); on a function that returns no iterator or stream they are a compile error now |
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
/// not a string literal, and the iterator options on a function that returns no iterator or
/// stream are compile errors that point at the offending token.
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
