//! `LwwRegister<T>`: a last-writer-wins register on a hybrid clock.

use crdt_core::{Decompose, HybridClock, HybridTimestamp, InvalidState, Lattice, ReplicaId};
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
            stamp = just_after(*seen, clock.replica());
            // A refusal (drift limit) leaves the clock as it was; the write
            // still wins over what it saw.
            let _ = clock.observe(stamp);
        }
        self.store(stamp, value)
    }

    /// Writes `value` as `replica` at the caller's wall time `wall_ms`
    /// (milliseconds since the UNIX epoch, or any clock the application
    /// shares between replicas), with no clock read: the write path for a
    /// caller that already knows the time (a request timestamp, one clock
    /// read for a batch of writes).
    ///
    /// The monotonic rule still holds: if the register holds a value whose
    /// timestamp is not below `(wall_ms, 0, replica)` (a later wall time, or
    /// an earlier write in the same millisecond), the write takes the
    /// timestamp just after it, so a write made after observing a value
    /// always wins over it. The delta is the register holding the new write.
    ///
    /// ```
    /// use crdt_types::{Lattice, LwwRegister, ReplicaId};
    /// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    /// let mut x = LwwRegister::new();
    /// let _ = x.write_at(b, 2_000, "from b's fast clock");
    /// // a's clock says 1 000 ms, but a saw b's value: a's write wins.
    /// let d = x.write_at(a, 1_000, "from a");
    /// assert_eq!(x.value(), Some(&"from a"));
    /// let mut y = LwwRegister::new();
    /// let _ = y.write_at(b, 2_000, "from b's fast clock");
    /// y.join(&d);
    /// assert_eq!(y.value(), Some(&"from a"));
    /// ```
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn write_at(&mut self, replica: ReplicaId, wall_ms: u64, value: T) -> Self {
        self.write_stamped(HybridTimestamp::new(wall_ms, 0, replica), value)
    }

    /// Writes `value` with the caller's timestamp `stamp` (from a
    /// [`HybridClock`] read once for many writes, say), or with the
    /// timestamp of `stamp`'s replica just after the held value's if
    /// `stamp` is not above it (the monotonic rule of
    /// [`LwwRegister::write_at`]). The delta is the register holding the
    /// new write.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn write_stamped(&mut self, stamp: HybridTimestamp, value: T) -> Self {
        let stamp = match &self.entry {
            Some((seen, _)) if stamp <= *seen => just_after(*seen, stamp.replica()),
            _ => stamp,
        };
        self.store(stamp, value)
    }

    /// Holds `(stamp, value)` and returns it as the delta.
    fn store(&mut self, stamp: HybridTimestamp, value: T) -> Self {
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

/// The least timestamp of `replica` above `seen`.
fn just_after(seen: HybridTimestamp, replica: ReplicaId) -> HybridTimestamp {
    let (wall, logical) = match seen.logical().checked_add(1) {
        Some(logical) => (seen.wall_ms(), logical),
        None => (seen.wall_ms().saturating_add(1), 0),
    };
    HybridTimestamp::new(wall, logical, replica)
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
    /// milliseconds (small, so clocks tie and go backwards often): through a
    /// clock, or as the caller's time ([`LwwRegister::write_at`]) when bit 3
    /// is set.
    type Op = (u8, T);

    fn apply(&mut self, replica: ReplicaId, (wall, value): &(u8, T)) -> Self {
        let at = u64::from(wall % 8);
        if wall & 8 != 0 {
            return self.write_at(replica, at, value.clone());
        }
        let mut clock = HybridClock::with_time_source(replica, move || at);
        self.write(&mut clock, value.clone())
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[T: quickcheck::Arbitrary + Ord + std::fmt::Debug] LwwRegister<T>);

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(just_after(seen, a), HybridTimestamp::new(6, 0, a));
    }

    #[test]
    fn writes_at_one_millisecond_are_ordered_by_their_order() {
        let a = ReplicaId::from_u128(1);
        let mut r = LwwRegister::new();
        let d1 = r.write_at(a, 7, 1);
        let d2 = r.write_at(a, 7, 2);
        assert!(d1.timestamp() < d2.timestamp());
        let mut other = d2.clone();
        other.join(&d1);
        assert_eq!(other.value(), Some(&2));
        // A later caller time wins plainly, with its own stamp.
        let d3 = r.write_stamped(HybridTimestamp::new(9, 4, a), 3);
        assert_eq!(d3.timestamp(), Some(HybridTimestamp::new(9, 4, a)));
    }
}
