// A module that shadows the prelude: the expansion must only use absolute
// paths.
#![allow(dead_code)]
use axum::Json;
use cache_runtime::cached_route;

type Result<T> = ::std::result::Result<T, ::std::string::String>;
struct Option;
struct Some;
struct String;
struct Box;
struct Vec;
struct Send;
struct Future;
trait ToString {}
mod core {}
mod std {}

fn ok() -> Result<()> {
    Ok(())
}

#[cached_route(ttl = 60)]
async fn handler(axum::extract::Path(id): axum::extract::Path<u32>) -> Json<u32> {
    ok().unwrap();
    Json(id)
}

#[cached_route(ttl = 60, key = id, vary = ["accept"], namespace = "n", max_body = 10)]
async fn keyed(axum::extract::Path(id): axum::extract::Path<u32>) -> Json<u32> {
    Json(id)
}

pub fn main() {
    let _ = (handler, keyed);
}
