//! `GCounter`: a grow-only counter.

use std::num::NonZeroU64;

use crdt_core::{Decompose, InvalidState, Lattice, ReplicaId, VersionVector};
use serde::{Deserialize, Serialize};

/// A grow-only counter: each replica counts its own increments, and the
/// value is the sum of all replicas' counts.
///
/// Join: `(x ⊔ y)[r] = max(x[r], y[r])` for every replica `r` — each replica's
/// count only grows, so the larger one is the more recent.
///
/// Design note: a map replica → count whose join is the pointwise maximum
/// *is* a version vector, so the state is the kernel's [`VersionVector`]
/// (sorted, inline for up to four replicas, no zero entries by construction,
/// and a decoder that rejects unsorted or repeated replicas and zero counts).
/// Overflow: a replica's count saturates at `u64::MAX` and the value is the
/// exact sum clamped to `u64::MAX`, so reads never wrap and never panic;
/// reaching the bound takes 2^64 increments.
///
/// ```
/// use crdt_types::{GCounter, Lattice, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = GCounter::new();
/// let mut y = GCounter::new();
/// let dx = x.increment(a, 2);
/// let dy = y.increment(b, 3);
/// x.join(&dy);
/// y.join(&dx);
/// assert_eq!(x, y);
/// assert_eq!(x.value(), 5);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GCounter(VersionVector);

impl GCounter {
    /// The zero counter.
    #[must_use]
    #[inline]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `by` to `replica`'s count; the delta is that one entry. Adding 0
    /// changes nothing and returns the bottom delta.
    #[must_use = "the delta is what replicas ship to each other"]
    #[inline]
    pub fn increment(&mut self, replica: ReplicaId, by: u64) -> Self {
        match NonZeroU64::new(by) {
            Some(by) => Self(VersionVector::from(self.0.increment_by(replica, by))),
            None => Self::new(),
        }
    }

    /// The sum of all replicas' counts (clamped to `u64::MAX`).
    #[must_use]
    pub fn value(&self) -> u64 {
        let total: u128 = self.0.iter().map(|(_, n)| u128::from(n)).sum();
        u64::try_from(total).unwrap_or(u64::MAX)
    }

    /// The count of one replica.
    #[must_use]
    pub fn count(&self, replica: ReplicaId) -> u64 {
        self.0.get(replica)
    }

    /// The non-zero `(replica, count)` entries, in replica order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (ReplicaId, u64)> + '_ {
        self.0.iter()
    }

    /// Always `Ok`: the representation admits no invalid state (zero counts
    /// and unsorted replicas are rejected when decoding). Offered so that
    /// every type has the same check.
    pub fn validate(&self) -> Result<(), InvalidState> {
        Ok(())
    }
}

impl Lattice for GCounter {
    fn join(&mut self, other: &Self) {
        self.0.join(&other.0);
    }

    fn leq(&self, other: &Self) -> bool {
        self.0.leq(&other.0)
    }

    fn is_bottom(&self) -> bool {
        self.0.is_bottom()
    }
}

impl Decompose for GCounter {
    /// One single-replica counter per replica.
    fn decompose(&self) -> Vec<Self> {
        self.0.decompose().into_iter().map(Self).collect()
    }

    fn delta_from(&self, known: &Self) -> Self {
        Self(self.0.delta_from(&known.0))
    }
}

impl crate::laws::Mutate for GCounter {
    /// An increment by this amount.
    type Op = u8;

    fn apply(&mut self, replica: ReplicaId, op: &u8) -> Self {
        self.increment(replica, u64::from(*op))
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[] GCounter);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increment_saturates_instead_of_wrapping() {
        let a = ReplicaId::from_u128(1);
        let mut c = GCounter::new();
        let _ = c.increment(a, u64::MAX);
        let d = c.increment(a, 5);
        assert_eq!(c.count(a), u64::MAX);
        assert!(d.leq(&c));
        let _ = c.increment(ReplicaId::from_u128(2), 1);
        assert_eq!(c.value(), u64::MAX);
    }

    #[test]
    fn zero_increment_is_the_bottom_delta() {
        let mut c = GCounter::new();
        assert!(c.increment(ReplicaId::from_u128(1), 0).is_bottom());
        assert!(c.is_bottom());
    }
}
