use axum::extract::{Path, Query};
use cache_runtime::cached_route;
use std::collections::HashMap;

#[cached_route(ttl = 60, key = id)]
async fn handler(Path(mut id): Path<u64>, Query(_q): Query<HashMap<String, String>>) -> String {
    id += 1;
    id.to_string()
}

fn main() {}
