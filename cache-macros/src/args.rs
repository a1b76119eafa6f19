//! The attribute's grammar: `name = value` pairs separated by commas, where
//! each value is a Rust expression or literal interpreted per option.
//!
//! Adding an option means one field on [`Args`], one arm in
//! [`Args::set`], and its name in [`OPTIONS`].

use crate::errors::Errors;
use crate::values::*;
use syn::{parse::ParseStream, punctuated::Punctuated, Expr, Ident, LitStr, Token};

/// Every option, for "unknown option" messages. `prefix` is accepted as
/// another name for `namespace`.
const OPTIONS: &str = "`ttl`, `key`, `query`, `vary`, `namespace` (or `prefix`), `max_body`, \
                       `shared`, `private`, `cache_control`, `honor_client`, `stale`, `stale_if_error`, \
                       `tags`, `host`, `negative`, `negative_ttl`, `revalidate`, `compress`, `allow_unkeyed`, \
                       `refresh_ahead`, `shadow`";

/// One option as written, keeping the keyword's span for diagnostics.
pub(crate) struct Opt<T> {
    pub(crate) keyword: Ident,
    pub(crate) value: T,
}

/// The attribute's arguments as parsed. Every field is optional here;
/// required ones and cross-option rules are checked in `validate`.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) ttl: Option<Opt<u32>>,
    pub(crate) key: Option<Opt<Expr>>,
    pub(crate) query: Option<Opt<Query>>,
    pub(crate) vary: Option<Opt<Vec<LitStr>>>,
    pub(crate) namespace: Option<Opt<LitStr>>,
    pub(crate) max_body: Option<Opt<u64>>,
    pub(crate) shared: Option<Opt<bool>>,
    pub(crate) private: Option<Opt<bool>>,
    pub(crate) cache_control: Option<Opt<LitStr>>,
    pub(crate) honor_client: Option<Opt<bool>>,
    pub(crate) stale: Option<Opt<u32>>,
    pub(crate) stale_if_error: Option<Opt<bool>>,
    /// `tags = ["item:{id}"]`: format strings over the bound parameters.
    pub(crate) tags: Option<Opt<Vec<LitStr>>>,
    /// `host = false`: the host does not split entries.
    pub(crate) host: Option<Opt<bool>>,
    /// `revalidate = true`: expired entries are revalidated by the handler.
    pub(crate) revalidate: Option<Opt<bool>>,
    /// `shadow = true`: the handler always answers; the cache stores and
    /// compares, and serves nothing.
    pub(crate) shadow: Option<Opt<bool>>,
    /// `negative = [404, 410]`: error statuses stored too.
    pub(crate) negative: Option<Opt<Vec<u16>>>,
    /// `negative_ttl = "30s"`: their life.
    pub(crate) negative_ttl: Option<Opt<u32>>,
    /// `compress = "br"` or `compress = false`: the stored encoding.
    pub(crate) compress: Option<Opt<Option<Coding>>>,
    /// `allow_unkeyed = true`: no warning about extractors reading inputs
    /// the key does not cover.
    pub(crate) allow_unkeyed: Option<Opt<bool>>,
    /// `refresh_ahead = 0.8`: thousandths of the TTL (0: off).
    pub(crate) refresh_ahead: Option<Opt<u16>>,
    /// `soft = true` (`#[invalidates]` only): mark stale, do not delete.
    pub(crate) soft: Option<Opt<bool>>,
    /// `paths = ["/items/{id}"]` (`#[invalidates]` only).
    pub(crate) paths: Option<Opt<Vec<LitStr>>>,
    /// Every option written, valid or not, so that a bad `ttl` is not also
    /// reported as a missing one.
    pub(crate) written: Vec<Ident>,
    /// Names that are no option at all; reported by the attribute, which
    /// knows which options it takes.
    pub(crate) unknown: Vec<Ident>,
    /// The list could not be parsed to the end; "missing option" errors
    /// would be noise next to the parse error.
    pub(crate) incomplete: bool,
}

/// Stores an option, rejecting a second occurrence at the repeat's keyword.
fn set_once<T>(
    slot: &mut Option<Opt<T>>,
    keyword: Ident,
    value: syn::Result<T>,
    errors: &mut Errors,
) {
    if slot.is_some() {
        let message = format!("`{keyword}` is given more than once");
        errors.push(syn::Error::new(keyword.span(), message));
        return;
    }
    match value {
        Ok(value) => *slot = Some(Opt { keyword, value }),
        Err(e) => errors.push(e),
    }
}

impl Args {
    /// Whether the option was written at all (even with a bad value).
    pub(crate) fn mentions(&self, option: &str) -> bool {
        self.written.iter().any(|w| w == option)
    }

    /// Parses `#[cached_route]`'s arguments; see [`Args::parse_any`].
    pub(crate) fn parse_all(input: ParseStream<'_>, errors: &mut Errors) -> Self {
        let args = Self::parse_any(input, errors);
        for name in args
            .unknown
            .iter()
            .chain(args.paths.iter().map(|p| &p.keyword))
            .chain(args.soft.iter().map(|p| &p.keyword))
        {
            errors.push(syn::Error::new(
                name.span(),
                format!("unknown option `{name}`; valid options are {OPTIONS}"),
            ));
        }
        args
    }

    /// Parses `#[invalidates]`'s arguments: `tags` and `paths` only, and at
    /// least one of them.
    pub(crate) fn parse_invalidates(input: ParseStream<'_>, errors: &mut Errors) -> Self {
        let args = Self::parse_any(input, errors);
        for name in &args.written {
            if name != "tags" && name != "paths" && name != "soft" {
                errors.push(syn::Error::new(
                    name.span(),
                    format!("`#[invalidates]` takes `tags`, `paths` and `soft`, not `{name}`"),
                ));
            }
        }
        let targets = args.written.iter().any(|n| n == "tags" || n == "paths");
        if !targets && !args.incomplete {
            errors.push(syn::Error::new(
                proc_macro2::Span::call_site(),
                "#[invalidates] needs `tags` or `paths`, for example `#[invalidates(tags = [\"item:{id}\"])]`",
            ));
        }
        args
    }

    /// Parses `name = value, …`, collecting every error instead of stopping
    /// at the first.
    fn parse_any(input: ParseStream<'_>, errors: &mut Errors) -> Self {
        let mut args = Args::default();
        let pairs =
            match Punctuated::<(Ident, Expr), Token![,]>::parse_terminated_with(input, |input| {
                let name: Ident = input.call(syn::ext::IdentExt::parse_any)?;
                if !input.peek(Token![=]) {
                    return Err(syn::Error::new(
                        name.span(),
                        format!("expected `{name} = …`; options are written `name = value`"),
                    ));
                }
                input.parse::<Token![=]>()?;
                Ok((name, input.parse()?))
            }) {
                Ok(pairs) => pairs,
                Err(e) => {
                    errors.push(e);
                    args.incomplete = true;
                    // Consume the rest so the caller sees a complete parse.
                    let _ = input.parse::<proc_macro2::TokenStream>();
                    return args;
                }
            };
        for (name, value) in pairs {
            args.set(name, &value, errors);
        }
        args
    }

    fn set(&mut self, name: Ident, value: &Expr, errors: &mut Errors) {
        let written = name.to_string();
        self.written.push(name.clone());
        match written.as_str() {
            "ttl" => set_once(
                &mut self.ttl,
                name,
                parse_duration(value, "ttl", false),
                errors,
            ),
            "key" => set_once(&mut self.key, name, parse_key(value), errors),
            "query" => set_once(&mut self.query, name, parse_query(value), errors),
            "vary" => set_once(&mut self.vary, name, parse_vary(value), errors),
            "namespace" | "prefix" => {
                set_once(&mut self.namespace, name, parse_namespace(value), errors)
            }
            "max_body" => set_once(&mut self.max_body, name, parse_size(value), errors),
            "shared" => set_once(&mut self.shared, name, parse_bool(value, "shared"), errors),
            "private" => set_once(
                &mut self.private,
                name,
                parse_bool(value, "private"),
                errors,
            ),
            "cache_control" => set_once(
                &mut self.cache_control,
                name,
                parse_cache_control(value),
                errors,
            ),
            "honor_client" => set_once(
                &mut self.honor_client,
                name,
                parse_bool(value, "honor_client"),
                errors,
            ),
            "stale" => set_once(
                &mut self.stale,
                name,
                parse_duration(value, "stale", true),
                errors,
            ),
            "stale_if_error" => set_once(
                &mut self.stale_if_error,
                name,
                parse_bool(value, "stale_if_error"),
                errors,
            ),
            "tags" => set_once(
                &mut self.tags,
                name,
                parse_format_list(value, "tags", "tag"),
                errors,
            ),
            "host" => set_once(&mut self.host, name, parse_bool(value, "host"), errors),
            "revalidate" => set_once(
                &mut self.revalidate,
                name,
                parse_bool(value, "revalidate"),
                errors,
            ),
            "shadow" => set_once(&mut self.shadow, name, parse_bool(value, "shadow"), errors),
            "negative" => set_once(&mut self.negative, name, parse_negative(value), errors),
            "negative_ttl" => set_once(
                &mut self.negative_ttl,
                name,
                parse_duration(value, "negative_ttl", false),
                errors,
            ),
            "compress" => set_once(&mut self.compress, name, parse_compress(value), errors),
            "refresh_ahead" => set_once(
                &mut self.refresh_ahead,
                name,
                parse_refresh_ahead(value),
                errors,
            ),
            "allow_unkeyed" => set_once(
                &mut self.allow_unkeyed,
                name,
                parse_bool(value, "allow_unkeyed"),
                errors,
            ),
            "soft" => set_once(&mut self.soft, name, parse_bool(value, "soft"), errors),
            "paths" => set_once(
                &mut self.paths,
                name,
                parse_format_list(value, "paths", "path"),
                errors,
            ),
            _ => self.unknown.push(name),
        }
    }
}
