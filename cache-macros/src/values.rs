//! The values of the attribute's options: each `parse_*` reads one
//! option's expression, or says at that expression what it takes.

use crate::errors::Errors;
use syn::{spanned::Spanned, Expr, ExprLit, Lit, LitStr};

/// Which query parameters take part in the key.
pub(crate) enum Query {
    All,
    None,
    Allow(Vec<LitStr>),
}

pub(crate) fn lit(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        Expr::Group(group) => lit(&group.expr),
        _ => None,
    }
}

/// `ttl = 3600` or `ttl = "1h"` (likewise `stale`): seconds, at most
/// `u32::MAX`, and at least 1 unless `zero_ok`.
pub(crate) fn parse_duration(expr: &Expr, option: &str, zero_ok: bool) -> syn::Result<u32> {
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
pub(crate) fn duration_secs(lit: &LitStr, option: &str) -> syn::Result<u64> {
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
pub(crate) fn parse_key(expr: &Expr) -> syn::Result<Expr> {
    if let Some(Lit::Str(s)) = lit(expr) {
        return Err(syn::Error::new(
            s.span(),
            "`key` takes Rust code, not a string: write `key = format!(\"item:{id}\")` or `key = path::to::function`",
        ));
    }
    Ok(expr.clone())
}

/// `query = all`, `query = none` or `query = ["page", "limit"]`.
pub(crate) fn parse_query(expr: &Expr) -> syn::Result<Query> {
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
pub(crate) fn parse_vary(expr: &Expr) -> syn::Result<Vec<LitStr>> {
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
pub(crate) fn parse_negative(expr: &Expr) -> syn::Result<Vec<u16>> {
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
pub(crate) fn parse_format_list(expr: &Expr, option: &str, what: &str) -> syn::Result<Vec<LitStr>> {
    string_list(expr, option, what, |s| {
        !s.trim().is_empty() && (what != "path" || s.starts_with('/'))
    })
}

/// `namespace = "v2"`: letters, digits, `_`, `-` and `.`.
pub(crate) fn parse_namespace(expr: &Expr) -> syn::Result<LitStr> {
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
pub(crate) fn parse_size(expr: &Expr) -> syn::Result<u64> {
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

/// A content coding `compress` names, with the literal's span (where a
/// coding whose cargo feature is off is reported).
pub(crate) struct Coding {
    /// The `Encoding` variant's name in the runtime.
    pub(crate) variant: &'static str,
    pub(crate) span: proc_macro2::Span,
}

/// `compress = "gzip"` (or `"br"`, `"zstd"`): the encoding entries are
/// stored in; `compress = false`: stored as they are.
pub(crate) fn parse_compress(expr: &Expr) -> syn::Result<Option<Coding>> {
    let coding = |s: &LitStr, variant| {
        Ok(Some(Coding {
            variant,
            span: s.span(),
        }))
    };
    match lit(expr) {
        Some(Lit::Bool(b)) if !b.value => Ok(None),
        Some(Lit::Str(s)) => match s.value().as_str() {
            "gzip" => coding(s, "Gzip"),
            "br" => coding(s, "Brotli"),
            "zstd" => coding(s, "Zstd"),
            _ => Err(compress_error(expr)),
        },
        _ => Err(compress_error(expr)),
    }
}

fn compress_error(expr: &Expr) -> syn::Error {
    syn::Error::new_spanned(
        expr,
        "`compress` takes \"gzip\", \"br\", \"zstd\" or `false`",
    )
}

/// `shared = true`: a boolean literal.
pub(crate) fn parse_bool(expr: &Expr, option: &str) -> syn::Result<bool> {
    match lit(expr) {
        Some(Lit::Bool(b)) => Ok(b.value),
        _ => Err(syn::Error::new_spanned(
            expr,
            format!("`{option}` takes `true` or `false`"),
        )),
    }
}

/// `refresh_ahead = 0.8` (the fraction of the TTL after which a hit also
/// refreshes the entry, strictly between 0 and 1), `true` (0.8) or
/// `false`: thousandths of the TTL, 0 for off.
pub(crate) fn parse_refresh_ahead(expr: &Expr) -> syn::Result<u16> {
    const MESSAGE: &str = "`refresh_ahead` takes a fraction of the TTL strictly between 0 and 1 \
                           (for example `0.8`: refresh once an entry is 80 % through its life), \
                           `true` (0.8) or `false`";
    match lit(expr) {
        Some(Lit::Bool(b)) => Ok(if b.value { 800 } else { 0 }),
        Some(Lit::Float(f)) => match f.base10_parse::<f64>() {
            Ok(fraction) if fraction > 0.0 && fraction < 1.0 => {
                // In (0, 1000): the cast cannot truncate.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let permille = (fraction * 1000.0).round() as u16;
                Ok(permille.clamp(1, 999))
            }
            _ => Err(syn::Error::new(f.span(), MESSAGE)),
        },
        _ => Err(syn::Error::new_spanned(expr, MESSAGE)),
    }
}

/// `cache_control = "public, max-age=60"`: a valid header value.
pub(crate) fn parse_cache_control(expr: &Expr) -> syn::Result<LitStr> {
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
pub(crate) fn string_list(
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
