use axum::{extract::Path, Json};
use cache_runtime::cached_route;

#[cached_route(ttl = 60)]
async fn handler(Path((a, mut b)): Path<(u32, String)>) -> Json<String> {
    b.push('!');
    Json(format!("{a}{b}"))
}

#[cached_route(ttl = 60, key = format!("{a}-{b}"))]
async fn keyed(Path((a, mut b)): Path<(u32, String)>) -> Json<String> {
    b.push('?');
    Json(format!("{a}{b}"))
}

pub fn main() {
    let _ = (handler, keyed);
}
