use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use cache_runtime::cached_route;
/// An extractor of the application's own.
struct Tenant(String);
impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.uri.path().to_owned()))
    }
}
#[doc(hidden)]
#[allow(non_camel_case_types)]
struct __cached_route_home;
impl ::cache_runtime::__private_0_1_0::CachedRoute for __cached_route_home {
    const POLICY: ::cache_runtime::__private_0_1_0::RoutePolicy = ::cache_runtime::__private_0_1_0::RoutePolicy::new(
            "macrotest005::home",
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
            ::cache_runtime::__private_0_1_0::registered::<__cached_route_home>()
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
        note = "#[cached_route]: `Tenant` reads whatever it takes from the request, headers included (the key covers the host and the whole query, not headers), which the cache key does not cover, so a response made for one request can be served to another that differs there: key on the headers it reads with `vary = [\"user-agent\", …]`, or declare the route `private = true` or `shared = true`. If the response does not depend on it, `allow_unkeyed = true` silences this warning"
    )]
    #[allow(non_camel_case_types)]
    struct Tenant_is_not_in_the_cache_key;
    let _ = Tenant_is_not_in_the_cache_key;
};
/// An extractor the macro does not know may read anything: the host and
/// the whole query are keyed, and the route gets the warning.
async fn home(
    __cached_route_arg0: ::cache_runtime::__private_0_1_0::WithContext<
        ::cache_runtime::__private_0_1_0::RequestContext<__cached_route_home>,
        Tenant,
    >,
) -> ::cache_runtime::__private_0_1_0::Response {
    #[allow(clippy::unused_async)]
    async fn home(Tenant(tenant): Tenant) -> String {
        tenant
    }
    let (__cached_route_ctx, __cached_route_arg0) = ::cache_runtime::__private_0_1_0::WithContext::into_parts(
        __cached_route_arg0,
    );
    let __cached_route_body = home(__cached_route_arg0);
    ::cache_runtime::__private_0_1_0::assert_send(&__cached_route_body);
    ::cache_runtime::__private_0_1_0::serve(__cached_route_ctx, __cached_route_body)
        .await
}
fn main() {}
