//! What the handler's extractors read, as far as their types tell, and
//! so what the key covers (the rule the `cached_route` docs state):
//!
//! - what the macro can see is keyed exactly: `Query<T>` is keyed on the
//!   parameters `T` deserializes, `RawQuery` and `Form` on the whole
//!   query, and a handler that reads no query at all is not keyed on it;
//! - what it cannot see into (`HeaderMap`, `TypedHeader`, `Request`,
//!   `Parts`, `Uri`, `OriginalUri`, `Host`, any extractor it does not
//!   know) is keyed conservatively, on the host and the whole query, with
//!   a warning for the headers they may read (not for `Uri` and
//!   `OriginalUri`, which read nothing more), unless the route declares
//!   what the handler reads.
//!
//! Types are recognised by the last segment of their path, as axum users
//! write them (`Query<T>`, `axum::extract::Query<T>`,
//! `axum_extra::extract::Query<T>`), through `Option<…>` and `Result<…>`.

use crate::args::Args;
use crate::item::Handler;
use crate::key::KeyKind;
use crate::paths::{runtime, runtime_at};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{GenericArgument, GenericParam, PathArguments, Type};

/// What one extractor reads that the key may have to cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reads {
    /// Nothing beyond the matched path and the body (`Path`, `State`,
    /// `Json`, …), or inputs that are covered elsewhere (cookies: the
    /// credential rule) or cannot be keyed (the client's address).
    Nothing,
    /// The query through `Query<T>`.
    QueryFields,
    /// The whole query string (`RawQuery`, `Form`, `RawForm`).
    WholeQuery,
    /// The request target (`Uri`, `OriginalUri`): its path, its query and,
    /// in HTTP/2 or an absolute-form request, its authority. Keyed on the
    /// host and the whole query, it reads nothing the key leaves out.
    Target,
    /// Anything: the macro cannot see what it reads.
    Opaque,
}

/// Extractors that read neither the host nor the query.
const READ_NOTHING: &[&str] = &[
    "Path",
    "State",
    "Extension",
    "Method",
    "Version",
    "MatchedPath",
    "NestedPath",
    "RawPathParams",
    "ConnectInfo",
    "CookieJar",
    "SignedCookieJar",
    "PrivateCookieJar",
    "Json",
    "Bytes",
    "String",
    "Body",
    "Multipart",
];

/// Extractors that read the whole query string and nothing else the key
/// could cover (`Form` reads the query of a `GET`).
const READ_WHOLE_QUERY: &[&str] = &["RawQuery", "Form", "RawForm"];

/// Extractors that read the request target.
const READ_TARGET: &[&str] = &["Uri", "OriginalUri"];

fn reads(name: &str) -> Reads {
    if name == "Query" {
        Reads::QueryFields
    } else if READ_WHOLE_QUERY.contains(&name) {
        Reads::WholeQuery
    } else if READ_TARGET.contains(&name) {
        Reads::Target
    } else if READ_NOTHING.contains(&name) {
        Reads::Nothing
    } else {
        Reads::Opaque
    }
}

/// How the key treats the query string, as inferred from the extractors.
pub(crate) enum QueryRule<'a> {
    /// No extractor reads it: not in the key.
    Ignored,
    /// Only `Query<T>` extractors read it: the fields of these `T`s.
    Fields(Vec<&'a Type>),
    /// Some extractor may read all of it.
    Whole,
}

/// What the extractors read, as far as the key is concerned.
pub(crate) struct KeyInputs<'a> {
    /// Some extractor may read the host.
    pub(crate) host: bool,
    pub(crate) query: QueryRule<'a>,
}

/// What the handler's extractors read.
pub(crate) fn infer(handler: &Handler) -> KeyInputs<'_> {
    let mut host = false;
    let mut whole = false;
    let mut fields = Vec::new();
    for ty in handler.typed_args().map(|arg| &*arg.ty) {
        let (name, argument) = extractor(ty).unwrap_or_default();
        match (reads(&name), argument) {
            (Reads::Nothing, _) => {}
            (Reads::QueryFields, Some(argument)) => fields.push(argument),
            (Reads::WholeQuery, _) => whole = true,
            (Reads::QueryFields, None) | (Reads::Target | Reads::Opaque, _) => {
                host = true;
                whole = true;
            }
        }
    }
    let query = if whole {
        QueryRule::Whole
    } else if fields.is_empty() {
        QueryRule::Ignored
    } else {
        QueryRule::Fields(fields)
    };
    KeyInputs { host, query }
}

/// Whether the route declares what its handler reads beyond what the macro
/// sees (`vary`, `key`, `private`, `shared`, `allow_unkeyed`): then the
/// conservative host and the warnings are left out.
pub(crate) fn declared(args: &Args) -> bool {
    ["vary", "key", "private", "shared", "allow_unkeyed"]
        .iter()
        .any(|option| args.mentions(option))
}

/// Whether the key carries the host: `host = …` when written, else when
/// some extractor may read it and the route declares nothing.
pub(crate) fn keys_host(args: &Args, inferred: &KeyInputs<'_>) -> bool {
    match &args.host {
        Some(host) => host.value,
        None => inferred.host && !declared(args),
    }
}

/// The marker's `query()` when the key keeps only the parameters the
/// handler's `Query<T>` extractors deserialize: no `query = …` and no
/// `key`, no other extractor that may read the query, and no generic
/// parameters (the field names are learned once per route, in a static).
pub(crate) fn learned_query(
    args: &Args,
    handler: &Handler,
    inferred: &KeyInputs<'_>,
    key: &KeyKind<'_>,
) -> TokenStream {
    if args.query.is_some() || !matches!(key, KeyKind::Request) || is_generic(handler) {
        return TokenStream::new();
    }
    let QueryRule::Fields(types) = &inferred.query else {
        return TokenStream::new();
    };
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

/// Whether the handler has type or const parameters.
pub(crate) fn is_generic(handler: &Handler) -> bool {
    handler
        .func
        .sig
        .generics
        .params
        .iter()
        .any(|p| !matches!(p, GenericParam::Lifetime(_)))
}

/// One warning per parameter reading an input the key does not cover,
/// unless the route says how it keys (`vary`, `key`, `private`, `shared`)
/// or silences them (`allow_unkeyed = true`). A warning on stable Rust: the
/// use of a `#[deprecated]` item, spanned at the parameter's type: items
/// and statements for a `const _: () = { … };`, empty when there is
/// nothing to warn about.
pub(crate) fn unkeyed_warnings(args: &Args, handler: &Handler) -> TokenStream {
    if declared(args) {
        return TokenStream::new();
    }
    let warnings = unkeyed(handler.typed_args().map(|arg| &*arg.ty))
        .into_iter()
        .map(|input| {
            let UnkeyedInput {
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

/// What the cookie jars read, and how to key on it.
const COOKIES: &str = "the request's cookies";
const COOKIE_ADVICE: &str = "declare the route `private = true` (an entry per user) or \
                             `shared = true`, or key on them with `vary = [\"cookie\"]`";

/// What the extractors the macro cannot see into may read beyond the host
/// and the query, which the key then covers.
const OPAQUE: &str =
    "whatever it takes from the request, headers included (the key covers the host and the whole query, not headers)";
const OPAQUE_ADVICE: &str = "key on the headers it reads with `vary = [\"user-agent\", …]`, \
                             or declare the route `private = true` or `shared = true`";

/// Extractors reading request inputs that the key does not cover unless
/// the route says how (`vary`, `key`, `private`, `shared`): what each reads,
/// and how to key on it, for the warning. `Host` reads `X-Forwarded-Host`
/// and `Forwarded`, which any client can send and the key leaves out unless
/// the cache trusts them. Any other extractor the macro does not know gets
/// [`OPAQUE`].
const UNKEYED: &[(&str, &str, &str)] = &[
    (
        "HeaderMap",
        "every request header (the key covers the host and the whole query, not headers)",
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
pub(crate) struct UnkeyedInput {
    /// The extractor's name (`HeaderMap`).
    pub(crate) name: String,
    /// What it reads, and how to key on it, for the warning.
    pub(crate) reads: &'static str,
    pub(crate) advice: &'static str,
    /// The parameter's type, where the warning points.
    pub(crate) span: Span,
}

/// The parameters reading inputs the key does not cover.
pub(crate) fn unkeyed<'a>(types: impl Iterator<Item = &'a Type>) -> Vec<UnkeyedInput> {
    types
        .filter_map(|ty| {
            let (name, argument) = extractor(ty)?;
            let (reads, advice) = match UNKEYED.iter().find(|(n, _, _)| *n == name) {
                Some((_, reads, advice)) => (*reads, *advice),
                None if self::reads(&name) == Reads::Opaque
                    || (name == "Query" && argument.is_none()) =>
                {
                    (OPAQUE, OPAQUE_ADVICE)
                }
                None => return None,
            };
            Some(UnkeyedInput {
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

    /// What a handler with these parameter types is keyed on: the host,
    /// and the query as `"ignored"`, `"fields:<n>"` or `"whole"`.
    fn inferred(list: &[&str]) -> (bool, String) {
        let params: Vec<String> = list
            .iter()
            .enumerate()
            .map(|(i, ty)| format!("p{i}: {ty}"))
            .collect();
        let func: crate::item::HandlerFn =
            syn::parse_str(&format!("async fn h({}) {{}}", params.join(", "))).unwrap();
        let handler = Handler { func };
        let inferred = infer(&handler);
        let query = match &inferred.query {
            QueryRule::Ignored => "ignored".to_owned(),
            QueryRule::Fields(types) => format!("fields:{}", types.len()),
            QueryRule::Whole => "whole".to_owned(),
        };
        (inferred.host, query)
    }

    #[test]
    fn what_the_macro_sees_is_keyed_exactly() {
        let exact = |list: &[&str]| inferred(list);
        assert_eq!(exact(&[]), (false, "ignored".into()));
        assert_eq!(
            exact(&["Path<u64>", "State<Db>"]),
            (false, "ignored".into())
        );
        assert_eq!(
            exact(&["Query<Params>", "Path<u64>"]),
            (false, "fields:1".into())
        );
        assert_eq!(
            exact(&["axum::extract::Query<P>", "State<S>"]),
            (false, "fields:1".into())
        );
        assert_eq!(exact(&["Option<Query<P>>"]), (false, "fields:1".into()));
        assert_eq!(exact(&["Query<P>", "RawQuery"]), (false, "whole".into()));
        assert_eq!(exact(&["Query<P>", "Form<F>"]), (false, "whole".into()));
        assert_eq!(
            exact(&["CookieJar", "ConnectInfo<SocketAddr>"]),
            (false, "ignored".into())
        );
    }

    #[test]
    fn what_it_cannot_see_into_keys_the_host_and_the_whole_query() {
        for opaque in [
            "HeaderMap",
            "TypedHeader<UserAgent>",
            "Host",
            "Request",
            "Parts",
            "Uri",
            "OriginalUri",
            "MyExtractor",
            "Query",
            "(Path<u64>, Query<P>)",
        ] {
            assert_eq!(
                inferred(&["Path<u64>", opaque]),
                (true, "whole".into()),
                "{opaque}"
            );
        }
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
            "Request",
            "MyExtractor",
            "Query<P>",
        ]);
        let names: Vec<String> = unkeyed(types.iter()).into_iter().map(|u| u.name).collect();
        assert_eq!(
            names,
            [
                "HeaderMap",
                "TypedHeader",
                "Host",
                "ConnectInfo",
                "CookieJar",
                "Request",
                "MyExtractor",
            ]
        );
    }
}
