//! `PnCounter`: a counter that goes up and down.

use crdt_core::{Decompose, InvalidState, Lattice, ReplicaId};
use serde::{Deserialize, Serialize};

use crate::GCounter;

/// A counter that can be incremented and decremented: two grow-only
/// counters, one of increments (`p`) and one of decrements (`n`), and the
/// value is `p - n`.
///
/// Join: `(x ⊔ y) = (x.p ⊔ y.p, x.n ⊔ y.n)` — each half joins as a
/// [`GCounter`] (pointwise maximum per replica).
///
/// Overflow: each half saturates per replica at `u64::MAX` (see
/// [`GCounter`]); [`PnCounter::value`] computes `p - n` exactly in 128 bits and
/// clamps it to the `i64` range.
///
/// Design note: the mutators (and [`GCounter::increment`] and `new`) are
/// `#[inline]`. A counter is two inline version vectors (208 bytes), so a
/// delta returned through calls into another crate was built on the stack
/// and copied out, and the empty half of each delta was a call; inlined
/// into the caller, the delta is written where the caller keeps it. That
/// cut the 16-replica increment row from 170 to 110 instructions per
/// increment (`counters_profile` under callgrind, `docs/measurements.md`).
///
/// ```
/// use crdt_types::{Lattice, PnCounter, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = PnCounter::new();
/// let mut y = PnCounter::new();
/// let dx = x.increment(a, 5);
/// let dy = y.decrement(b, 7);
/// x.join(&dy);
/// y.join(&dx);
/// assert_eq!(x, y);
/// assert_eq!(x.value(), -2);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PnCounter {
    p: GCounter,
    n: GCounter,
}

impl PnCounter {
    /// The zero counter.
    #[must_use]
    #[inline]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `by`; the delta is the one changed entry.
    #[must_use = "the delta is what replicas ship to each other"]
    #[inline]
    pub fn increment(&mut self, replica: ReplicaId, by: u64) -> Self {
        Self {
            p: self.p.increment(replica, by),
            n: GCounter::new(),
        }
    }

    /// Subtracts `by`; the delta is the one changed entry.
    #[must_use = "the delta is what replicas ship to each other"]
    #[inline]
    pub fn decrement(&mut self, replica: ReplicaId, by: u64) -> Self {
        Self {
            p: GCounter::new(),
            n: self.n.increment(replica, by),
        }
    }

    /// Adds a signed amount (an increment or a decrement).
    #[must_use = "the delta is what replicas ship to each other"]
    #[inline]
    pub fn add(&mut self, replica: ReplicaId, amount: i64) -> Self {
        if amount >= 0 {
            self.increment(replica, amount.unsigned_abs())
        } else {
            self.decrement(replica, amount.unsigned_abs())
        }
    }

    /// Increments minus decrements, clamped to the `i64` range.
    #[must_use]
    pub fn value(&self) -> i64 {
        let sum = |c: &GCounter| c.iter().map(|(_, n)| i128::from(n)).sum::<i128>();
        clamp_i64(sum(&self.p) - sum(&self.n))
    }

    /// The total of increments (clamped to `u64::MAX`).
    #[must_use]
    pub fn increments(&self) -> u64 {
        self.p.value()
    }

    /// The total of decrements (clamped to `u64::MAX`).
    #[must_use]
    pub fn decrements(&self) -> u64 {
        self.n.value()
    }

    /// The increments, per replica.
    #[must_use]
    pub fn positive(&self) -> &GCounter {
        &self.p
    }

    /// The decrements, per replica.
    #[must_use]
    pub fn negative(&self) -> &GCounter {
        &self.n
    }

    /// The counter with these increments and decrements (every pair of
    /// grow-only counters is a valid PN-counter).
    #[must_use]
    pub fn from_parts(positive: GCounter, negative: GCounter) -> Self {
        Self {
            p: positive,
            n: negative,
        }
    }

    /// Always `Ok` (see [`GCounter::validate`]).
    pub fn validate(&self) -> Result<(), InvalidState> {
        self.p.validate()?;
        self.n.validate()
    }
}

/// `v` clamped to the `i64` range.
pub(crate) fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

impl Lattice for PnCounter {
    fn join(&mut self, other: &Self) {
        self.p.join(&other.p);
        self.n.join(&other.n);
    }

    fn leq(&self, other: &Self) -> bool {
        self.p.leq(&other.p) && self.n.leq(&other.n)
    }

    fn is_bottom(&self) -> bool {
        self.p.is_bottom() && self.n.is_bottom()
    }
}

impl Decompose for PnCounter {
    /// One single-entry counter per replica and direction.
    fn decompose(&self) -> Vec<Self> {
        let ups = self.p.decompose().into_iter().map(|p| Self {
            p,
            n: GCounter::new(),
        });
        let downs = self.n.decompose().into_iter().map(|n| Self {
            p: GCounter::new(),
            n,
        });
        ups.chain(downs).collect()
    }

    fn delta_from(&self, known: &Self) -> Self {
        Self {
            p: self.p.delta_from(&known.p),
            n: self.n.delta_from(&known.n),
        }
    }
}

impl crate::laws::Mutate for PnCounter {
    /// A signed amount to add.
    type Op = i8;

    fn apply(&mut self, replica: ReplicaId, op: &i8) -> Self {
        self.add(replica, i64::from(*op))
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[] PnCounter);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_clamps_to_i64() {
        let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
        let mut c = PnCounter::new();
        let _ = c.increment(a, u64::MAX);
        let _ = c.increment(b, u64::MAX);
        assert_eq!(c.value(), i64::MAX);
        let _ = c.decrement(a, u64::MAX);
        let _ = c.decrement(b, u64::MAX);
        let _ = c.decrement(ReplicaId::from_u128(3), u64::MAX);
        assert_eq!(c.value(), i64::MIN);
    }

    #[test]
    fn add_picks_the_direction() {
        let a = ReplicaId::from_u128(1);
        let mut c = PnCounter::new();
        let _ = c.add(a, 4);
        let _ = c.add(a, -6);
        let _ = c.add(a, i64::MIN);
        assert_eq!((c.increments(), c.decrements()), (4, 6 + (1 << 63)));
    }
}
