use cache_runtime::cached_route;
#[doc(hidden)]
#[allow(non_camel_case_types)]
struct __cached_route_per_user;
impl ::cache_runtime::__private_0_1_0::CachedRoute for __cached_route_per_user {
    const POLICY: ::cache_runtime::__private_0_1_0::RoutePolicy = ::cache_runtime::__private_0_1_0::RoutePolicy::new(
            "macrotest010::per_user",
            60u32,
        )
        .with_query(::cache_runtime::__private_0_1_0::QueryPolicy::Ignore)
        .with_auth(::cache_runtime::__private_0_1_0::AuthPolicy::Private)
        .with_cache_control("private, max-age=60")
        .with_honor_client(true);
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
            ::cache_runtime::__private_0_1_0::registered::<__cached_route_per_user>()
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
async fn per_user(
    __cached_route_ctx: ::cache_runtime::__private_0_1_0::RequestContext<
        __cached_route_per_user,
    >,
) -> ::cache_runtime::__private_0_1_0::Response {
    #[allow(clippy::unused_async)]
    async fn per_user() -> &'static str {
        "x"
    }
    let __cached_route_body = per_user();
    ::cache_runtime::__private_0_1_0::assert_send(&__cached_route_body);
    ::cache_runtime::__private_0_1_0::serve(__cached_route_ctx, __cached_route_body)
        .await
}
#[doc(hidden)]
#[allow(non_camel_case_types)]
struct __cached_route_for_everyone;
impl ::cache_runtime::__private_0_1_0::CachedRoute for __cached_route_for_everyone {
    const POLICY: ::cache_runtime::__private_0_1_0::RoutePolicy = ::cache_runtime::__private_0_1_0::RoutePolicy::new(
            "macrotest010::for_everyone",
            60u32,
        )
        .with_query(::cache_runtime::__private_0_1_0::QueryPolicy::Ignore)
        .with_auth(::cache_runtime::__private_0_1_0::AuthPolicy::Shared)
        .with_stale(30u32)
        .with_stale_if_error(false);
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
            ::cache_runtime::__private_0_1_0::registered::<__cached_route_for_everyone>()
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
async fn for_everyone(
    __cached_route_ctx: ::cache_runtime::__private_0_1_0::RequestContext<
        __cached_route_for_everyone,
    >,
) -> ::cache_runtime::__private_0_1_0::Response {
    #[allow(clippy::unused_async)]
    async fn for_everyone() -> &'static str {
        "x"
    }
    let __cached_route_body = for_everyone();
    ::cache_runtime::__private_0_1_0::assert_send(&__cached_route_body);
    ::cache_runtime::__private_0_1_0::serve(__cached_route_ctx, __cached_route_body)
        .await
}
fn main() {}
