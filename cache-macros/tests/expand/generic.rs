use axum::extract::{Path, State};
use cache_runtime::cached_route;

pub trait Repo: Clone + Send + Sync + 'static {
    fn name(&self, id: u64) -> String;
}

#[cached_route(ttl = 60)]
async fn get_user<T>(State(repo): State<T>, Path(id): Path<u64>) -> String
where
    T: Repo,
{
    repo.name(id)
}

fn main() {}
