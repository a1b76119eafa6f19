//! Code generation.

use crate::args::Args;
use crate::errors::Errors;
use crate::item::{by_reference, Handler, HandlerFn};
use crate::key::{key_kind, KeyKind};
use crate::paths::{runtime, runtime_at};
use crate::policy::policy;
use crate::validate;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{parse::Parser, spanned::Spanned, Attribute, Expr, Ident};

pub(crate) fn cached_route(args: TokenStream, input: TokenStream) -> TokenStream {
    let (parsed_args, handler, mut errors) =
        match parse_attribute(args, input, "cached_route", Args::parse_all) {
            Ok(parsed) => parsed,
            Err(output) => return output,
        };
    validate::args(&parsed_args, &mut errors);
    let before = errors.count();
    validate::handler(&handler, "cached_route", &mut errors);
    let shape_ok = errors.count() == before;
    match errors.finish() {
        Ok(()) => wrapper(&parsed_args, &handler),
        // Only the arguments are wrong: the full wrapper with the default
        // policy, so that `route!(handler)` and the router elsewhere see
        // what they would see without the mistake, and only the mistake
        // is reported.
        Err(error) if shape_ok => with_error(wrapper(&Args::default(), &handler), &error),
        // Keep the user's function so that rust-analyzer and the other
        // diagnostics keep working next to the error.
        Err(error) => with_error(handler.func.to_token_stream(), &error),
    }
}

/// An attribute's arguments (parsed by `parse_args`, which consumes every
/// token and reports its own errors) and the handler it sits on; the output
/// to return at once when the item is not a function, or its signature
/// does not parse (then with syn's own error, at its token).
fn parse_attribute(
    args: TokenStream,
    input: TokenStream,
    attr_name: &str,
    parse_args: fn(syn::parse::ParseStream<'_>, &mut Errors) -> Args,
) -> Result<(Args, Handler, Errors), TokenStream> {
    let mut errors = Errors::default();
    let mut parsed_args = Args::default();
    // A leftover complaint from `parse2` would only repeat one of
    // `parse_args`' own.
    let _ = Parser::parse2(
        |stream: syn::parse::ParseStream<'_>| {
            parsed_args = parse_args(stream, &mut errors);
            Ok(())
        },
        args,
    );
    let parsed = Parser::parse2(
        |stream: syn::parse::ParseStream<'_>| {
            if HandlerFn::looks_like_fn(stream) {
                stream.parse::<HandlerFn>().map(Some)
            } else {
                // Consume the rest; the error is reported below.
                stream.parse::<TokenStream>().map(|_| None)
            }
        },
        input.clone(),
    );
    match parsed {
        Ok(Some(func)) => Ok((parsed_args, Handler { func }, errors)),
        Ok(None) => {
            let error = syn::Error::new_spanned(
                first_token(&input),
                format!("#[{attr_name}] applies to `async fn` axum handlers"),
            );
            Err(with_error(input, &error))
        }
        Err(error) => Err(with_error(input, &error)),
    }
}

fn first_token(input: &TokenStream) -> TokenStream {
    input.clone().into_iter().next().into_iter().collect()
}

fn with_error(item: TokenStream, error: &syn::Error) -> TokenStream {
    let mut out = item;
    out.extend(error.to_compile_error());
    out
}

/// `#[instrument]` (also inside `cfg_attr`) wraps the user's body, where it
/// sees the user's own parameters and runs only when the body does. Every
/// other attribute stays on the handler axum calls: docs, lint levels
/// (which then also cover the body nested inside), `#[debug_handler]`,
/// `#[utoipa::path]` and the like.
fn split_attrs(attrs: &[Attribute]) -> (Vec<&Attribute>, Vec<&Attribute>) {
    attrs.iter().partition(|attr| {
        let is_instrument = |path: &syn::Path| {
            path.segments
                .last()
                .is_some_and(|s| s.ident == "instrument")
        };
        // `#![...]` written inside the body belongs to the body.
        let inner = matches!(attr.style, syn::AttrStyle::Inner(_))
            || is_instrument(attr.path())
            || (attr.path().is_ident("cfg_attr")
                && attr.meta.require_list().is_ok_and(|list| {
                    list.tokens
                        .clone()
                        .into_iter()
                        .any(|t| t.to_string() == "instrument")
                }));
        !inner
    })
}

// Input:
//
//     /// Docs.
//     #[cached_route(ttl = 60)]
//     pub async fn get_item(Path(id): Path<u64>) -> Json<Item> { body }
//
// Output:
//
//     #[doc(hidden)]
//     pub struct __cached_route_get_item;
//     impl ::cache_runtime::__private_0_1_0::CachedRoute for __cached_route_get_item {
//         const POLICY: ::cache_runtime::__private_0_1_0::RoutePolicy =
//             ::cache_runtime::__private_0_1_0::RoutePolicy::new(
//                 ::core::concat!(::core::module_path!(), "::get_item"), 60u32);
//         fn slot() -> Option<&'static RouteSlot> {
//             static SLOT: RouteSlot = RouteSlot::new();
//             Some(&SLOT)
//         }
//     }
//     /// Docs.
//     pub async fn get_item(
//         __cached_route_ctx: ::cache_runtime::__private_0_1_0::RequestContext<__cached_route_get_item>,
//         __cached_route_arg0: Path<u64>,
//     ) -> ::cache_runtime::__private_0_1_0::Response {
//         async fn get_item(Path(id): Path<u64>) -> Json<Item> { body }
//         let __cached_route_body = get_item(__cached_route_arg0);
//         ::cache_runtime::__private_0_1_0::assert_send(&__cached_route_body);
//         ::cache_runtime::__private_0_1_0::serve(__cached_route_ctx, __cached_route_body).await
//     }
//
// The marker type carries the route's policy to the hidden first extractor,
// which derives the key from the request parts. The user's function is kept
// whole (patterns, return type, body spans) as an item inside the wrapper,
// so `return` and `?` in the body end the body's future, which `serve`
// awaits: they cannot skip the cache logic. On a hit `serve` drops that
// future unpolled and the body never runs.
fn wrapper(args: &Args, handler: &Handler) -> TokenStream {
    let rt = runtime();
    let func = &handler.func;
    let vis = &func.vis;
    let ident = &func.sig.ident;
    let key = key_kind(args, handler);
    let inferred = crate::inputs::infer(handler);
    let policy = policy(args, ident, &key, &inferred);
    let marker = format_ident!("__cached_route_{}", ident);
    let query_fn = crate::inputs::learned_query(args, handler, &inferred, &key);
    let warnings = crate::inputs::unkeyed_warnings(args, handler);
    let names = Names::new(handler);
    let ctx = &names.ctx;
    let body = &names.body;

    let key_fn = match &key {
        KeyKind::Function(path) => {
            let parts = Ident::new("__cached_route_parts", Span::mixed_site());
            // Spanned at the key, so a result that is not `Display`, or a
            // path that names neither a function nor a value, is reported
            // there rather than on the attribute.
            let rt_path = runtime_at(path.span());
            let to_string = if matches!(path, Expr::Closure(_)) {
                let function = typed_closure(path);
                let call = quote_spanned!(path.span()=> (#function)(#parts));
                quote_spanned!(path.span()=> #rt_path::ToString::to_string(&#call))
            } else {
                quote_spanned!(path.span()=> #rt_path::key_part(&#path, #parts))
            };
            // `(|parts| …)(parts)`: a closure's result may borrow from the
            // parts, which a bound function could not return.
            let allow = if matches!(path, Expr::Closure(_)) {
                quote!(#[allow(clippy::redundant_closure_call)])
            } else {
                TokenStream::new()
            };
            quote! {
                #allow
                fn key(#parts: &#rt::Parts)
                    -> #rt::Option<#rt::String>
                {
                    #rt::Option::Some(#to_string)
                }
            }
        }
        _ => TokenStream::new(),
    };

    // For `key = <expression>` and `tags`, the values are computed from the
    // parameters (borrowed) before they move into the body's future.
    let key_string = match &key {
        KeyKind::Handler(expr) => Some({
            let rt_expr = runtime_at(expr.span());
            quote_spanned!(expr.span()=> #rt_expr::ToString::to_string(&(#expr)))
        }),
        _ => None,
    };
    let rt_ident = runtime_at(ident.span());
    let (prelude, serve) = if key_string.is_none() && args.tags.is_none() {
        (
            TokenStream::new(),
            quote_spanned!(ident.span()=> #rt_ident::serve(#ctx, #body).await),
        )
    } else {
        let extra = Ident::new("__cached_route_extra", Span::mixed_site());
        let key_value = key_string.as_ref().map_or_else(
            || quote!(#rt::Option::None),
            |k| quote!(#rt::Option::Some(#k)),
        );
        let empty = Vec::new();
        let tags = format_list(args.tags.as_ref().map_or(&empty, |t| &t.value));
        let value = names.borrowed(handler, &quote!((#key_value, #tags)));
        (
            quote!(let #extra = #value;),
            quote_spanned!(ident.span()=> #rt_ident::serve_with(#ctx, #extra.0, #extra.1, #body).await),
        )
    };

    let outer = names.shell(
        handler,
        &quote!(#rt::RequestContext<#marker>),
        &prelude,
        &serve,
    );

    // A `cfg` on the handler applies to its marker too, so that handlers
    // defined under opposite `cfg`s do not both define the marker.
    let cfgs: Vec<&Attribute> = func
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .collect();

    let warnings = if warnings.is_empty() {
        warnings
    } else {
        quote!(#(#cfgs)* const _: () = { #warnings };)
    };

    // A coding whose cargo feature is off: a free constant, evaluated by
    // `cargo check` too and reported at the option, whether or not the
    // handler is routed. The only check: the policy names the coding
    // without it.
    let coding_check = match args.compress.as_ref().and_then(|c| c.value.as_ref()) {
        Some(coding) => {
            let variant = Ident::new(coding.variant, coding.span);
            let rt_coding = runtime_at(coding.span);
            quote_spanned! {coding.span=>
                #(#cfgs)*
                const _: #rt_coding::Encoding = #rt_coding::Encoding::#variant.required();
            }
        }
        None => TokenStream::new(),
    };

    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #marker;

        #(#cfgs)*
        impl #rt::CachedRoute for #marker {
            const POLICY: #rt::RoutePolicy = #policy;
            #key_fn
            #query_fn
            fn slot() -> #rt::Option<&'static #rt::RouteSlot> {
                static SLOT: #rt::RouteSlot = #rt::RouteSlot::new();
                #rt::Option::Some(&SLOT)
            }
        }

        #(#cfgs)*
        #rt::register_route!(#marker);

        #warnings
        #coding_check

        #outer
    }
}

/// `Vec::from([to_string(&format_args!("…")), …])`, each spanned at its
/// literal so that an unknown `{name}` is reported there. No std macro but
/// the built-in `format_args!`, so the expansion is the same on every
/// toolchain.
fn format_list(list: &[syn::LitStr]) -> TokenStream {
    let items = list.iter().map(|lit| {
        let rt_lit = runtime_at(lit.span());
        quote_spanned!(lit.span()=> #rt_lit::ToString::to_string(&::core::format_args!(#lit)))
    });
    string_vec(items)
}

/// `Vec::<String>::from([items…])`.
fn string_vec(items: impl Iterator<Item = TokenStream>) -> TokenStream {
    let rt = runtime();
    quote!(#rt::Vec::<#rt::String>::from([#(#items),*]))
}

/// `vec![…]` of `#[invalidates]`'s `paths`: each template formatted with
/// every `{name}` (or `{name:spec}`) replaced by the value percent-encoded
/// as one path segment, the form the request path has.
///
/// Input:  `"/items/{id}"`
/// Output: `to_string(&format_args!("/items/{}", path_segment(&to_string(&format_args!("{}", id)))))`
fn path_list(list: &[syn::LitStr]) -> TokenStream {
    let items = list.iter().map(|lit| {
        let span = lit.span();
        let rt_lit = runtime_at(span);
        let Some((template, fields)) = split_template(&lit.value()) else {
            // Malformed: format_args! reports it at the literal.
            return quote_spanned!(span=> #rt_lit::ToString::to_string(&::core::format_args!(#lit)));
        };
        let template = syn::LitStr::new(&template, span);
        let args = fields.iter().map(|(name, spec)| {
            let name = Ident::new(name, span);
            let spec = syn::LitStr::new(&format!("{{{spec}}}"), span);
            quote_spanned!(span=> #rt_lit::path_segment(
                &#rt_lit::ToString::to_string(&::core::format_args!(#spec, #name))
            ))
        });
        quote_spanned!(span=> #rt_lit::ToString::to_string(
            &::core::format_args!(#template #(, #args)*)
        ))
    });
    string_vec(items)
}

/// A format string's named fields taken out: the template with `{}` in
/// their place, and each field's name and spec (`:04`, or empty). `None`
/// when a field is not a plain name (positional, or malformed).
fn split_template(text: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut template = String::with_capacity(text.len());
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                template.push_str("{{");
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                template.push_str("}}");
            }
            '{' => {
                let mut inner = String::new();
                loop {
                    match chars.next()? {
                        '}' => break,
                        c => inner.push(c),
                    }
                }
                let (name, spec) = match inner.split_once(':') {
                    Some((name, spec)) => (name.trim(), format!(":{spec}")),
                    None => (inner.trim(), String::new()),
                };
                syn::parse_str::<Ident>(name).ok()?;
                fields.push((name.to_owned(), spec));
                template.push_str("{}");
            }
            '}' => return None,
            c => template.push(c),
        }
    }
    Some((template, fields))
}

/// The identifiers of the generated wrapper.
struct Names {
    ctx: Ident,
    body: Ident,
    args: Vec<Ident>,
}

impl Names {
    fn new(handler: &Handler) -> Self {
        let mixed = Span::mixed_site();
        Self {
            ctx: Ident::new("__cached_route_ctx", mixed),
            // Located (and resolved) at the handler's name: rustc reports
            // errors inside an external macro's expansion at the attribute,
            // so a non-`Send` body must be checked through a binding that
            // belongs to the user's code.
            body: Ident::new("__cached_route_body", handler.func.sig.ident.span()),
            args: (0..handler.typed_args().count())
                .map(|i| format_ident!("__cached_route_arg{}", i, span = mixed))
                .collect(),
        }
    }

    /// `value`, evaluated with the handler's parameter patterns bound by
    /// reference to the extracted arguments.
    fn borrowed(&self, handler: &Handler, value: &TokenStream) -> TokenStream {
        let bindings = handler.typed_args().zip(&self.args).map(|(arg, name)| {
            let pat = by_reference(&arg.pat);
            quote!(let #pat = &#name;)
        });
        quote! {
            {
                #[allow(
                    unused_variables,
                    clippy::no_effect_underscore_binding,
                    clippy::pattern_type_mismatch
                )]
                {
                    #(#bindings)*
                    #value
                }
            }
        }
    }

    /// The function axum calls: the user's parameters, the first one's type
    /// wrapped so that the context `ctx_ty` comes with it (a handler without
    /// parameters gets the context as its only one), the user's function
    /// nested inside, then `prelude` and `finish`, which use `ctx` and
    /// `body`.
    fn shell(
        &self,
        handler: &Handler,
        ctx_ty: &TokenStream,
        prelude: &TokenStream,
        finish: &TokenStream,
    ) -> TokenStream {
        let func = &handler.func;
        let (vis, ident) = (&func.vis, &func.sig.ident);
        let (ctx, body, arg_names) = (&self.ctx, &self.body, &self.args);
        let (outer_attrs, inner_attrs) = split_attrs(&func.attrs);
        let outer_attrs = outer_attrs
            .into_iter()
            .map(|attr| with_debug_handler_state(attr, handler));
        let mut inner = func.clone();
        inner.attrs = inner_attrs.into_iter().cloned().collect();
        // The body is called directly here, where axum would have taken it
        // as a value; clippy's `unused_async` only fires on the former.
        inner
            .attrs
            .push(syn::parse_quote!(#[allow(clippy::unused_async)]));
        inner.vis = syn::Visibility::Inherited;
        let sig = &func.sig;
        let (asyncness, fn_token) = (&sig.asyncness, &sig.fn_token);
        let (generics, where_clause) = (&sig.generics, &sig.generics.where_clause);
        // A generic handler's body is called with the wrapper's own type
        // and const parameters, which need not be inferable from the
        // arguments. Lifetimes are left to inference.
        let turbofish = {
            let params: Vec<TokenStream> = generics
                .params
                .iter()
                .filter_map(|param| match param {
                    syn::GenericParam::Type(t) => Some(t.ident.to_token_stream()),
                    syn::GenericParam::Const(c) => Some(c.ident.to_token_stream()),
                    syn::GenericParam::Lifetime(_) => None,
                })
                .collect();
            if params.is_empty() {
                TokenStream::new()
            } else {
                quote!(::<#(#params),*>)
            }
        };
        let rt = runtime();
        let rt_ident = runtime_at(ident.span());
        let send_check = quote_spanned!(ident.span()=> #rt_ident::assert_send(&#body););

        let (params, take_ctx) = if arg_names.is_empty() {
            (quote!(#ctx: #ctx_ty), TokenStream::new())
        } else {
            let first = &arg_names[0];
            let rest = arg_names
                .iter()
                .zip(handler.typed_args().map(|pat| &pat.ty))
                .skip(1)
                .map(|(n, t)| quote!(#n: #t));
            let first_ty = &handler.typed_args().next().map(|p| &p.ty);
            (
                quote! {
                    #first: #rt::WithContext<#ctx_ty, #first_ty>,
                    #(#rest),*
                },
                quote!(let (#ctx, #first) = #rt::WithContext::into_parts(#first);),
            )
        };
        // Spanned at the user's function, so that the item belongs to the
        // user's code: lints such as `dead_code` report on it as on any
        // handler.
        quote_spanned! {ident.span()=>
            #(#outer_attrs)*
            #vis #asyncness #fn_token #ident #generics (#params) -> #rt_ident::Response #where_clause {
                #inner
                #take_ctx
                #prelude
                let #body = #ident #turbofish (#(#arg_names),*);
                #send_check
                #finish
            }
        }
    }
}

/// `#[debug_handler]` (axum's, however it is imported) on the function
/// axum calls, which has the cache context wrapped around its first
/// parameter. `debug_handler` infers the router's state from a parameter
/// written `State<T>` and falls back to `()`; a wrapped `State<T>` would
/// hide it, so the state is passed explicitly (`state = T`) unless the
/// attribute already names one.
fn with_debug_handler_state(attr: &Attribute, handler: &Handler) -> TokenStream {
    let is_debug_handler = attr
        .path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "debug_handler");
    match (is_debug_handler, &attr.meta, handler.state_type()) {
        (true, syn::Meta::Path(path), Some(state)) => {
            let pound = &attr.pound_token;
            quote!(#pound[#path(state = #state)])
        }
        _ => attr.to_token_stream(),
    }
}

pub(crate) fn invalidates(args: TokenStream, input: TokenStream) -> TokenStream {
    let (parsed_args, handler, mut errors) =
        match parse_attribute(args, input, "invalidates", Args::parse_invalidates) {
            Ok(parsed) => parsed,
            Err(output) => return output,
        };
    let before = errors.count();
    validate::handler(&handler, "invalidates", &mut errors);
    let shape_ok = errors.count() == before;
    match errors.finish() {
        Ok(()) => invalidating_wrapper(&parsed_args, &handler),
        // Only the arguments are wrong: the wrapper, invalidating nothing.
        Err(error) if shape_ok => {
            with_error(invalidating_wrapper(&Args::default(), &handler), &error)
        }
        Err(error) => with_error(handler.func.to_token_stream(), &error),
    }
}

fn invalidating_wrapper(parsed_args: &Args, handler: &Handler) -> TokenStream {
    let rt = runtime();
    let names = Names::new(handler);
    let (ctx, body) = (&names.ctx, &names.body);
    let empty = Vec::new();
    let tags = format_list(parsed_args.tags.as_ref().map_or(&empty, |t| &t.value));
    let paths = path_list(parsed_args.paths.as_ref().map_or(&empty, |p| &p.value));
    let soft = parsed_args.soft.as_ref().is_some_and(|s| s.value);
    let targets = Ident::new("__cached_route_targets", Span::mixed_site());
    let value = names.borrowed(handler, &quote!((#tags, #paths)));
    let ident = &handler.func.sig.ident;
    let rt_ident = runtime_at(ident.span());
    names.shell(
        handler,
        &quote!(#rt::Invalidation),
        &quote!(let #targets = #value;),
        &quote_spanned!(ident.span()=> #rt_ident::invalidate_after(#ctx, #targets.0, #targets.1, #soft, #body).await),
    )
}

/// `route!(path::to::handler)`: the marker type `#[cached_route]` defined
/// next to the handler.
pub(crate) fn route(input: TokenStream) -> TokenStream {
    let mut path = match syn::parse2::<syn::Path>(input) {
        Ok(path) => path,
        Err(e) => {
            return syn::Error::new(
                e.span(),
                "`route!` takes the path of a `#[cached_route]` handler, as in `route!(handlers::get_item)`",
            )
            .to_compile_error()
        }
    };
    if let Some(last) = path.segments.last_mut() {
        last.ident = format_ident!("__cached_route_{}", last.ident, span = last.ident.span());
    }
    path.to_token_stream()
}

/// A key closure with an untyped parameter gets the parameter's type: rustc
/// checks a closure before the argument it is called with.
fn typed_closure(function: &Expr) -> Expr {
    let rt = runtime();
    let Expr::Closure(closure) = function else {
        return function.clone();
    };
    let mut closure = closure.clone();
    if let Some(first) = closure.inputs.first_mut() {
        if !matches!(first, syn::Pat::Type(_)) {
            *first = syn::Pat::Type(syn::PatType {
                attrs: Vec::new(),
                pat: Box::new(first.clone()),
                colon_token: syn::Token![:](first.span()),
                ty: Box::new(syn::parse_quote!(&#rt::Parts)),
            });
        }
    }
    Expr::Closure(closure)
}

#[cfg(test)]
mod tests {
    use super::split_template;

    #[test]
    fn path_templates_are_split_into_their_named_fields() {
        let fields = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
                .collect()
        };
        assert_eq!(
            split_template("/items/{id}/v/{ v:04}"),
            Some((
                "/items/{}/v/{}".to_owned(),
                fields(&[("id", ""), ("v", ":04")])
            ))
        );
        assert_eq!(
            split_template("/a{{b}}"),
            Some(("/a{{b}}".to_owned(), fields(&[])))
        );
        assert_eq!(split_template("/items/{0}"), None);
        assert_eq!(split_template("/items/{id"), None);
        assert_eq!(split_template("/items/}"), None);
    }
}
