//! Rules on the handler's shape and across options, each reported at the
//! offending token.

use crate::args::Args;
use crate::errors::Errors;
use crate::item::Handler;
use syn::{FnArg, Type};

/// axum implements `Handler` for functions of up to 16 extractors; the
/// macro wraps the first rather than adding one.
const MAX_USER_ARGS: usize = 16;

pub(crate) fn handler(handler: &Handler, attr: &str, errors: &mut Errors) {
    let sig = &handler.func.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!("#[{attr}] handlers must be `async fn`"),
        ));
    }
    // Generic handlers are fine: axum takes an instantiation
    // (`get(get_user::<PgRepo>)`), and the wrapper keeps the generics.
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                format!("#[{attr}] handlers cannot take `self`; write a free `async fn`"),
            )),
            FnArg::Typed(pat) if !pat.attrs.is_empty() => errors.push(syn::Error::new_spanned(
                &pat.attrs[0],
                format!("#[{attr}] does not support attributes on handler parameters"),
            )),
            FnArg::Typed(pat) => match &*pat.ty {
                Type::Reference(reference) => errors.push(syn::Error::new_spanned(
                    reference,
                    "axum handlers take owned extractors, not references",
                )),
                Type::ImplTrait(bound) => errors.push(syn::Error::new_spanned(
                    bound,
                    "axum handlers take concrete extractor types, not `impl Trait`",
                )),
                _ => {}
            },
        }
    }
    if let Some(self_token) = find_self_type(&handler.func) {
        errors.push(syn::Error::new(
            self_token,
            format!(
                "#[{attr}] handlers must be free functions: `Self` is not available in the handler"
            ),
        ));
    }
    for item_attr in &handler.func.attrs {
        let path = item_attr.path();
        let is_utoipa_path = path.segments.len() == 2
            && path.segments[0].ident == "utoipa"
            && path.segments[1].ident == "path";
        if is_utoipa_path {
            errors.push(syn::Error::new_spanned(
                item_attr,
                format!("put `#[utoipa::path]` above `#[{attr}]`, so that it documents the handler as written"),
            ));
        }
    }
    if let Some(extra) = sig.inputs.iter().nth(MAX_USER_ARGS) {
        errors.push(syn::Error::new_spanned(
            extra,
            format!(
                "axum handlers take at most {MAX_USER_ARGS} extractors; \
                 group some into a struct that implements `FromRequestParts`"
            ),
        ));
    }
}

pub(crate) fn args(args: &Args, errors: &mut Errors) {
    if !args.mentions("ttl") && !args.incomplete {
        errors.push(syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[cached_route] needs a `ttl`, for example `#[cached_route(ttl = 3600)]`",
        ));
    }
    if let (Some(shared), Some(private)) = (&args.shared, &args.private) {
        if shared.value && private.value {
            errors.push(syn::Error::new(
                private.keyword.span(),
                "a route cannot be both `shared` (one entry for everyone) and `private` (one entry per user)",
            ));
        }
    }
    if let (None, Some(negative_ttl)) = (&args.negative, &args.negative_ttl) {
        errors.push(syn::Error::new(
            negative_ttl.keyword.span(),
            "`negative_ttl` needs `negative`, the statuses it applies to (`negative = [404]`)",
        ));
    }
    if let (Some(ttl), Some(negative_ttl)) = (&args.ttl, &args.negative_ttl) {
        if negative_ttl.value > ttl.value {
            errors.push(syn::Error::new(
                negative_ttl.keyword.span(),
                "`negative_ttl` must not be longer than `ttl`",
            ));
        }
    }
    if let (Some(_), Some(query)) = (&args.key, &args.query) {
        errors.push(syn::Error::new(
            query.keyword.span(),
            "`query` has no effect when `key` is given; the key replaces the path and query",
        ));
    }
}

/// The first `Self` in the handler's signature or body: the body becomes a
/// nested function, where `Self` does not resolve.
fn find_self_type(func: &crate::item::HandlerFn) -> Option<proc_macro2::Span> {
    fn find(tokens: proc_macro2::TokenStream) -> Option<proc_macro2::Span> {
        for token in tokens {
            match token {
                proc_macro2::TokenTree::Ident(ident) if ident == "Self" => {
                    return Some(ident.span())
                }
                proc_macro2::TokenTree::Group(group) => {
                    if let Some(span) = find(group.stream()) {
                        return Some(span);
                    }
                }
                _ => {}
            }
        }
        None
    }
    use quote::ToTokens;
    find(func.sig.to_token_stream()).or_else(|| find(func.body.stream()))
}
