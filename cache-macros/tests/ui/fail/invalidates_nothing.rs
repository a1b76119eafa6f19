use cache_runtime::invalidates;

#[invalidates()]
async fn update() -> &'static str {
    "ok"
}

fn main() {}
