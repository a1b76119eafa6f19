use axum::extract::Path;
use cache_runtime::cached_route;
#[doc(hidden)]
#[allow(non_camel_case_types)]
struct __cached_route_handler;
impl ::cache_runtime::__private_0_1_0::CachedRoute for __cached_route_handler {
    const POLICY: ::cache_runtime::__private_0_1_0::RoutePolicy = ::cache_runtime::__private_0_1_0::RoutePolicy::new(
            "macrotest016::handler",
            60u32,
        )
        .with_query(::cache_runtime::__private_0_1_0::QueryPolicy::Ignore)
        .with_tags(&["item:{id}", "items"]);
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
            ::cache_runtime::__private_0_1_0::registered::<__cached_route_handler>()
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
async fn handler(
    __cached_route_arg0: ::cache_runtime::__private_0_1_0::WithContext<
        ::cache_runtime::__private_0_1_0::RequestContext<__cached_route_handler>,
        Path<u64>,
    >,
) -> ::cache_runtime::__private_0_1_0::Response {
    #[allow(clippy::unused_async)]
    async fn handler(Path(id): Path<u64>) -> String {
        id.to_string()
    }
    let (__cached_route_ctx, __cached_route_arg0) = ::cache_runtime::__private_0_1_0::WithContext::into_parts(
        __cached_route_arg0,
    );
    let __cached_route_extra = {
        #[allow(
            unused_variables,
            clippy::no_effect_underscore_binding,
            clippy::pattern_type_mismatch
        )]
        {
            let Path(id) = &__cached_route_arg0;
            (
                ::cache_runtime::__private_0_1_0::Option::None,
                ::cache_runtime::__private_0_1_0::Vec::<
                    ::cache_runtime::__private_0_1_0::String,
                >::from([
                    ::cache_runtime::__private_0_1_0::ToString::to_string(
                        &format_args!("item:{0}", id),
                    ),
                    ::cache_runtime::__private_0_1_0::ToString::to_string(
                        &format_args!("items"),
                    ),
                ]),
            )
        }
    };
    let __cached_route_body = handler(__cached_route_arg0);
    ::cache_runtime::__private_0_1_0::assert_send(&__cached_route_body);
    ::cache_runtime::__private_0_1_0::serve_with(
            __cached_route_ctx,
            __cached_route_extra.0,
            __cached_route_extra.1,
            __cached_route_body,
        )
        .await
}
fn main() {}
