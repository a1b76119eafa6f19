//! Rules on the handler's shape and across options, each reported at the
//! offending token.

use crate::args::{Args, Errors};
use crate::item::Handler;
use syn::{FnArg, Type};

/// axum implements `Handler` for functions of up to 16 extractors; the
/// macro wraps the first rather than adding one.
const MAX_USER_ARGS: usize = 16;

pub(crate) fn handler(handler: &Handler, errors: &mut Errors) {
    let sig = &handler.func.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "#[cached_route] handlers must be `async fn`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "#[cached_route] handlers cannot be generic; axum needs one concrete handler type",
        ));
    }
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                "#[cached_route] handlers cannot take `self`; write a free `async fn`",
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
            crate::args::call_site(),
            "#[cached_route] needs a `ttl`, for example `#[cached_route(ttl = 3600)]`",
        ));
    }
    if let (Some(_), Some(query)) = (&args.key, &args.query) {
        errors.push(syn::Error::new(
            query.keyword.span(),
            "`query` has no effect when `key` is given; the key replaces the path and query",
        ));
    }
}
