//! How the key's request part is derived from the `key` option.

use crate::args::Args;
use crate::item::Handler;
use syn::Expr;

/// How the request part of the key is derived.
pub(crate) enum KeyKind<'a> {
    Request,
    /// `key = path::to::function` or `key = |parts| …`: called with the
    /// request parts.
    Function(&'a Expr),
    /// Any other expression, over the handler's bound parameters.
    Handler(&'a Expr),
}

pub(crate) fn key_kind<'a>(args: &'a Args, handler: &Handler) -> KeyKind<'a> {
    let Some(key) = &args.key else {
        return KeyKind::Request;
    };
    match &key.value {
        Expr::Path(path)
            if path
                .path
                .get_ident()
                .is_some_and(|ident| handler.binds(ident)) =>
        {
            KeyKind::Handler(&key.value)
        }
        // `key = SOME_CONSTANT` is a value, not a function.
        Expr::Path(path)
            if path.path.segments.last().is_some_and(|s| {
                let name = s.ident.to_string();
                name.chars().any(|c| c.is_ascii_uppercase())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            }) =>
        {
            KeyKind::Handler(&key.value)
        }
        expr @ (Expr::Path(_) | Expr::Closure(_)) => KeyKind::Function(expr),
        expr => KeyKind::Handler(expr),
    }
}
