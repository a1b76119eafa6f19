use cache_runtime::cached_route;
#[doc(hidden)]
#[allow(non_camel_case_types)]
struct __cached_route_handler;
impl ::cache_runtime::__private::CachedRoute for __cached_route_handler {
    const POLICY: ::cache_runtime::__private::RoutePolicy = ::cache_runtime::__private::RoutePolicy::new(
            "macrotest007::handler",
            60u32,
        )
        .with_max_body(65536usize);
}
async fn handler(
    __cached_route_ctx: ::cache_runtime::__private::RequestContext<
        __cached_route_handler,
    >,
) -> ::cache_runtime::__private::Response {
    #[allow(clippy::unused_async)]
    async fn handler() -> &'static str {
        "x"
    }
    let __cached_route_body = handler();
    ::cache_runtime::__private::assert_send(&__cached_route_body);
    ::cache_runtime::__private::serve(__cached_route_ctx, __cached_route_body).await
}
fn main() {}
