//! [`Opened`]: what opening a store gives back.

use std::collections::BTreeMap;

use crdt_core::ReplicaId;

/// Whose replica id a store writes under after opening.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Identity {
    /// The store is new: a fresh random replica id.
    New,
    /// The same replica id as before: the state holds every write this id
    /// acknowledged, so continuing under it reuses no dot and adds nothing
    /// to any context.
    Resumed,
    /// A store opened with [`crate::Durability::Relaxed`] was not closed
    /// cleanly: acknowledged writes of `previous` may be lost (and may have
    /// reached peers), so the store continues under a fresh replica id.
    Rotated {
        /// The id written under before.
        previous: ReplicaId,
    },
}

/// What [`crate::Store::open`] read back: the state, the replica id to
/// write with, and what the store's ids have minted.
///
/// Start the sync engine with
/// `Engine::restore_as(opened.replica(), opened.into_state(), config, now)`:
/// the store has already decided whether the old id is safe to continue
/// under ([`Identity`]).
#[derive(Clone, Debug)]
pub struct Opened<T> {
    state: T,
    replica: ReplicaId,
    minted: BTreeMap<ReplicaId, u64>,
    identity: Identity,
}

impl<T> Opened<T> {
    pub(crate) fn new(
        state: T,
        replica: ReplicaId,
        minted: BTreeMap<ReplicaId, u64>,
        identity: Identity,
    ) -> Self {
        Self {
            state,
            replica,
            minted,
            identity,
        }
    }

    /// The state: the snapshot joined with every logged delta.
    #[must_use]
    pub fn state(&self) -> &T {
        &self.state
    }

    /// The state, by value.
    #[must_use]
    pub fn into_state(self) -> T {
        self.state
    }

    /// The replica id to write with from now on.
    #[must_use]
    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    /// Per replica id this store has written local deltas under, the
    /// highest counter minted. The state always holds these dots (the open
    /// checks it), so minting from the state's context never reuses one.
    #[must_use]
    pub fn minted(&self) -> &BTreeMap<ReplicaId, u64> {
        &self.minted
    }

    /// Whether the replica id is new, resumed, or rotated.
    #[must_use]
    pub fn identity(&self) -> Identity {
        self.identity
    }
}
