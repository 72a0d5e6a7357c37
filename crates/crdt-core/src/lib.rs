//! Causality kernel for state and delta-state CRDTs.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

mod context;
mod dot;
mod error;
mod intervals;
mod lattice;
mod replica;
mod sorted;
mod store;
mod version_vector;

pub use context::CausalContext;
pub use dot::Dot;
pub use error::{DotReuse, InvalidState};
pub use lattice::{Decompose, Lattice};
pub use replica::ReplicaId;
pub use store::{Causal, DotFun, DotMap, DotSet, DotStore};
pub use version_vector::VersionVector;

#[cfg(feature = "quickcheck")]
pub mod arbitrary;
