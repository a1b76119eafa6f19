use axum::extract::Path;
use axum::http::HeaderMap;
use cache_runtime::cached_route;
#[doc(hidden)]
#[allow(non_camel_case_types)]
struct __cached_route_agent;
impl ::cache_runtime::__private_0_1_0::CachedRoute for __cached_route_agent {
    const POLICY: ::cache_runtime::__private_0_1_0::RoutePolicy = ::cache_runtime::__private_0_1_0::RoutePolicy::new(
            "macrotest003::agent",
            60u32,
        )
        .with_host(true);
    fn slot() -> ::cache_runtime::__private_0_1_0::Option<
        &'static ::cache_runtime::__private_0_1_0::RouteSlot,
    > {
        static SLOT: ::cache_runtime::__private_0_1_0::RouteSlot = ::cache_runtime::__private_0_1_0::RouteSlot::new();
        ::cache_runtime::__private_0_1_0::Option::Some(&SLOT)
    }
}
#[allow(non_upper_case_globals)]
const _: () = {
    static __INVENTORY: ::inventory::Node = ::inventory::Node {
        value: &{
            ::cache_runtime::__private_0_1_0::registered::<__cached_route_agent>()
        },
        next: ::inventory::__private::UnsafeCell::new(
            ::inventory::__private::Option::None,
        ),
    };
    #[link_section = ".text.startup"]
    unsafe extern "C" fn __ctor() {
        unsafe { ::inventory::ErasedNode::submit(__INVENTORY.value, &__INVENTORY) }
    }
    #[used]
    #[link_section = ".init_array"]
    static __CTOR: unsafe extern "C" fn() = __ctor;
};
const _: () = {
    #[deprecated(
        note = "#[cached_route]: `HeaderMap` reads every request header (the key covers the host and the whole query, not headers), which the cache key does not cover, so a response made for one request can be served to another that differs there: key on the headers it reads with `vary = [\"user-agent\", …]`. If the response does not depend on it, `allow_unkeyed = true` silences this warning"
    )]
    #[allow(non_camel_case_types)]
    struct HeaderMap_is_not_in_the_cache_key;
    let _ = HeaderMap_is_not_in_the_cache_key;
};
/// `HeaderMap` is an extractor the macro cannot see into: the key covers
/// the host (`with_host(true)`) and the whole query (no `with_query`), and
/// the route gets the unkeyed-input warning for the headers.
async fn agent(
    __cached_route_arg0: ::cache_runtime::__private_0_1_0::WithContext<
        ::cache_runtime::__private_0_1_0::RequestContext<__cached_route_agent>,
        Path<u64>,
    >,
    __cached_route_arg1: HeaderMap,
) -> ::cache_runtime::__private_0_1_0::Response {
    #[allow(clippy::unused_async)]
    async fn agent(Path(id): Path<u64>, headers: HeaderMap) -> String {
        id.to_string() + if headers.contains_key("user-agent") { " ua" } else { "" }
    }
    let (__cached_route_ctx, __cached_route_arg0) = ::cache_runtime::__private_0_1_0::WithContext::into_parts(
        __cached_route_arg0,
    );
    let __cached_route_body = agent(__cached_route_arg0, __cached_route_arg1);
    ::cache_runtime::__private_0_1_0::assert_send(&__cached_route_body);
    ::cache_runtime::__private_0_1_0::serve(__cached_route_ctx, __cached_route_body)
        .await
}
fn main() {}
