//! HTTP rules the cache applies: freshness (RFC 9111), the semantics of
//! stored headers and `Cache-Status`, and content codings.

pub(crate) mod encoding;
pub(crate) mod freshness;
pub(crate) mod headers;
pub(crate) mod offload;
pub(crate) mod semantics;
