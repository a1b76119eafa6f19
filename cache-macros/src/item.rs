//! The handler as parsed: an `fn` item and the names its parameters bind.

use syn::{visit::Visit, FnArg, Ident, ItemFn, Pat, PatType};

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

    /// Whether any parameter pattern binds `ident`.
    pub(crate) fn binds(&self, ident: &Ident) -> bool {
        let mut finder = Bindings(Vec::new());
        for arg in self.typed_args() {
            finder.visit_pat(&arg.pat);
        }
        finder.0.iter().any(|b| b == ident)
    }
}

struct Bindings(Vec<Ident>);

impl<'ast> Visit<'ast> for Bindings {
    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        self.0.push(pat.ident.clone());
        syn::visit::visit_pat_ident(self, pat);
    }
}

/// `pat` rewritten to bind by reference when matched against `&T`: `mut`
/// and `ref` are dropped so default binding modes apply
/// (`Path(mut id)` becomes `Path(id)`, binding `id: &u64`).
pub(crate) fn by_reference(pat: &Pat) -> Pat {
    let mut pat = pat.clone();
    strip_binding_modes(&mut pat);
    pat
}

fn strip_binding_modes(pat: &mut Pat) {
    struct Strip;
    impl syn::visit_mut::VisitMut for Strip {
        fn visit_pat_ident_mut(&mut self, pat: &mut syn::PatIdent) {
            pat.by_ref = None;
            pat.mutability = None;
            syn::visit_mut::visit_pat_ident_mut(self, pat);
        }
    }
    syn::visit_mut::VisitMut::visit_pat_mut(&mut Strip, pat);
}
