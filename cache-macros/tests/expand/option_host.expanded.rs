use axum::extract::Path;
use axum::http::HeaderMap;
use cache_runtime::cached_route;
#[doc(hidden)]
#[allow(non_camel_case_types)]
struct __cached_route_by_host;
impl ::cache_runtime::__private_0_1_0::CachedRoute for __cached_route_by_host {
    const POLICY: ::cache_runtime::__private_0_1_0::RoutePolicy = ::cache_runtime::__private_0_1_0::RoutePolicy::new(
            "macrotest009::by_host",
            60u32,
        )
        .with_query(::cache_runtime::__private_0_1_0::QueryPolicy::Ignore)
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
            ::cache_runtime::__private_0_1_0::registered::<__cached_route_by_host>()
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
/// `host = true` keys a handler the macro would not key on the host.
async fn by_host(
    __cached_route_arg0: ::cache_runtime::__private_0_1_0::WithContext<
        ::cache_runtime::__private_0_1_0::RequestContext<__cached_route_by_host>,
        Path<u64>,
    >,
) -> ::cache_runtime::__private_0_1_0::Response {
    #[allow(clippy::unused_async)]
    async fn by_host(Path(id): Path<u64>) -> String {
        id.to_string()
    }
    let (__cached_route_ctx, __cached_route_arg0) = ::cache_runtime::__private_0_1_0::WithContext::into_parts(
        __cached_route_arg0,
    );
    let __cached_route_body = by_host(__cached_route_arg0);
    ::cache_runtime::__private_0_1_0::assert_send(&__cached_route_body);
    ::cache_runtime::__private_0_1_0::serve(__cached_route_ctx, __cached_route_body)
        .await
}
#[doc(hidden)]
#[allow(non_camel_case_types)]
struct __cached_route_any_host;
impl ::cache_runtime::__private_0_1_0::CachedRoute for __cached_route_any_host {
    const POLICY: ::cache_runtime::__private_0_1_0::RoutePolicy = ::cache_runtime::__private_0_1_0::RoutePolicy::new(
        "macrotest009::any_host",
        60u32,
    );
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
            ::cache_runtime::__private_0_1_0::registered::<__cached_route_any_host>()
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
/// `host = false` leaves it out of a handler the macro would key on it.
async fn any_host(
    __cached_route_arg0: ::cache_runtime::__private_0_1_0::WithContext<
        ::cache_runtime::__private_0_1_0::RequestContext<__cached_route_any_host>,
        HeaderMap,
    >,
) -> ::cache_runtime::__private_0_1_0::Response {
    #[allow(clippy::unused_async)]
    async fn any_host(headers: HeaderMap) -> String {
        headers.len().to_string()
    }
    let (__cached_route_ctx, __cached_route_arg0) = ::cache_runtime::__private_0_1_0::WithContext::into_parts(
        __cached_route_arg0,
    );
    let __cached_route_body = any_host(__cached_route_arg0);
    ::cache_runtime::__private_0_1_0::assert_send(&__cached_route_body);
    ::cache_runtime::__private_0_1_0::serve(__cached_route_ctx, __cached_route_body)
        .await
}
fn main() {}
