//! `DotFun<V>`: live dots, each with a value.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use super::{DotStore, check_sorted, merge_by_dot};
use crate::sorted::{deserialize_strictly_sorted, serialize_seq};
use crate::{CausalContext, Dot, InvalidState};

/// A map from live dots to values: the store of multi-value registers (each
/// concurrent write is one dot with its value) and causal counters.
///
/// A dot is written once, so two replicas holding the same dot hold the same
/// value. If they do not (a reused replica id), the join keeps the greater
/// value so that it stays a deterministic lattice join, and
/// [`crate::Causal::checked_join`] reports the clash; this is why `V: Ord`.
///
/// ```
/// use crdt_core::{Causal, DotFun, Lattice, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// // A multi-value register: a write replaces the dots it has seen.
/// let mut x: Causal<DotFun<&str>> = Causal::new();
/// let mut y = x.clone();
/// for (state, replica, value) in [(&mut x, a, "tea"), (&mut y, b, "coffee")] {
///     let dot = state.next_dot(replica);
///     let (store, ctx) = state.parts_mut();
///     store.clear();
///     store.insert(dot, value);
///     ctx.insert(dot);
/// }
/// x.join(&y); // concurrent writes: both survive as siblings
/// let mut values: Vec<_> = x.store().values().copied().collect();
/// values.sort();
/// assert_eq!(values, ["coffee", "tea"]);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DotFun<V> {
    entries: SmallVec<[(Dot, V); 1]>,
}

impl<V> Default for DotFun<V> {
    fn default() -> Self {
        Self {
            entries: SmallVec::new(),
        }
    }
}

impl<V> DotFun<V> {
    /// The empty dot function.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// From entries with strictly increasing dots (what a decoder checked),
    /// trimmed to their number.
    pub(super) fn from_sorted(mut entries: SmallVec<[(Dot, V); 1]>) -> Self {
        entries.shrink_to_fit();
        Self { entries }
    }

    /// Maps `dot` to `value`, returning the value it replaced.
    pub fn insert(&mut self, dot: Dot, value: V) -> Option<V> {
        match self.entries.binary_search_by(|(d, _)| d.cmp(&dot)) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (dot, value));
                None
            }
        }
    }

    /// The value of `dot`.
    #[must_use]
    pub fn get(&self, dot: Dot) -> Option<&V> {
        self.entries
            .binary_search_by(|(d, _)| d.cmp(&dot))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Removes `dot`, returning its value.
    pub fn remove(&mut self, dot: Dot) -> Option<V> {
        match self.entries.binary_search_by(|(d, _)| d.cmp(&dot)) {
            Ok(i) => Some(self.entries.remove(i).1),
            Err(_) => None,
        }
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Keeps the entries for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(Dot, &V) -> bool) {
        self.entries.retain(|(d, v)| keep(*d, v));
    }

    /// The `(dot, value)` entries in dot order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (Dot, &V)> + '_ {
        self.entries.iter().map(|(d, v)| (*d, v))
    }

    /// The values in dot order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &V> + '_ {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<V> FromIterator<(Dot, V)> for DotFun<V> {
    /// Later entries for the same dot replace earlier ones.
    fn from_iter<I: IntoIterator<Item = (Dot, V)>>(iter: I) -> Self {
        let mut out = Self::new();
        for (dot, value) in iter {
            out.insert(dot, value);
        }
        out
    }
}

impl<V: Clone + Ord + fmt::Debug> DotStore for DotFun<V> {
    fn is_bottom(&self) -> bool {
        self.entries.is_empty()
    }

    fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.entries.iter().map(|(d, _)| *d)
    }

    fn dot_count(&self) -> u64 {
        self.entries.len() as u64
    }

    fn merge(&mut self, _ctx: &CausalContext, other: &Self, overlap: &CausalContext) {
        if overlap.is_empty() {
            // Nothing of ours can be removed, and none of theirs is known:
            // their entries are all new.
            for (dot, value) in &other.entries {
                self.insert(*dot, value.clone());
            }
            return;
        }
        self.entries = merge_by_dot(
            &self.entries,
            &other.entries,
            overlap,
            |e| e.0,
            |a, b| if a.1 >= b.1 { a.clone() } else { b.clone() },
        );
    }

    fn retain_dots<F: FnMut(Dot) -> bool>(&mut self, keep: &mut F) {
        self.entries.retain(|(d, _)| keep(*d));
    }

    fn filtered<F: FnMut(Dot) -> bool>(&self, keep: &mut F) -> Self {
        Self {
            entries: self
                .entries
                .iter()
                .filter(|(d, _)| keep(*d))
                .cloned()
                .collect(),
        }
    }

    /// Walks the smaller side and looks each dot up in the larger (binary
    /// search): `O(m log n)` for a payload of `m` entries into `n`.
    fn conflict(&self, other: &Self, overlap: &CausalContext) -> Option<Dot> {
        let (small, large) = if other.len() <= self.len() {
            (other, self)
        } else {
            (self, other)
        };
        small
            .entries
            .iter()
            .filter(|(d, _)| overlap.contains(*d))
            .find(|(d, v)| large.get(*d).is_some_and(|w| w != v))
            .map(|(d, _)| *d)
    }

    fn check(&self) -> Result<(), InvalidState> {
        check_sorted(&self.entries, |e| e.0, "dots of a dot function")
    }
}

impl<V: fmt::Debug> fmt::Debug for DotFun<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(d, v)| (d, v)))
            .finish()
    }
}

impl<V: Serialize> Serialize for DotFun<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_seq(serializer, &self.entries)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for DotFun<V> {
    /// Rejects entries not strictly sorted by dot.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries =
            deserialize_strictly_sorted(deserializer, "dot function", |a: &(Dot, V), b| {
                a.0.cmp(&b.0)
            })?;
        Ok(Self { entries })
    }
}
