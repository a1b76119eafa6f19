//! The path through which generated code reaches the runtime crate.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote_spanned};

/// The versioned path through which generated code reaches the runtime:
/// `::cache_runtime::__private_<major>_<minor>_<patch>`, this crate's own
/// version. `cache-runtime` pins this crate exactly and defines the module
/// of its own version, so a mismatched pair cannot compile.
pub(crate) fn runtime() -> TokenStream {
    runtime_at(Span::call_site())
}

/// [`runtime`], spanned at `span`: inside a `quote_spanned!` at the user's
/// code, so that an error there is reported at that code.
pub(crate) fn runtime_at(span: Span) -> TokenStream {
    let module = format_ident!(
        "__private_{}",
        env!("CARGO_PKG_VERSION").replace(['.', '-', '+'], "_"),
        span = span
    );
    quote_spanned!(span=> ::cache_runtime::#module)
}
