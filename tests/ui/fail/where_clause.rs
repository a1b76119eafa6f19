use cache_runtime::cached_route;

#[cached_route(ttl = 60)]
async fn handler() -> &'static str
where
    (): Sized,
{
    "x"
}

fn main() {}
