//! Code generation for `#[trace]`: the traced function calls `::spanwise::__private`.
//!
//! A sync body runs in a `FnOnce` closure so that `return` and `?` inside it still reach the
//! output capture; an async body runs in a nested `async move` block inside
//! `__private::instrument`, which starts the span at the first poll and makes it current on
//! every poll. Output and error capture are resolved on the concrete return type at the
//! expansion site (autoref specialization), so `Result` aliases and error types of every kind
//! are handled without looking at their names.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{
    Attribute, Block, Expr, FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, ReturnType,
    Stmt, Type, TypeParamBound,
};

use crate::attr::{DEFERRED, SpanTypeArg, TraceArgs};

/// Attributes that are not macros (or whose expansion does not wrap the body): `#[trace]` does
/// not need to run after them.
fn is_inert(attr: &Attribute) -> bool {
    let path = attr.path();
    if path.segments.len() > 1 {
        let first = path.segments[0].ident.to_string();
        return matches!(
            first.as_str(),
            "rustfmt" | "clippy" | "diagnostic" | "rustdoc"
        );
    }
    let Some(ident) = path.get_ident() else {
        return false;
    };
    matches!(
        ident.to_string().as_str(),
        "doc"
            | "allow"
            | "warn"
            | "deny"
            | "forbid"
            | "expect"
            | "must_use"
            | "inline"
            | "cold"
            | "deprecated"
            | "track_caller"
            | "no_mangle"
            | "export_name"
            | "link_section"
            | "cfg"
            | "cfg_attr"
            | "target_feature"
            | "ignore"
            | "should_panic"
            | "unsafe"
            | "instruction_set"
            | "optimize"
            | "coverage"
            | "automatically_derived"
    )
}

/// Re-emits the function with `#[trace]` moved behind every other attribute macro, so that it
/// expands last and wraps what they generate: `#[trace]` written first is then the outermost
/// layer at run time, as `@mlflow.trace` written first is in Python.
fn defer(raw_args: TokenStream, item: &ItemFn) -> Option<TokenStream> {
    if !item.attrs.iter().any(|a| !is_inert(a)) {
        return None;
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = item;
    let deferred = Ident::new(DEFERRED, Span::call_site());
    let sep = if raw_args.is_empty() {
        quote!()
    } else {
        quote!(,)
    };
    Some(quote! {
        #(#attrs)*
        #[::spanwise::trace(#deferred #sep #raw_args)]
        #vis #sig #block
    })
}

/// Replaces `impl Trait` by `_`, so a return type can annotate a `let`.
struct InferImpl;

impl VisitMut for InferImpl {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(it) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](it.span()),
            });
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

/// The last segment of each trait bound of `impl A + B` / `dyn A + B`, looking through `Box<_>`
/// and `Pin<_>`.
fn bounds_of(ty: &Type) -> Vec<&syn::PathSegment> {
    let bounds = match ty {
        Type::ImplTrait(t) => &t.bounds,
        Type::TraitObject(t) => &t.bounds,
        Type::Paren(p) => return bounds_of(&p.elem),
        Type::Group(g) => return bounds_of(&g.elem),
        Type::Path(p) => {
            let Some(last) = p.path.segments.last() else {
                return Vec::new();
            };
            if last.ident != "Box" && last.ident != "Pin" {
                return Vec::new();
            }
            if let PathArguments::AngleBracketed(a) = &last.arguments
                && let Some(GenericArgument::Type(inner)) = a.args.first()
            {
                return bounds_of(inner);
            }
            return Vec::new();
        }
        _ => return Vec::new(),
    };
    bounds
        .iter()
        .filter_map(|b| match b {
            TypeParamBound::Trait(t) => t.path.segments.last(),
            _ => None,
        })
        .collect()
}

/// An iterator or a stream.
#[derive(Clone, Copy, PartialEq)]
enum SeqKind {
    Iter,
    Stream,
}

impl SeqKind {
    fn word(self) -> &'static str {
        match self {
            SeqKind::Iter => "iter",
            SeqKind::Stream => "stream",
        }
    }
}

/// How the traced wrapper becomes the function's return value.
enum Shape {
    /// `impl Iterator<...>`: the wrapper is returned as is.
    Direct,
    /// `Box<dyn Iterator<...>>`: boxed again around the wrapper.
    Boxed,
    /// `Pin<Box<dyn Stream<...>>>`: pinned in a box again around the wrapper.
    BoxPin,
    /// A named type marked with `iter` / `stream`: the function returns
    /// `spanwise::TracedIter<Type>` / `spanwise::TracedStream<Type>` instead.
    Named,
}

/// A function traced item by item: what it returns and the item type when it is written out.
struct Seq {
    kind: SeqKind,
    item: Option<Type>,
    shape: Shape,
}

fn contains_impl(ty: &Type) -> bool {
    struct Finder(bool);
    impl VisitMut for Finder {
        fn visit_type_impl_trait_mut(&mut self, _: &mut syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut f = Finder(false);
    f.visit_type_mut(&mut ty.clone());
    f.0
}

/// The kind and item type of `impl Iterator<Item = T> + ...` or `dyn Stream<Item = T> + ...`.
fn seq_bounds(ty: &Type) -> Option<(SeqKind, Option<Type>)> {
    let bounds = match ty {
        Type::ImplTrait(t) => &t.bounds,
        Type::TraitObject(t) => &t.bounds,
        Type::Paren(p) => return seq_bounds(&p.elem),
        Type::Group(g) => return seq_bounds(&g.elem),
        _ => return None,
    };
    let mut kind = None;
    let mut item = None;
    for b in bounds {
        let TypeParamBound::Trait(t) = b else {
            continue;
        };
        let Some(seg) = t.path.segments.last() else {
            continue;
        };
        let k = match seg.ident.to_string().as_str() {
            "Iterator" | "DoubleEndedIterator" | "ExactSizeIterator" | "FusedIterator" => {
                SeqKind::Iter
            }
            "Stream" | "FusedStream" | "TryStream" => SeqKind::Stream,
            _ => continue,
        };
        kind = kind.or(Some(k));
        let PathArguments::AngleBracketed(a) = &seg.arguments else {
            continue;
        };
        let assoc = |name: &str| {
            a.args.iter().find_map(|arg| match arg {
                GenericArgument::AssocType(at) if at.ident == name => Some(at.ty.clone()),
                _ => None,
            })
        };
        if item.is_none() {
            item = if seg.ident == "TryStream" {
                match (assoc("Ok"), assoc("Error")) {
                    (Some(ok), Some(err)) => {
                        Some(syn::parse_quote!(::core::result::Result<#ok, #err>))
                    }
                    _ => None,
                }
            } else {
                assoc("Item")
            };
        }
    }
    // An item type that is itself `impl Trait` cannot be written in the capture closure; its
    // type is then inferred from the returned value.
    kind.map(|k| (k, item.filter(|t| !contains_impl(t))))
}

/// The first type argument of a path type whose last segment is `name`.
fn type_arg<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(p) = ty else {
        return None;
    };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(a) => a.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// Recognizes the iterator and stream return types of the issue: `impl Iterator<...>`,
/// `impl Stream<...>`, `Box<dyn Iterator<...>>`, `Pin<Box<dyn Stream<...>>>`.
fn seq_of(ty: &Type) -> Option<Seq> {
    let ty = match ty {
        Type::Paren(p) => return seq_of(&p.elem),
        Type::Group(g) => return seq_of(&g.elem),
        t => t,
    };
    let (inner, shape) = if let Some(b) = type_arg(ty, "Box") {
        (b, Shape::Boxed)
    } else if let Some(b) = type_arg(ty, "Pin").and_then(|p| type_arg(p, "Box")) {
        (b, Shape::BoxPin)
    } else {
        (ty, Shape::Direct)
    };
    let (kind, item) = seq_bounds(inner)?;
    Some(Seq { kind, item, shape })
}

/// `T` of `impl Future<Output = T>` or `Pin<Box<dyn Future<Output = T> + ...>>`; the outer
/// `Option` tells whether the type is a future at all.
fn future_output(ty: &Type) -> Option<Option<Type>> {
    let seg = bounds_of(ty)
        .into_iter()
        .find(|s| s.ident == "Future" || s.ident == "IntoFuture")?;
    if let PathArguments::AngleBracketed(a) = &seg.arguments {
        for arg in &a.args {
            if let GenericArgument::AssocType(at) = arg
                && at.ident == "Output"
            {
                return Some(Some(at.ty.clone()));
            }
        }
    }
    Some(None)
}

/// `if false { let __f: T = loop {}; return __f; }`: tells type inference the body's return type
/// before the body is checked, so `?` inside a closure or async block knows its error type.
fn fake_return(ty: Option<&Type>) -> TokenStream {
    let Some(ty) = ty else {
        return quote!();
    };
    if matches!(ty, Type::Never(_)) {
        return quote!();
    }
    let mut ty = ty.clone();
    InferImpl.visit_type_mut(&mut ty);
    quote! {
        #[allow(
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::needless_return
        )]
        if false {
            let __spanwise_fake_return: #ty = loop {};
            return __spanwise_fake_return;
        }
    }
}

/// Where an `async` block sits at the end of a `fn -> impl Future` body.
enum AsyncTail {
    /// The tail expression is the async block.
    Bare,
    /// The tail is `Box::pin(async ...)` (what `#[async_trait]` generates).
    BoxPin,
}

fn async_tail(block: &Block) -> Option<AsyncTail> {
    match block.stmts.last()? {
        Stmt::Expr(Expr::Async(_), None) => Some(AsyncTail::Bare),
        Stmt::Expr(Expr::Call(call), None) => {
            let Expr::Path(p) = &*call.func else {
                return None;
            };
            let pin = p.path.segments.last().is_some_and(|s| s.ident == "pin");
            if pin && call.args.len() == 1 && matches!(call.args.first(), Some(Expr::Async(_))) {
                Some(AsyncTail::BoxPin)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The code recording the outcome on `__spanwise_span: &ActiveSpan` from `__spanwise_ret`:
/// `Err(e)` as an exception, anything else (or `Ok(v)`) as the output.
fn finish(capture_output: bool) -> TokenStream {
    finish_of(capture_output, quote!(&__spanwise_ret))
}

/// [`finish`] with the reference to the returned value given as `ret`.
fn finish_of(capture_output: bool, ret: TokenStream) -> TokenStream {
    let ok_arm = if capture_output {
        quote! {
            ::spanwise::__private::output(__spanwise_span, |__spanwise_o| {
                (&&&&::spanwise::__private::Wrap(__spanwise_v)).__spanwise_capture(__spanwise_o)
            })
        }
    } else {
        quote! { let _ = __spanwise_v; }
    };
    quote! {
        #[allow(unused_imports)]
        use ::spanwise::__private::{
            ErrBoxed as _, ErrDebug as _, ErrDisplay as _, ErrOpaque as _, ErrStd as _,
            SplitPlain as _, SplitResult as _, ViaDebug as _, ViaFast as _, ViaSerialize as _,
            ViaTypeName as _,
        };
        match (&&::spanwise::__private::ResWrap(#ret)).__spanwise_split() {
            ::core::result::Result::Ok(__spanwise_v) => { #ok_arm }
            ::core::result::Result::Err(__spanwise_e) => {
                (&&&&::spanwise::__private::ErrWrap(__spanwise_e))
                    .__spanwise_record_error(__spanwise_span)
            }
        }
    }
}

/// Generates the traced function.
pub(crate) fn expand(
    args: TraceArgs,
    raw_args: TokenStream,
    mut item: ItemFn,
) -> syn::Result<TokenStream> {
    if let Some(c) = &item.sig.constness {
        return Err(syn::Error::new_spanned(
            c,
            "#[trace] cannot trace a `const fn`: recording a span is not possible at compile time",
        ));
    }
    if !args.deferred
        && let Some(out) = defer(raw_args, &item)
    {
        return Ok(out);
    }

    let is_async = item.sig.asyncness.is_some();
    let ret_ty: Type = match &item.sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, t) => (**t).clone(),
    };
    let tail = if is_async {
        None
    } else {
        async_tail(&item.block)
    };
    let fut_out = if is_async {
        None
    } else {
        future_output(&ret_ty)
    };
    if fut_out.is_some() && tail.is_none() {
        return Err(syn::Error::new_spanned(
            &ret_ty,
            "#[trace] on a function returning a future needs its body to end with an `async` block \
             (or `Box::pin(async ...)`), so the span can follow the future; or write `async fn`",
        ));
    }

    // Iterators and streams are traced item by item; which one comes from the return type, or
    // from `iter` / `stream` for a named type.
    let seq = match (&args.force, seq_of(&ret_ty)) {
        (Some(force), Some(seq)) => {
            if force != seq.kind.word() {
                return Err(syn::Error::new_spanned(
                    force,
                    format!(
                        "`{force}` on a function returning {}: use `{}` or leave the option out \
                         (the return type already tells)",
                        match seq.kind {
                            SeqKind::Iter => "an iterator",
                            SeqKind::Stream => "a stream",
                        },
                        seq.kind.word()
                    ),
                ));
            }
            Some(seq)
        }
        (Some(force), None) => {
            if contains_impl(&ret_ty) {
                return Err(syn::Error::new_spanned(
                    &ret_ty,
                    format!(
                        "`{force}` marks a named iterator or stream type (`fn f() -> MyIter`); \
                         this return type is neither a named type nor one of `impl Iterator`, \
                         `impl Stream`, `Box<dyn Iterator>`, `Pin<Box<dyn Stream>>`"
                    ),
                ));
            }
            let kind = if force == "iter" {
                SeqKind::Iter
            } else {
                SeqKind::Stream
            };
            let item: Type = match kind {
                SeqKind::Iter => syn::parse_quote!(<#ret_ty as ::core::iter::Iterator>::Item),
                SeqKind::Stream => {
                    syn::parse_quote!(<#ret_ty as ::spanwise::__private::Stream>::Item)
                }
            };
            Some(Seq {
                kind,
                item: Some(item),
                shape: Shape::Named,
            })
        }
        (None, seq) => seq,
    };
    if seq.is_none()
        && let Some(opt) = args.stream_options.first()
    {
        return Err(syn::Error::new_spanned(
            opt,
            format!(
                "`{opt}` needs a function returning an iterator or stream \
                 (`impl Iterator`, `impl Stream`, `Box<dyn Iterator>`, `Pin<Box<dyn Stream>>`), \
                 or `iter` / `stream` to mark a named iterator or stream type"
            ),
        ));
    }

    // Arguments: name, the identifier holding the value, and the destructuring of patterns.
    let mut inputs = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut destructure = Vec::new();
    // Captured arguments, passed through the test of `enabled()` by value (see `prepare`).
    let mut rebind: Vec<(Ident, Option<syn::token::Mut>)> = Vec::new();
    let mut index = 0usize;
    for arg in item.sig.inputs.iter_mut() {
        let FnArg::Typed(pt) = arg else {
            continue;
        };
        let (name, ident) = match &mut *pt.pat {
            Pat::Ident(pi) => (
                pi.ident.to_string().trim_start_matches("r#").to_string(),
                pi.ident.clone(),
            ),
            _ => {
                let ident = format_ident!("__spanwise_arg{}", index, span = pt.pat.span());
                let pat = std::mem::replace(
                    &mut *pt.pat,
                    Pat::Ident(syn::PatIdent {
                        attrs: Vec::new(),
                        by_ref: None,
                        mutability: None,
                        ident: ident.clone(),
                        subpat: None,
                    }),
                );
                destructure.push(quote! { let #pat = #ident; });
                (format!("arg{index}"), ident)
            }
        };
        index += 1;
        names.push(name.clone());
        let skipped = args.skip_all || args.skip.iter().any(|s| *s == name);
        if !skipped {
            // (Patterns were replaced by identifiers above.) `mut` moves to the binding the
            // body sees; `ref x` and `x @ pat` stay as they are, borrowed where they are.
            if let Pat::Ident(pi) = &mut *pt.pat
                && pi.by_ref.is_none()
                && pi.subpat.is_none()
            {
                rebind.push((ident.clone(), pi.mutability.take()));
            }
            // Argument names are identifiers: their JSON needs no escaping.
            let key = format!("\"{name}\":");
            inputs.push(quote! {
                __spanwise_p.input_json_key(#key, |__spanwise_o| {
                    (&&&&::spanwise::__private::Wrap(&#ident)).__spanwise_capture(__spanwise_o)
                });
            });
        }
    }
    for s in &args.skip {
        if s != "self" && !names.iter().any(|n| s == n) {
            let allowed = if names.is_empty() {
                "this function has no arguments".to_string()
            } else {
                format!("its arguments are: {}", names.join(", "))
            };
            return Err(syn::Error::new_spanned(
                s,
                format!("`skip({s})`: the function has no argument named `{s}`; {allowed}"),
            ));
        }
    }

    let fn_name = item.sig.ident.to_string();
    let fn_name = fn_name.trim_start_matches("r#").to_string();
    let span_name = args
        .name
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_else(|| fn_name.clone());
    let (static_type, dyn_type) = match &args.span_type {
        None => ("UNKNOWN".to_string(), quote!()),
        Some(SpanTypeArg::Static(s, None)) => (s.clone(), quote!()),
        Some(SpanTypeArg::Static(s, Some(path))) => (
            s.clone(),
            quote_spanned! {path.span()=> let _: ::spanwise::SpanType = #path; },
        ),
        Some(SpanTypeArg::Dynamic(e)) => (
            "UNKNOWN".to_string(),
            quote_spanned! {e.span()=> __spanwise_p.span_type(#e); },
        ),
    };
    let attributes = args.attributes.iter().map(|a| {
        let key = &a.key;
        let value = &a.value;
        quote_spanned! {value.span()=>
            __spanwise_p.attribute(#key, |__spanwise_o| {
                (&&&&::spanwise::__private::Wrap(&(#value))).__spanwise_capture(__spanwise_o)
            });
        }
    });
    // MLflow records the function name only for functions that are not generators.
    let function_name = if seq.is_some() {
        quote!(::core::option::Option::None)
    } else {
        quote!(::core::option::Option::Some(#fn_name))
    };
    let meta = quote! {
        static __SPANWISE_META: ::spanwise::__private::SpanMeta = ::spanwise::__private::SpanMeta {
            name: #span_name,
            function_name: #function_name,
            span_type: #static_type,
        };
    };
    // `__spanwise_span`: `None` when tracing is off. `COMPILED_OUT` is a constant: with the
    // `compile-out` feature the test folds and the expansions below become the plain body.
    // The captured arguments go through the test by value and are re-bound on the traced side
    // only: borrowed for the capture where they are, they were stored to the stack at entry,
    // before the test, so the disabled path paid for them too.
    // Nothing to capture before the call: the span is made from the static alone, inline
    // (no out-of-line preparation for the common case of a function without arguments).
    let nothing_to_prepare = inputs.is_empty() && args.attributes.is_empty() && dyn_type.is_empty();
    let prepare_on = if nothing_to_prepare {
        quote!(::spanwise::__private::prepared(&__SPANWISE_META))
    } else {
        quote! {
        ::spanwise::__private::prepare_on(&__SPANWISE_META, |__spanwise_p| {
            #[allow(unused_imports)]
            use ::spanwise::__private::{ViaDebug as _, ViaFast as _, ViaSerialize as _, ViaTypeName as _};
            #(#inputs)*
            #(#attributes)*
            #dyn_type
        })
        }
    };
    let prepare = if rebind.is_empty() {
        quote! {
            let __spanwise_span = if ::spanwise::__private::COMPILED_OUT || !::spanwise::__private::enabled() {
                ::core::option::Option::None
            } else {
                ::core::option::Option::Some(#prepare_on)
            };
        }
    } else {
        let idents: Vec<&Ident> = rebind.iter().map(|(i, _)| i).collect();
        let bound = rebind.iter().map(|(i, m)| quote!(#m #i));
        quote! {
            // (An argument used only by the span would otherwise be reported unused.)
            #[allow(unused_variables)]
            let (__spanwise_span, #(#bound),*) =
                if ::spanwise::__private::COMPILED_OUT || !::spanwise::__private::enabled() {
                    (::core::option::Option::None, #(#idents),*)
                } else {
                    let (#(#idents,)*) = (#(#idents,)*);
                    (::core::option::Option::Some(#prepare_on), #(#idents),*)
                };
        }
    };
    let capture_output = args.capture_output.as_ref().is_none_or(|b| b.value);
    let finish_ref = finish_of(capture_output, quote!(__spanwise_ret));
    let finish = finish(capture_output);
    let async_finish = quote! {
        let __spanwise_ret = __spanwise_inner.await;
        if __spanwise_on
            && let ::core::option::Option::Some(__spanwise_s) = ::spanwise::__private::current()
        {
            let __spanwise_span: &::spanwise::ActiveSpan = &__spanwise_s;
            #finish
        }
        __spanwise_ret
    };
    // The span of an `async fn` is only ever on here: its other branch awaits the plain body.
    let async_fn_finish = quote! {
        let __spanwise_ret = __spanwise_inner.await;
        if let ::core::option::Option::Some(__spanwise_s) = ::spanwise::__private::current() {
            let __spanwise_span: &::spanwise::ActiveSpan = &__spanwise_s;
            #finish
        }
        __spanwise_ret
    };

    if let Some(seq) = seq {
        let body = seq_body(&args, &seq, &ret_ty, &item, &meta, &prepare, &destructure);
        if let Shape::Named = seq.shape {
            let wrapper = match seq.kind {
                SeqKind::Iter => quote!(::spanwise::TracedIter<#ret_ty>),
                SeqKind::Stream => quote!(::spanwise::TracedStream<#ret_ty>),
            };
            item.sig.output = syn::parse_quote!(-> #wrapper);
        }
        let ItemFn {
            attrs, vis, sig, ..
        } = &item;
        return Ok(quote! {
            #(#attrs)*
            #vis #sig {
                #body
            }
        });
    }
    let block = &item.block;
    let body = if is_async {
        let fake = fake_return(Some(&ret_ty));
        // Tracing off: the body is awaited as it is, with no wrapper around it.
        quote! {
            #meta
            #prepare
            #(#destructure)*
            let __spanwise_inner = async move { #fake #block };
            match __spanwise_span {
                ::core::option::Option::None => __spanwise_inner.await,
                ::core::option::Option::Some(__spanwise_b) => {
                    ::spanwise::__private::instrument_some(__spanwise_b, async move {
                        #async_fn_finish
                    })
                    .await
                }
            }
        }
    } else if let Some(tail) = tail {
        let mut stmts = item.block.stmts.clone();
        let Some(Stmt::Expr(last, None)) = stmts.pop() else {
            unreachable!("async_tail checked the tail expression")
        };
        let mut async_block = match (&tail, last.clone()) {
            (AsyncTail::Bare, Expr::Async(a)) => a,
            (AsyncTail::BoxPin, Expr::Call(c)) => match c.args.into_iter().next() {
                Some(Expr::Async(a)) => a,
                _ => unreachable!("async_tail checked the argument"),
            },
            _ => unreachable!("async_tail checked the tail expression"),
        };
        if let Some(Some(out)) = &fut_out {
            let fake = fake_return(Some(out));
            let fake: Stmt = syn::parse2(quote!(#fake))
                .unwrap_or_else(|_| Stmt::Expr(syn::parse_quote!(()), Some(Default::default())));
            async_block.block.stmts.insert(0, fake);
        }
        let wrapped = quote! {
            ::spanwise::__private::instrument(__spanwise_span, async move {
                let __spanwise_inner = #async_block;
                #async_finish
            })
        };
        let tail_expr = match (tail, last) {
            (AsyncTail::BoxPin, Expr::Call(c)) => {
                let func = &c.func;
                quote!(#func(#wrapped))
            }
            _ => wrapped,
        };
        quote! {
            #meta
            #prepare
            let __spanwise_on = __spanwise_span.is_some();
            #(#destructure)*
            #(#stmts)*
            #tail_expr
        }
    } else {
        let fake = fake_return(Some(&ret_ty));
        let unsafety = item.sig.unsafety.map(|u| quote!(#u));
        // Tracing off: the body is called as it is, with no guard built or dropped.
        quote! {
            #meta
            #prepare
            #(#destructure)*
            #[allow(unused_unsafe)]
            let __spanwise_body = ::spanwise::__private::once(move || #unsafety { #fake #block });
            match __spanwise_span {
                ::core::option::Option::None => __spanwise_body(),
                ::core::option::Option::Some(__spanwise_b) => ::spanwise::__private::call(
                    __spanwise_b,
                    __spanwise_body,
                    |__spanwise_span: &::spanwise::ActiveSpan, __spanwise_ret| { #finish_ref },
                ),
            }
        }
    };

    let ItemFn {
        attrs, vis, sig, ..
    } = &item;
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}

/// The body of a function traced item by item: the original body makes the iterator or stream
/// (inputs are captured first), which is then wrapped; its span starts at the first `next` /
/// `poll_next`.
fn seq_body(
    args: &TraceArgs,
    seq: &Seq,
    ret_ty: &Type,
    item: &ItemFn,
    meta: &TokenStream,
    prepare: &TokenStream,
    destructure: &[TokenStream],
) -> TokenStream {
    let block = &item.block;
    let fake = fake_return(Some(ret_ty));
    // An `async fn` makes its stream in its own async part, which runs before the stream is
    // polled and so outside the stream's span.
    let make = if item.sig.asyncness.is_some() {
        quote!(async move { #fake #block }.await)
    } else {
        let unsafety = item.sig.unsafety.map(|u| quote!(#u));
        quote! {{
            #[allow(unused_unsafe)]
            let __spanwise_made = ::spanwise::__private::call_once(move || #unsafety { #fake #block });
            __spanwise_made
        }}
    };
    let (options_fn, wrap_fn, off_fn) = match seq.kind {
        SeqKind::Iter => (quote!(iter_options), quote!(iter), quote!(iter_off)),
        SeqKind::Stream => (quote!(stream_options), quote!(stream), quote!(stream_off)),
    };
    let mut calls = Vec::new();
    if args.capture_output.as_ref().is_some_and(|b| !b.value) {
        // The items are the output: leave them out of the events too.
        calls.push(quote!(.capture_output(false).chunk_events(false)));
    }
    if let Some(e) = &args.output_reducer {
        calls.push(quote_spanned!(e.span()=> .output_reducer(#e)));
    }
    if let Some(e) = &args.reducer {
        calls.push(quote_spanned!(e.span()=> .reducer(#e)));
    }
    if let Some(e) = &args.chunk_events {
        calls.push(quote_spanned!(e.span()=> .chunk_events(#e)));
    }
    let param = seq.item.as_ref().map(|t| quote!(: &#t));
    let capture = quote! {
        |__spanwise_item #param, __spanwise_out: &mut ::spanwise::__private::ItemOut| {
            #[allow(unused_imports)]
            use ::spanwise::__private::{
                ItemErrBoxed as _, ItemErrDebug as _, ItemErrDisplay as _, ItemErrOpaque as _,
                ItemErrStd as _, SplitPlain as _, SplitResult as _, ViaDebug as _,
                ViaFast as _, ViaSerialize as _, ViaTypeName as _,
            };
            match (&&::spanwise::__private::ResWrap(__spanwise_item)).__spanwise_split() {
                ::core::result::Result::Ok(__spanwise_v) => {
                    if __spanwise_out.want_json {
                        (&&&&::spanwise::__private::Wrap(__spanwise_v))
                            .__spanwise_capture(&mut __spanwise_out.json)
                    }
                }
                ::core::result::Result::Err(__spanwise_e) => {
                    (&&&&::spanwise::__private::ErrWrap(__spanwise_e))
                        .__spanwise_item_error(__spanwise_out)
                }
            }
        }
    };
    // Options and reducers are built only when the span is recorded: with tracing off the
    // wrapper is made without them and passes items straight through.
    let wrapped = quote! {
        match __spanwise_span {
            ::core::option::Option::Some(__spanwise_b) => {
                let __spanwise_opts =
                    ::spanwise::__private::#options_fn(&__spanwise_made) #(#calls)*;
                ::spanwise::__private::#wrap_fn(__spanwise_made, __spanwise_b, __spanwise_opts, #capture)
            }
            ::core::option::Option::None => ::spanwise::__private::#off_fn(__spanwise_made),
        }
    };
    let ret = match seq.shape {
        Shape::Direct | Shape::Named => wrapped,
        Shape::Boxed => quote!(::std::boxed::Box::new(#wrapped)),
        Shape::BoxPin => quote!(::std::boxed::Box::pin(#wrapped)),
    };
    quote! {
        #meta
        #prepare
        #(#destructure)*
        let __spanwise_made = #make;
        #ret
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expansion of `#[trace(args)]` on `item`, as text with single spaces between tokens.
    fn expansion(args: TokenStream, item: TokenStream) -> String {
        let parsed: TraceArgs = syn::parse2(args.clone()).expect("arguments");
        let item: ItemFn = syn::parse2(item).expect("function");
        expand(parsed, args, item).expect("expansion").to_string()
    }

    const COMPILED_OUT_BRANCH: &str =
        "if :: spanwise :: __private :: COMPILED_OUT || ! :: spanwise :: __private :: enabled ()";

    #[test]
    fn sync_fn_tests_compiled_out_and_calls_the_plain_body_when_off() {
        let out = expansion(
            quote!(),
            quote!(
                fn add(a: u64, b: u64) -> u64 {
                    a + b
                }
            ),
        );
        assert!(out.contains(COMPILED_OUT_BRANCH), "{out}");
        assert!(
            out.contains(":: core :: option :: Option :: None => __spanwise_body ()"),
            "{out}"
        );
        // The body is emitted once, whichever branch runs.
        assert_eq!(out.matches("a + b").count(), 1, "{out}");
    }

    #[test]
    fn captured_arguments_pass_the_test_by_value_and_keep_their_mut() {
        let out = expansion(
            quote!(skip(c)),
            quote!(
                fn f(mut a: Vec<u8>, (x, y): (u8, u8), c: u8) -> usize {
                    a.push(x + y + c);
                    a.len()
                }
            ),
        );
        // Re-bound on both sides of the test; `mut` moved from the signature to the binding.
        assert!(
            out.contains(
                "let (__spanwise_span , mut a , __spanwise_arg1) = if :: spanwise :: __private :: \
                 COMPILED_OUT || ! :: spanwise :: __private :: enabled () { \
                 (:: core :: option :: Option :: None , a , __spanwise_arg1) } else { \
                 let (a , __spanwise_arg1 ,) = (a , __spanwise_arg1 ,) ;"
            ),
            "{out}"
        );
        assert!(
            out.starts_with("fn f (a : Vec < u8 > , __spanwise_arg1 : (u8 , u8) , c : u8)"),
            "{out}"
        );
        // The skipped argument is not captured, so not re-bound.
        assert!(!out.contains(", c)"), "{out}");
    }

    #[test]
    fn async_fn_tests_compiled_out_and_awaits_the_plain_body_when_off() {
        let out = expansion(
            quote!(),
            quote!(
                async fn get(x: u8) -> u8 {
                    x
                }
            ),
        );
        assert!(out.contains(COMPILED_OUT_BRANCH), "{out}");
        assert!(
            out.contains(":: core :: option :: Option :: None => __spanwise_inner . await"),
            "{out}"
        );
    }

    #[test]
    fn iterator_and_future_returning_fns_test_compiled_out() {
        let iter = expansion(
            quote!(),
            quote!(
                fn count() -> impl Iterator<Item = u8> {
                    0..3
                }
            ),
        );
        assert!(iter.contains(COMPILED_OUT_BRANCH), "{iter}");
        let fut = expansion(
            quote!(),
            quote!(
                fn later() -> impl std::future::Future<Output = u8> {
                    async { 1 }
                }
            ),
        );
        assert!(fut.contains(COMPILED_OUT_BRANCH), "{fut}");
    }
}
