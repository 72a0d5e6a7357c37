//! `#[derive(Crdt)]`: a replicated struct from replicated fields.
//!
//! Use it through `crdt-types` with its feature `derive`
//! (`crdt_types::Crdt`); the documentation and examples are there. This
//! crate only generates code, and the code names `::crdt_types` (and, with
//! `#[crdt(sync)]`, `::crdt_sync`), so the deriving crate depends on those.
//!
//! For a struct with named fields, each of which implements
//! `crdt_types::Crdt` (every type of `crdt-types`, and every struct that
//! derives it), it generates:
//! - `Lattice` (the join, `leq` and `is_bottom` field by field) and
//!   `Decompose` (each field's parts as structs with only that field set;
//!   `delta_from` field by field);
//! - `crdt_types::Crdt` (validation: every field's);
//! - a mutator `update_<field>(&mut self, f)` per field that runs a mutator
//!   of the field and returns a delta of the whole struct with only that
//!   field set;
//! - with `#[crdt(sync)]`, `crdt_sync::Replicated`, with digest catch-up: a
//!   composite digest of the fields' digests (`crdt_sync::digest::nest`).
//!
//! The struct itself derives `Clone`, `Debug`, `Default`, `PartialEq` and
//! serde's `Serialize` / `Deserialize` as usual (each field's decoding
//! validates that field, and a struct of fields has no invariant of its own).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use crdt_sync::{Config, Engine, PeerId};
//! use crdt_types::{Crdt, HybridClock, Lattice, LwwRegister, OrSet, PnCounter, ReplicaId};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Crdt)]
//! #[crdt(sync)] // also implement crdt_sync::Replicated, with digest catch-up
//! struct Post {
//!     likes: PnCounter,
//!     tags: OrSet<String>,
//!     title: LwwRegister<String>,
//! }
//!
//! let (me, you) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
//! let mut mine = Post::default();
//! let mut yours = Post::default();
//! // Each mutator returns a Post delta with only its field set.
//! let d1 = mine.update_likes(|c| c.increment(me, 1));
//! let mut clock = HybridClock::with_time_source(you, || 1_000);
//! let d2 = yours.update_title(|t| t.write(&mut clock, "Hello".into()));
//! mine.join(&d2);
//! yours.join(&d1);
//! assert_eq!(mine, yours);
//! assert!(mine.validate().is_ok());
//!
//! // Through the sync engine: a new peer is caught up by digest.
//! let now = Instant::now();
//! let mut a = Engine::new(me, mine, Config::default(), now).unwrap();
//! let mut b = Engine::new(you, Post::default(), Config::default(), now).unwrap();
//! a.add_peer(PeerId(2), now);
//! b.add_peer(PeerId(1), now);
//! a.update(|p, me| p.update_tags(|t| t.insert(me, "rust".into()))).unwrap();
//! let mut t = now;
//! for _ in 0..10 {
//!     t += Duration::from_millis(100);
//!     a.handle_timeout(t);
//!     b.handle_timeout(t);
//!     while let Some(m) = a.poll_transmit() { b.handle_message(t, PeerId(1), &m.bytes).unwrap(); }
//!     while let Some(m) = b.poll_transmit() { a.handle_message(t, PeerId(2), &m.bytes).unwrap(); }
//! }
//! assert_eq!(a.state(), b.state());
//! assert_eq!(b.metrics().full_state_fallbacks + a.metrics().full_state_fallbacks, 0);
//! ```
//!
//! A derived struct cannot be a value of an `OrMap` (map values share the
//! map's causal context, which a struct of independent fields does not
//! have); put the map inside the struct instead, or one `OrMap` per field
//! keyed alike (as the `task_board` example of `crdt-types` does).
//!
//! Design note: `Replicated` lives in `crdt-sync`, which depends on
//! `crdt-types`, so the derive re-exported by `crdt-types` cannot name it
//! unconditionally (a user of `crdt-types` alone has no `crdt_sync`). The
//! options were: move `Replicated` down into `crdt-types` (it is about the
//! wire and the engine's checks: against the crate direction of DESIGN.md),
//! a blanket `impl<T: Crdt> Replicated for T` (overlaps the built-in impls),
//! or an opt-in. The choice is the opt-in attribute `#[crdt(sync)]`: one
//! word where the user already depends on `crdt-sync`, and nothing to
//! unlearn where they do not.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Error, Fields, GenericParam, Ident, Type, WherePredicate};

/// Derives a replicated struct; see the crate documentation and
/// `crdt_types::Crdt`.
#[proc_macro_derive(Crdt, attributes(crdt))]
pub fn derive_crdt(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

/// One field: its name, type and index.
struct Field<'a> {
    name: &'a Ident,
    ty: &'a Type,
    index: u32,
}

fn expand(input: &DeriveInput) -> Result<TokenStream2, Error> {
    let sync = options(input)?;
    let fields = fields(input)?;
    check_generics(input)?;
    let mut out = lattice(input, &fields);
    out.extend(mutators(input, &fields));
    if sync {
        out.extend(replicated(input, &fields));
    }
    Ok(out)
}

/// Reads `#[crdt(...)]`: whether `sync` was asked for.
fn options(input: &DeriveInput) -> Result<bool, Error> {
    let mut sync = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("crdt")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("sync") {
                sync = true;
                Ok(())
            } else {
                Err(meta.error(
                    "unknown `crdt` option; the one option is `sync` \
                     (also implement `crdt_sync::Replicated`, with digest catch-up)",
                ))
            }
        })?;
    }
    Ok(sync)
}

/// The named fields, or an error that says what `Crdt` can be derived for.
fn fields(input: &DeriveInput) -> Result<Vec<Field<'_>>, Error> {
    let data = match &input.data {
        Data::Struct(s) => s,
        Data::Enum(e) => {
            return Err(Error::new(
                e.enum_token.span,
                "`#[derive(Crdt)]` works on structs only: an enum's variants have no join \
                 (which variant wins when two replicas pick different ones?); keep each \
                 alternative in its own field, or pick one with an `LwwRegister` or `MvRegister`",
            ));
        }
        Data::Union(u) => {
            return Err(Error::new(
                u.union_token.span,
                "`#[derive(Crdt)]` works on structs with named fields only",
            ));
        }
    };
    let Fields::Named(named) = &data.fields else {
        return Err(Error::new(
            input.ident.span(),
            "`#[derive(Crdt)]` needs named fields (`struct Post { likes: PnCounter, .. }`): \
             each field gets a mutator named after it",
        ));
    };
    if named.named.is_empty() {
        return Err(Error::new(
            input.ident.span(),
            "`#[derive(Crdt)]` needs at least one field",
        ));
    }
    named
        .named
        .iter()
        .enumerate()
        .map(|(i, f)| {
            Ok(Field {
                name: f
                    .ident
                    .as_ref()
                    .ok_or_else(|| Error::new(f.span(), "unnamed field"))?,
                ty: &f.ty,
                index: u32::try_from(i).map_err(|_| Error::new(f.span(), "too many fields"))?,
            })
        })
        .collect()
}

/// Every type parameter needs bounds: the derive adds none, so that what a
/// field requires of a parameter is written where a reader sees it.
fn check_generics(input: &DeriveInput) -> Result<(), Error> {
    let bounded_in_where = |ident: &Ident| {
        input.generics.where_clause.as_ref().is_some_and(|w| {
            w.predicates.iter().any(|p| match p {
                WherePredicate::Type(t) => match &t.bounded_ty {
                    Type::Path(path) => path.path.is_ident(ident),
                    _ => false,
                },
                _ => false,
            })
        })
    };
    for param in &input.generics.params {
        if let GenericParam::Type(t) = param
            && t.bounds.is_empty()
            && !bounded_in_where(&t.ident)
        {
            return Err(Error::new(
                t.ident.span(),
                format!(
                    "generic parameter `{0}` has no bounds: `#[derive(Crdt)]` adds none, so \
                     declare what the fields need of it (for an `OrSet<{0}>` or an \
                     `LwwRegister<{0}>`: `{0}: Ord + Clone + Debug`, plus `Default` if the \
                     struct derives `Default`)",
                    t.ident
                ),
            ));
        }
    }
    Ok(())
}

/// `Lattice`, `Decompose` and `Crdt`.
fn lattice(input: &DeriveInput, fields: &[Field<'_>]) -> TokenStream2 {
    let name = &input.ident;
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let t = quote!(::crdt_types);
    let h = quote!(::crdt_types::__derive);
    let per = |f: &Field<'_>, body: &dyn Fn(&Ident, &Type) -> TokenStream2| {
        let (n, ty) = (f.name, f.ty);
        let b = body(n, ty);
        quote_spanned!(ty.span()=> #b)
    };
    let join: Vec<_> = fields
        .iter()
        .map(|f| {
            per(
                f,
                &|n, ty| quote!(#h::join::<#ty>(&mut self.#n, &other.#n);),
            )
        })
        .collect();
    let join_owned: Vec<_> = fields
        .iter()
        .map(|f| {
            per(
                f,
                &|n, ty| quote!(#h::join_owned::<#ty>(&mut self.#n, other.#n);),
            )
        })
        .collect();
    let leq: Vec<_> = fields
        .iter()
        .map(|f| per(f, &|n, ty| quote!(#h::leq::<#ty>(&self.#n, &other.#n))))
        .collect();
    let bottom: Vec<_> = fields
        .iter()
        .map(|f| per(f, &|n, ty| quote!(#h::is_bottom::<#ty>(&self.#n))))
        .collect();
    let decompose: Vec<_> = fields
        .iter()
        .map(|f| {
            per(f, &|n, ty| {
                quote!(parts.extend(#h::decompose::<#ty>(&self.#n).into_iter().map(
                    |part| Self { #n: part, ..::core::default::Default::default() }
                ));)
            })
        })
        .collect();
    let delta_from: Vec<_> = fields
        .iter()
        .map(|f| {
            per(
                f,
                &|n, ty| quote!(#n: #h::delta_from::<#ty>(&self.#n, &known.#n),),
            )
        })
        .collect();
    let validate: Vec<_> = fields
        .iter()
        .map(|f| per(f, &|n, ty| quote!(#h::validate::<#ty>(&self.#n)?;)))
        .collect();
    quote! {
        impl #impl_g #t::Lattice for #name #ty_g #where_c {
            fn join(&mut self, other: &Self) { #(#join)* }
            fn join_owned(&mut self, other: Self) { #(#join_owned)* }
            fn leq(&self, other: &Self) -> bool { true #(&& #leq)* }
            fn is_bottom(&self) -> bool { true #(&& #bottom)* }
        }

        impl #impl_g #t::Decompose for #name #ty_g #where_c {
            fn decompose(&self) -> ::std::vec::Vec<Self> {
                let mut parts = ::std::vec::Vec::new();
                #(#decompose)*
                parts
            }
            fn delta_from(&self, known: &Self) -> Self {
                Self { #(#delta_from)* }
            }
        }

        impl #impl_g #t::Crdt for #name #ty_g #where_c {
            fn validate(&self) -> ::core::result::Result<(), #t::InvalidState> {
                #(#validate)*
                ::core::result::Result::Ok(())
            }
        }
    }
}

/// `update_<field>` for every field.
fn mutators(input: &DeriveInput, fields: &[Field<'_>]) -> TokenStream2 {
    let name = &input.ident;
    let vis = &input.vis;
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let methods = fields.iter().map(|f| {
        let (n, ty) = (f.name, f.ty);
        let method = format_ident!("update_{}", n);
        let doc = format!(
            "Runs `mutate` (a mutator of the field `{n}`, which returns the field's delta) \
             and returns the delta of the whole struct: that field's delta, every other \
             field at bottom."
        );
        quote_spanned! {n.span()=>
            #[doc = #doc]
            #[must_use = "the delta is what replicas ship to each other"]
            #[allow(dead_code)]
            #vis fn #method(&mut self, mutate: impl ::core::ops::FnOnce(&mut #ty) -> #ty) -> Self {
                Self { #n: mutate(&mut self.#n), ..::core::default::Default::default() }
            }
        }
    });
    quote! {
        impl #impl_g #name #ty_g #where_c {
            #(#methods)*
        }
    }
}

/// `crdt_sync::Replicated` with a composite digest.
fn replicated(input: &DeriveInput, fields: &[Field<'_>]) -> TokenStream2 {
    let name = &input.ident;
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let s = quote!(::crdt_sync);
    let r = quote!(#s::Replicated);
    let d = quote!(#s::digest);
    let names: Vec<&Ident> = fields.iter().map(|f| f.name).collect();
    let tys: Vec<&Type> = fields.iter().map(|f| f.ty).collect();
    let idx: Vec<u32> = fields.iter().map(|f| f.index).collect();
    quote! {
        impl #impl_g #r for #name #ty_g #where_c {
            fn validate(&self) -> ::core::result::Result<(), #d::InvalidState> {
                <Self as ::crdt_types::Crdt>::validate(self)
            }

            /// Each field's digest, tagged by the field's index.
            fn digest(&self) -> ::core::option::Option<#d::CausalContext> {
                let mut out = #d::CausalContext::new();
                #( #d::nest(&mut out, &<#tys as #r>::digest(&self.#names)?, #idx); )*
                ::core::option::Option::Some(out)
            }

            fn missing_for(&self, digest: &#d::CausalContext) -> ::core::option::Option<Self> {
                ::core::option::Option::Some(Self {
                    #( #names: <#tys as #r>::missing_for(&self.#names, &#d::field(digest, #idx))?, )*
                })
            }

            fn dots(&self) -> ::core::option::Option<::std::borrow::Cow<'_, #d::CausalContext>> {
                let mut out = #d::CausalContext::new();
                let mut any = false;
                #(
                    if let ::core::option::Option::Some(part) = <#tys as #r>::dots(&self.#names) {
                        #d::nest(&mut out, &part, #idx);
                        any = true;
                    }
                )*
                any.then_some(::std::borrow::Cow::Owned(out))
            }

            /// Fields apart while two or more are set; a lone field by its
            /// own split.
            fn split(&self) -> ::core::option::Option<(Self, Self)> {
                let set = 0usize #( + usize::from(!<#tys as ::crdt_types::Lattice>::is_bottom(&self.#names)) )*;
                if set >= 2 {
                    let mut left = Self::default();
                    let mut right = ::core::clone::Clone::clone(self);
                    let mut moved = 0usize;
                    #(
                        if moved < set / 2 && !<#tys as ::crdt_types::Lattice>::is_bottom(&right.#names) {
                            left.#names = ::core::mem::take(&mut right.#names);
                            moved += 1;
                        }
                    )*
                    return ::core::option::Option::Some((left, right));
                }
                #(
                    if !<#tys as ::crdt_types::Lattice>::is_bottom(&self.#names) {
                        let (a, b) = <#tys as #r>::split(&self.#names)?;
                        return ::core::option::Option::Some((
                            Self { #names: a, ..::core::default::Default::default() },
                            Self { #names: b, ..::core::default::Default::default() },
                        ));
                    }
                )*
                ::core::option::Option::None
            }

            fn latest_wall_ms(&self) -> ::core::option::Option<u64> {
                [#( <#tys as #r>::latest_wall_ms(&self.#names) ),*].into_iter().flatten().max()
            }

            fn mints_as(me: #d::ReplicaId, id: #d::ReplicaId) -> bool {
                false #( || #d::field_mints_as(me, id, #idx, <#tys as #r>::mints_as) )*
            }

            fn reused_dot(&self, other: &Self) -> ::core::option::Option<#d::Dot> {
                #(
                    if let ::core::option::Option::Some(dot) = <#tys as #r>::reused_dot(&self.#names, &other.#names) {
                        return #d::nest_dot(dot, #idx);
                    }
                )*
                ::core::option::Option::None
            }
        }
    }
}
