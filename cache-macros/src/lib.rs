//! The `#[cached_route]` and `#[invalidates]` attributes and the `route!`
//! macro. Use them through `cache-runtime`, which re-exports them and
//! documents every option.

mod args;
mod expand;
mod item;
mod policy;
mod validate;

use proc_macro::TokenStream;

/// Caches an async axum handler's successful responses. See
/// `cache_runtime::cached_route` for the full documentation.
#[proc_macro_attribute]
pub fn cached_route(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::cached_route(args.into(), input.into()).into()
}

/// Invalidates cache entries after a handler's successful (2xx) response.
/// See `cache_runtime::invalidates` for the full documentation.
#[proc_macro_attribute]
pub fn invalidates(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::invalidates(args.into(), input.into()).into()
}

/// Names the route of a `#[cached_route]` handler, for
/// `RouteCache::invalidate_route`. See `cache_runtime::route`.
#[proc_macro]
pub fn route(input: TokenStream) -> TokenStream {
    expand::route(input.into()).into()
}
