//! The hit/miss flow of one cached request.
//!
//! **Hit path**, in order:
//! 1. `super::context` (in `axum/mod.rs`): the hidden extractor derives the
//!    key from the request (method, credentials, path and query, `vary`)
//!    and reads `If-None-Match` and honoured client directives.
//! 2. [`serve`]/[`serve_with`] → `start`: finishes the key, asks the
//!    in-process tiers without I/O (`RouteCache::lookup_now`, in
//!    `fill/lookup.rs`); an embedded or L1 hit is answered here, before any
//!    future exists.
//! 3. Otherwise one boxed future: `RouteCache::fetch` (`fill/lookup.rs`), one
//!    backend round trip through `RouteCache::call` (`cache.rs`: breaker,
//!    timeout).
//! 4. `Exchange::answer`: fresh → `Exchange::hit` (`respond.rs`: stored headers,
//!    `Age`, `Cache-Control`, `Cache-Status`, or a `304`); stale → the
//!    same, plus `Exchange::refresh_in_background`. A stored body of
//!    16 KiB or more that this client needs decompressed (and is not kept
//!    decompressed) first goes to a codec thread (`Answer::DecodeFirst`,
//!    `Exchange::decode_ahead`, `http/offload.rs`); the hit follows.
//!
//! **Miss path**, in order:
//! 1. `Exchange::answer` → `Exchange::miss`: after a fault, for `HEAD` or a
//!    client's `no-store`, the handler runs uncached (`Exchange::uncached`).
//! 2. `Exchange::coalesced_miss` → `Exchange::coalesced` (`axum/fill.rs`):
//!    one leader per key in process (`fill/coalesce.rs`), then the
//!    cross-instance lease
//!    (`RouteCache::acquire_lease`, `fill/lease.rs`); followers and instances
//!    without the lease wait for the leader's entry
//!    (`RouteCache::wait_for_entry`).
//! 3. `Exchange::compute` (`axum/fill.rs`): runs the handler, then `store_if_cacheable`
//!    (`storable.rs`): the storability decision (`refusal`), TTL capping,
//!    body buffering, encoding, and `RouteCache::save` (`fill/lookup.rs`: entry,
//!    index sets, L1 message).
//! 4. `Exchange::respond_stored` (`respond.rs`): the cache's headers, or a
//!    `304`.

use super::conditional::Conditions;
use super::counted::{record_bypass, request_span, Count, PendingRequest};
use super::exchange::{Exchange, RequestSpan};
use super::fill::FillResult;
use super::respond::HitKind;
use super::{ClientDirective, Context, Found, Intent, Prefetch, RequestContext, RequestKey};
use crate::cached::CachedRoute;
use crate::clock::now_ms;
use crate::entry::prepared::Prepared;
use crate::entry::Freshness;
use crate::fill::generation::Generations;
use crate::fill::lease::Lease;
use crate::fill::lookup::Lookup;
use crate::http::headers::CACHE_STATUS;
use crate::http::semantics::CacheStatus;
use crate::observe::names as metric;
use crate::observe::{Answered, Bypass, NotStored};
use crate::policy::RoutePolicy;
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use std::{
    future::{Future, Ready},
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};
use tracing::{field, Instrument};

static MISSING_LAYER_LOGGED: AtomicBool = AtomicBool::new(false);

/// Runs a cached route: answers from the cache when it can, otherwise runs
/// `handler` and stores its response when it is cacheable. Called by the code
/// `#[cached_route]` generates; `handler` is the user's body, not yet started.
///
/// A hit that needs no I/O (the in-process store, an L1 hit) is answered
/// before this returns, and the returned future is then a ready response:
/// the handler's future and the miss machinery never take room in the
/// request's future, which axum allocates for every request.
pub fn serve<R, F>(ctx: RequestContext<R>, handler: F) -> impl Future<Output = Response> + Send
where
    R: CachedRoute,
    F: Future + Send + 'static,
    F::Output: IntoResponse,
{
    start::<R, F>(ctx.into_state(), None, Vec::new(), handler)
}

/// [`serve`] for routes whose key is an expression over the handler's
/// bound parameters (`key = format!("item:{id}")`: `key` is its value)
/// and for routes with `tags` (the entry is listed under each, for
/// [`RouteCache::invalidate_tag`](crate::RouteCache::invalidate_tag)).
pub fn serve_with<R, F>(
    ctx: RequestContext<R>,
    key: Option<String>,
    tags: Vec<String>,
    handler: F,
) -> impl Future<Output = Response> + Send
where
    R: CachedRoute,
    F: Future + Send + 'static,
    F::Output: IntoResponse,
{
    start::<R, F>(ctx.into_state(), key, tags, handler)
}

/// A request's answer: ready (an in-process hit), or still to come.
type Serving = Either<Ready<Response>, Pin<Box<dyn Future<Output = Response> + Send>>>;

fn ready(response: Response) -> Serving {
    Either::Left(std::future::ready(response))
}

/// A Redis hit's future is allocated here, once per request: 1,024 bytes
/// with Rust 1.95 (its `size_of_val`, printed here when it was measured),
/// within glibc's per-thread cache of small blocks (up to 1,032 bytes),
/// which serves it in a few dozen instructions where a larger block took
/// about a thousand. The fetch boxes its rare paths to stay there.
fn pending(future: impl Future<Output = Response> + Send + 'static) -> Serving {
    Either::Right(Box::pin(future))
}

fn start<R, F>(state: Context, custom_key: Option<String>, tags: Vec<String>, handler: F) -> Serving
where
    R: CachedRoute,
    F: Future + Send + 'static,
    F::Output: IntoResponse,
{
    let policy: &'static RoutePolicy = &R::POLICY;
    // Requests the cache does not answer (bypassed, or no layer) run the
    // handler in a boxed future: one allocation each, the price of a small
    // ready future for hits.
    let span = request_span(policy.route_id());
    let keyed = match state {
        Context::RequestKey(keyed) => keyed,
        Context::Bypass(bypassed) => {
            let reason = bypassed.reason;
            bypassed.metrics.bypassed(reason);
            record_bypass(&span, reason);
            let status = bypassed.status;
            return pending(
                async move {
                    tracing::debug!(reason = reason.as_str(), "route cache: bypass");
                    let mut response = handler.await.into_response();
                    response.headers_mut().insert(CACHE_STATUS, status);
                    response
                }
                .instrument(span),
            );
        }
        Context::NoLayer => {
            if !MISSING_LAYER_LOGGED.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    route = policy.route_id(),
                    "route cache: no RouteCache layer on this router; add `.layer(cache.layer())` \
                     after the cached routes. Serving uncached."
                );
            }
            // No cache, so no registered handles: rare, and looked up here.
            let route = policy.route_id();
            let (outcome, reason) = (Answered::Bypass.as_str(), Bypass::NoLayer.as_str());
            metrics::counter!(metric::REQUESTS, "route" => route, "outcome" => outcome)
                .increment(1);
            metrics::counter!(metric::BYPASSES, "route" => route, "reason" => reason).increment(1);
            record_bypass(&span, Bypass::NoLayer);
            return pending(async move { handler.await.into_response() }.instrument(span));
        }
    };
    let RequestKey {
        cache,
        metrics,
        mut key,
        target,
        request,
        prepared,
    } = keyed;
    let (key, found) = match prepared.map(|p| *p) {
        Some(Prefetch { key, found }) => (key, Some(found)),
        None => {
            if let Some(value) = custom_key {
                key.custom(&value);
            }
            (key.finish(), None)
        }
    };
    let span = RequestSpan::new(span);
    span.record_with(|span| {
        span.record("key_hash", field::display(cache.key_name(&key)));
    });
    let route = Exchange {
        metrics,
        cache,
        policy,
        query: R::query,
        key,
        target,
        tags,
        span,
        explain: request.explain,
    };
    if route.shadows() {
        let span = route.span.span();
        return pending(
            async move {
                let response = route.shadow(handler, found, &request).await;
                route.edge_tagged(response)
            }
            .instrument(span),
        );
    }
    let looked = match found {
        Some(Found::Revalidate(stale)) => {
            let span = route.span.span();
            return pending(
                async move {
                    let response = route.revalidate(handler, stale, &request).await;
                    route.edge_tagged(response)
                }
                .instrument(span),
            );
        }
        Some(Found::Lookup(lookup)) => Some((lookup, now_ms())),
        None if request.client == ClientDirective::None => route.cache.lookup_now(&route.key),
        None => Some((Lookup::Miss, now_ms())),
    };
    match looked {
        Some((lookup, now)) => match route.answer(lookup, handler, &request, false, now) {
            Answer::Served(response) => ready(route.edge_tagged(response)),
            unanswered => {
                let span = route.span.span();
                pending(
                    async move {
                        let response = route.complete(unanswered, &request).await;
                        route.edge_tagged(response)
                    }
                    .instrument(span),
                )
            }
        },
        // Redis must be asked.
        None => {
            let span = route.span.span();
            pending(
                async move {
                    // A HEAD never stores, so it must not take the lease.
                    let claim = (!request.head).then_some(|| route.generation_keys());
                    let lookup = route.cache.fetch(&route.key, claim).await;
                    let response = match route.answer(lookup, handler, &request, false, now_ms()) {
                        Answer::Served(response) => response,
                        // Boxed: the miss's state (coalescing, leases, buffering and
                        // storing the body) would otherwise sit in the future of
                        // every request that reaches Redis, hits included; so
                        // would the rare decompression ahead of a hit.
                        unanswered => Box::pin(route.complete(unanswered, &request)).await,
                    };
                    route.edge_tagged(response)
                }
                .instrument(span),
            )
        }
    }
}

/// A lookup's consequence.
enum Answer<F> {
    Served(Response),
    /// The handler must run.
    Compute(F, LookupMiss),
    /// The entry answers once its large body is decompressed for this
    /// client, off the async worker ([`Exchange::decode_ahead`]).
    DecodeFirst(F, Arc<Prepared>),
}

/// Why a lookup did not answer, and what it leaves to the miss.
#[derive(Default)]
struct LookupMiss {
    /// After a backend fault.
    faulted: bool,
    /// The stale entry to serve instead if the handler fails
    /// (`stale-if-error`).
    fallback: Option<Arc<Prepared>>,
    /// The lease, and the fill's generations, when the lookup settled it.
    lease: Option<(Lease, Generations)>,
}

impl Exchange {
    /// Serves a stored entry that is fresh (refreshing it ahead of its
    /// expiry when the route asks), or stale with a refresh started;
    /// anything else needs the handler.
    /// A large body this client does not take the coding of is first
    /// decompressed off the worker ([`Answer::DecodeFirst`]), unless
    /// `decoded` says that was done.
    fn answer<F>(
        &self,
        lookup: Lookup,
        handler: F,
        request: &Intent,
        decoded: bool,
        now: u64,
    ) -> Answer<F>
    where
        F: Future + Send + 'static,
        F::Output: IntoResponse,
    {
        let conditional = &request.conditions;
        let decode_first =
            |entry: &Prepared| !decoded && self.large_decode(entry, conditional).is_some();
        match lookup {
            Lookup::Hit(entry) => match entry.entry().freshness(now) {
                Freshness::Fresh if decode_first(&entry) => Answer::DecodeFirst(handler, entry),
                Freshness::Fresh => match self.hit(&entry, conditional, HitKind::Fresh, now) {
                    Some(response) => {
                        self.answered(Answered::Hit);
                        // A HEAD's handler never stores.
                        if !request.head && self.due_for_refresh(entry.entry()) {
                            tracing::debug!("route cache: refreshing ahead of expiry");
                            self.refresh_in_background(handler, entry.entry().stored_at_ms, true);
                        }
                        Answer::Served(response)
                    }
                    None => Answer::Compute(handler, LookupMiss::default()),
                },
                // Stale only for errors (the handler's `stale-if-error`
                // without `stale-while-revalidate`, RFC 5861 §4): the
                // handler answers, and the entry stands in if it fails.
                Freshness::Stale if entry.entry().stale_on_error_only => {
                    let fallback = Some(entry);
                    Answer::Compute(
                        handler,
                        LookupMiss {
                            fallback,
                            ..LookupMiss::default()
                        },
                    )
                }
                Freshness::Stale if decode_first(&entry) => Answer::DecodeFirst(handler, entry),
                Freshness::Stale => match self.hit(&entry, conditional, HitKind::Stale, now) {
                    Some(response) => {
                        self.answered(Answered::Stale);
                        // A HEAD's handler may send no body: it never
                        // refreshes the GET entry (the next GET does).
                        if !request.head {
                            self.refresh_in_background(handler, entry.entry().stored_at_ms, false);
                        }
                        Answer::Served(response)
                    }
                    None => Answer::Compute(handler, LookupMiss::default()),
                },
                // Older than its stale window (clocks differ between
                // instances): a miss.
                _ => Answer::Compute(handler, LookupMiss::default()),
            },
            Lookup::Miss => Answer::Compute(handler, LookupMiss::default()),
            Lookup::Leased(lease, noted) => {
                let lease = Some((lease, noted));
                Answer::Compute(
                    handler,
                    LookupMiss {
                        lease,
                        ..LookupMiss::default()
                    },
                )
            }
            Lookup::Fault => {
                let faulted = true;
                Answer::Compute(
                    handler,
                    LookupMiss {
                        faulted,
                        ..LookupMiss::default()
                    },
                )
            }
        }
    }

    /// The response an [`Answer`] leads to: its own when served, else the
    /// handler's ([`Self::miss`]) or the entry's once decompressed
    /// ([`Self::decoded_answer`]).
    async fn complete<F>(&self, answer: Answer<F>, request: &Intent) -> Response
    where
        F: Future + Send + 'static,
        F::Output: IntoResponse,
    {
        match answer {
            Answer::Served(response) => response,
            Answer::Compute(handler, missed) => self.miss(handler, missed, request).await,
            Answer::DecodeFirst(handler, entry) => {
                self.decoded_answer(entry, handler, request).await
            }
        }
    }

    /// The answer from `entry` once its large body is decompressed for
    /// this client on a codec thread ([`Answer::DecodeFirst`]); the
    /// handler's when the entry does not answer after all.
    async fn decoded_answer<F>(
        &self,
        entry: Arc<Prepared>,
        handler: F,
        request: &Intent,
    ) -> Response
    where
        F: Future + Send + 'static,
        F::Output: IntoResponse,
    {
        self.decode_ahead(&entry, &request.conditions).await;
        match self.answer(Lookup::Hit(entry), handler, request, true, now_ms()) {
            Answer::Served(response) => response,
            Answer::Compute(handler, missed) => Box::pin(self.miss(handler, missed, request)).await,
            // Not after a decode; were it to, the handler answers.
            Answer::DecodeFirst(handler, _) => {
                Box::pin(self.miss(handler, LookupMiss::default(), request)).await
            }
        }
    }

    /// Runs the handler for a request the cache could not answer; a 5xx
    /// answer is replaced by `fallback`, a stale entry, when there is one.
    async fn miss<F>(&self, handler: F, missed: LookupMiss, request: &Intent) -> Response
    where
        F: Future,
        F::Output: IntoResponse,
    {
        // Counted if the request is dropped before it is answered (the
        // client went away, a timeout layer gave up).
        let LookupMiss {
            faulted,
            fallback,
            lease,
        } = missed;
        let provisional = if faulted {
            Answered::Error
        } else {
            Answered::Miss
        };
        let unanswered = PendingRequest::new(self, provisional);
        let (response, count) = self.run_miss(handler, faulted, lease, request).await;
        unanswered.settle();
        let stale = match fallback.filter(|_| response.status().is_server_error()) {
            Some(stale) => {
                self.decode_ahead(&stale, &request.conditions).await;
                self.hit(&stale, &request.conditions, HitKind::Stale, now_ms())
            }
            None => None,
        };
        match stale {
            Some(stale) => {
                self.answered(Answered::Stale);
                self.metrics.stale_on_error();
                tracing::debug!(
                    status = response.status().as_u16(),
                    "route cache: handler failed; serving the stale entry (stale-if-error)"
                );
                stale
            }
            None => {
                match count {
                    Count::Answered(how) => self.answered(how),
                    Count::Bypassed(why) => self.bypassed(why),
                }
                response
            }
        }
    }

    async fn run_miss<F>(
        &self,
        handler: F,
        faulted: bool,
        lease: Option<(Lease, Generations)>,
        request: &Intent,
    ) -> (Response, Count)
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let conditional = &request.conditions;
        if faulted {
            // After a fault, do not pay for a second failing call.
            let response = self.uncached(handler).await;
            let response = self.respond(response, CacheStatus::BackendError, None, conditional);
            return (response, Count::Answered(Answered::Error));
        }
        if request.head {
            let response = self.uncached(handler).await;
            let outcome = CacheStatus::UriMiss {
                stored: false,
                detail: Some(NotStored::Head),
            };
            let response = self.respond(response, outcome, None, conditional);
            return (response, Count::Answered(Answered::Miss));
        }
        match request.client {
            ClientDirective::NoStore => {
                tracing::debug!(reason = Bypass::NoStore.as_str(), "route cache: bypass");
                let response = self.uncached(handler).await;
                let outcome = CacheStatus::Request { stored: false };
                let response = self.respond(response, outcome, None, conditional);
                (response, Count::Bypassed(Bypass::NoStore))
            }
            ClientDirective::Refresh => {
                let stored = self.compute(handler).await;
                let outcome = CacheStatus::Request {
                    stored: stored.stored,
                };
                let response = self.respond(stored.response, outcome, stored.etag, conditional);
                (response, Count::Answered(Answered::Miss))
            }
            ClientDirective::None => {
                let (response, how) = self.coalesced_miss(handler, conditional, lease).await;
                (response, Count::Answered(how))
            }
        }
    }

    /// A miss, computed once however many requests (in this process and,
    /// with Redis, across instances) miss the key at the same time.
    ///
    /// `leased`: the lease and the noted generations, when the lookup
    /// settled it. A follower keeps the lease it took until its leader is
    /// done, so that other instances keep waiting for this one's fill.
    async fn coalesced_miss<F>(
        &self,
        handler: F,
        conditional: &Conditions,
        leased: Option<(Lease, Generations)>,
    ) -> (Response, Answered)
    where
        F: Future,
        F::Output: IntoResponse,
    {
        self.coalesced(conditional, leased, |noted| async move {
            let stored = self.compute_noted(handler, noted).await;
            let encoded = stored.encoded.clone();
            FillResult {
                response: self.respond_stored(stored, conditional),
                encoded,
                how: Answered::Miss,
            }
        })
        .await
    }

    /// `response` with the route's tags for an edge cache in front, when
    /// the cache sends them (see [`crate::edge`]).
    fn edge_tagged(&self, mut response: Response) -> Response {
        let config = self.cache.config();
        if let Some(which) = config.edge_tags {
            let prefix = &config.prefix;
            // The route's own tags, then its scope tags.
            let scope = [
                Some(crate::edge::route_tag(prefix, self.policy.route_id())),
                self.policy
                    .namespace()
                    .map(|namespace| crate::edge::namespace_tag(prefix, namespace)),
                Some(crate::edge::all_tag(prefix)),
            ];
            let tags = self.tags.iter().chain(scope.iter().flatten());
            crate::edge::add_tags(response.headers_mut(), which, tags.map(String::as_str));
        }
        if self.explain {
            let key = self.cache.key_name(&self.key);
            response
                .extensions_mut()
                .insert(super::layer::ExplainedKey(key));
        }
        response
    }
}
