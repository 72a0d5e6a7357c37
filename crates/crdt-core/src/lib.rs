//! Causality kernel for state and delta-state CRDTs.
//!
//! A replicated state here is a join-semilattice ([`Lattice`]): replicas
//! exchange whole states or small deltas in any order, any number of times,
//! and end equal once they have joined the same ones (in between, a delta
//! joined before an earlier one of the same writer can give a state no
//! replica had; `crdt-types` explains, and `crdt-sync` delivers causally). This crate knows nothing of concrete data types or
//! networks; it gives them causality:
//!
//! | item | what it is |
//! |---|---|
//! | [`ReplicaId`], [`Dot`] | who wrote, and which of their events |
//! | [`VersionVector`] | replica -> events seen without gaps |
//! | [`Dvv`], [`DvvSet`] | dotted version vectors, and the compact sibling set of a key-value store |
//! | [`HybridClock`], [`HybridTimestamp`] | hybrid logical clock for last-writer-wins timestamps |
//! | [`CausalContext`] | every dot seen, as a version vector plus compressed gaps |
//! | [`Lattice`], [`Decompose`] | join / order, and join decomposition for delta stripping |
//! | [`DotSet`], [`DotFun`], [`DotMap`] | the dot stores causal types are made of |
//! | [`Causal`] | store + context, with the one causal join, [`Causal::delta_for`] and validation |
//! | [`Fingerprint`], [`content_hash`] | per-origin content summaries that find a dot held with two contents |
//! | [`InvalidState`], [`DotReuse`], [`InvalidDvvSet`], [`ClockDriftError`] | what bad input from a peer is rejected with |
//! | `arbitrary` (feature `quickcheck`) | generators for property-testing your own compositions |
//! | `fuzzing` (feature `arbitrary`) | `arbitrary::Arbitrary` for ids, dots, version vectors and contexts (cargo-fuzz input) |
//!
//! # Example: two replicas of an add-wins set converge
//!
//! ```
//! use crdt_core::{Causal, DotMap, DotSet, Lattice, ReplicaId};
//!
//! type Set = Causal<DotMap<String, DotSet>>;
//! fn insert(s: &mut Set, me: ReplicaId, x: &str) {
//!     let dot = s.next_dot(me); // minted from the local context only
//!     let (store, ctx) = s.parts_mut();
//!     ctx.insert(dot);
//!     store.update(x.to_owned(), |dots| { dots.insert(dot); });
//! }
//!
//! let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
//! let (mut x, mut y) = (Set::new(), Set::new());
//! insert(&mut x, a, "apple");
//! insert(&mut y, b, "pear");
//! // Exchange exactly what the other lacks.
//! let for_y = x.delta_for(y.context());
//! let for_x = y.delta_for(x.context());
//! x.join(&for_x);
//! y.join(&for_y);
//! assert_eq!(x, y);
//! assert_eq!(x.store().len(), 2);
//! ```
//!
//! # Invariants
//! 1. A dot is minted only from the local causal context, never twice.
//! 2. Every dot in a store is in its context (joins keep it; decoding checks it).
//! 3. No hash maps in state: equal states iterate and encode identically.
//! 4. Equality is equality of lattice elements (representations are canonical).
//! 5. Bytes from a peer give a value or an error: no panic, no corrupt state.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

pub mod byte_column;
mod context;
mod dot;
mod dvv;
mod dvv_set;
mod error;
mod hlc;
mod intervals;
mod lattice;
mod replica;
mod sorted;
mod store;
mod version_vector;

pub use context::CausalContext;
pub use dot::Dot;
pub use dvv::Dvv;
pub use dvv_set::{DvvSet, InvalidDvvSet};
pub use error::{DotReuse, InvalidState};
pub use hlc::{ClockDriftError, HybridClock, HybridTimestamp};
pub use lattice::{Decompose, Lattice};
pub use replica::ReplicaId;
pub use store::{
    Causal, DotFun, DotMap, DotSet, DotStore, Fingerprint, InternedDeserialize, InternedSerialize,
    StoreEncoding, content_hash, with_store_encoding,
};
pub use version_vector::VersionVector;

#[cfg(feature = "quickcheck")]
pub mod arbitrary;

// `arbitrary::Arbitrary` for ids, dots, version vectors and contexts.
#[cfg(feature = "arbitrary")]
pub mod fuzzing;
