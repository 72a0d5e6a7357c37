//! [`Replicated`]: what the engine needs of a state type.

use std::borrow::Cow;
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

use crate::digest;

/// A state the sync engine can replicate: a lattice with a join
/// decomposition (to strip redundant deltas), an encoding, and a check for
/// states that arrive from peers.
///
/// Implemented for every type of `crdt-types`, for the kernel's
/// [`Causal`] states and for [`VersionVector`]; derive it for a struct of
/// replicated fields with `#[derive(Crdt)] #[crdt(sync)]` (`crdt-types`,
/// feature `derive`), or implement it for your own type to sync it. Every
/// built-in type answers digests ([`Replicated::digest`] /
/// [`Replicated::missing_for`]; see [`crate::digest`]): a peer that fell
/// behind sends its digest and gets back exactly what it lacks, removals
/// included, instead of the whole state.
///
/// ```
/// use crdt_sync::Replicated;
/// use crdt_types::{Lattice, OrSet, ReplicaId};
/// let me = ReplicaId::from_u128(1);
/// let mut ahead = OrSet::new();
/// let _ = ahead.insert_all(me, 0..1000u32);
/// let mut behind = ahead.clone();
/// let _ = ahead.insert(me, 1000);
/// let _ = ahead.remove(&7);
/// // The peer behind sends its digest; the answer is what it lacks.
/// let answer = ahead.missing_for(&behind.digest().unwrap()).unwrap();
/// assert_eq!(answer.len(), 1); // the insert; the removal rides in its context
/// behind.join(&answer);
/// assert_eq!(behind, ahead);
/// assert!(behind.validate().is_ok());
/// ```
pub trait Replicated: Decompose + Serialize + DeserializeOwned + Debug {
    /// Checks the invariants of a state decoded from a peer.
    fn validate(&self) -> Result<(), InvalidState>;

    /// The check [`crate::codec`] runs on a state it has just decoded:
    /// [`Replicated::validate`] (the default), or nothing for a type whose
    /// `Deserialize` has already run exactly that check. The causal types
    /// of `crdt-types` decode through the kernel, which validates, so a
    /// second check would walk every received state twice (issue 11: a
    /// seventh of the cost of a large delta).
    fn validate_decoded(&self) -> Result<(), InvalidState> {
        self.validate()
    }

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

    /// The dots the state holds or has seen, for the engine's checks that
    /// a replica mints only under its own ids ([`Replicated::mints_as`]),
    /// never above what it minted, and never twice. The default is the
    /// digest, which is right for causal types (their digest *is* their
    /// context); types whose digest is not made of dots (counters,
    /// registers, G-sets: see [`crate::digest`]) return `None`. Borrowed
    /// where the state holds it (a causal type's context): the engine asks
    /// on every received delta, and a copy of a received context of many
    /// gaps cost as much memory as the context itself (issue 11).
    fn dots(&self) -> Option<Cow<'_, CausalContext>> {
        self.digest().map(Cow::Owned)
    }

    /// Whether `known` has seen nothing of `self`, so that
    /// [`Decompose::into_delta_from`] keeps `self` whole; `false` (the
    /// default) when the type cannot tell cheaply. The engine then takes a
    /// received state's size from the message instead of encoding what it
    /// kept again (issue 11).
    fn unseen_by(&self, known: &Self) -> bool {
        let _ = known;
        false
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

    /// Nothing: `Causal`'s `Deserialize` has run [`Causal::validate`].
    fn validate_decoded(&self) -> Result<(), InvalidState> {
        Ok(())
    }

    /// Contexts disjoint: `into_delta_from` returns `self`.
    fn unseen_by(&self, known: &Self) -> bool {
        self.context().is_disjoint(known.context())
    }

    fn digest(&self) -> Option<CausalContext> {
        Some(self.context().clone())
    }

    fn dots(&self) -> Option<Cow<'_, CausalContext>> {
        Some(Cow::Borrowed(self.context()))
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

            /// Nothing: decoding ran the kernel's validation and the
            /// type's own check (`causal_crdt!`'s `Deserialize`), which
            /// is all [`Replicated::validate`] does.
            fn validate_decoded(&self) -> Result<(), InvalidState> {
                Ok(())
            }

            /// Contexts disjoint: `into_delta_from` returns `self`.
            fn unseen_by(&self, known: &Self) -> bool {
                self.as_causal()
                    .context()
                    .is_disjoint(known.as_causal().context())
            }

            fn digest(&self) -> Option<CausalContext> {
                Some(self.as_causal().context().clone())
            }

            fn dots(&self) -> Option<Cow<'_, CausalContext>> {
                Some(Cow::Borrowed(self.as_causal().context()))
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

/// Types whose digest is a summary written as a context (see
/// [`crate::digest`]): not dots, so no minting checks.
macro_rules! summary_replicated {
    ($([$($g:tt)*] $ty:ty => $digest:path, $missing:path $(, { $($extra:tt)* })?);* $(;)?) => {$(
        impl<$($g)*> Replicated for $ty
        where
            $ty: Serialize + DeserializeOwned,
        {
            fn validate(&self) -> Result<(), InvalidState> {
                <$ty>::validate(self)
            }

            fn digest(&self) -> Option<CausalContext> {
                Some($digest(self))
            }

            fn missing_for(&self, digest: &CausalContext) -> Option<Self> {
                Some($missing(self, digest))
            }

            fn dots(&self) -> Option<Cow<'_, CausalContext>> {
                None
            }

            $($($extra)*)?
        }
    )*};
}

summary_replicated! {
    [] GCounter => digest::g_counter, digest::g_counter_missing;
    [] PnCounter => digest::pn_counter, digest::pn_counter_missing;
    [T: Ord + Clone + Debug + Serialize] GSet<T> => digest::g_set, digest::g_set_missing;
    [T: Ord + Clone + Debug] LwwRegister<T> => digest::lww, digest::lww_missing, {
        fn latest_wall_ms(&self) -> Option<u64> {
            self.timestamp().map(|t| t.wall_ms())
        }
    };
}

impl Replicated for VersionVector {
    fn validate(&self) -> Result<(), InvalidState> {
        Ok(()) // decoding already rejects unsorted and zero entries
    }

    /// Per replica, `1..=counter`.
    fn digest(&self) -> Option<CausalContext> {
        let mut d = CausalContext::new();
        for (r, n) in self.iter() {
            d.insert_range(r, 1, n);
        }
        Some(d)
    }

    fn missing_for(&self, digest: &CausalContext) -> Option<Self> {
        let mut out = VersionVector::new();
        for (r, n) in self.iter() {
            if let Some(n) = std::num::NonZeroU64::new(n)
                && digest.max(r) < n.get()
            {
                let _ = out.increment_by(r, n);
            }
        }
        Some(out)
    }

    fn dots(&self) -> Option<Cow<'_, CausalContext>> {
        None
    }
}
