//! Causality kernel for state and delta-state CRDTs.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

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
pub use store::{Causal, DotFun, DotMap, DotSet, DotStore};
pub use version_vector::VersionVector;

#[cfg(feature = "quickcheck")]
pub mod arbitrary;
