//! One request's exchange with the cache: its route, key and counters
//! (`Exchange`, whose methods the flow's files add), and what it asks beyond
//! its key.

use super::conditional::Conditions;
use crate::cache::RouteCache;
use crate::fill::generation;
use crate::http::headers::add_vary;
use crate::key;
use crate::observe::RouteHandle;
use crate::policy::{AuthPolicy, RoutePolicy};
use crate::store::Index;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use tracing::Span;

/// The request's full target. Under `Router::nest`, the URI a nested
/// router (or a layer on it) sees has lost the nest's prefix; axum keeps
/// the full one as `OriginalUri`. Keys and invalidations use this one, so
/// that `/a/items` and `/b/items` never share an entry.
pub(crate) fn full_uri<'a>(extensions: &'a http::Extensions, uri: &'a http::Uri) -> &'a http::Uri {
    extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(uri, |original| &original.0)
}

/// A request's path and query, which a stored entry is indexed by: the
/// part of its `Uri` the cache keeps (40 bytes against the `Uri`'s 88, in
/// every request's state).
#[derive(Debug, Clone)]
pub(crate) struct RequestTarget(Option<http::uri::PathAndQuery>);

impl RequestTarget {
    pub(crate) fn of(uri: &http::Uri) -> Self {
        Self(uri.path_and_query().cloned())
    }

    /// The path, as [`http::Uri::path`] gives it.
    pub(crate) fn path(&self) -> &str {
        self.0.as_ref().map_or("", http::uri::PathAndQuery::path)
    }

    /// The query, as [`http::Uri::query`] gives it.
    pub(crate) fn query(&self) -> Option<&str> {
        self.0.as_ref().and_then(http::uri::PathAndQuery::query)
    }
}

/// One request's route, cache and key.
#[derive(Clone)]
pub(super) struct Exchange {
    pub(super) cache: RouteCache,
    pub(super) policy: &'static RoutePolicy,
    /// The query parameters the key keeps ([`CachedRoute::query`]; a
    /// function, which takes a third of the room of its value).
    pub(super) query: fn() -> crate::key::QueryPolicy,
    pub(super) key: String,
    /// The request target and the route's tags, to index a stored entry by.
    pub(super) target: RequestTarget,
    pub(super) tags: Vec<String>,
    /// The route's counters, and the request's span.
    pub(super) metrics: RouteHandle,
    pub(super) span: RequestSpan,
    /// The request asked, with the token, for an explanation
    /// (`explain_header`): the response carries the key's short hash for
    /// the layer to report.
    pub(super) explain: bool,
}

impl Exchange {
    /// The index sets a stored entry is listed in: its request path (for
    /// [`RouteCache::invalidate`](crate::RouteCache::invalidate)) and its
    /// tags.
    pub(super) fn indexes(&self) -> Vec<Index> {
        let config = self.cache.config();
        let prefix = &config.prefix;
        let path = key::path_index(
            prefix,
            self.target.path().as_bytes(),
            self.target.query().map(str::as_bytes),
            (self.query)(),
        );
        let path = Index {
            key: path,
            cap: config.max_path_variants,
        };
        std::iter::once(path)
            .chain(self.tags.iter().map(|tag| Index {
                key: key::tag_index(prefix, tag),
                cap: config.max_tag_members,
            }))
            .collect()
    }

    /// The generation keys of everything whose invalidation names a fill
    /// of this request's entry (see `crate::fill::generation`): its index sets,
    /// its route, its namespace, and everything.
    pub(super) fn generation_keys(&self) -> Vec<String> {
        let policy = self.policy;
        let prefix = &self.cache.config().prefix;
        generation::keys_for(
            prefix,
            policy.namespace(),
            policy.key_id(),
            self.indexes().iter().map(|index| index.key.as_str()),
        )
    }

    /// The generation keys of this request's tags only: what a lookup made
    /// before the tags were known (a revalidating route's) could not note.
    pub(super) fn tag_generation_keys(&self) -> Vec<String> {
        let prefix = &self.cache.config().prefix;
        self.tags
            .iter()
            .map(|tag| generation::of_index(prefix, &key::tag_index(prefix, tag)))
            .collect()
    }

    pub(super) fn stale_if_error(&self) -> bool {
        self.policy
            .stale_if_error()
            .unwrap_or(self.cache.config().stale_if_error)
    }

    /// The route's stale window in seconds.
    pub(super) fn stale_secs(&self) -> u32 {
        self.policy.stale_secs_under(self.cache.config())
    }

    /// The largest body stored: the route's limit, else the cache's.
    pub(super) fn body_limit(&self) -> usize {
        self.policy
            .max_body()
            .unwrap_or(self.cache.config().max_body)
    }

    /// Whether this route's keys carry a credential: its responses go out
    /// `private` (see [`super::keys_credentials`]).
    pub(super) fn personal(&self) -> bool {
        super::keys_credentials(self.policy, self.cache.config())
    }

    /// Runs the handler; its response is not stored.
    pub(super) async fn uncached<F>(&self, handler: F) -> Response
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let started = std::time::Instant::now();
        let mut response = handler.await.into_response();
        self.metrics.handler_ran(started.elapsed());
        add_vary(response.headers_mut(), self.policy.vary());
        response
    }
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
