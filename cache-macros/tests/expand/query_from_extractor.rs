use axum::extract::{Path, Query};
use cache_runtime::cached_route;
use std::collections::HashMap;

/// The query is read only through `Query<…>`: the marker's `query()` asks
/// the runtime, once, which fields the type deserializes (a struct's field
/// names; for this map, none can be learned and every parameter is kept).
#[cached_route(ttl = 60)]
async fn list(Path(kind): Path<String>, Query(filters): Query<HashMap<String, String>>) -> String {
    kind + &filters.len().to_string()
}

fn main() {}
