// Extractors the macro cannot see into (the whole request, an extractor
// it does not know) are keyed on the host and the whole query, and warned
// about for the headers they may read. `deny` makes the
// warnings errors here, so that trybuild records them.
#![deny(deprecated)]

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use cache_runtime::cached_route;

struct Tenant(String);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.uri.path().to_owned()))
    }
}

#[cached_route(ttl = 60)]
async fn whole(request: Request) -> String {
    request.uri().to_string()
}

#[cached_route(ttl = 60)]
async fn tenant(Tenant(tenant): Tenant) -> String {
    tenant
}

fn main() {}
