//! The attribute's grammar: `name = value` pairs separated by commas, where
//! each value is a Rust expression or literal interpreted per option.
//!
//! Adding an option means one field on [`Args`], one arm in
//! [`Args::set`], and its name in [`OPTIONS`].

use syn::{
    parse::ParseStream, punctuated::Punctuated, spanned::Spanned, Expr, ExprLit, Ident, Lit,
    LitStr, Token,
};

/// Every option, for "unknown option" messages. `prefix` is accepted as
/// another name for `namespace`.
const OPTIONS: &str = "`ttl`, `key`, `query`, `vary`, `namespace` (or `prefix`), `max_body`, \
                       `shared`, `private`, `cache_control`, `honor_client`, `stale`, `stale_if_error`, \
                       `tags`, `host`, `negative`, `negative_ttl`, `revalidate`";

/// One option as written, keeping the keyword's span for diagnostics.
pub(crate) struct Opt<T> {
    pub(crate) keyword: Ident,
    pub(crate) value: T,
}

/// Which query parameters take part in the key.
pub(crate) enum Query {
    All,
    None,
    Allow(Vec<LitStr>),
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
    /// `negative = [404, 410]`: error statuses stored too.
    pub(crate) negative: Option<Opt<Vec<u16>>>,
    /// `negative_ttl = "30s"`: their life.
    pub(crate) negative_ttl: Option<Opt<u32>>,
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

/// Collects errors so that all of them are reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// How many errors are collected so far.
    pub(crate) fn count(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |all| all.clone().into_iter().count())
    }

    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
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
            if name != "tags" && name != "paths" {
                errors.push(syn::Error::new(
                    name.span(),
                    format!("`#[invalidates]` takes `tags` and `paths`, not `{name}`"),
                ));
            }
        }
        if args.written.is_empty() && !args.incomplete {
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
            "negative" => set_once(&mut self.negative, name, parse_negative(value), errors),
            "negative_ttl" => set_once(
                &mut self.negative_ttl,
                name,
                parse_duration(value, "negative_ttl", false),
                errors,
            ),
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

fn lit(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        Expr::Group(group) => lit(&group.expr),
        _ => None,
    }
}

/// `ttl = 3600` or `ttl = "1h"` (likewise `stale`): seconds, at most
/// `u32::MAX`, and at least 1 unless `zero_ok`.
fn parse_duration(expr: &Expr, option: &str, zero_ok: bool) -> syn::Result<u32> {
    let too_large = || {
        syn::Error::new_spanned(
            expr,
            format!(
                "`{option}` is too large; the maximum is {} seconds",
                u32::MAX
            ),
        )
    };
    let secs = match (lit(expr), expr) {
        (Some(Lit::Int(int)), _) if int.suffix().is_empty() => {
            int.base10_parse::<u64>().map_err(|_| too_large())?
        }
        (Some(Lit::Str(s)), _) => duration_secs(s, option)?,
        (_, Expr::Unary(u)) if matches!(u.op, syn::UnOp::Neg(_)) => {
            return Err(syn::Error::new_spanned(
                expr,
                format!("`{option}` must be positive"),
            ));
        }
        _ => {
            return Err(syn::Error::new_spanned(
                expr,
                format!(
                    "`{option}` takes a number of seconds (`{option} = 3600`) or a duration string (`{option} = \"1h\"`)"
                ),
            ));
        }
    };
    if secs == 0 && !zero_ok {
        return Err(syn::Error::new_spanned(
            expr,
            format!("`{option}` must be at least one second"),
        ));
    }
    u32::try_from(secs).map_err(|_| too_large())
}

/// `"90s"`, `"10m"`, `"1h"`, `"1d"`.
fn duration_secs(lit: &LitStr, option: &str) -> syn::Result<u64> {
    let text = lit.value();
    let text = text.trim();
    let err = |msg: String| syn::Error::new(lit.span(), msg);
    if text.is_empty() {
        return Err(err(format!(
            "`{option}` is empty; write a duration such as \"90s\", \"10m\", \"1h\" or \"1d\""
        )));
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(err(format!(
            "`{option}` must start with a number, as in \"90s\", \"10m\", \"1h\" or \"1d\""
        )));
    }
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "" => {
            return Err(err(format!(
                "`{option}` needs a unit: `s`, `m`, `h` or `d` (or plain seconds without quotes)"
            )))
        }
        _ => {
            return Err(err(format!(
                "unknown unit `{unit}` in `{option}`; use `s`, `m`, `h` or `d`"
            )))
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| {
            err(format!(
                "`{option}` is too large; the maximum is {} seconds",
                u32::MAX
            ))
        })
}

/// `key = <Rust expression>` (not a string holding code).
fn parse_key(expr: &Expr) -> syn::Result<Expr> {
    if let Some(Lit::Str(s)) = lit(expr) {
        return Err(syn::Error::new(
            s.span(),
            "`key` takes Rust code, not a string: write `key = format!(\"item:{id}\")` or `key = path::to::function`",
        ));
    }
    Ok(expr.clone())
}

/// `query = all`, `query = none` or `query = ["page", "limit"]`.
fn parse_query(expr: &Expr) -> syn::Result<Query> {
    let wrong = || {
        syn::Error::new_spanned(
            expr,
            "`query` takes `all`, `none` or a list of parameter names (`query = [\"page\", \"limit\"]`)",
        )
    };
    match expr {
        Expr::Path(path) if path.path.is_ident("all") => Ok(Query::All),
        Expr::Path(path) if path.path.is_ident("none") => Ok(Query::None),
        Expr::Array(_) => {
            let names = string_list(expr, "query", "parameter name", |_| true)?;
            Ok(Query::Allow(names))
        }
        _ => Err(wrong()),
    }
}

/// `vary = ["accept-language"]`: request header names.
fn parse_vary(expr: &Expr) -> syn::Result<Vec<LitStr>> {
    if !matches!(expr, Expr::Array(_)) {
        return Err(syn::Error::new_spanned(
            expr,
            "`vary` takes a list of request header names (`vary = [\"accept-language\"]`)",
        ));
    }
    string_list(expr, "vary", "header name", |name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            && name != "*"
    })
}

/// `negative = [404, 410]`: 3xx and 4xx statuses but `304`, each once.
/// 5xx, `304` and 2xx are refused at the offending status.
fn parse_negative(expr: &Expr) -> syn::Result<Vec<u16>> {
    let Expr::Array(array) = expr else {
        return Err(syn::Error::new_spanned(
            expr,
            "`negative` takes a list of statuses (`negative = [404, 410]`)",
        ));
    };
    let mut statuses = Vec::new();
    let mut errors = Errors::default();
    for elem in &array.elems {
        let status = match lit(elem) {
            Some(Lit::Int(int)) => int.base10_parse::<u16>().ok(),
            _ => None,
        };
        let refusal = match status {
            None => Some("a status code, such as `404`"),
            Some(500..=599) => Some("5xx responses are never stored: a failing handler would be frozen for the TTL"),
            Some(304) => Some("`304` is an answer to a conditional request, never stored"),
            Some(200..=299) => Some("2xx statuses are not negative caching: 200, 203 and 204 are stored by default, the others never"),
            Some(300..=499) => None,
            Some(_) => Some("a 3xx or 4xx status"),
        };
        match (refusal, status) {
            (Some(why), _) => errors.push(syn::Error::new_spanned(elem, why)),
            (None, Some(code)) if statuses.contains(&code) => {
                errors.push(syn::Error::new_spanned(
                    elem,
                    format!("{code} is listed twice"),
                ));
            }
            (None, Some(code)) => statuses.push(code),
            (None, None) => {}
        }
    }
    if array.elems.is_empty() {
        errors.push(syn::Error::new_spanned(
            expr,
            "`negative` needs at least one status",
        ));
    }
    errors.finish().map(|()| statuses)
}

/// `tags = ["item:{id}"]`, `paths = ["/items/{id}"]`: non-empty format
/// strings (their `{name}`s are checked by `format!` against the handler's
/// bindings).
fn parse_format_list(expr: &Expr, option: &str, what: &str) -> syn::Result<Vec<LitStr>> {
    string_list(expr, option, what, |s| {
        !s.trim().is_empty() && (what != "path" || s.starts_with('/'))
    })
}

/// `namespace = "v2"`: letters, digits, `_`, `-` and `.`.
fn parse_namespace(expr: &Expr) -> syn::Result<LitStr> {
    match lit(expr) {
        Some(Lit::Str(s)) => {
            let value = s.value();
            if value.is_empty()
                || !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
            {
                return Err(syn::Error::new(
                    s.span(),
                    "`namespace` must be non-empty and use only letters, digits, `_`, `-` and `.`",
                ));
            }
            Ok(s.clone())
        }
        _ => Err(syn::Error::new_spanned(
            expr,
            "`namespace` takes a string (`namespace = \"v2\"`)",
        )),
    }
}

/// `max_body = 65536`: bytes, at least 1.
fn parse_size(expr: &Expr) -> syn::Result<u64> {
    match lit(expr) {
        Some(Lit::Int(int)) if int.suffix().is_empty() => match int.base10_parse::<u64>() {
            Ok(0) => Err(syn::Error::new(
                int.span(),
                "`max_body` must be at least 1 byte",
            )),
            Ok(n) => Ok(n),
            Err(_) => Err(syn::Error::new(int.span(), "`max_body` is too large")),
        },
        _ => Err(syn::Error::new_spanned(
            expr,
            "`max_body` takes a number of bytes (`max_body = 65536`)",
        )),
    }
}

/// `shared = true`: a boolean literal.
fn parse_bool(expr: &Expr, option: &str) -> syn::Result<bool> {
    match lit(expr) {
        Some(Lit::Bool(b)) => Ok(b.value),
        _ => Err(syn::Error::new_spanned(
            expr,
            format!("`{option}` takes `true` or `false`"),
        )),
    }
}

/// `cache_control = "public, max-age=60"`: a valid header value.
fn parse_cache_control(expr: &Expr) -> syn::Result<LitStr> {
    match lit(expr) {
        Some(Lit::Str(s)) => {
            let value = s.value();
            if value.trim().is_empty()
                || !value
                    .bytes()
                    .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
            {
                return Err(syn::Error::new(
                    s.span(),
                    "`cache_control` must be a non-empty, printable ASCII header value",
                ));
            }
            Ok(s.clone())
        }
        _ => Err(syn::Error::new_spanned(
            expr,
            "`cache_control` takes a string (`cache_control = \"public, max-age=60\"`)",
        )),
    }
}

/// A non-empty array of distinct string literals, each accepted by `valid`.
fn string_list(
    expr: &Expr,
    option: &str,
    what: &str,
    valid: impl Fn(&str) -> bool,
) -> syn::Result<Vec<LitStr>> {
    let Expr::Array(array) = expr else {
        return Err(syn::Error::new_spanned(
            expr,
            format!("`{option}` takes a list of strings"),
        ));
    };
    if array.elems.is_empty() {
        return Err(syn::Error::new_spanned(
            expr,
            format!("`{option}` needs at least one {what}"),
        ));
    }
    let mut out: Vec<LitStr> = Vec::new();
    for elem in &array.elems {
        let Some(Lit::Str(s)) = lit(elem) else {
            return Err(syn::Error::new(
                elem.span(),
                format!("each {what} in `{option}` must be a string"),
            ));
        };
        let value = s.value();
        if !valid(&value) {
            return Err(syn::Error::new(
                s.span(),
                format!("`{value}` is not a valid {what}"),
            ));
        }
        if out.iter().any(|o| o.value().eq_ignore_ascii_case(&value)) {
            return Err(syn::Error::new(
                s.span(),
                format!("`{value}` is listed twice in `{option}`"),
            ));
        }
        out.push(s.clone());
    }
    Ok(out)
}
