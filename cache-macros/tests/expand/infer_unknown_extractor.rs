use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use cache_runtime::cached_route;

/// An extractor of the application's own.
struct Tenant(String);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.uri.path().to_owned()))
    }
}

/// An extractor the macro does not know may read anything: the host and
/// the whole query are keyed, and the route gets the warning.
#[cached_route(ttl = 60)]
async fn home(Tenant(tenant): Tenant) -> String {
    tenant
}

fn main() {}
