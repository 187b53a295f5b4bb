//! `#[decorate(wrapper)]`: a Python-style decorator as an attribute macro, for spanwise's tests
//! and examples about ordering `#[trace]` with other attribute macros. Not published.
//!
//! `#[decorate(w)] fn f(..) -> R { body }` becomes `fn f(..) -> R { w("f", move || body) }`,
//! so `w: fn(&str, impl FnOnce() -> R) -> R` runs around the body, like a Python wrapper.

use proc_macro::TokenStream;
use quote::quote;
use syn::{ItemFn, Path, parse_macro_input};

/// Runs the function's body through `wrapper(name, body)`.
#[proc_macro_attribute]
pub fn decorate(attr: TokenStream, item: TokenStream) -> TokenStream {
    let wrapper = parse_macro_input!(attr as Path);
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = parse_macro_input!(item as ItemFn);
    let name = sig.ident.to_string();
    quote! {
        #(#attrs)*
        #vis #sig {
            #wrapper(#name, move || #block)
        }
    }
    .into()
}
