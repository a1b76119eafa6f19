//! Rules on the handler's shape, each reported at the offending token.

use crate::args::{Args, Errors};
use crate::item::Handler;
use syn::{FnArg, Type};

/// axum implements `Handler` for functions of up to 16 extractors; the
/// macro adds one.
const MAX_USER_ARGS: usize = 15;

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
            FnArg::Typed(pat) => {
                if let Type::Reference(reference) = &*pat.ty {
                    errors.push(syn::Error::new_spanned(
                        reference,
                        "axum handlers take owned extractors, not references",
                    ));
                }
            }
        }
    }
    if sig.inputs.len() > MAX_USER_ARGS {
        let extra = sig.inputs.iter().nth(MAX_USER_ARGS);
        errors.push(syn::Error::new_spanned(
            extra,
            format!("#[cached_route] handlers take at most {MAX_USER_ARGS} extractors (axum's limit of 16, less the cache's own)"),
        ));
    }
}

pub(crate) fn args(args: &Args, errors: &mut Errors) {
    if args.ttl.is_none() {
        errors.push(syn::Error::new(
            args.span.unwrap_or_else(proc_macro2::Span::call_site),
            "#[cached_route] needs a `ttl`, for example `#[cached_route(ttl = 3600)]`",
        ));
    }
}
