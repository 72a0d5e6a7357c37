//! `LwwRegister<T>`: a last-writer-wins register on a hybrid clock.

use crdt_core::{Decompose, HybridClock, HybridTimestamp, InvalidState, Lattice};
use serde::{Deserialize, Serialize};

/// A last-writer-wins register: the write with the greatest hybrid
/// timestamp wins, ties between replicas go to the greater replica id, and
/// a write made after observing a value always wins over it.
///
/// Join: `x ⊔ y = max(x, y)` by `(timestamp, value)` — the later write,
/// where timestamps order by `(wall ms, logical, replica)` (the value only
/// orders two writes that carry the same timestamp, which happens only if a
/// replica id was reused, and keeps the join deterministic).
///
/// Design note: a write stamps `clock.now()`, unless the register already
/// holds a value whose timestamp is not below that (a peer with a fast wall
/// clock); the write then takes the timestamp just after the observed one
/// and tells the clock (`HybridClock::observe`), so the write wins over
/// what it saw and later stamps stay ahead. If the clock refuses the
/// observed timestamp as too far ahead (its drift limit), the write still
/// wins and the clock is left as it was. The delta of a write is the
/// register itself (the winning write).
///
/// ```
/// use crdt_core::HybridClock;
/// use crdt_types::{Lattice, LwwRegister, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// // Two clocks that read the same wall time: the tie goes to replica b.
/// let mut clock_a = HybridClock::with_time_source(a, || 1_000);
/// let mut clock_b = HybridClock::with_time_source(b, || 1_000);
/// let mut x = LwwRegister::new();
/// let mut y = LwwRegister::new();
/// let dx = x.write(&mut clock_a, "Ada");
/// let dy = y.write(&mut clock_b, "Ada L.");
/// x.join(&dy);
/// y.join(&dx);
/// assert_eq!(x, y);
/// assert_eq!(x.value(), Some(&"Ada L."));
/// // A write made after observing the winner wins, whatever the clocks say.
/// let d = x.write(&mut clock_a, "Ada Lovelace");
/// y.join(&d);
/// assert_eq!(y.value(), Some(&"Ada Lovelace"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LwwRegister<T> {
    entry: Option<(HybridTimestamp, T)>,
}

impl<T> Default for LwwRegister<T> {
    fn default() -> Self {
        Self { entry: None }
    }
}

impl<T: Ord + Clone> LwwRegister<T> {
    /// The empty register (never written).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `value` with a timestamp from `clock` (whose replica is the
    /// writer) that is greater than the timestamp of the value held now.
    /// The delta is the register holding the new write.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn write(&mut self, clock: &mut HybridClock, value: T) -> Self {
        let mut stamp = clock.now();
        if let Some((seen, _)) = &self.entry
            && stamp <= *seen
        {
            stamp = just_after(*seen, clock);
            // A refusal (drift limit) leaves the clock as it was; the write
            // still wins over what it saw.
            let _ = clock.observe(stamp);
        }
        self.entry = Some((stamp, value.clone()));
        Self {
            entry: Some((stamp, value)),
        }
    }

    /// The current value (`None` if never written).
    #[must_use]
    pub fn value(&self) -> Option<&T> {
        self.entry.as_ref().map(|(_, v)| v)
    }

    /// The timestamp of the current value.
    #[must_use]
    pub fn timestamp(&self) -> Option<HybridTimestamp> {
        self.entry.as_ref().map(|(t, _)| *t)
    }

    /// Always `Ok`: every timestamp and value is valid. Offered so that every
    /// type has the same check.
    pub fn validate(&self) -> Result<(), InvalidState> {
        Ok(())
    }
}

/// The least timestamp of `clock`'s replica above `seen`.
fn just_after(seen: HybridTimestamp, clock: &HybridClock) -> HybridTimestamp {
    let (wall, logical) = match seen.logical().checked_add(1) {
        Some(logical) => (seen.wall_ms(), logical),
        None => (seen.wall_ms().saturating_add(1), 0),
    };
    HybridTimestamp::new(wall, logical, clock.replica())
}

impl<T: Ord + Clone> Lattice for LwwRegister<T> {
    fn join(&mut self, other: &Self) {
        if other.entry > self.entry {
            self.entry.clone_from(&other.entry);
        }
    }

    fn join_owned(&mut self, other: Self) {
        if other.entry > self.entry {
            self.entry = other.entry;
        }
    }

    fn leq(&self, other: &Self) -> bool {
        self.entry <= other.entry
    }

    fn is_bottom(&self) -> bool {
        self.entry.is_none()
    }
}

impl<T: Ord + Clone> Decompose for LwwRegister<T> {
    /// The register itself (a single write is join-irreducible).
    fn decompose(&self) -> Vec<Self> {
        if self.is_bottom() {
            Vec::new()
        } else {
            vec![self.clone()]
        }
    }

    fn delta_from(&self, known: &Self) -> Self {
        if self.leq(known) {
            Self::new()
        } else {
            self.clone()
        }
    }
}

impl<T: Ord + Clone + std::fmt::Debug> crate::laws::Mutate for LwwRegister<T> {
    /// A write of the value with the writer's wall clock reading the given
    /// milliseconds (small, so clocks tie and go backwards often).
    type Op = (u8, T);

    fn apply(&mut self, replica: crdt_core::ReplicaId, (wall, value): &(u8, T)) -> Self {
        let wall = u64::from(wall % 8);
        let mut clock = HybridClock::with_time_source(replica, move || wall);
        self.write(&mut clock, value.clone())
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[T: quickcheck::Arbitrary + Ord + std::fmt::Debug] LwwRegister<T>);

#[cfg(test)]
mod tests {
    use super::*;
    use crdt_core::ReplicaId;

    #[test]
    fn a_write_after_a_value_from_the_future_still_wins() {
        let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
        let mut fast = HybridClock::with_time_source(b, || 9_000);
        let mut slow = HybridClock::with_time_source(a, || 1_000).with_max_drift_ms(Some(10));
        let mut r = LwwRegister::new();
        let _ = r.write(&mut fast, 1);
        let d = r.write(&mut slow, 2);
        assert_eq!(r.value(), Some(&2));
        assert!(d.timestamp() > Some(HybridTimestamp::new(9_000, 0, b)));
    }

    #[test]
    fn the_logical_part_carries_into_the_wall_time() {
        let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
        let seen = HybridTimestamp::new(5, u32::MAX, b);
        let clock = HybridClock::with_time_source(a, || 0);
        assert_eq!(just_after(seen, &clock), HybridTimestamp::new(6, 0, a));
    }
}
