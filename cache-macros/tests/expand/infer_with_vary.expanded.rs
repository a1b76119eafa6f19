use axum::http::HeaderMap;
use cache_runtime::cached_route;
#[doc(hidden)]
#[allow(non_camel_case_types)]
struct __cached_route_greeting;
impl ::cache_runtime::__private_0_1_0::CachedRoute for __cached_route_greeting {
    const POLICY: ::cache_runtime::__private_0_1_0::RoutePolicy = ::cache_runtime::__private_0_1_0::RoutePolicy::new(
            "macrotest006::greeting",
            60u32,
        )
        .with_vary(&["accept-language"]);
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
            ::cache_runtime::__private_0_1_0::registered::<__cached_route_greeting>()
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
/// A declaration (`vary`, `private`, `shared`, `key`, `allow_unkeyed`)
/// says what the handler reads: it replaces the inference, so the host is
/// not keyed and there is no warning; the whole query still is.
async fn greeting(
    __cached_route_arg0: ::cache_runtime::__private_0_1_0::WithContext<
        ::cache_runtime::__private_0_1_0::RequestContext<__cached_route_greeting>,
        HeaderMap,
    >,
) -> ::cache_runtime::__private_0_1_0::Response {
    #[allow(clippy::unused_async)]
    async fn greeting(headers: HeaderMap) -> String {
        headers.contains_key("accept-language").to_string()
    }
    let (__cached_route_ctx, __cached_route_arg0) = ::cache_runtime::__private_0_1_0::WithContext::into_parts(
        __cached_route_arg0,
    );
    let __cached_route_body = greeting(__cached_route_arg0);
    ::cache_runtime::__private_0_1_0::assert_send(&__cached_route_body);
    ::cache_runtime::__private_0_1_0::serve(__cached_route_ctx, __cached_route_body)
        .await
}
fn main() {}
