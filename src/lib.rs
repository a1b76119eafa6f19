//! Host package for the workspace-level `examples/` and `tests/` of
//! [`cache-runtime`](../cache_runtime/index.html). It has no code of its own.
