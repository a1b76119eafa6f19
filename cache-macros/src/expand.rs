//! Code generation.

use crate::args::{Args, Errors};
use crate::item::Handler;
use crate::validate;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{parse::Parser, Attribute, ItemFn};

pub(crate) fn cached_route(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let parsed_args = Parser::parse2(
        |stream: syn::parse::ParseStream<'_>| Ok(Args::parse_all(stream, &mut errors)),
        args,
    )
    .unwrap_or_default();

    let func: ItemFn = match syn::parse2(input.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "#[cached_route] applies to `async fn` axum handlers",
            );
            return with_error(input, error);
        }
    };
    let handler = Handler { func };
    validate::args(&parsed_args, &mut errors);
    validate::handler(&handler, &mut errors);
    match errors.finish() {
        Ok(()) => wrapper(&parsed_args, &handler),
        // Keep the user's function so that rust-analyzer and the other
        // diagnostics keep working next to the error.
        Err(error) => {
            let func = &handler.func;
            with_error(quote!(#func), error)
        }
    }
}

fn with_error(item: TokenStream, error: syn::Error) -> TokenStream {
    let mut out = item;
    out.extend(error.to_compile_error());
    out
}

/// Attributes that describe the handler as a whole stay on the outer
/// function; lint levels go on both; anything else (for example
/// `#[tracing::instrument]`) wraps the user's body, so it sees the user's
/// own arguments and runs only when the body does.
fn split_attrs(attrs: &[Attribute]) -> (Vec<&Attribute>, Vec<&Attribute>) {
    let mut outer = Vec::new();
    let mut inner = Vec::new();
    for attr in attrs {
        let path = attr.path();
        let last = path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        match last.as_str() {
            "allow" | "warn" | "deny" | "forbid" | "expect" => {
                outer.push(attr);
                inner.push(attr);
            }
            "doc" | "cfg" | "cfg_attr" | "deprecated" | "must_use" | "debug_handler" => {
                outer.push(attr)
            }
            _ => inner.push(attr),
        }
    }
    (outer, inner)
}

// Input:
//
//     /// Docs.
//     #[cached_route(ttl = 60)]
//     pub async fn get_item(Path(id): Path<u64>) -> Json<Item> { body }
//
// Output:
//
//     /// Docs.
//     pub async fn get_item(
//         __cached_route_ctx: ::cache_runtime::__private::RequestContext,
//         __cached_route_arg0: Path<u64>,
//     ) -> ::cache_runtime::__private::Response {
//         const __CACHED_ROUTE_POLICY: ::cache_runtime::__private::RoutePolicy =
//             ::cache_runtime::__private::RoutePolicy::new(
//                 ::core::concat!(::core::module_path!(), "::get_item"), 60);
//         async fn get_item(Path(id): Path<u64>) -> Json<Item> { body }
//         ::cache_runtime::__private::serve(
//             __cached_route_ctx, &__CACHED_ROUTE_POLICY, get_item(__cached_route_arg0)).await
//     }
//
// The user's function is kept whole (patterns, return type, body spans) as
// an item inside the wrapper, so `return` and `?` in the body end the body's
// future, which `serve` awaits: they cannot skip the cache logic. On a hit
// `serve` drops that future unpolled and the body never runs.
fn wrapper(args: &Args, handler: &Handler) -> TokenStream {
    let func = &handler.func;
    let vis = &func.vis;
    let ident = &func.sig.ident;
    let (outer_attrs, inner_attrs) = split_attrs(&func.attrs);
    let route_suffix = format!("::{ident}");

    let mixed = Span::mixed_site();
    let ctx = format_ident!("__cached_route_ctx", span = mixed);
    let policy = format_ident!("__CACHED_ROUTE_POLICY", span = mixed);
    let arg_names: Vec<_> = (0..handler.typed_args().count())
        .map(|i| format_ident!("__cached_route_arg{i}", span = mixed))
        .collect();
    let arg_types = handler.typed_args().map(|pat| &pat.ty);

    let ttl = args.ttl.as_ref().map_or(1, |t| t.value.secs);
    let mut policy_expr = quote! {
        ::cache_runtime::__private::RoutePolicy::new(
            ::core::concat!(::core::module_path!(), #route_suffix),
            #ttl,
        )
    };
    if let Some(max_body) = &args.max_body {
        let bytes = usize::try_from(max_body.value).unwrap_or(usize::MAX);
        policy_expr = quote_spanned!(max_body.keyword=> #policy_expr.with_max_body(#bytes));
    }

    let mut inner = func.clone();
    inner.attrs = inner_attrs.into_iter().cloned().collect();
    inner.vis = syn::Visibility::Inherited;

    quote! {
        #(#outer_attrs)*
        #vis async fn #ident(
            #ctx: ::cache_runtime::__private::RequestContext,
            #(#arg_names: #arg_types),*
        ) -> ::cache_runtime::__private::Response {
            const #policy: ::cache_runtime::__private::RoutePolicy = #policy_expr;
            #inner
            ::cache_runtime::__private::serve(#ctx, &#policy, #ident(#(#arg_names),*)).await
        }
    }
}
