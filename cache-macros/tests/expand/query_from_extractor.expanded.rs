use axum::extract::{Path, Query};
use cache_runtime::cached_route;
use std::collections::HashMap;
#[doc(hidden)]
#[allow(non_camel_case_types)]
struct __cached_route_list;
impl ::cache_runtime::__private_0_1_0::CachedRoute for __cached_route_list {
    const POLICY: ::cache_runtime::__private_0_1_0::RoutePolicy = ::cache_runtime::__private_0_1_0::RoutePolicy::new(
        "macrotest020::list",
        60u32,
    );
    fn query() -> ::cache_runtime::__private_0_1_0::QueryPolicy {
        static LEARNED: ::cache_runtime::__private_0_1_0::OnceLock<
            ::cache_runtime::__private_0_1_0::QueryPolicy,
        > = ::cache_runtime::__private_0_1_0::OnceLock::new();
        *LEARNED
            .get_or_init(|| ::cache_runtime::__private_0_1_0::learned_query(
                &[
                    ::cache_runtime::__private_0_1_0::query_fields::<
                        HashMap<String, String>,
                    >,
                ],
            ))
    }
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
            ::cache_runtime::__private_0_1_0::registered::<__cached_route_list>()
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
/// The query is read only through `Query<…>`: the marker's `query()` asks
/// the runtime, once, which fields the type deserializes (a struct's field
/// names; for this map, none can be learned and every parameter is kept).
async fn list(
    __cached_route_arg0: ::cache_runtime::__private_0_1_0::WithContext<
        ::cache_runtime::__private_0_1_0::RequestContext<__cached_route_list>,
        Path<String>,
    >,
    __cached_route_arg1: Query<HashMap<String, String>>,
) -> ::cache_runtime::__private_0_1_0::Response {
    #[allow(clippy::unused_async)]
    async fn list(
        Path(kind): Path<String>,
        Query(filters): Query<HashMap<String, String>>,
    ) -> String {
        kind + &filters.len().to_string()
    }
    let (__cached_route_ctx, __cached_route_arg0) = ::cache_runtime::__private_0_1_0::WithContext::into_parts(
        __cached_route_arg0,
    );
    let __cached_route_body = list(__cached_route_arg0, __cached_route_arg1);
    ::cache_runtime::__private_0_1_0::assert_send(&__cached_route_body);
    ::cache_runtime::__private_0_1_0::serve(__cached_route_ctx, __cached_route_body)
        .await
}
fn main() {}
