//! The trait `#[cached_route]` implements for each route: what the
//! runtime knows of a route at compile time (its policy, its key
//! function, the query fields it learned, the slot for its counters).
//! Apart from `policy`, so that the policy stays a leaf that the route
//! registry (`observe`) can hold.

use crate::key::QueryPolicy;
use crate::observe::RouteSlot;
use crate::policy::RoutePolicy;

/// A cached route: its policy, and for `key = path::to::function`, the
/// function. Implemented by the code `#[cached_route]` generates on a hidden
/// marker type per handler.
pub trait CachedRoute: Send + Sync + 'static {
    /// The route's policy.
    const POLICY: RoutePolicy;

    /// The request part of the key for [`KeySource::Function`](crate::policy::KeySource::Function) routes.
    fn key(_parts: &http::request::Parts) -> Option<String> {
        None
    }

    /// Which query parameters take part in the key: the policy's
    /// ([`RoutePolicy::query`](crate::policy::RoutePolicy::query)), unless `#[cached_route]` learned them
    /// from the handler's `Query<T>` extractors (the fields `T`
    /// deserializes; see the `query` option).
    fn query() -> QueryPolicy {
        Self::POLICY.query()
    }

    /// Where the route keeps its counters for the first cache that serves
    /// it, so that a request finds them without a lookup. `#[cached_route]`
    /// gives every route one; without it, they are looked up by route id.
    #[doc(hidden)]
    fn slot() -> Option<&'static RouteSlot> {
        None
    }
}
