//! The `#[cached_route]` and `#[invalidates]` attributes and the `route!`
//! macro, for the `cache-runtime` crate. Depend on `cache-runtime`, which
//! re-exports them (and pins this crate at its exact version); the code
//! they generate calls into it.
//!
//! Stages, one file each: `args` (the attribute's grammar), `item` (the
//! handler as parsed: signature precisely, body as tokens), `validate`
//! (rules on the handler and across options), `inputs` (what the
//! extractors read: the query through `Query<T>`, inputs the key does not
//! cover), `policy` (the route's policy constant) and `expand` (the
//! wrapper).

mod args;
mod errors;
mod expand;
mod inputs;
mod item;
mod key;
mod paths;
mod policy;
mod validate;
mod values;

use proc_macro::TokenStream;

#[doc = include_str!("../docs/cached_route.md")]
#[proc_macro_attribute]
pub fn cached_route(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::cached_route(args.into(), input.into()).into()
}

#[doc = include_str!("../docs/invalidates.md")]
#[proc_macro_attribute]
pub fn invalidates(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::invalidates(args.into(), input.into()).into()
}

#[doc = include_str!("../docs/route.md")]
#[proc_macro]
pub fn route(input: TokenStream) -> TokenStream {
    expand::route(input.into()).into()
}
