//! The options of `#[trace(...)]`, parsed and checked on their own (nothing here looks at the
//! function; `expand` checks the options that depend on it).

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitBool, LitStr, Token};

/// Every option name, for the "unknown option" message.
const OPTIONS: &str = "name, span_type, attributes, skip, skip_all, capture_output, output_reducer, reducer, chunk_events, iter, stream";

/// The hidden first word of an attribute `#[trace]` re-emitted behind the other attribute macros
/// of its function (see `expand::defer`); it stops a second deferral.
pub(crate) const DEFERRED: &str = "__spanwise_deferred";

/// How the span type was given.
pub(crate) enum SpanTypeArg {
    /// Known at compile time: a string literal, or a built-in `SpanType::Variant` (kept so the
    /// expansion still names it: it type-checks and the user's `use` counts as used).
    Static(String, Option<Expr>),
    /// Any other expression, converted at run time with `Into<SpanType>`.
    Dynamic(Expr),
}

/// One `key = value` of `attributes(...)`.
pub(crate) struct Attribute {
    pub key: String,
    pub key_span: Span,
    pub value: Expr,
}

/// The parsed options of one `#[trace(...)]`.
#[derive(Default)]
pub(crate) struct TraceArgs {
    pub deferred: bool,
    pub name: Option<LitStr>,
    pub span_type: Option<SpanTypeArg>,
    pub attributes: Vec<Attribute>,
    pub skip: Vec<Ident>,
    pub skip_all: bool,
    pub capture_output: Option<LitBool>,
    /// The name tokens of the iterator and stream options given, kept for errors.
    pub stream_options: Vec<Ident>,
    /// `output_reducer = expr`: a `fn(&[T]) -> R` or closure over the items.
    pub output_reducer: Option<Expr>,
    /// `reducer = expr`: an incremental `spanwise::Reducer<T>` value.
    pub reducer: Option<Expr>,
    /// `chunk_events = expr` (a `bool`).
    pub chunk_events: Option<Expr>,
    /// `iter` / `stream`: the return type is a named iterator / stream type.
    pub force: Option<Ident>,
}

/// The MLflow strings of the built-in `SpanType` variants.
fn builtin_span_type(variant: &str) -> Option<&'static str> {
    Some(match variant {
        "Llm" => "LLM",
        "Chain" => "CHAIN",
        "Agent" => "AGENT",
        "Tool" => "TOOL",
        "ChatModel" => "CHAT_MODEL",
        "Retriever" => "RETRIEVER",
        "Parser" => "PARSER",
        "Embedding" => "EMBEDDING",
        "Reranker" => "RERANKER",
        "Memory" => "MEMORY",
        "Unknown" => "UNKNOWN",
        "Workflow" => "WORKFLOW",
        "Task" => "TASK",
        "Guardrail" => "GUARDRAIL",
        "Evaluator" => "EVALUATOR",
        _ => return None,
    })
}

impl SpanTypeArg {
    fn from_expr(expr: Expr) -> SpanTypeArg {
        match &expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => SpanTypeArg::Static(s.value(), None),
            // `SpanType::Llm` or `spanwise::SpanType::Llm`: resolved now, so the expansion
            // carries a `&'static str` instead of a conversion per call.
            Expr::Path(p) if p.qself.is_none() && p.path.segments.len() >= 2 => {
                let segs: Vec<_> = p.path.segments.iter().collect();
                let last = &segs[segs.len() - 1];
                let ty = &segs[segs.len() - 2];
                match builtin_span_type(&last.ident.to_string()) {
                    Some(s) if ty.ident == "SpanType" && last.arguments.is_none() => {
                        SpanTypeArg::Static(s.to_string(), Some(expr.clone()))
                    }
                    _ => SpanTypeArg::Dynamic(expr),
                }
            }
            _ => SpanTypeArg::Dynamic(expr),
        }
    }
}

fn parse_attribute(input: ParseStream) -> syn::Result<Attribute> {
    let (key, key_span) = if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        (lit.value(), lit.span())
    } else if input.peek(Ident::peek_any) {
        let ident: Ident = syn::ext::IdentExt::parse_any(input)?;
        (
            ident.to_string().trim_start_matches("r#").to_string(),
            ident.span(),
        )
    } else {
        return Err(input.error(
            "expected an attribute key: a name or a string literal, as in `attributes(model = \"gpt-4o-mini\", \"gen_ai.system\" = \"openai\")`",
        ));
    };
    input.parse::<Token![=]>().map_err(|_| {
        syn::Error::new(
            key_span,
            format!("expected `= value` after attribute key `{key}`"),
        )
    })?;
    let value: Expr = input.parse()?;
    Ok(Attribute {
        key,
        key_span,
        value,
    })
}

impl Parse for TraceArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = TraceArgs::default();
        let mut seen: Vec<String> = Vec::new();
        let mut first = true;
        while !input.is_empty() {
            let ident: Ident = syn::ext::IdentExt::parse_any(input)?;
            let key = ident.to_string();
            if first && key == DEFERRED {
                args.deferred = true;
                first = false;
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
                continue;
            }
            first = false;
            if seen.contains(&key) {
                return Err(syn::Error::new_spanned(
                    &ident,
                    format!("duplicate option `{key}`: each option may be given once"),
                ));
            }
            match key.as_str() {
                "name" => {
                    input.parse::<Token![=]>()?;
                    let expr: Expr = input.parse()?;
                    match expr {
                        Expr::Lit(ExprLit {
                            lit: Lit::Str(s), ..
                        }) => args.name = Some(s),
                        other => {
                            return Err(syn::Error::new_spanned(
                                other,
                                "`name` must be a string literal, e.g. `name = \"my_span\"`; to name spans at run time use `spanwise::start_span`",
                            ));
                        }
                    }
                }
                "span_type" => {
                    input.parse::<Token![=]>()?;
                    args.span_type = Some(SpanTypeArg::from_expr(input.parse()?));
                }
                "attributes" => {
                    let content;
                    syn::parenthesized!(content in input);
                    let list = Punctuated::<Attribute, Token![,]>::parse_terminated_with(
                        &content,
                        parse_attribute,
                    )?;
                    for a in list {
                        if args.attributes.iter().any(|b| b.key == a.key) {
                            return Err(syn::Error::new(
                                a.key_span,
                                format!("duplicate attribute key `{}`", a.key),
                            ));
                        }
                        args.attributes.push(a);
                    }
                }
                "skip" => {
                    let content;
                    syn::parenthesized!(content in input);
                    let list = Punctuated::<Ident, Token![,]>::parse_terminated_with(
                        &content,
                        syn::ext::IdentExt::parse_any,
                    )?;
                    args.skip = list.into_iter().collect();
                }
                "skip_all" => args.skip_all = true,
                "capture_output" => {
                    input.parse::<Token![=]>()?;
                    let expr: Expr = input.parse()?;
                    match expr {
                        Expr::Lit(ExprLit {
                            lit: Lit::Bool(b), ..
                        }) => args.capture_output = Some(b),
                        other => {
                            return Err(syn::Error::new_spanned(
                                other,
                                "`capture_output` must be `true` or `false`",
                            ));
                        }
                    }
                }
                "output_reducer" | "reducer" | "chunk_events" => {
                    input.parse::<Token![=]>()?;
                    let value: Expr = input.parse()?;
                    match key.as_str() {
                        "output_reducer" => args.output_reducer = Some(value),
                        "reducer" => args.reducer = Some(value),
                        _ => args.chunk_events = Some(value),
                    }
                    args.stream_options.push(ident.clone());
                }
                "iter" | "stream" => {
                    args.stream_options.push(ident.clone());
                    args.force = Some(ident.clone());
                }
                _ => {
                    return Err(syn::Error::new_spanned(
                        &ident,
                        format!("unknown option `{key}`; expected one of: {OPTIONS}"),
                    ));
                }
            }
            seen.push(key);
            if input.is_empty() {
                break;
            }
            input
                .parse::<Token![,]>()
                .map_err(|e| syn::Error::new(e.span(), "expected `,` between options"))?;
        }
        if args.skip_all && !args.skip.is_empty() {
            return Err(syn::Error::new(
                args.skip[0].span(),
                "`skip(...)` and `skip_all` together: `skip_all` already leaves out every argument",
            ));
        }
        let has = |w: &str| args.stream_options.iter().find(|i| *i == w);
        if let (Some(_), Some(stream)) = (has("iter"), has("stream")) {
            return Err(syn::Error::new_spanned(
                stream,
                "`iter` and `stream` together: a function returns either an iterator or a stream",
            ));
        }
        if let (Some(_), Some(reducer)) = (has("output_reducer"), has("reducer")) {
            return Err(syn::Error::new_spanned(
                reducer,
                "`output_reducer` and `reducer` together: give one way to make the output, \
                 `output_reducer` (a function of the list of items) or `reducer` (an incremental \
                 `spanwise::Reducer`)",
            ));
        }
        if let Some(off) = args.capture_output.as_ref().filter(|b| !b.value)
            && let Some(r) = has("output_reducer").or(has("reducer"))
        {
            return Err(syn::Error::new_spanned(
                off,
                format!(
                    "`capture_output = false` with `{r}`: the reducer makes the output that \
                     `capture_output = false` leaves out; remove one of them"
                ),
            ));
        }
        Ok(args)
    }
}
