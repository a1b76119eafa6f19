//! The route's `RoutePolicy` constant, from the parsed arguments, and how
//! its key's request part is derived.

use crate::args::Args;
use crate::inputs::{keys_host, KeyInputs, QueryRule};
use crate::key::KeyKind;
use crate::paths::runtime;
use crate::values::Query;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::Ident;

/// The `RoutePolicy` constant expression.
pub(crate) fn policy(
    args: &Args,
    ident: &Ident,
    key: &KeyKind<'_>,
    inferred: &KeyInputs<'_>,
) -> TokenStream {
    let rt = runtime();
    let route_suffix = format!("::{ident}");
    let ttl = args.ttl.as_ref().map_or(1, |t| t.value);
    let mut policy = quote! {
        #rt::RoutePolicy::new(
            ::core::concat!(::core::module_path!(), #route_suffix),
            #ttl,
        )
    };
    if let Some(max_body) = &args.max_body {
        let bytes = usize::try_from(max_body.value).unwrap_or(usize::MAX);
        policy.extend(quote!(.with_max_body(#bytes)));
    }
    if let Some(query) = &args.query {
        let value = match &query.value {
            Query::All => quote!(#rt::QueryPolicy::All),
            Query::None => quote!(#rt::QueryPolicy::Ignore),
            Query::Allow(names) => {
                quote!(#rt::QueryPolicy::Allow(&[#(#names),*]))
            }
        };
        policy.extend(quote!(.with_query(#value)));
    } else if matches!(key, KeyKind::Request) && matches!(inferred.query, QueryRule::Ignored) {
        // The handler reads no query: not in the key, and its path's
        // invalidation reaches every query variant.
        policy.extend(quote!(.with_query(#rt::QueryPolicy::Ignore)));
    }
    if let Some(vary) = &args.vary {
        let names = vary
            .value
            .iter()
            .map(|name| name.value().to_ascii_lowercase());
        policy.extend(quote!(.with_vary(&[#(#names),*])));
    }
    if let Some(tags) = args.tags.as_ref().filter(|t| !t.value.is_empty()) {
        let templates = tags.value.iter().map(syn::LitStr::value);
        policy.extend(quote!(.with_tags(&[#(#templates),*])));
    }
    if let Some(namespace) = &args.namespace {
        let namespace = &namespace.value;
        policy.extend(quote!(.with_namespace(#namespace)));
    }
    if args.private.as_ref().is_some_and(|p| p.value) {
        policy.extend(quote!(.with_auth(#rt::AuthPolicy::Private)));
    } else if args.shared.as_ref().is_some_and(|p| p.value) {
        policy.extend(quote!(.with_auth(#rt::AuthPolicy::Shared)));
    }
    if let Some(cache_control) = &args.cache_control {
        let value = &cache_control.value;
        policy.extend(quote!(.with_cache_control(#value)));
    }
    if let Some(compress) = &args.compress {
        match &compress.value {
            // That the encoding's cargo feature is on is checked once, by
            // the item `expand` emits next to the policy (a compile error
            // at the option): the policy is evaluated wherever the route
            // is registered, and would report it a second time, at the
            // whole attribute.
            Some(coding) => {
                let variant = Ident::new(coding.variant, coding.span);
                policy.extend(quote_spanned!(coding.span=> .with_compress(#rt::Option::Some(#rt::Encoding::#variant))));
            }
            None => policy.extend(quote!(.with_compress(#rt::Option::None))),
        }
    }
    if let Some(stale) = &args.stale {
        let secs = stale.value;
        policy.extend(quote!(.with_stale(#secs)));
    }
    if let Some(serve) = &args.stale_if_error {
        let value = serve.value;
        policy.extend(quote!(.with_stale_if_error(#value)));
    }
    if let Some(honor) = &args.honor_client {
        let value = honor.value;
        policy.extend(quote!(.with_honor_client(#value)));
    }
    if args.revalidate.as_ref().is_some_and(|r| r.value) {
        policy.extend(quote!(.with_revalidate(true)));
    }
    if args.shadow.as_ref().is_some_and(|s| s.value) {
        policy.extend(quote!(.with_shadow(true)));
    }
    if let Some(ahead) = args.refresh_ahead.as_ref().filter(|r| r.value > 0) {
        let permille = ahead.value;
        policy.extend(quote!(.with_refresh_ahead(#permille)));
    }
    if keys_host(args, inferred) {
        policy.extend(quote!(.with_host(true)));
    }
    if let Some(negative) = &args.negative {
        let statuses = &negative.value;
        // Default: a minute, or the TTL when shorter.
        let secs = args
            .negative_ttl
            .as_ref()
            .map_or_else(|| ttl.min(60), |t| t.value);
        policy.extend(quote!(.with_negative(&[#(#statuses),*], #secs)));
    }
    match key {
        KeyKind::Request => {}
        KeyKind::Function(_) => {
            policy.extend(quote!(.with_key_source(#rt::KeySource::Function)));
        }
        KeyKind::Handler(_) => {
            policy.extend(quote!(.with_key_source(#rt::KeySource::Handler)));
        }
    }
    policy
}
