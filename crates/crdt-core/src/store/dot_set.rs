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
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct DotSet {
    dots: SmallVec<[Dot; 1]>,
}

impl DotSet {
    /// The empty dot set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `dot`; returns whether it was new.
    pub fn insert(&mut self, dot: Dot) -> bool {
        match self.dots.binary_search(&dot) {
            Ok(_) => false,
            Err(i) => {
                self.dots.insert(i, dot);
                true
            }
        }
    }

    /// Whether `dot` is in the set.
    #[must_use]
    pub fn contains(&self, dot: Dot) -> bool {
        self.dots.binary_search(&dot).is_ok()
    }

    /// Removes `dot`; returns whether it was there.
    pub fn remove(&mut self, dot: Dot) -> bool {
        match self.dots.binary_search(&dot) {
            Ok(i) => {
                self.dots.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Keeps the dots for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(Dot) -> bool) {
        self.dots.retain(|d| keep(*d));
    }

    /// The dots in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Dot> + '_ {
        self.dots.iter().copied()
    }

    /// The number of dots.
    #[must_use]
    pub fn len(&self) -> usize {
        self.dots.len()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.dots.is_empty()
    }
}

impl From<Dot> for DotSet {
    fn from(dot: Dot) -> Self {
        Self {
            dots: SmallVec::from_elem(dot, 1),
        }
    }
}

impl FromIterator<Dot> for DotSet {
    fn from_iter<I: IntoIterator<Item = Dot>>(iter: I) -> Self {
        let mut dots: SmallVec<[Dot; 1]> = iter.into_iter().collect();
        dots.sort_unstable();
        dots.dedup();
        Self { dots }
    }
}

impl DotStore for DotSet {
    fn is_bottom(&self) -> bool {
        self.dots.is_empty()
    }

    fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.dots.iter().copied()
    }

    fn merge(
        &mut self,
        ctx: &CausalContext,
        other: &Self,
        other_ctx: &CausalContext,
        overlap: &CausalContext,
    ) {
        if other.dots == self.dots || (overlap.is_empty() && other.dots.is_empty()) {
            return;
        }
        self.dots = merge_by_dot(&self.dots, ctx, &other.dots, other_ctx, |d| *d, |a, _| *a);
    }

    fn retain_dots<F: FnMut(Dot) -> bool>(&mut self, keep: &mut F) {
        self.dots.retain(|d| keep(*d));
    }

    fn filtered<F: FnMut(Dot) -> bool>(&self, keep: &mut F) -> Self {
        Self {
            dots: self.dots.iter().copied().filter(|d| keep(*d)).collect(),
        }
    }

    fn conflict(&self, _other: &Self, _overlap: &CausalContext) -> Option<Dot> {
        None // a dot set carries no payload that could differ
    }

    fn check(&self) -> Result<(), InvalidState> {
        check_sorted(&self.dots, |d| *d, "dots of a dot set")
    }
}

impl fmt::Debug for DotSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.dots.iter()).finish()
    }
}

impl Serialize for DotSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_seq(serializer, &self.dots)
    }
}

impl<'de> Deserialize<'de> for DotSet {
    /// Rejects unsorted or repeated dots.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let dots = deserialize_strictly_sorted(deserializer, "dot set", |a: &Dot, b| a.cmp(b))?;
        Ok(Self { dots })
    }
}
