//! `DotSet`: a set of live dots.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use super::{DotStore, check_sorted, merge_by_dot};
use crate::sorted::{deserialize_strictly_sorted, serialize_seq};
use crate::{CausalContext, Dot, InvalidState};

/// A set of live dots: the store of flags, and of each element of an
/// observed-remove set (the dots of the adds that are still live).
///
/// Kept sorted, inline for the common case of a single dot.
///
/// ```
/// use crdt_core::{Causal, CausalContext, Dot, DotSet, Lattice, ReplicaId};
/// let a = ReplicaId::from_u128(1);
/// // An enable-wins flag: enabling adds a dot, disabling drops the dots seen.
/// let mut x: Causal<DotSet> = Causal::new();
/// let d = x.next_dot(a);
/// let (store, ctx) = x.parts_mut();
/// ctx.insert(d);
/// store.insert(d);
/// let y = x.clone();
/// // x disables (store emptied, context kept); y is unchanged.
/// x.parts_mut().0.retain(|_| false);
/// let mut z = y.clone();
/// z.join(&x);
/// assert!(z.store().is_empty()); // the disable saw the dot, so it wins
/// ```
///
/// Design note: most elements of a set carry exactly one dot, so a `DotSet`
/// is either that one dot inline or a boxed slice of the others (empty or two
/// and more); it is 24 bytes, the size of one dot, where a small vector with
/// one inline dot would be 32. Sets of several dots pay one allocation per
/// change, which is rare (concurrent adds of the same element).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DotSet {
    repr: Repr,
}

/// Canonical: exactly one dot is always `One`.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    One(Dot),
    Many(Box<[Dot]>),
}

impl Default for DotSet {
    fn default() -> Self {
        Self {
            repr: Repr::Many(Box::default()),
        }
    }
}

impl DotSet {
    /// The empty dot set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The dots, sorted.
    fn as_slice(&self) -> &[Dot] {
        match &self.repr {
            Repr::One(d) => std::slice::from_ref(d),
            Repr::Many(ds) => ds,
        }
    }

    /// From sorted, distinct dots.
    pub(super) fn from_sorted(dots: SmallVec<[Dot; 1]>) -> Self {
        let repr = if dots.len() == 1 {
            Repr::One(dots[0])
        } else {
            Repr::Many(dots.into_vec().into_boxed_slice())
        };
        Self { repr }
    }

    fn edit(&mut self, f: impl FnOnce(&mut SmallVec<[Dot; 1]>)) {
        let mut dots = SmallVec::from_slice(self.as_slice());
        f(&mut dots);
        *self = Self::from_sorted(dots);
    }

    /// Adds `dot`; returns whether it was new.
    pub fn insert(&mut self, dot: Dot) -> bool {
        if self.is_empty() {
            self.repr = Repr::One(dot);
            return true;
        }
        match self.as_slice().binary_search(&dot) {
            Ok(_) => false,
            Err(i) => {
                self.edit(|v| v.insert(i, dot));
                true
            }
        }
    }

    /// Whether `dot` is in the set.
    #[must_use]
    pub fn contains(&self, dot: Dot) -> bool {
        match &self.repr {
            Repr::One(d) => *d == dot,
            Repr::Many(ds) => ds.binary_search(&dot).is_ok(),
        }
    }

    /// Removes `dot`; returns whether it was there.
    pub fn remove(&mut self, dot: Dot) -> bool {
        match self.as_slice().binary_search(&dot) {
            Ok(i) => {
                self.edit(|v| {
                    v.remove(i);
                });
                true
            }
            Err(_) => false,
        }
    }

    /// Keeps the dots for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(Dot) -> bool) {
        let kept: SmallVec<[Dot; 1]> = self.iter().filter(|d| keep(*d)).collect();
        if kept.len() != self.len() {
            *self = Self::from_sorted(kept);
        }
    }

    /// The dots in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Dot> + '_ {
        self.as_slice().iter().copied()
    }

    /// The number of dots.
    #[must_use]
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

impl From<Dot> for DotSet {
    fn from(dot: Dot) -> Self {
        Self {
            repr: Repr::One(dot),
        }
    }
}

impl FromIterator<Dot> for DotSet {
    fn from_iter<I: IntoIterator<Item = Dot>>(iter: I) -> Self {
        let mut dots: SmallVec<[Dot; 1]> = iter.into_iter().collect();
        dots.sort_unstable();
        dots.dedup();
        Self::from_sorted(dots)
    }
}

impl DotStore for DotSet {
    fn is_bottom(&self) -> bool {
        self.is_empty()
    }

    fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.iter()
    }

    fn dot_count(&self) -> u64 {
        self.len() as u64
    }

    fn merge(&mut self, _ctx: &CausalContext, other: &Self, overlap: &CausalContext) {
        if other == self || (overlap.is_empty() && other.is_empty()) {
            return;
        }
        if let (Repr::One(a), Repr::One(b)) = (&self.repr, &other.repr) {
            // One dot each (distinct): no growing vector for the result. A
            // side's dot is in its own context, so the other side has seen
            // it exactly when the overlap holds it (see `merge_by_dot`).
            let (a, b) = (*a, *b);
            self.repr = match (!overlap.contains(a), !overlap.contains(b)) {
                (true, true) => Repr::Many(Box::new([a.min(b), a.max(b)])),
                (true, false) => return,
                (false, true) => Repr::One(b),
                (false, false) => Repr::Many(Box::default()),
            };
            return;
        }
        let merged: SmallVec<[Dot; 1]> = merge_by_dot(
            self.as_slice(),
            other.as_slice(),
            overlap,
            |d| *d,
            |a, _| *a,
        );
        *self = Self::from_sorted(merged);
    }

    fn retain_dots<F: FnMut(Dot) -> bool>(&mut self, keep: &mut F) {
        *self = self.filtered(keep);
    }

    fn filtered<F: FnMut(Dot) -> bool>(&self, keep: &mut F) -> Self {
        match &self.repr {
            Repr::One(d) if keep(*d) => self.clone(),
            Repr::One(_) => Self::default(),
            Repr::Many(ds) => Self::from_sorted(ds.iter().copied().filter(|d| keep(*d)).collect()),
        }
    }

    fn conflict(&self, _other: &Self, _overlap: &CausalContext) -> Option<Dot> {
        None // a dot set carries no payload that could differ
    }

    fn check(&self) -> Result<(), InvalidState> {
        check_sorted(self.as_slice(), |d| *d, "dots of a dot set")
    }
}

impl fmt::Debug for DotSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.as_slice()).finish()
    }
}

impl Serialize for DotSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_seq(serializer, self.as_slice())
    }
}

impl<'de> Deserialize<'de> for DotSet {
    /// Rejects unsorted or repeated dots.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let dots: SmallVec<[Dot; 1]> =
            deserialize_strictly_sorted(deserializer, "dot set", |a: &Dot, b| a.cmp(b))?;
        Ok(Self::from_sorted(dots))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReplicaId;

    fn dot(n: u64) -> Dot {
        Dot::new(ReplicaId::from_u128(1), n).unwrap()
    }

    #[test]
    fn a_dot_set_is_the_size_of_one_dot() {
        assert_eq!(std::mem::size_of::<DotSet>(), std::mem::size_of::<Dot>());
    }

    #[test]
    fn representation_stays_canonical() {
        let mut s = DotSet::new();
        assert!(s.insert(dot(2)));
        assert_eq!(s, DotSet::from(dot(2)));
        assert!(s.insert(dot(1)) && !s.insert(dot(1)));
        assert_eq!(s.iter().collect::<Vec<_>>(), [dot(1), dot(2)]);
        assert!(s.remove(dot(1)));
        assert_eq!(s, DotSet::from(dot(2)), "one dot left is the inline form");
        s.retain(|_| false);
        assert_eq!(s, DotSet::default());
        assert!(s.is_empty() && !s.contains(dot(2)));
        let many: DotSet = [dot(3), dot(1), dot(3), dot(2)].into_iter().collect();
        assert_eq!(many.len(), 3);
        let mut calls = 0;
        let mut kept = many.clone();
        kept.retain(|d| {
            calls += 1;
            d != dot(2)
        });
        assert_eq!((kept.len(), calls), (2, 3));
    }

    /// The join of two one-dot sets (its own path, without a growing
    /// vector) keeps what the general merge keeps: each dot unless the
    /// other side has seen it, sorted, in canonical form.
    #[test]
    fn a_merge_of_two_single_dots_matches_the_general_merge() {
        let seen = |ns: &[u64]| ns.iter().map(|&n| dot(n)).collect::<CausalContext>();
        for (a, b) in [(1, 2), (2, 1)] {
            for (mine_seen, their_seen, kept) in [
                (vec![a], vec![b], vec![dot(a.min(b)), dot(a.max(b))]),
                (vec![a], vec![a, b], vec![dot(b)]),
                (vec![a, b], vec![b], vec![dot(a)]),
                (vec![a, b], vec![a, b], vec![]),
            ] {
                let (ctx, other_ctx) = (seen(&mine_seen), seen(&their_seen));
                let overlap = ctx.intersection(&other_ctx);
                let mut one = DotSet::from(dot(a));
                one.merge(&ctx, &DotSet::from(dot(b)), &overlap);
                // The general merge: a set of two dots, one of them seen
                // by both sides and held by both (kept either way).
                let both = dot(9);
                let (mut ctx9, mut other9) = (ctx.clone(), other_ctx.clone());
                ctx9.insert(both);
                other9.insert(both);
                let mut general: DotSet = [dot(a), both].into_iter().collect();
                let theirs: DotSet = [dot(b), both].into_iter().collect();
                general.merge(&ctx9, &theirs, &ctx9.intersection(&other9));
                general.remove(both);
                assert_eq!(one, general);
                assert_eq!(one.iter().collect::<Vec<_>>(), kept);
                assert_eq!(one, kept.iter().copied().collect::<DotSet>());
            }
        }
    }
}
