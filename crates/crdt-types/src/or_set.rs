//! `OrSet<T>`: an add-wins observed-remove set.

use std::fmt::Debug;

use crdt_core::{Causal, CausalContext, Dot, DotMap, DotSet, ReplicaId};

use crate::causal::{assemble, causal_crdt};
use crate::{CausalCrdt, View};

/// An add-wins observed-remove set: a remove takes out the adds it has seen,
/// so an add concurrent with a remove wins and the element stays.
///
/// Join: the kernel's causal join on `Causal<DotMap<T, DotSet>>`,
/// `(s, c) ⊔ (s', c') = ((s ∩ s') ∪ (s \ c') ∪ (s' \ c), c ∪ c')` per
/// element — an add survives unless the other side has seen it and removed
/// it.
///
/// There are no tombstones and no deferred-remove table: an element is
/// present while one of its add dots is live, and a remove is a delta with an
/// empty store and the removed dots in its context. Each element holds one
/// dot after a local insert (an insert supersedes the element's older dots).
/// Elements are kept in the kernel's sorted map (one sorted vector up to
/// 128 elements, then sorted chunks of at most 128 under a chunk index):
/// insert, remove and contains are `O(log n)` searches, and the delta of an
/// insert joins into a large set in `O(log n)` too.
///
/// ```
/// use crdt_types::{Lattice, OrSet, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = OrSet::new();
/// let add = x.insert(a, "milk");
/// let mut y = OrSet::new();
/// y.join(&add);
/// // Concurrently: x removes "milk", y adds it again.
/// let remove = x.remove(&"milk");
/// let re_add = y.insert(b, "milk");
/// x.join(&re_add);
/// y.join(&remove);
/// assert_eq!(x, y);
/// assert!(x.contains(&"milk")); // the concurrent add wins
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct OrSet<T>(Causal<DotMap<T, DotSet>>);

causal_crdt!(impl[T: Ord + Clone + Debug] OrSet<T> => DotMap<T, DotSet>);

impl<T: Ord + Clone + Debug> OrSet<T> {
    /// The empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `x` (again, if present: the new add supersedes the element's
    /// older ones). The delta holds the new dot, and the superseded dots in
    /// its context.
    ///
    /// Design note (issue 14): one insert builds its delta directly, a
    /// one-entry store made without a search and a context holding the new
    /// dot inline, and mints the dot with one search of the context; the
    /// delta of [`OrSet::insert_all`] (several elements) is built through
    /// the general path. Test `insert_fast_path_matches_the_general_path`
    /// checks the two against each other.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn insert(&mut self, replica: ReplicaId, x: T) -> Self {
        let (store, ctx) = self.0.parts_mut();
        let dot = ctx.mint(replica);
        let mut delta_ctx = CausalContext::from(dot);
        store.update(x.clone(), |dots| {
            for old in dots.iter() {
                delta_ctx.insert(old);
            }
            *dots = DotSet::from(dot);
        });
        Self(assemble(DotMap::singleton(x, DotSet::from(dot)), delta_ctx))
    }

    /// Adds every element of `items`, one dot each; one delta for all.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn insert_all(&mut self, replica: ReplicaId, items: impl IntoIterator<Item = T>) -> Self {
        let mut delta = Self::new();
        for x in items {
            self.insert_into(replica, x, &mut delta);
        }
        delta
    }

    /// Removes `x` as this replica has seen it: an add of `x` made
    /// concurrently elsewhere survives. The delta is an empty store with the
    /// removed dots in its context (bottom if `x` was absent).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn remove(&mut self, x: &T) -> Self {
        let (store, _) = self.0.parts_mut();
        let removed = store.remove(x).map(|dots| dots.iter().collect());
        Self(assemble(DotMap::new(), removed.unwrap_or_default()))
    }

    /// Removes every element this replica has seen.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn clear(&mut self) -> Self {
        self.retain(|_| false)
    }

    /// Keeps the elements for which `keep` returns true and removes the
    /// others (as [`OrSet::remove`] does); one delta for all removals.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) -> Self {
        let (store, _) = self.0.parts_mut();
        let mut removed: Vec<Dot> = Vec::new();
        store.retain(|x, dots| {
            let kept = keep(x);
            if !kept {
                removed.extend(dots.iter());
            }
            kept
        });
        Self(assemble(DotMap::new(), removed.into_iter().collect()))
    }

    /// Whether `x` is in the set.
    #[must_use]
    pub fn contains(&self, x: &T) -> bool {
        self.view().contains(x)
    }

    /// The number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.view().is_empty()
    }

    /// The elements, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator + '_ {
        self.view().iter()
    }

    /// One add: a fresh dot for `x`, the element's older dots superseded, all
    /// recorded in `delta` as well.
    fn insert_into(&mut self, replica: ReplicaId, x: T, delta: &mut Self) {
        let (store, ctx) = self.0.parts_mut();
        let dot = ctx.mint(replica);
        let (delta_store, delta_ctx) = delta.0.parts_mut();
        delta_ctx.insert(dot);
        store.update(x.clone(), |dots| {
            for old in dots.iter() {
                delta_ctx.insert(old);
            }
            *dots = DotSet::from(dot);
        });
        delta_store.insert(x, DotSet::from(dot));
    }
}

impl<'a, T: Ord + Clone + Debug> View<'a, OrSet<T>> {
    /// Whether `x` is in the set.
    #[must_use]
    pub fn contains(self, x: &T) -> bool {
        self.store().contains_key(x)
    }

    /// The number of elements.
    #[must_use]
    pub fn len(self) -> usize {
        self.store().len()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.store().is_empty()
    }

    /// The elements, in order.
    pub fn iter(self) -> impl DoubleEndedIterator<Item = &'a T> + ExactSizeIterator + 'a {
        self.store().keys()
    }
}

impl<T: Ord + Clone + Debug> FromIterator<(ReplicaId, T)> for OrSet<T> {
    /// The set after `replica` inserted each element in turn.
    fn from_iter<I: IntoIterator<Item = (ReplicaId, T)>>(iter: I) -> Self {
        let mut set = Self::new();
        for (replica, x) in iter {
            let _ = set.insert(replica, x);
        }
        set
    }
}

/// A mutation of an [`OrSet`] as data: its
/// [`laws::Mutate`](crate::laws::Mutate) operation.
#[derive(Clone, Debug)]
pub enum SetOp<T> {
    /// [`OrSet::insert`].
    Insert(T),
    /// [`OrSet::insert_all`].
    InsertAll(Vec<T>),
    /// [`OrSet::remove`].
    Remove(T),
    /// [`OrSet::retain`] of the elements below this one.
    RetainBelow(T),
    /// [`OrSet::clear`].
    Clear,
}

#[cfg(feature = "quickcheck")]
impl<T: quickcheck::Arbitrary> quickcheck::Arbitrary for SetOp<T> {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        match u8::arbitrary(g) % 12 {
            0..=4 => Self::Insert(T::arbitrary(g)),
            5 => Self::InsertAll(Vec::arbitrary(g)),
            6..=9 => Self::Remove(T::arbitrary(g)),
            10 => Self::RetainBelow(T::arbitrary(g)),
            _ => Self::Clear,
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match self {
            Self::InsertAll(xs) => Box::new(xs.shrink().map(Self::InsertAll)),
            Self::Remove(x) | Self::RetainBelow(x) => {
                Box::new(std::iter::once(Self::Insert(x.clone())))
            }
            Self::Insert(_) | Self::Clear => Box::new(std::iter::empty()),
        }
    }
}

impl<T: Ord + Clone + Debug> crate::laws::Mutate for OrSet<T> {
    type Op = SetOp<T>;

    fn apply(&mut self, replica: ReplicaId, op: &SetOp<T>) -> Self {
        match op {
            SetOp::Insert(x) => self.insert(replica, x.clone()),
            SetOp::InsertAll(xs) => self.insert_all(replica, xs.iter().cloned()),
            SetOp::Remove(x) => self.remove(x),
            SetOp::RetainBelow(pivot) => self.retain(|x| x < pivot),
            SetOp::Clear => self.clear(),
        }
    }

    fn validate(&self) -> Result<(), crdt_core::InvalidState> {
        Self::validate(self)
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[T: quickcheck::Arbitrary + Ord + Debug] OrSet<T>);

#[cfg(test)]
mod tests {
    use super::*;
    use crdt_core::Lattice;

    /// The delta and state of [`OrSet::insert_into`], the general path.
    fn general_insert(s: &mut OrSet<u8>, replica: ReplicaId, x: u8) -> OrSet<u8> {
        let mut delta = OrSet::new();
        s.insert_into(replica, x, &mut delta);
        delta
    }

    quickcheck::quickcheck! {
        fn insert_fast_path_matches_the_general_path(s: OrSet<u8>, r: u8, x: u8) -> bool {
            let replica = ReplicaId::from_u128(u128::from(r % 4));
            let (mut fast, mut general) = (s.clone(), s.clone());
            let d_fast = fast.insert(replica, x);
            let d_general = general_insert(&mut general, replica, x);
            d_fast == d_general
                && fast == general
                && fast == s.joined(&d_fast)
                && d_fast.validate().is_ok()
                && fast.validate().is_ok()
        }

        fn remove_delta_matches_the_removed_dots(s: OrSet<u8>, x: u8) -> bool {
            let dots: Vec<Dot> = s
                .as_causal()
                .store()
                .get(&x)
                .map(|d| d.iter().collect())
                .unwrap_or_default();
            let mut removed = s.clone();
            let d = removed.remove(&x);
            let ctx: Vec<Dot> = d.as_causal().context().iter().collect();
            ctx == dots && d.as_causal().store().is_empty() && removed == s.joined(&d)
        }
    }

    #[test]
    fn reinsert_of_a_concurrently_added_element_supersedes_both_dots() {
        let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
        let mut x = OrSet::new();
        let mut y = OrSet::new();
        let dx = x.insert(a, 5u8);
        let _ = y.insert(b, 5u8);
        y.join(&dx);
        assert_eq!(y.as_causal().store().get(&5).map(DotSet::len), Some(2));
        let before = y.clone();
        let d = y.insert(a, 5);
        let mut general = before.clone();
        assert_eq!(d, general_insert(&mut general, a, 5));
        assert_eq!(y, general);
        // The new dot (a, 2) and both superseded dots.
        assert_eq!(d.as_causal().context().len(), 3);
        assert_eq!(y.as_causal().store().get(&5).map(DotSet::len), Some(1));
        assert_eq!(before.joined(&d), y);
    }

    #[test]
    fn reinsert_supersedes_the_older_dot() {
        let a = ReplicaId::from_u128(1);
        let mut s = OrSet::new();
        let _ = s.insert(a, 7);
        let d = s.insert(a, 7);
        assert_eq!(s.as_causal().store().get(&7).map(DotSet::len), Some(1));
        assert_eq!(d.as_causal().context().len(), 2);
    }

    #[test]
    fn batch_insert_is_one_delta_equal_to_the_single_inserts() {
        let a = ReplicaId::from_u128(1);
        let mut batch = OrSet::new();
        let d = batch.insert_all(a, [1, 2, 3]);
        let mut single = OrSet::new();
        let ds: Vec<_> = [1, 2, 3].into_iter().map(|x| single.insert(a, x)).collect();
        assert_eq!(batch, single);
        let joined = ds.into_iter().fold(OrSet::new(), |acc, d| acc.joined(&d));
        assert_eq!(d, joined);
    }

    #[test]
    fn retain_removes_the_rest_in_one_delta() {
        let a = ReplicaId::from_u128(1);
        let mut s: OrSet<u32> = (1..=6).map(|x| (a, x)).collect();
        let mut other = s.clone();
        let d = s.retain(|x| x % 2 == 0);
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), [2, 4, 6]);
        other.join(&d);
        assert_eq!(other, s);
        let d = s.clear();
        assert!(s.is_empty() && d.as_causal().context().len() == 3);
    }
}
