use cache_runtime::invalidates;

#[invalidates(tags = ["items"], ttl = 5)]
async fn update() -> &'static str {
    "ok"
}

fn main() {}
