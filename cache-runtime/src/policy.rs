//! Per-route settings, written by `#[cached_route]` as a `const`.

/// What one cached route asks of the cache. The macro builds it in a `const`
/// from the attribute's arguments; it can also be built by hand for code that
/// calls the runtime directly.
///
/// ```
/// use cache_runtime::RoutePolicy;
///
/// const POLICY: RoutePolicy = RoutePolicy::new("app::get_item", 3600).with_max_body(64 * 1024);
/// assert_eq!(POLICY.ttl_secs(), 3600);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoutePolicy {
    route_id: &'static str,
    ttl_secs: u32,
    max_body: Option<usize>,
}

impl RoutePolicy {
    /// A policy for the route `route_id` (the handler's module path and name)
    /// whose entries live `ttl_secs` seconds. A TTL of 0 is raised to 1.
    pub const fn new(route_id: &'static str, ttl_secs: u32) -> Self {
        Self {
            route_id,
            ttl_secs: if ttl_secs == 0 { 1 } else { ttl_secs },
            max_body: None,
        }
    }

    /// Overrides the cache-wide body size limit for this route.
    #[must_use]
    pub const fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = Some(bytes);
        self
    }

    /// The route's identity, the second segment of its keys.
    pub const fn route_id(&self) -> &'static str {
        self.route_id
    }

    /// Time to live of the route's entries, in seconds.
    pub const fn ttl_secs(&self) -> u32 {
        self.ttl_secs
    }

    /// The route's own body size limit, if it sets one.
    pub const fn max_body(&self) -> Option<usize> {
        self.max_body
    }
}
