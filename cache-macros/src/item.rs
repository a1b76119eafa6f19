//! The handler as parsed: its attributes, visibility and signature parsed
//! precisely, its body kept as tokens, and the names its parameters bind.
//!
//! The body is not parsed: a syntax error inside it then reaches rustc as
//! written, which reports it at its place, instead of the macro reporting
//! that it was given no function.

use proc_macro2::{Group, TokenStream};
use quote::{ToTokens, TokenStreamExt};
use syn::{
    parse::{Parse, ParseStream},
    visit::Visit,
    Attribute, FnArg, Ident, Pat, PatType, Signature, Token, Visibility,
};

/// The user's handler: `attrs vis sig { body }`.
#[derive(Clone)]
pub(crate) struct HandlerFn {
    /// Outer attributes (`#[...]` above the function).
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// The braced body, inner attributes included, as written.
    pub(crate) body: Group,
}

impl HandlerFn {
    /// Whether `input` starts like a function item (after attributes and
    /// visibility), so that a parse failure is the signature's, not "this
    /// is no function".
    pub(crate) fn looks_like_fn(input: ParseStream<'_>) -> bool {
        let fork = input.fork();
        let _ = fork.call(Attribute::parse_outer);
        let _ = fork.parse::<Visibility>();
        fork.peek(Token![fn])
            || fork.peek(Token![async])
            || fork.peek(Token![const])
            || fork.peek(Token![unsafe])
            || fork.peek(Token![extern])
    }
}

impl Parse for HandlerFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let body: Group = input.parse()?;
        if body.delimiter() != proc_macro2::Delimiter::Brace {
            return Err(syn::Error::new(body.span(), "expected the function's body"));
        }
        Ok(Self {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

impl ToTokens for HandlerFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.append_all(&self.attrs);
        self.vis.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        self.body.to_tokens(tokens);
    }
}

/// The user's handler.
pub(crate) struct Handler {
    pub(crate) func: HandlerFn,
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

    /// The type `T` of the first parameter written `State<T>` (any path
    /// ending in `State` with one type argument), as `#[debug_handler]`
    /// looks for it.
    pub(crate) fn state_type(&self) -> Option<&syn::Type> {
        self.typed_args().find_map(|arg| {
            let syn::Type::Path(path) = &*arg.ty else {
                return None;
            };
            let last = path.path.segments.last()?;
            if last.ident != "State" {
                return None;
            }
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            match args.args.first() {
                Some(syn::GenericArgument::Type(ty)) if args.args.len() == 1 => Some(ty),
                _ => None,
            }
        })
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
