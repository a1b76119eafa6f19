use axum::{extract::Path, http::StatusCode};
use cache_runtime::invalidates;
async fn update(
    __cached_route_arg0: ::cache_runtime::__private_0_1_0::WithContext<
        ::cache_runtime::__private_0_1_0::Invalidation,
        Path<u64>,
    >,
) -> ::cache_runtime::__private_0_1_0::Response {
    #[allow(clippy::unused_async)]
    async fn update(Path(id): Path<u64>) -> StatusCode {
        let _ = id;
        StatusCode::NO_CONTENT
    }
    let (__cached_route_ctx, __cached_route_arg0) = ::cache_runtime::__private_0_1_0::WithContext::into_parts(
        __cached_route_arg0,
    );
    let __cached_route_targets = {
        #[allow(
            unused_variables,
            clippy::no_effect_underscore_binding,
            clippy::pattern_type_mismatch
        )]
        {
            let Path(id) = &__cached_route_arg0;
            (
                ::cache_runtime::__private_0_1_0::Vec::<
                    ::cache_runtime::__private_0_1_0::String,
                >::from([
                    ::cache_runtime::__private_0_1_0::ToString::to_string(
                        &format_args!("item:{0}", id),
                    ),
                ]),
                ::cache_runtime::__private_0_1_0::Vec::<
                    ::cache_runtime::__private_0_1_0::String,
                >::from([
                    ::cache_runtime::__private_0_1_0::ToString::to_string(
                        &format_args!("/items"),
                    ),
                    ::cache_runtime::__private_0_1_0::ToString::to_string(
                        &format_args!(
                            "/items/{0}",
                            ::cache_runtime::__private_0_1_0::path_segment(&::cache_runtime::__private_0_1_0::ToString::to_string(&
                            format_args!("{0}", id),),),
                        ),
                    ),
                ]),
            )
        }
    };
    let __cached_route_body = update(__cached_route_arg0);
    ::cache_runtime::__private_0_1_0::assert_send(&__cached_route_body);
    ::cache_runtime::__private_0_1_0::invalidate_after(
            __cached_route_ctx,
            __cached_route_targets.0,
            __cached_route_targets.1,
            false,
            __cached_route_body,
        )
        .await
}
fn main() {}
