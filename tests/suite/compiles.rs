//! What `#[cached_route]` and `#[invalidates]` accept (`tests/ui/pass`):
//! each file is a module of the suite, built with the rest of the tests
//! (no second build of every dependency, as trybuild's own project needs),
//! and its `main` runs as a test. The diagnostics for what they refuse are
//! `cache-macros/tests/ui.rs`.

// Two handlers shown for their options only, never routed.
#[allow(dead_code)]
#[path = "../ui/pass/all_options.rs"]
mod all_options;

#[path = "../ui/pass/debug_handler_both_orders.rs"]
mod debug_handler_both_orders;

#[path = "../ui/pass/debug_handler_state_first.rs"]
mod debug_handler_state_first;

#[path = "../ui/pass/generic_handler.rs"]
mod generic_handler;

#[path = "../ui/pass/impl_into_response.rs"]
mod impl_into_response;

// `#[cfg(all())]` on purpose: a `cfg` that keeps the handler.
#[allow(clippy::non_minimal_cfg)]
#[path = "../ui/pass/inner_attributes_and_cfg.rs"]
mod inner_attributes_and_cfg;

#[path = "../ui/pass/instrument_both_orders.rs"]
mod instrument_both_orders;

#[path = "../ui/pass/invalidates_shapes.rs"]
mod invalidates_shapes;

#[path = "../ui/pass/negative_and_host.rs"]
mod negative_and_host;

#[path = "../ui/pass/pattern_args.rs"]
mod pattern_args;

#[path = "../ui/pass/prelude_shadowing.rs"]
mod prelude_shadowing;

#[path = "../ui/pass/result_impl_into_response.rs"]
mod result_impl_into_response;

// Reads `HeaderMap` unkeyed on purpose: the warning is expected.
#[allow(deprecated)]
#[path = "../ui/pass/revalidate.rs"]
mod revalidate;

#[path = "../ui/pass/router_registration_send.rs"]
mod router_registration_send;

// Reads `HeaderMap` unkeyed on purpose: the warning is expected.
#[allow(deprecated)]
#[path = "../ui/pass/state_and_json_body_last.rs"]
mod state_and_json_body_last;

#[path = "../ui/pass/unkeyed_inputs_declared.rs"]
mod unkeyed_inputs_declared;

#[test]
fn all_options_compiles_and_runs() {
    all_options::main();
}

#[test]
fn debug_handler_both_orders_compiles_and_runs() {
    debug_handler_both_orders::main();
}

#[test]
fn debug_handler_state_first_compiles_and_runs() {
    debug_handler_state_first::main();
}

#[test]
fn generic_handler_compiles_and_runs() {
    generic_handler::main();
}

#[test]
fn impl_into_response_compiles_and_runs() {
    impl_into_response::main();
}

#[test]
fn inner_attributes_and_cfg_compiles_and_runs() {
    inner_attributes_and_cfg::main();
}

#[test]
fn instrument_both_orders_compiles_and_runs() {
    instrument_both_orders::main();
}

#[test]
fn invalidates_shapes_compiles_and_runs() {
    invalidates_shapes::main();
}

#[test]
fn negative_and_host_compiles_and_runs() {
    negative_and_host::main();
}

#[test]
fn pattern_args_compiles_and_runs() {
    pattern_args::main();
}

#[test]
fn prelude_shadowing_compiles_and_runs() {
    prelude_shadowing::main();
}

#[test]
fn result_impl_into_response_compiles_and_runs() {
    result_impl_into_response::main();
}

#[test]
fn revalidate_compiles_and_runs() {
    revalidate::main();
}

#[test]
fn router_registration_send_compiles_and_runs() {
    router_registration_send::main();
}

#[test]
fn state_and_json_body_last_compiles_and_runs() {
    state_and_json_body_last::main();
}

#[test]
fn unkeyed_inputs_declared_compiles_and_runs() {
    unkeyed_inputs_declared::main();
}
