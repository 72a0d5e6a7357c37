//! Causality kernel for state and delta-state CRDTs.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

mod dot;
mod dvv;
mod dvv_set;
mod hlc;
mod lattice;
mod replica;
mod sorted;
mod version_vector;

pub use dot::Dot;
pub use dvv::Dvv;
pub use dvv_set::{DvvSet, InvalidDvvSet};
pub use hlc::{ClockDriftError, HybridClock, HybridTimestamp};
pub use lattice::{Decompose, Lattice};
pub use replica::ReplicaId;
pub use version_vector::VersionVector;
