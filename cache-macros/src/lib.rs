//! The `#[cached_route]` attribute. Use it through `cache-runtime`, which
//! re-exports it and documents every option.

mod args;
mod expand;
mod item;
mod validate;

use proc_macro::TokenStream;

/// Caches an async axum handler's successful responses. See
/// `cache_runtime::cached_route` for the full documentation.
#[proc_macro_attribute]
pub fn cached_route(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::cached_route(args.into(), input.into()).into()
}
