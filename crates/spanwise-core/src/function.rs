//! [`trace_fn!`](crate::trace_fn): tracing an existing function or closure without changing its
//! definition (MLflow's `mlflow.trace(math.pow)`).
//!
//! Why a macro with an arity rather than a function `trace_fn("pow", f64::powf)`: on stable
//! Rust a value cannot implement the `Fn` traits, so a wrapper made by a generic function can
//! only be returned as a closure of a fixed arity; and inside a generic function the captured
//! arguments could only be recorded through trait bounds (`Serialize` for every argument). The
//! macro expands at the call site, where the argument and return types are concrete, so capture
//! works as with `#[trace]` (`Serialize`, else `Debug`, else the type name) and a returned
//! `Err` is recorded as an error; the arity (or the list of names) picks the closure's shape.

/// Wraps a function or closure so that every call is traced as a span, and returns a closure
/// with the same arguments and return value, called with ordinary call syntax.
///
/// `trace_fn!(name, f, arity)` names the inputs `arg0`, `arg1`...;
/// `trace_fn!(name, f, (x, exp))` names them, `_` keeping the default name of its position.
/// Arities 0 to 6 are supported. `name` (a string literal) is the span name and
/// `mlflow.spanFunctionName`. Outputs, errors (`Err` of a `Result`) and panics are recorded as
/// with `#[trace]`.
///
/// `f` must implement `Fn`, and its argument types must be known where `trace_fn!` is written
/// (a function path, or a closure whose parameters are annotated).
///
/// ```
/// fn factorial(n: u64) -> u64 {
///     (1..=n).product()
/// }
///
/// let root = spanwise_core::start_span("invocation");
/// let traced_pow = spanwise_core::trace_fn!("pow", f64::powf, (x, exp));
/// let raised = traced_pow(2.0, 2.0);
/// let traced_factorial = spanwise_core::trace_fn!("factorial", factorial, 1);
/// assert_eq!(traced_factorial(raised as u64), 24);
/// let id = root.trace_id().unwrap();
/// drop(root);
///
/// let trace = spanwise_core::get_trace(&id).unwrap();
/// let pow = trace.spans_named("pow").next().unwrap();
/// assert_eq!(pow.inputs(), Some(serde_json::json!({"x": 2.0, "exp": 2.0})));
/// assert_eq!(pow.outputs(), Some(serde_json::json!(4.0)));
/// let fact = trace.spans_named("factorial").next().unwrap();
/// assert_eq!(fact.inputs(), Some(serde_json::json!({"arg0": 4})));
/// ```
#[macro_export]
macro_rules! trace_fn {
    ($name:literal, $f:expr, 0 $(,)?) => { $crate::trace_fn!(@go $name, $f, []) };
    ($name:literal, $f:expr, 1 $(,)?) => { $crate::trace_fn!($name, $f, (_)) };
    ($name:literal, $f:expr, 2 $(,)?) => { $crate::trace_fn!($name, $f, (_, _)) };
    ($name:literal, $f:expr, 3 $(,)?) => { $crate::trace_fn!($name, $f, (_, _, _)) };
    ($name:literal, $f:expr, 4 $(,)?) => { $crate::trace_fn!($name, $f, (_, _, _, _)) };
    ($name:literal, $f:expr, 5 $(,)?) => { $crate::trace_fn!($name, $f, (_, _, _, _, _)) };
    ($name:literal, $f:expr, 6 $(,)?) => { $crate::trace_fn!($name, $f, (_, _, _, _, _, _)) };
    ($name:literal, $f:expr, ($($n:tt),* $(,)?) $(,)?) => {
        $crate::trace_fn!(@names $name, $f, []
            [__spanwise_a0 "arg0", __spanwise_a1 "arg1", __spanwise_a2 "arg2",
             __spanwise_a3 "arg3", __spanwise_a4 "arg4", __spanwise_a5 "arg5"]
            $($n)*)
    };
    // Pairs each given name with the closure parameter of its position.
    (@names $name:literal, $f:expr, [$($done:tt)*] [$id:ident $def:literal $(, $rid:ident $rdef:literal)*] _ $($rest:tt)*) => {
        $crate::trace_fn!(@names $name, $f, [$($done)* ($id, $def)] [$($rid $rdef),*] $($rest)*)
    };
    (@names $name:literal, $f:expr, [$($done:tt)*] [$id:ident $def:literal $(, $rid:ident $rdef:literal)*] $n:ident $($rest:tt)*) => {
        $crate::trace_fn!(@names $name, $f, [$($done)* ($id, stringify!($n))] [$($rid $rdef),*] $($rest)*)
    };
    (@names $name:literal, $f:expr, [$($done:tt)*] [$($unused:tt)*]) => {
        $crate::trace_fn!(@go $name, $f, [$($done)*])
    };
    (@go $name:literal, $f:expr, []) => { $crate::trace_fn!(@body $name, $f, traced0, []) };
    (@go $name:literal, $f:expr, [$p0:tt]) => { $crate::trace_fn!(@body $name, $f, traced1, [$p0]) };
    (@go $name:literal, $f:expr, [$p0:tt $p1:tt]) => {
        $crate::trace_fn!(@body $name, $f, traced2, [$p0 $p1])
    };
    (@go $name:literal, $f:expr, [$p0:tt $p1:tt $p2:tt]) => {
        $crate::trace_fn!(@body $name, $f, traced3, [$p0 $p1 $p2])
    };
    (@go $name:literal, $f:expr, [$p0:tt $p1:tt $p2:tt $p3:tt]) => {
        $crate::trace_fn!(@body $name, $f, traced4, [$p0 $p1 $p2 $p3])
    };
    (@go $name:literal, $f:expr, [$p0:tt $p1:tt $p2:tt $p3:tt $p4:tt]) => {
        $crate::trace_fn!(@body $name, $f, traced5, [$p0 $p1 $p2 $p3 $p4])
    };
    (@go $name:literal, $f:expr, [$p0:tt $p1:tt $p2:tt $p3:tt $p4:tt $p5:tt]) => {
        $crate::trace_fn!(@body $name, $f, traced6, [$p0 $p1 $p2 $p3 $p4 $p5])
    };
    (@body $name:literal, $f:expr, $traced:ident, [$(($i:ident, $n:expr))*]) => {
        $crate::__private::$traced($f, move |__spanwise_f, $($i),*| {
            static __SPANWISE_META: $crate::__private::SpanMeta = $crate::__private::SpanMeta {
                name: $name,
                function_name: ::core::option::Option::Some($name),
                span_type: "UNKNOWN",
            };
            let __spanwise_guard = $crate::__private::enter($crate::__private::prepare(
                &__SPANWISE_META,
                |__spanwise_p| {
                    #[allow(unused_imports)]
                    use $crate::__private::{ViaDebug as _, ViaFast as _, ViaSerialize as _, ViaTypeName as _};
                    $(
                        __spanwise_p.input_json_key(concat!("\"", $n, "\":"), |__spanwise_o| {
                            (&&&&$crate::__private::Wrap(&$i)).__spanwise_capture(__spanwise_o)
                        });
                    )*
                },
            ));
            let __spanwise_ret = __spanwise_f($($i),*);
            if __spanwise_guard.is_recording() {
                let __spanwise_span: &$crate::ActiveSpan = &__spanwise_guard;
                #[allow(unused_imports)]
                use $crate::__private::{
                    ErrBoxed as _, ErrDebug as _, ErrDisplay as _, ErrOpaque as _, ErrStd as _,
                    SplitPlain as _, SplitResult as _, ViaDebug as _, ViaFast as _, ViaSerialize as _,
                    ViaTypeName as _,
                };
                match (&&$crate::__private::ResWrap(&__spanwise_ret)).__spanwise_split() {
                    ::core::result::Result::Ok(__spanwise_v) => {
                        $crate::__private::output(__spanwise_span, |__spanwise_o| {
                            (&&&&$crate::__private::Wrap(__spanwise_v))
                                .__spanwise_capture(__spanwise_o)
                        })
                    }
                    ::core::result::Result::Err(__spanwise_e) => {
                        (&&&&$crate::__private::ErrWrap(__spanwise_e))
                            .__spanwise_record_error(__spanwise_span)
                    }
                }
            }
            __spanwise_ret
        })
    };
}
