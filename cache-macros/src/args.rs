//! The attribute's grammar: `name = value` pairs separated by commas.

use proc_macro2::Span;
use syn::{
    parse::{Parse, ParseStream},
    spanned::Spanned,
    Expr, ExprLit, Lit, LitInt, LitStr, Token,
};

mod kw {
    syn::custom_keyword!(ttl);
    syn::custom_keyword!(max_body);
}

/// Every option, for "unknown option" messages.
const OPTIONS: &str = "`ttl`, `max_body`";

/// One option as written, keeping the keyword's span for diagnostics.
pub(crate) struct Opt<T> {
    pub(crate) keyword: Span,
    pub(crate) value: T,
}

/// The attribute's arguments as parsed; every field is optional here and
/// required ones are checked in `validate`.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) ttl: Option<Opt<Ttl>>,
    pub(crate) max_body: Option<Opt<u64>>,
    /// Span of the whole argument list, for "missing option" errors.
    pub(crate) span: Option<Span>,
}

/// A TTL in seconds with the span of the literal that gave it.
pub(crate) struct Ttl {
    pub(crate) secs: u32,
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

    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Rejects a second occurrence of an option, pointing at the repeat.
fn set_once<T>(
    slot: &mut Option<Opt<T>>,
    keyword: Span,
    name: &str,
    value: T,
    errors: &mut Errors,
) {
    if slot.is_some() {
        errors.push(syn::Error::new(
            keyword,
            format!("`{name}` is given more than once"),
        ));
    } else {
        *slot = Some(Opt { keyword, value });
    }
}

impl Args {
    /// Parses the arguments, collecting every error instead of stopping at
    /// the first. Returns what could be parsed alongside the errors.
    pub(crate) fn parse_all(input: ParseStream<'_>, errors: &mut Errors) -> Self {
        let mut args = Args {
            span: Some(input.span()),
            ..Args::default()
        };
        while !input.is_empty() {
            if let Err(e) = args.parse_one(input, errors) {
                errors.push(e);
                // Skip to the next comma and go on with the other options.
                while !input.is_empty() && !input.peek(Token![,]) {
                    let _ = input.parse::<proc_macro2::TokenTree>();
                }
            }
            if input.is_empty() {
                break;
            }
            if let Err(e) = input.parse::<Token![,]>() {
                errors.push(e);
                break;
            }
        }
        args
    }

    fn parse_one(&mut self, input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<()> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::ttl) {
            let keyword = input.parse::<kw::ttl>()?.span;
            input.parse::<Token![=]>()?;
            let value = parse_ttl(&input.parse()?)?;
            set_once(&mut self.ttl, keyword, "ttl", value, errors);
        } else if lookahead.peek(kw::max_body) {
            let keyword = input.parse::<kw::max_body>()?.span;
            input.parse::<Token![=]>()?;
            let value = parse_size(&input.parse()?)?;
            set_once(&mut self.max_body, keyword, "max_body", value, errors);
        } else if input.peek(syn::Ident) {
            let ident: syn::Ident = input.parse()?;
            return Err(syn::Error::new(
                ident.span(),
                format!("unknown option `{ident}`; valid options are {OPTIONS}"),
            ));
        } else {
            return Err(lookahead.error());
        }
        Ok(())
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let args = Self::parse_all(input, &mut errors);
        errors.finish().map(|()| args)
    }
}

/// `ttl = 3600` or `ttl = "1h"`: seconds, at least 1, at most `u32::MAX`.
fn parse_ttl(expr: &Expr) -> syn::Result<Ttl> {
    let secs = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int_secs(int)?,
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => duration_secs(s)?,
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => {
            return Err(syn::Error::new_spanned(expr, "`ttl` must be positive"))
        }
        _ => return Err(syn::Error::new(
            expr.span(),
            "`ttl` takes a number of seconds (`ttl = 3600`) or a duration string (`ttl = \"1h\"`)",
        )),
    };
    if secs == 0 {
        return Err(syn::Error::new_spanned(
            expr,
            "`ttl` must be at least one second",
        ));
    }
    u32::try_from(secs).map(|secs| Ttl { secs }).map_err(|_| {
        syn::Error::new_spanned(
            expr,
            format!("`ttl` is too large; the maximum is {} seconds", u32::MAX),
        )
    })
}

fn int_secs(int: &LitInt) -> syn::Result<u64> {
    if !int.suffix().is_empty() {
        return Err(syn::Error::new(
            int.span(),
            "`ttl` takes plain seconds without a type suffix",
        ));
    }
    int.base10_parse::<u64>().map_err(|_| {
        syn::Error::new(
            int.span(),
            format!("`ttl` is too large; the maximum is {} seconds", u32::MAX),
        )
    })
}

/// `"90s"`, `"10m"`, `"1h"`, `"1d"`.
fn duration_secs(lit: &LitStr) -> syn::Result<u64> {
    let text = lit.value();
    let text = text.trim();
    let err = |msg: &str| syn::Error::new(lit.span(), msg);
    if text.is_empty() {
        return Err(err(
            "`ttl` is empty; write a duration such as \"90s\", \"10m\", \"1h\" or \"1d\"",
        ));
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(err(
            "`ttl` must start with a number, as in \"90s\", \"10m\", \"1h\" or \"1d\"",
        ));
    }
    let scale =
        match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "" => return Err(err(
                "`ttl` needs a unit: `s`, `m`, `h` or `d` (or write plain seconds without quotes)",
            )),
            _ => {
                return Err(err(&format!(
                    "unknown unit `{unit}` in `ttl`; use `s`, `m`, `h` or `d`"
                )))
            }
        };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| {
            err(&format!(
                "`ttl` is too large; the maximum is {} seconds",
                u32::MAX
            ))
        })
}

/// `max_body = 65536`: bytes.
fn parse_size(expr: &Expr) -> syn::Result<u64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) if int.suffix().is_empty() => int
            .base10_parse::<u64>()
            .map_err(|_| syn::Error::new(int.span(), "`max_body` is too large")),
        _ => Err(syn::Error::new_spanned(
            expr,
            "`max_body` takes a number of bytes (`max_body = 65536`)",
        )),
    }
}
