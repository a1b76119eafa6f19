//! What keeps a backend fault from failing a request: the circuit
//! breaker, retries with backoff, and rate-limited fault logs. The bounded
//! call every backend operation goes through is `RouteCache::call`, in
//! `cache.rs`.

pub(crate) mod breaker;
pub(crate) mod fault;
pub(crate) mod retry;
