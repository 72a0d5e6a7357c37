//! Replicated data types built on the `crdt-core` dot-store kernel.
//!
//! Every type is a join-semilattice: replicas mutate their own copy, ship
//! the *delta* each mutation returns (or their whole state), and join what
//! they receive, in any order and any number of times; replicas that have
//! received the same updates are equal (see "Delivery order" below for what
//! holds *before* they have). Every mutator is one call on
//! `&mut self` that applies the change locally and returns a `#[must_use]`
//! delta of the same type; deltas join with each other and into states.
//! Reads borrow.
//!
//! # Map of the crate
//!
//! | type | semantics | built as |
//! |---|---|---|
//! | [`GCounter`] | grow-only counter | replica → count (a [`VersionVector`]) |
//! | [`PnCounter`] | counter, up and down | two `GCounter`s |
//! | [`CausalCounter`] | counter that can be reset (lives in maps) | `Causal<DotFun<i64>>` |
//! | [`LwwRegister`] | last writer wins, on a hybrid clock | `(timestamp, replica, value)` |
//! | [`MvRegister`] | concurrent writes kept as siblings | `Causal<DotFun<T>>` |
//! | [`OrSet`] | add-wins set, no tombstones | `Causal<DotMap<T, DotSet>>` |
//! | [`EwFlag`], [`DwFlag`] | enable-wins / disable-wins flag | `Causal<DotSet>` |
//! | [`GSet`] | grow-only set | sorted set |
//! | [`OrMap`] | map of nested causal values | `Causal<DotMap<K, V::Store>>` |
//! | [`List`], [`Text`] | sequence / plain text, Fugue order (no interleaving), stable [`Cursor`]s | runs of dots with origins + causal context |
//!
//! The causal types are thin newtypes over the kernel's
//! [`Causal`](crdt_core::Causal) and share its one join; the trait
//! [`CausalCrdt`] says so, and is what lets them nest in an [`OrMap`] (a
//! nested value is read through a [`View`]). Every type has `validate()`,
//! and decoding one with serde validates it, so a state from a peer that
//! breaks an invariant is an error before it can be joined.
//!
//! To test your own types and compositions: the module [`laws`] checks the
//! join, delta-mutator, sync, encoding and validation laws on any states
//! and returns a readable [`LawViolation`](laws::LawViolation); with the
//! `arbitrary` feature, the module `fuzzing` generates valid states of every
//! type (and of histories and traces) for cargo-fuzz targets; with the
//! `quickcheck` feature, the module `testing` does the same for quickcheck and
//! adds a distributed-trace property (`testing::check_convergence`).
//!
//! | feature | what it adds |
//! |---|---|
//! | `arbitrary` | `arbitrary::Arbitrary` for every type, `laws::roundtrip` (bincode) |
//! | `quickcheck` | `quickcheck::Arbitrary` for every type, `testing` |
//! | `derive` | `#[derive(Crdt)]` for structs of replicated fields (crate `crdt-derive`) |
//!
//! # Delivery order
//!
//! What holds for deltas joined in any order, duplicated or resent: once
//! two replicas have joined the same deltas, they are equal, whatever the
//! order (the join is commutative, associative and idempotent). What does
//! *not* hold in any order: that every intermediate state is one some
//! replica had. A replica that joins a later delta of a writer before an
//! earlier one can read a state that never existed anywhere:
//!
//! ```
//! use crdt_types::{Lattice, MvRegister, ReplicaId};
//! let w = ReplicaId::from_u128(1);
//! let mut writer = MvRegister::new();
//! let d0 = writer.write(w, 0);
//! let d1 = writer.write(w, 1);
//! let d2 = writer.write(w, 2);
//! // Deltas 0 and 2, without 1: delta 2 overwrites only what the writer
//! // had when it wrote (value 1), so 0 is still there next to 2.
//! let mut reader = MvRegister::new();
//! reader.join(&d0);
//! reader.join(&d2);
//! assert_eq!(reader.values().collect::<Vec<_>>(), [&0, &2]); // never written so
//! // Once delta 1 arrives, the replicas agree again.
//! reader.join(&d1);
//! assert_eq!(reader, writer);
//! assert_eq!(reader.values().collect::<Vec<_>>(), [&2]);
//! ```
//!
//! Reads are causally consistent when each writer's deltas are joined in the
//! order they were made (*causal delivery*), and that is what
//! `crdt-sync`'s engine does: every message carries the join of all the
//! deltas the peer has not acknowledged (a delta-interval), so a peer never
//! joins a delta without the earlier ones it follows, and a catch-up by
//! digest is everything the peer lacks at once. One exception: a payload
//! split over the message limit arrives as parts, each joined when it
//! arrives; until the last part is in, the state may be such a join.
//! Shipping deltas by hand, keep each writer's deltas in order (or join
//! them into one before shipping).
//!
//! # Example
//!
//! ```
//! use crdt_types::{Lattice, OrMap, OrSet, ReplicaId};
//! let (alice, bob) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
//! // Tags per document, edited on two replicas at once.
//! let mut a: OrMap<&str, OrSet<&str>> = OrMap::new();
//! let mut b = a.clone();
//! let d1 = a.update("report", |tags| tags.insert(alice, "draft"));
//! let d2 = b.update("report", |tags| tags.insert(bob, "urgent"));
//! let d3 = b.update("notes", |tags| tags.insert(bob, "personal"));
//! // Ship the deltas both ways, in any order.
//! b.join(&d1);
//! a.join(&d3);
//! a.join(&d2);
//! assert_eq!(a, b);
//! let report: Vec<_> = a.get(&"report").unwrap().iter().copied().collect();
//! assert_eq!(report, ["draft", "urgent"]);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

/// The `CausalCrdt` trait (causal newtypes) and `View` (borrowed reads).
mod causal;
/// `CausalCounter`: a resettable counter.
mod causal_counter;
/// `Crdt`: what every replicated type is (and what `#[derive(Crdt)]` makes).
mod crdt;
/// `DwFlag`: a disable-wins flag.
mod dw_flag;
/// `EwFlag`: an enable-wins flag.
mod ew_flag;
/// `GCounter`: a grow-only counter.
mod g_counter;
/// `GSet`: a grow-only set.
mod g_set;
/// `List<T>` and `Text`: Fugue sequences stored as runs.
mod list;
/// `LwwRegister`: a last-writer-wins register.
mod lww_register;
/// `MvRegister`: a multi-value register.
mod mv_register;
/// `OrMap`: a map of nested causal values.
mod or_map;
/// `OrSet`: an add-wins set.
mod or_set;
/// `PnCounter`: an up-down counter.
mod pn_counter;

// Law checks for any replicated type, returning a readable violation.
pub mod laws;

// Fuzzing support: `arbitrary::Arbitrary` for every type, its operations,
// histories and traces (documented in the module itself).
#[cfg(feature = "arbitrary")]
pub mod fuzzing;

// Property-testing support: `Arbitrary` states, the `Mutate` trait and the
// distributed-trace property (documented in the module itself).
#[cfg(feature = "quickcheck")]
pub mod testing;

pub use causal::{CausalCrdt, View};
pub use causal_counter::CausalCounter;
#[doc(hidden)]
pub use crdt::__derive;
pub use crdt::Crdt;
pub use dw_flag::DwFlag;
pub use ew_flag::EwFlag;
pub use g_counter::GCounter;
pub use g_set::GSet;
pub use list::{Cursor, List, ListOp, Text, TextOp};
pub use lww_register::LwwRegister;
pub use mv_register::MvRegister;
pub use or_map::OrMap;
pub use or_set::OrSet;
pub use pn_counter::PnCounter;

pub use crdt_core::{
    Decompose, HybridClock, HybridTimestamp, InvalidState, Lattice, ReplicaId, VersionVector,
};

/// `#[derive(Crdt)]` (feature `derive`): a replicated struct from
/// replicated fields. See the crate documentation, section "Your own types".
#[cfg(feature = "derive")]
pub use crdt_derive::Crdt;
