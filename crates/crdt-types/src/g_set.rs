//! `GSet<T>`: a grow-only set.

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;

use crdt_core::{Decompose, InvalidState, Lattice};
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// A grow-only set: elements are added and never removed.
///
/// Join: `x ⊔ y = x ∪ y` — a replica has every element any replica added.
///
/// Kept sorted (a B-tree), so iteration and encoding order are the same on
/// every replica; the decoder rejects elements that are not strictly sorted.
///
/// ```
/// use crdt_types::{GSet, Lattice};
/// let mut x = GSet::new();
/// let mut y = GSet::new();
/// let dx = x.insert("apple");
/// let dy = y.insert("pear");
/// x.join(&dy);
/// y.join(&dx);
/// assert_eq!(x, y);
/// assert_eq!(x.iter().copied().collect::<Vec<_>>(), ["apple", "pear"]);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(transparent)]
pub struct GSet<T>(BTreeSet<T>);

impl<T> Default for GSet<T> {
    fn default() -> Self {
        Self(BTreeSet::new())
    }
}

impl<T: Ord + Clone> GSet<T> {
    /// The empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `x`; the delta is `{x}` (bottom if `x` was already there).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn insert(&mut self, x: T) -> Self {
        let mut delta = Self::new();
        if !self.0.contains(&x) {
            self.0.insert(x.clone());
            delta.0.insert(x);
        }
        delta
    }

    /// Adds every element of `items`; one delta with the new ones.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn insert_all(&mut self, items: impl IntoIterator<Item = T>) -> Self {
        let mut delta = Self::new();
        for x in items {
            delta.join_owned(self.insert(x));
        }
        delta
    }

    /// Whether `x` was added.
    #[must_use]
    pub fn contains(&self, x: &T) -> bool {
        self.0.contains(x)
    }

    /// The number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The elements in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator + '_ {
        self.0.iter()
    }

    /// Always `Ok`: the decoder already rejects unsorted or repeated
    /// elements. Offered so that every type has the same check.
    pub fn validate(&self) -> Result<(), InvalidState> {
        Ok(())
    }
}

impl<T: Ord + Clone> Lattice for GSet<T> {
    fn join(&mut self, other: &Self) {
        for x in &other.0 {
            if !self.0.contains(x) {
                self.0.insert(x.clone());
            }
        }
    }

    fn join_owned(&mut self, mut other: Self) {
        if other.0.len() > self.0.len() {
            std::mem::swap(self, &mut other);
        }
        self.0.extend(other.0);
    }

    fn leq(&self, other: &Self) -> bool {
        self.0.is_subset(&other.0)
    }

    fn is_bottom(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Ord + Clone> Decompose for GSet<T> {
    /// One singleton per element.
    fn decompose(&self) -> Vec<Self> {
        self.0
            .iter()
            .map(|x| Self(BTreeSet::from([x.clone()])))
            .collect()
    }

    fn delta_from(&self, known: &Self) -> Self {
        Self(self.0.difference(&known.0).cloned().collect())
    }
}

impl<T: Ord + Clone> FromIterator<T> for GSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<'de, T: Deserialize<'de> + Ord> Deserialize<'de> for GSet<T> {
    /// Rejects elements that are not strictly increasing.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SetVisitor<T>(PhantomData<fn() -> T>);
        impl<'de, T: Deserialize<'de> + Ord> Visitor<'de> for SetVisitor<T> {
            type Value = GSet<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a strictly sorted sequence of set elements")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<GSet<T>, A::Error> {
                let mut set = BTreeSet::new();
                while let Some(x) = seq.next_element::<T>()? {
                    if set.last().is_some_and(|last| *last >= x) {
                        return Err(A::Error::custom("g-set elements are not strictly sorted"));
                    }
                    set.insert(x);
                }
                Ok(GSet(set))
            }
        }
        deserializer.deserialize_seq(SetVisitor(PhantomData))
    }
}

impl<T> crate::laws::Mutate for GSet<T>
where
    T: Ord + Clone + fmt::Debug,
{
    /// Elements to insert, as one batch.
    type Op = Vec<T>;

    fn apply(&mut self, _replica: crdt_core::ReplicaId, op: &Vec<T>) -> Self {
        self.insert_all(op.iter().cloned())
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[T: quickcheck::Arbitrary + Ord + fmt::Debug] GSet<T>);
