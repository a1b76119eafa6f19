//! What the handler's extractors read, as far as their types tell: whether
//! the query string is read only through `Query<T>` (then the key keeps
//! only the parameters `T` deserializes), and which request inputs the key
//! does not cover (then the macro warns).
//!
//! Types are recognised by the last segment of their path, as axum users
//! write them (`Query<T>`, `axum::extract::Query<T>`,
//! `axum_extra::extract::Query<T>`), through `Option<…>` and `Result<…>`.

use crate::args::Args;
use crate::expand::{runtime, runtime_at};
use crate::item::Handler;
use crate::policy::KeyKind;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{GenericArgument, GenericParam, PathArguments, Type};

/// The marker's `query()` when the key can keep only the parameters the
/// handler's `Query<T>` extractors deserialize: no `query = …` and no
/// `key`, no other extractor that may read the query, and no generic
/// parameters (the field names are learned once per route, in a static).
pub(crate) fn learned_query(args: &Args, handler: &Handler, key: &KeyKind<'_>) -> TokenStream {
    let generic = handler
        .func
        .sig
        .generics
        .params
        .iter()
        .any(|p| !matches!(p, GenericParam::Lifetime(_)));
    if args.query.is_some() || !matches!(key, KeyKind::Request) || generic {
        return TokenStream::new();
    }
    let Some(types) = query_types(handler.typed_args().map(|arg| &*arg.ty)) else {
        return TokenStream::new();
    };
    if types.is_empty() {
        return TokenStream::new();
    }
    let rt = runtime();
    // Spanned at each `T`, so that a `T` that is not `Deserialize` is
    // reported there.
    let fields = types.iter().map(|ty| {
        let rt_ty = runtime_at(syn::spanned::Spanned::span(ty));
        quote_spanned!(syn::spanned::Spanned::span(ty)=> #rt_ty::query_fields::<#ty>)
    });
    quote! {
        fn query() -> #rt::QueryPolicy {
            static LEARNED: #rt::OnceLock<#rt::QueryPolicy> = #rt::OnceLock::new();
            *LEARNED.get_or_init(|| #rt::learned_query(&[#(#fields),*]))
        }
    }
}

/// One warning per parameter reading an input the key does not cover,
/// unless the route says how it keys (`vary`, `key`, `private`, `shared`)
/// or silences them (`allow_unkeyed = true`). A warning on stable Rust: the
/// use of a `#[deprecated]` item, spanned at the parameter's type: items
/// and statements for a `const _: () = { … };`, empty when there is
/// nothing to warn about.
pub(crate) fn unkeyed_warnings(args: &Args, handler: &Handler) -> TokenStream {
    let declared = ["vary", "key", "private", "shared", "allow_unkeyed"]
        .iter()
        .any(|option| args.mentions(option));
    if declared {
        return TokenStream::new();
    }
    let warnings = unkeyed(handler.typed_args().map(|arg| &*arg.ty))
        .into_iter()
        .map(|input| {
            let Unkeyed {
                name,
                reads,
                advice,
                span,
            } = input;
            let note = format!(
                "#[cached_route]: `{name}` reads {reads}, which the cache key does not cover, \
                 so a response made for one request can be served to another that differs there: \
                 {advice}. If the response does not depend on it, `allow_unkeyed = true` \
                 silences this warning"
            );
            let marker = format_ident!("{}_is_not_in_the_cache_key", name, span = span);
            quote_spanned! {span=>
                #[deprecated(note = #note)]
                #[allow(non_camel_case_types)]
                struct #marker;
                let _ = #marker;
            }
        });
    quote!(#(#warnings)*)
}

/// Extractors that never read the query string. Anything not listed here
/// (a custom extractor, `Uri`, `RawQuery`, `Request`, `Form`, which reads
/// the query of a `GET`) may read it, and the key then keeps every
/// parameter.
const NOT_QUERY: &[&str] = &[
    "Path",
    "State",
    "Extension",
    "Method",
    "Version",
    "MatchedPath",
    "NestedPath",
    "HeaderMap",
    "TypedHeader",
    "Host",
    "ConnectInfo",
    "CookieJar",
    "SignedCookieJar",
    "PrivateCookieJar",
    "Json",
    "Bytes",
    "String",
    "Body",
];

/// What the cookie jars read, and how to key on it.
const COOKIES: &str = "the request's cookies";
const COOKIE_ADVICE: &str = "declare the route `private = true` (an entry per user) or \
                             `shared = true`, or key on them with `vary = [\"cookie\"]`";

/// Extractors reading request inputs that the key does not cover unless
/// the route says how (`vary`, `key`, `private`, `shared`): what each reads,
/// and how to key on it, for the warning. `Host` reads `X-Forwarded-Host`
/// and `Forwarded`, which any client can send and the key leaves out unless
/// the cache trusts them.
const UNKEYED: &[(&str, &str, &str)] = &[
    (
        "HeaderMap",
        "every request header",
        "key on the headers it reads with `vary = [\"user-agent\", …]`",
    ),
    (
        "TypedHeader",
        "a request header",
        "key on it with `vary = [\"<its name>\"]`",
    ),
    (
        "Host",
        "the host from `X-Forwarded-Host` or `Forwarded` (which any client can send) before `Host`",
        "key on it with `vary = [\"x-forwarded-host\", \"forwarded\"]`, or, behind a proxy that sets \
         them, have the cache trust them (`trust_forwarded_host(true)`)",
    ),
    ("CookieJar", COOKIES, COOKIE_ADVICE),
    ("SignedCookieJar", COOKIES, COOKIE_ADVICE),
    ("PrivateCookieJar", COOKIES, COOKIE_ADVICE),
    (
        "ConnectInfo",
        "the client's address",
        "give the route a `key` function that reads it",
    ),
];

/// A parameter reading an input the key does not cover.
pub(crate) struct Unkeyed {
    /// The extractor's name (`HeaderMap`).
    pub(crate) name: String,
    /// What it reads, and how to key on it, for the warning.
    pub(crate) reads: &'static str,
    pub(crate) advice: &'static str,
    /// The parameter's type, where the warning points.
    pub(crate) span: Span,
}

/// The query parameters' source: `Some(types)` when every parameter that
/// may read the query is a `Query<T>` (the `T`s, possibly none), `None`
/// when some other one may read it.
pub(crate) fn query_types<'a>(types: impl Iterator<Item = &'a Type>) -> Option<Vec<&'a Type>> {
    let mut found = Vec::new();
    for ty in types {
        let (name, argument) = extractor(ty)?;
        if name == "Query" {
            found.push(argument?);
        } else if !NOT_QUERY.contains(&name.as_str()) {
            return None;
        }
    }
    Some(found)
}

/// The parameters reading inputs the key does not cover.
pub(crate) fn unkeyed<'a>(types: impl Iterator<Item = &'a Type>) -> Vec<Unkeyed> {
    types
        .filter_map(|ty| {
            let (name, _) = extractor(ty)?;
            let (_, reads, advice) = UNKEYED.iter().find(|(n, _, _)| *n == name)?;
            Some(Unkeyed {
                name,
                reads,
                advice,
                span: syn::spanned::Spanned::span(ty),
            })
        })
        .collect()
}

/// An extractor type's name and its first type argument, looking through
/// `Option<…>` and `Result<…, _>`; `None` for anything that is not a path.
fn extractor(ty: &Type) -> Option<(String, Option<&Type>)> {
    let ty = match ty {
        Type::Paren(inner) => &*inner.elem,
        Type::Group(inner) => &*inner.elem,
        other => other,
    };
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    let first_type = match &last.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        }),
        _ => None,
    };
    let name = last.ident.to_string();
    if name == "Option" || name == "Result" {
        return extractor(first_type?);
    }
    Some((name, first_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(list: &[&str]) -> Vec<Type> {
        list.iter().map(|t| syn::parse_str(t).unwrap()).collect()
    }

    #[test]
    fn query_is_learned_only_when_nothing_else_may_read_it() {
        let learned = |list: &[&str]| {
            let types = types(list);
            query_types(types.iter()).map(|found| found.len())
        };
        assert_eq!(learned(&["Query<Params>", "Path<u64>"]), Some(1));
        assert_eq!(learned(&["axum::extract::Query<P>", "State<S>"]), Some(1));
        assert_eq!(learned(&["Option<Query<P>>"]), Some(1));
        assert_eq!(learned(&["Path<u64>"]), Some(0));
        assert_eq!(learned(&["Query<P>", "RawQuery"]), None);
        assert_eq!(learned(&["Query<P>", "Uri"]), None);
        assert_eq!(learned(&["Query<P>", "OriginalUri"]), None);
        assert_eq!(learned(&["Query<P>", "Request"]), None);
        assert_eq!(learned(&["Query<P>", "Form<F>"]), None);
        assert_eq!(learned(&["Query<P>", "MyExtractor"]), None);
        assert_eq!(learned(&["Query"]), None);
    }

    #[test]
    fn unkeyed_inputs_are_named() {
        let types = types(&[
            "HeaderMap",
            "TypedHeader<UserAgent>",
            "Path<u64>",
            "Option<Host>",
            "ConnectInfo<SocketAddr>",
            "axum_extra::extract::CookieJar",
        ]);
        let names: Vec<String> = unkeyed(types.iter()).into_iter().map(|u| u.name).collect();
        assert_eq!(
            names,
            [
                "HeaderMap",
                "TypedHeader",
                "Host",
                "ConnectInfo",
                "CookieJar"
            ]
        );
    }
}
