use cache_runtime::cached_route;
#[doc(hidden)]
#[allow(non_camel_case_types)]
struct __cached_route_health;
impl ::cache_runtime::__private_0_1_0::CachedRoute for __cached_route_health {
    const POLICY: ::cache_runtime::__private_0_1_0::RoutePolicy = ::cache_runtime::__private_0_1_0::RoutePolicy::new(
            "macrotest008::health",
            5u32,
        )
        .with_query(::cache_runtime::__private_0_1_0::QueryPolicy::Ignore);
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
            ::cache_runtime::__private_0_1_0::registered::<__cached_route_health>()
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
async fn health(
    __cached_route_ctx: ::cache_runtime::__private_0_1_0::RequestContext<
        __cached_route_health,
    >,
) -> ::cache_runtime::__private_0_1_0::Response {
    #[allow(clippy::unused_async)]
    async fn health() -> &'static str {
        "ok"
    }
    let __cached_route_body = health();
    ::cache_runtime::__private_0_1_0::assert_send(&__cached_route_body);
    ::cache_runtime::__private_0_1_0::serve(__cached_route_ctx, __cached_route_body)
        .await
}
fn main() {}
