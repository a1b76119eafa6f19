//! How the key's request part is derived from the `key` option.

use crate::args::Args;
use crate::item::Handler;
use syn::Expr;

/// How the request part of the key is derived.
pub(crate) enum KeyKind<'a> {
    Request,
    /// `key = |parts| …`, or `key = some::path` naming a function of the
    /// request parts or a `const` or `static` value (the runtime's
    /// `KeyPart` tells them apart by type): evaluated from the request
    /// parts, before the extractors run.
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
        expr @ (Expr::Path(_) | Expr::Closure(_)) => KeyKind::Function(expr),
        expr => KeyKind::Handler(expr),
    }
}
