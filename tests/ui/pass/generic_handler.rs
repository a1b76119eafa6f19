// A generic handler, routed as one instantiation, with a `where` clause
// and a type parameter that only the body uses.
use axum::{
    extract::{Path, State},
    routing::get,
    Json, Router,
};
use cache_runtime::{cached_route, RouteCache};

trait Repo: Clone + Send + Sync + 'static {
    fn name(&self, id: u64) -> String;
}

#[derive(Clone)]
struct Memory;

impl Repo for Memory {
    fn name(&self, id: u64) -> String {
        format!("user {id}")
    }
}

trait Label {
    const LABEL: &'static str;
}

struct Admin;

impl Label for Admin {
    const LABEL: &'static str = "admin";
}

#[cached_route(ttl = 60)]
async fn get_user<T: Repo>(State(repo): State<T>, Path(id): Path<u64>) -> Json<String> {
    Json(repo.name(id))
}

#[cached_route(ttl = 60, tags = ["user:{id}"])]
async fn labelled<L, T>(State(repo): State<T>, Path(id): Path<u64>) -> String
where
    L: Label + Send + 'static,
    T: Repo,
{
    format!("{}: {}", L::LABEL, repo.name(id))
}

pub fn main() {
    let _app: Router = Router::new()
        .route("/users/{id}", get(get_user::<Memory>))
        .route("/admins/{id}", get(labelled::<Admin, Memory>))
        .with_state(Memory)
        .layer(RouteCache::embedded().layer());
}
