//! One request's exchange with the cache: its route, key and counters
//! (`Exchange`, whose methods the flow's files add), and what it asks beyond
//! its key.

use super::conditional::Conditions;
use crate::cache::RouteCache;
use crate::observe::RouteHandle;
use crate::policy::{AuthPolicy, RoutePolicy};
use tracing::Span;

/// One request's route, cache and key.
#[derive(Clone)]
pub(super) struct Exchange {
    pub(super) cache: RouteCache,
    pub(super) policy: &'static RoutePolicy,
    /// The query parameters the key keeps ([`CachedRoute::query`]).
    pub(super) query: crate::key::QueryPolicy,
    pub(super) key: String,
    /// The request target and the route's tags, to index a stored entry by.
    pub(super) uri: http::Uri,
    pub(super) tags: Vec<String>,
    /// The route's counters, and the request's span.
    pub(super) metrics: RouteHandle,
    pub(super) span: RequestSpan,
    /// The request asked, with the token, for an explanation
    /// (`explain_header`): the response carries the key's short hash for
    /// the layer to report.
    pub(super) explain: bool,
}

/// A request's span when tracing wants it, boxed: the common case (no
/// subscriber at `debug`) carries one word through the flow, not a span.
#[derive(Clone)]
pub(super) struct RequestSpan(Option<Box<Span>>);

impl RequestSpan {
    #[inline]
    pub(super) fn new(span: Span) -> Self {
        Self((!span.is_disabled()).then(|| Box::new(span)))
    }

    /// Runs `record` on the span, if there is one.
    #[inline]
    pub(super) fn record_with(&self, record: impl FnOnce(&Span)) {
        if let Some(span) = &self.0 {
            record(span);
        }
    }

    /// The span to instrument a future with.
    pub(super) fn span(&self) -> Span {
        self.0.as_deref().cloned().unwrap_or_else(Span::none)
    }
}

/// What a request asks of the cache, beyond its key.
pub(crate) struct Intent {
    /// A `HEAD` is answered from the `GET` entry but never stores one: its
    /// handler may have produced an empty body.
    pub(crate) head: bool,
    /// The layer accepted the request's explain header and token.
    pub(crate) explain: bool,
    /// `If-None-Match`, `If-Modified-Since`, `Range`, `If-Range`.
    pub(crate) conditions: Conditions,
    pub(crate) client: ClientDirective,
}

/// What an honoured client `Cache-Control` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientDirective {
    /// Nothing (or client directives are not honoured).
    None,
    /// `no-cache`/`max-age=0`: answer from the handler, refresh the entry.
    Refresh,
    /// `no-store`: answer from the handler, store nothing.
    NoStore,
}

/// Whether the route's keys carry a credential (`private`, or `vary` on a
/// credential header): its responses are for one user and go out
/// `Cache-Control: private`, never `public`.
pub(crate) fn keys_credentials(policy: &RoutePolicy, config: &crate::config::CacheConfig) -> bool {
    policy.auth() == AuthPolicy::Private
        || policy.vary().iter().any(|name| config.is_credential(name))
}
