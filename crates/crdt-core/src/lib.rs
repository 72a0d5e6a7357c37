//! Causality kernel for state and delta-state CRDTs.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

mod dot;
mod lattice;
mod replica;
mod sorted;
mod version_vector;

pub use dot::Dot;
pub use lattice::{Decompose, Lattice};
pub use replica::ReplicaId;
pub use version_vector::VersionVector;
