//! The handler as parsed: an `fn` item, checked by `validate`.

use syn::{FnArg, ItemFn, PatType};

/// The user's handler.
pub(crate) struct Handler {
    pub(crate) func: ItemFn,
}

impl Handler {
    /// The typed arguments in order (receivers are rejected in `validate`).
    pub(crate) fn typed_args(&self) -> impl Iterator<Item = &PatType> {
        self.func.sig.inputs.iter().filter_map(|arg| match arg {
            FnArg::Typed(pat) => Some(pat),
            FnArg::Receiver(_) => None,
        })
    }
}
