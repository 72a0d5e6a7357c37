//! `CausalCounter`: a counter that can be reset, so it can live in a map.

use crdt_core::{Causal, CausalContext, DotFun, InvalidState, ReplicaId};

use crate::causal::{assemble, causal_crdt};
use crate::pn_counter::clamp_i64;
use crate::{CausalCrdt, View};

/// A counter that goes up and down and can be reset: each replica holds one
/// dot carrying its running total, and the value is the sum of the live
/// totals.
///
/// Join: the kernel's causal join on `Causal<DotFun<i64>>`,
/// `(s, c) ⊔ (s', c') = ((s ∩ s') ∪ (s \ c') ∪ (s' \ c), c ∪ c')` — a
/// replica's newer total replaces the older one it was computed from, and a
/// reset removes exactly the totals it saw.
///
/// An increment mints a new dot for the replica and puts the replica's old
/// dot in the delta's context, so the state keeps one small entry per replica.
/// A running total that returns to zero leaves no entry (zero entries are
/// invalid, as in the other counters).
///
/// Design note: a reset (here, or removing the counter's key from an
/// [`OrMap`](crate::OrMap)) removes the totals it observed. An increment that
/// is concurrent with the reset survives it, and since it carries its
/// replica's *running* total, that replica's count from before the reset
/// survives with it. This is the causal counter of Almeida et al.; an exact
/// "observed-reset" would need one dot per increment (unbounded state) or
/// knowledge of causal stability. Overflow: running totals saturate at the
/// `i64` bounds and [`CausalCounter::value`] is the exact sum clamped to `i64`.
///
/// ```
/// use crdt_types::{CausalCounter, Lattice, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = CausalCounter::new();
/// let mut y = CausalCounter::new();
/// let dx = x.increment(a, 3);
/// let dy = y.decrement(b, 1);
/// x.join(&dy);
/// y.join(&dx);
/// assert_eq!(x, y);
/// assert_eq!(x.value(), 2);
/// let reset = x.reset();
/// y.join(&reset);
/// assert_eq!((x.value(), y.value()), (0, 0));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct CausalCounter(Causal<DotFun<i64>>);

causal_crdt!(impl[] CausalCounter => DotFun<i64>, check = check_no_zero);

impl CausalCounter {
    /// The zero counter.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `by` to `replica`'s running total.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn increment(&mut self, replica: ReplicaId, by: u64) -> Self {
        self.add(replica, i128::from(by))
    }

    /// Subtracts `by` from `replica`'s running total.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn decrement(&mut self, replica: ReplicaId, by: u64) -> Self {
        self.add(replica, -i128::from(by))
    }

    /// Back to zero: removes every total this replica has seen (an increment
    /// it has not seen survives). The delta is an empty store with the
    /// removed dots in its context.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn reset(&mut self) -> Self {
        let (store, _) = self.0.parts_mut();
        let seen: CausalContext = store.iter().map(|(d, _)| d).collect();
        store.clear();
        Self(assemble(DotFun::new(), seen))
    }

    /// The sum of the live running totals, clamped to the `i64` range.
    #[must_use]
    pub fn value(&self) -> i64 {
        self.view().value()
    }

    /// Replaces `replica`'s dots with one dot carrying the new total.
    fn add(&mut self, replica: ReplicaId, amount: i128) -> Self {
        let dot = self.0.next_dot(replica);
        let (store, ctx) = self.0.parts_mut();
        let mut old = CausalContext::new();
        let mut total: i128 = 0;
        for (d, v) in store.iter().filter(|(d, _)| d.replica == replica) {
            old.insert(d);
            total += i128::from(*v);
        }
        let next = clamp_i64(i128::from(clamp_i64(total)) + amount);
        if i128::from(next) == total {
            return Self::new(); // nothing changes (zero amount or saturated)
        }
        store.retain(|d, _| d.replica != replica);
        let mut delta = DotFun::new();
        if next != 0 {
            ctx.insert(dot);
            old.insert(dot);
            store.insert(dot, next);
            delta.insert(dot, next);
        }
        Self(assemble(delta, old))
    }
}

impl View<'_, CausalCounter> {
    /// The sum of the live running totals, clamped to the `i64` range.
    #[must_use]
    pub fn value(self) -> i64 {
        clamp_i64(self.store().values().map(|v| i128::from(*v)).sum())
    }
}

/// No live total is zero (a zero total is stored as no entry).
fn check_no_zero(store: &DotFun<i64>) -> Result<(), InvalidState> {
    if store.values().any(|v| *v == 0) {
        return Err(InvalidState::ZeroValue("a causal counter's running total"));
    }
    Ok(())
}

/// A mutation of a [`CausalCounter`] as data: its
/// [`laws::Mutate`](crate::laws::Mutate) operation.
#[derive(Clone, Debug)]
pub enum CounterOp {
    /// [`CausalCounter::increment`].
    Increment(u8),
    /// [`CausalCounter::decrement`].
    Decrement(u8),
    /// [`CausalCounter::reset`].
    Reset,
}

#[cfg(feature = "quickcheck")]
impl quickcheck::Arbitrary for CounterOp {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        match u8::arbitrary(g) % 5 {
            0 | 1 => Self::Increment(u8::arbitrary(g) % 8),
            2 | 3 => Self::Decrement(u8::arbitrary(g) % 8),
            _ => Self::Reset,
        }
    }
}

impl crate::laws::Mutate for CausalCounter {
    type Op = CounterOp;

    fn apply(&mut self, replica: ReplicaId, op: &CounterOp) -> Self {
        match op {
            CounterOp::Increment(n) => self.increment(replica, u64::from(*n)),
            CounterOp::Decrement(n) => self.decrement(replica, u64::from(*n)),
            CounterOp::Reset => self.reset(),
        }
    }

    fn validate(&self) -> Result<(), InvalidState> {
        Self::validate(self)
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[] CausalCounter);

#[cfg(test)]
mod tests {
    use super::*;
    use crdt_core::Lattice;

    #[test]
    fn an_increment_replaces_the_replicas_old_dot() {
        let a = ReplicaId::from_u128(1);
        let mut c = CausalCounter::new();
        let _ = c.increment(a, 2);
        let d = c.increment(a, 3);
        assert_eq!(c.as_causal().store().len(), 1);
        assert_eq!(d.as_causal().context().len(), 2);
        assert_eq!(c.value(), 5);
    }

    #[test]
    fn a_total_back_at_zero_leaves_no_entry() {
        let a = ReplicaId::from_u128(1);
        let mut c = CausalCounter::new();
        let mut other = c.clone();
        let up = c.increment(a, 2);
        let down = c.decrement(a, 2);
        assert!(c.as_causal().store().is_empty());
        assert!(c.validate().is_ok());
        other.join(&up);
        other.join(&down);
        assert_eq!(other.value(), 0);
        assert!(c.increment(a, 0).is_bottom());
    }

    #[test]
    fn totals_saturate_at_the_bounds() {
        let a = ReplicaId::from_u128(1);
        let mut c = CausalCounter::new();
        let _ = c.decrement(a, u64::MAX);
        assert_eq!(c.value(), i64::MIN);
        assert!(c.decrement(a, 1).is_bottom());
        let _ = c.increment(a, u64::MAX);
        assert_eq!(c.value(), i64::MAX);
    }
}
