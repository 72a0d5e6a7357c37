//! `OrMap<K, V>`: a map of nested causal values.

use std::fmt::Debug;
use std::hash::{Hash, Hasher};

use crdt_core::{Causal, CausalContext, DotMap, DotStore, InvalidState};

use crate::causal::{assemble, causal_crdt};
use crate::{CausalCrdt, View};

/// An observed-remove map whose values are themselves causal types
/// ([`MvRegister`](crate::MvRegister), [`OrSet`](crate::OrSet),
/// [`CausalCounter`](crate::CausalCounter), the flags, another `OrMap`, or
/// any [`CausalCrdt`]): a key is present while its value holds a live dot, and
/// a remove takes out what it has seen of the value.
///
/// Join: the kernel's causal join on `Causal<DotMap<K, V::Store>>`, with
/// one context shared by every key,
/// `(s, c) ⊔ (s', c') = ((s ∩ s') ∪ (s \ c') ∪ (s' \ c), c ∪ c')` dot by dot
/// under each key — so each value joins as its own type would, and a key
/// removed concurrently with an update of its value keeps exactly the
/// updates the remover had not seen.
///
/// Design note: values share the map's context instead of each carrying its
/// own, so a value is stored as its bare dot store. [`OrMap::update`] lends
/// the store under a key and the shared context to the closure as one whole
/// `V` (moved in and out, never copied) and restores them afterwards, even if
/// the closure panics. The closure must change the value only through its
/// mutators and return their delta (join the deltas of several mutations
/// with [`Lattice::join`](crdt_core::Lattice::join)); replacing the value
/// wholesale (`*v = V::default()`) would replace the map's context.
///
/// ```
/// use crdt_types::{Lattice, MvRegister, OrMap, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x: OrMap<&str, MvRegister<u32>> = OrMap::new();
/// let mut y = x.clone();
/// let dx = x.update("width", |w| w.write(a, 10));
/// let dy = y.update("height", |h| h.write(b, 20));
/// x.join(&dy);
/// y.join(&dx);
/// assert_eq!(x, y);
/// let width = x.get(&"width").unwrap();
/// assert_eq!(width.values().collect::<Vec<_>>(), [&10]);
/// ```
///
/// # Counters in a map
///
/// `OrMap<String, PnCounter>` does not compile (`PnCounter: CausalCrdt` is
/// not satisfied), and that is on purpose: a map value must be a causal
/// type, whose every write is a dot, because removing a key takes out
/// exactly the dots the remover has seen. A `PnCounter` is per-replica
/// totals with no dots: a removed key's counts would come back at the next
/// join with any replica that still had them. Use
/// [`CausalCounter`](crate::CausalCounter): each replica's increments are a
/// dot, so a remove (or a reset) takes out the increments it saw, and an
/// increment made concurrently with it survives.
///
/// ```
/// use crdt_types::{CausalCounter, Lattice, OrMap, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut likes: OrMap<&str, CausalCounter> = OrMap::new();
/// let d = likes.update("post-1", |c| c.increment(a, 3));
/// let mut other = OrMap::new();
/// other.join(&d);
/// // Replica a removes the key while b, having seen the 3, likes once more.
/// let removed = likes.remove(&"post-1");
/// let liked = other.update("post-1", |c| c.increment(b, 1));
/// likes.join(&liked);
/// other.join(&removed);
/// assert_eq!(likes, other);
/// // What the remover saw is gone; the concurrent like survives.
/// assert_eq!(likes.get(&"post-1").map(|c| c.value()), Some(1));
/// ```
#[derive(Debug)]
pub struct OrMap<K, V: CausalCrdt>(Causal<DotMap<K, V::Store>>);

causal_crdt!(impl[K: Ord + Clone + Debug, V: CausalCrdt] OrMap<K, V> => DotMap<K, V::Store>, check = check_values::<K, V>);

impl<K: Clone, V: CausalCrdt> Clone for OrMap<K, V> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<K: PartialEq, V: CausalCrdt> PartialEq for OrMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K: Eq, V: CausalCrdt> Eq for OrMap<K, V> where V::Store: Eq {}

impl<K: Hash, V: CausalCrdt> Hash for OrMap<K, V>
where
    V::Store: Hash,
{
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<K: Ord + Clone + Debug, V: CausalCrdt> OrMap<K, V> {
    /// The empty map.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `mutate` on the value under `key` (bottom if absent) and returns
    /// its delta as a delta of the map. `mutate` receives the value with the
    /// map's shared context, so the dots it mints are fresh in the whole map;
    /// it must return the delta of the mutations it made.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn update(&mut self, key: K, mutate: impl FnOnce(&mut V) -> V) -> Self {
        let (store, ctx) = self.0.parts_mut();
        let nested = assemble(store.remove(&key).unwrap_or_default(), std::mem::take(ctx));
        let mut lease = Lease {
            home: &mut self.0,
            key: Some(key.clone()),
            value: V::from_causal(nested),
        };
        let (delta_store, delta_ctx) = mutate(&mut lease.value).into_causal().into_parts();
        drop(lease);
        let mut map = DotMap::new();
        map.insert(key, delta_store);
        Self(assemble(map, delta_ctx))
    }

    /// Removes `key` as this replica has seen it: updates of its value made
    /// concurrently elsewhere survive. The delta is an empty store with the
    /// removed dots in its context (bottom if `key` was absent).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn remove(&mut self, key: &K) -> Self {
        let (store, _) = self.0.parts_mut();
        let removed: Option<CausalContext> = store.remove(key).map(|s| s.dots().collect());
        Self(assemble(DotMap::new(), removed.unwrap_or_default()))
    }

    /// Removes every key as this replica has seen it.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn clear(&mut self) -> Self {
        let (store, _) = self.0.parts_mut();
        let removed: CausalContext = store.dots().collect();
        store.clear();
        Self(assemble(DotMap::new(), removed))
    }

    /// The value under `key`, if present.
    #[must_use]
    pub fn get(&self, key: &K) -> Option<View<'_, V>> {
        self.view().get(key)
    }

    /// Whether `key` has a value.
    #[must_use]
    pub fn contains_key(&self, key: &K) -> bool {
        self.view().contains_key(key)
    }

    /// The number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// Whether the map is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.view().is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, View<'_, V>)> + ExactSizeIterator {
        self.view().iter()
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.view().keys()
    }
}

impl<'a, K: Ord + Clone + Debug, V: CausalCrdt> View<'a, OrMap<K, V>> {
    /// The value under `key`, if present.
    #[must_use]
    pub fn get(self, key: &K) -> Option<View<'a, V>> {
        self.store().get(key).map(View::new)
    }

    /// Whether `key` has a value.
    #[must_use]
    pub fn contains_key(self, key: &K) -> bool {
        self.store().contains_key(key)
    }

    /// The number of keys.
    #[must_use]
    pub fn len(self) -> usize {
        self.store().len()
    }

    /// Whether the map is empty.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.store().is_empty()
    }

    /// The entries in key order.
    pub fn iter(self) -> impl DoubleEndedIterator<Item = (&'a K, View<'a, V>)> + ExactSizeIterator {
        self.store().iter().map(|(k, s)| (k, View::new(s)))
    }

    /// The keys in order.
    pub fn keys(self) -> impl DoubleEndedIterator<Item = &'a K> + ExactSizeIterator {
        self.store().keys()
    }
}

/// Every nested value keeps its type's own invariants.
fn check_values<K: Ord, V: CausalCrdt>(store: &DotMap<K, V::Store>) -> Result<(), InvalidState> {
    store.iter().try_for_each(|(_, s)| V::check_store(s))
}

/// A value lent out of the map by [`OrMap::update`]: on drop (normal or
/// unwinding) its store goes back under its key and its context back to
/// the map.
struct Lease<'a, K: Ord + Clone + Debug, V: CausalCrdt> {
    home: &'a mut Causal<DotMap<K, V::Store>>,
    key: Option<K>,
    value: V,
}

impl<K: Ord + Clone + Debug, V: CausalCrdt> Drop for Lease<'_, K, V> {
    fn drop(&mut self) {
        let (store, ctx) = std::mem::take(&mut self.value).into_causal().into_parts();
        let (home_store, home_ctx) = self.home.parts_mut();
        *home_ctx = ctx;
        if let Some(key) = self.key.take() {
            home_store.insert(key, store);
        }
    }
}

/// A mutation of an [`OrMap`] as data: its
/// [`laws::Mutate`](crate::laws::Mutate) operation.
#[derive(Clone, Debug)]
pub enum MapOp<K, Op> {
    /// [`OrMap::update`] with this mutation of the value.
    Update(K, Op),
    /// [`OrMap::remove`].
    Remove(K),
    /// [`OrMap::clear`].
    Clear,
}

#[cfg(feature = "quickcheck")]
impl<K: quickcheck::Arbitrary, Op: quickcheck::Arbitrary> quickcheck::Arbitrary for MapOp<K, Op> {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        match u8::arbitrary(g) % 10 {
            0..=6 => Self::Update(K::arbitrary(g), Op::arbitrary(g)),
            7 | 8 => Self::Remove(K::arbitrary(g)),
            _ => Self::Clear,
        }
    }
}

impl<K, V> crate::laws::Mutate for OrMap<K, V>
where
    K: Ord + Clone + Debug,
    V: crate::laws::Mutate + CausalCrdt,
{
    type Op = MapOp<K, V::Op>;

    fn apply(&mut self, replica: crdt_core::ReplicaId, op: &Self::Op) -> Self {
        match op {
            MapOp::Update(k, op) => self.update(k.clone(), |v| v.apply(replica, op)),
            MapOp::Remove(k) => self.remove(k),
            MapOp::Clear => self.clear(),
        }
    }

    fn validate(&self) -> Result<(), InvalidState> {
        Self::validate(self)
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[
    K: quickcheck::Arbitrary + Ord + Debug,
    V: crate::testing::Mutate + CausalCrdt,
] OrMap<K, V>);
