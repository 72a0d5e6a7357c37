//! [`Replicated`]: what the engine needs of a state type.

use std::fmt::Debug;

use crdt_core::{
    Causal, CausalContext, Decompose, Dot, DotStore, Fingerprint, InternedDeserialize,
    InternedSerialize, InvalidState, ReplicaId, VersionVector,
};
use crdt_types::{
    CausalCounter, CausalCrdt, DwFlag, EwFlag, GCounter, GSet, LwwRegister, MvRegister, OrMap,
    OrSet, PnCounter,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A state the sync engine can replicate: a lattice with a join
/// decomposition (to strip redundant deltas), an encoding, and a check for
/// states that arrive from peers.
///
/// Implemented for every type of `crdt-types`, for the kernel's
/// [`Causal`] states and for [`VersionVector`]; implement it
/// for your own type to sync it. Causal types also answer digests
/// ([`Replicated::digest`] / [`Replicated::missing_for`]): a peer that fell
/// behind sends its causal context and gets back exactly what it lacks,
/// removals included, instead of the whole state.
pub trait Replicated: Decompose + Serialize + DeserializeOwned + Debug {
    /// Checks the invariants of a state decoded from a peer.
    fn validate(&self) -> Result<(), InvalidState>;

    /// A summary of what this state has seen, for digest catch-up; `None`
    /// (the default) when the type has none, and catch-up falls back to the
    /// full state.
    fn digest(&self) -> Option<CausalContext> {
        None
    }

    /// Exactly what a peer whose digest is `digest` lacks; `None` (the
    /// default) when the type has no digests.
    fn missing_for(&self, digest: &CausalContext) -> Option<Self> {
        let _ = digest;
        None
    }

    /// Two smaller states whose join is `self`, used to split a payload
    /// over the message limit; `None` when `self` is a single irreducible
    /// state. The default halves [`Decompose::decompose`]; causal types cut
    /// at their median dot (`O(n)` per cut, so splitting into pieces costs
    /// `O(n log n)`).
    fn split(&self) -> Option<(Self, Self)> {
        let mut parts = self.decompose();
        if parts.len() < 2 {
            return None;
        }
        let right = parts.split_off(parts.len() / 2);
        let join_all = |v: Vec<Self>| {
            v.into_iter().fold(Self::default(), |mut acc, p| {
                acc.join_owned(p);
                acc
            })
        };
        Some((join_all(parts), join_all(right)))
    }

    /// The latest wall-clock time (milliseconds since the Unix epoch) of any
    /// timestamp in the state, for the engine's check of remote clocks
    /// ([`crate::Config::max_clock_drift`]); `None` (the default) for types
    /// without timestamps. A composite state with timestamped parts returns
    /// the latest of its parts'.
    fn latest_wall_ms(&self) -> Option<u64> {
        None
    }

    /// Whether a replica writing as `me` may mint dots under `id`. The
    /// default is `id == me`. A composite state that writes its parts under
    /// ids derived from the writer's (as `crdt-net`'s `KvState` does, one
    /// tagged id per inner map) accepts those here, so the engine's check of
    /// local writes lets them through.
    fn mints_as(me: ReplicaId, id: ReplicaId) -> bool {
        id == me
    }

    /// A dot that `self` and `other` both hold with different payloads (one
    /// replica id minted it twice), if any; `None` (the default) for types
    /// without dots. The engine refuses local writes that would create one.
    fn reused_dot(&self, other: &Self) -> Option<Dot> {
        let _ = other;
        None
    }

    /// Per origin replica, a summary of the dots seen and the content of
    /// the dots held ([`Causal::fingerprints`]), keyed by `seed`; `None`
    /// (the default) for types without dots. Engines compare them to find
    /// a dot held with two contents, which delta sync alone never repairs.
    fn fingerprints(&self, seed: u64) -> Option<Vec<Fingerprint>> {
        let _ = seed;
        None
    }

    /// The part of the state minted by `origins` (sorted), with the context
    /// restricted to them ([`Causal::project`]): what a peer whose
    /// fingerprints differ for those origins joins to reach the full join.
    /// `None` (the default) for types without dots.
    fn project(&self, origins: &[ReplicaId]) -> Option<Self> {
        let _ = origins;
        None
    }
}

impl<S> Replicated for Causal<S>
where
    S: DotStore + InternedSerialize + InternedDeserialize,
{
    fn validate(&self) -> Result<(), InvalidState> {
        Causal::validate(self)
    }

    fn digest(&self) -> Option<CausalContext> {
        Some(self.context().clone())
    }

    fn missing_for(&self, digest: &CausalContext) -> Option<Self> {
        Some(self.delta_for(digest))
    }

    fn split(&self) -> Option<(Self, Self)> {
        Causal::split(self)
    }

    fn reused_dot(&self, other: &Self) -> Option<Dot> {
        let overlap = self.context().intersection(other.context());
        self.store().conflict(other.store(), &overlap)
    }

    fn fingerprints(&self, seed: u64) -> Option<Vec<Fingerprint>> {
        Some(Causal::fingerprints(self, seed))
    }

    fn project(&self, origins: &[ReplicaId]) -> Option<Self> {
        Some(Causal::project(self, origins))
    }
}

/// Causal newtypes: validation and digests through the kernel.
macro_rules! causal_replicated {
    ($([$($g:tt)*] $ty:ty),* $(,)?) => {$(
        impl<$($g)*> Replicated for $ty
        where
            $ty: Serialize + DeserializeOwned,
            <$ty as CausalCrdt>::Store: InternedSerialize,
        {
            fn validate(&self) -> Result<(), InvalidState> {
                <$ty>::validate(self)
            }

            fn digest(&self) -> Option<CausalContext> {
                Some(self.as_causal().context().clone())
            }

            fn missing_for(&self, digest: &CausalContext) -> Option<Self> {
                Some(Self::from_causal(self.as_causal().delta_for(digest)))
            }

            fn split(&self) -> Option<(Self, Self)> {
                self.as_causal()
                    .split()
                    .map(|(a, b)| (Self::from_causal(a), Self::from_causal(b)))
            }

            fn reused_dot(&self, other: &Self) -> Option<Dot> {
                let (mine, theirs) = (self.as_causal(), other.as_causal());
                let overlap = mine.context().intersection(theirs.context());
                mine.store().conflict(theirs.store(), &overlap)
            }

            fn fingerprints(&self, seed: u64) -> Option<Vec<Fingerprint>> {
                Some(self.as_causal().fingerprints(seed))
            }

            fn project(&self, origins: &[ReplicaId]) -> Option<Self> {
                Some(Self::from_causal(self.as_causal().project(origins)))
            }
        }
    )*};
}

causal_replicated! {
    [T: Ord + Clone + Debug] OrSet<T>,
    [T: Ord + Clone + Debug] MvRegister<T>,
    [] CausalCounter,
    [] EwFlag,
    [] DwFlag,
    [K: Ord + Clone + Debug, V: CausalCrdt] OrMap<K, V>,
}

/// State-only types: validation, no digests.
macro_rules! plain_replicated {
    ($([$($g:tt)*] $ty:ty),* $(,)?) => {$(
        impl<$($g)*> Replicated for $ty
        where
            $ty: Serialize + DeserializeOwned,
        {
            fn validate(&self) -> Result<(), InvalidState> {
                <$ty>::validate(self)
            }
        }
    )*};
}

plain_replicated! {
    [] GCounter,
    [] PnCounter,
    [T: Ord + Clone + Debug] GSet<T>,
}

impl<T: Ord + Clone + Debug> Replicated for LwwRegister<T>
where
    LwwRegister<T>: Serialize + DeserializeOwned,
{
    fn validate(&self) -> Result<(), InvalidState> {
        LwwRegister::validate(self)
    }

    fn latest_wall_ms(&self) -> Option<u64> {
        self.timestamp().map(|t| t.wall_ms())
    }
}

impl Replicated for VersionVector {
    fn validate(&self) -> Result<(), InvalidState> {
        Ok(()) // decoding already rejects unsorted and zero entries
    }
}
