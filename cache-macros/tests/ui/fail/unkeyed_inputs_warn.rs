// The unkeyed-input warnings are warnings; `deny` makes them errors here,
// so that trybuild records them.
#![deny(deprecated)]

use axum::extract::{ConnectInfo, Path};
use axum::http::HeaderMap;
use cache_runtime::cached_route;
use std::net::SocketAddr;

#[cached_route(ttl = 60)]
async fn agent(headers: HeaderMap) -> String {
    format!("{:?}", headers.get("user-agent"))
}

#[cached_route(ttl = 60)]
async fn address(Path(id): Path<u64>, ConnectInfo(addr): ConnectInfo<SocketAddr>) -> String {
    format!("{id} {addr}")
}

fn main() {}
