//! What keeps a backend fault from failing a request: the circuit
//! breaker, the bounded call every backend operation goes through, retries
//! with backoff, and rate-limited fault logs.

pub(crate) mod breaker;
pub(crate) mod call;
pub(crate) mod fault;
pub(crate) mod retry;
