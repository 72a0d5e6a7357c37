//! A replicated key-value store: the textbook eventually consistent store,
//! done so that no concurrent write is ever silently lost.

use std::fmt::Debug;

use crdt_core::{CausalContext, Decompose, InvalidState, Lattice, ReplicaId};
use crdt_sync::Replicated;
use crdt_types::{CausalCounter, CausalCrdt, MvRegister, OrMap, OrSet};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// What a [`KvState`] register value must be: any type with a serde
/// encoding and a total order (implemented for every such type).
///
/// The order is what the register kernel keeps values by; derive it
/// (`#[derive(PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]`).
/// The encoding must be deterministic for equal values, as serde's derive
/// is for structs, enums, vectors and `BTreeMap`s; a `HashMap` field is not
/// (its iteration order is random), so replicas holding equal values would
/// encode different bytes.
pub trait KvValue:
    Ord + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

impl<T: Ord + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static> KvValue for T {}

/// The state of a replicated key-value store: registers of `V` values
/// (`String` unless chosen) with multi-value semantics (concurrent puts
/// become siblings), counters and sets of strings, each kind under its own
/// keys.
///
/// `get` returns the values with their causal context; a `put` that carries
/// that context replaces exactly the siblings that were read, so a put made
/// without seeing a concurrent one never erases it (the lost update of a
/// last-writer-wins store). Deleting a register, a counter or a whole set
/// removes what this replica has seen of it; a concurrent put, increment
/// or add survives the delete (add wins).
///
/// Design note: the three maps mint dots independently, so each writes
/// under its own replica id derived from the writer's (the high byte marks
/// the map). Their contexts are then disjoint, and their union is one
/// digest: a peer that was away gets exactly what it lacks from all three.
///
/// Design note (typed values): register values are a type parameter with a
/// default, `KvState<V = String>`, rather than bytes encoded by the store.
/// The options were: values as codec-encoded bytes (any `Serialize` type,
/// several types in one store, but every read decodes and can fail, and
/// the codec would leak into this crate), or a generic value type (checked
/// at compile time, reads cannot fail, one type per store: use an enum for
/// several kinds). The generic one was chosen: the stored and wire form is
/// the values' own serde encoding in the register's dot order, so it stays
/// deterministic (see [`KvValue`]), and `KvState<String>` encodes exactly
/// as the string-only store did.
///
/// ```
/// use crdt_core::{Lattice, ReplicaId};
/// use crdt_net::KvState;
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = KvState::new();
/// let mut y = KvState::new();
/// let (_, ctx) = x.get("bio");
/// let d1 = x.put(a, "bio", "likes tea".into(), &ctx);
/// let d2 = y.put(b, "bio", "likes coffee".into(), &ctx); // concurrent
/// x.join(&d2);
/// y.join(&d1);
/// let (mut values, seen) = x.get("bio");
/// values.sort();
/// assert_eq!(values, ["likes coffee", "likes tea"]); // siblings, none lost
/// let d3 = x.put(a, "bio", "likes both".into(), &seen); // resolves them
/// y.join(&d3);
/// assert_eq!(y.get("bio").0, ["likes both"]);
///
/// // Any ordered serde type as values; keys of each kind.
/// let mut ages = KvState::<u32>::default();
/// let _ = ages.put(a, "ada", 36, &Default::default());
/// let _ = ages.add(a, "visits", 2);
/// assert_eq!(ages.keys().collect::<Vec<_>>(), ["ada"]);
/// assert_eq!(ages.counter_keys().collect::<Vec<_>>(), ["visits"]);
/// let _ = ages.delete_counter("visits");
/// assert_eq!(ages.count("visits"), 0);
/// ```
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "V: KvValue", deserialize = "V: KvValue"))]
pub struct KvState<V: KvValue = String> {
    registers: OrMap<String, MvRegister<V>>,
    counters: OrMap<String, CausalCounter>,
    sets: OrMap<String, OrSet<String>>,
}

impl<V: KvValue> Default for KvState<V> {
    fn default() -> Self {
        Self {
            registers: OrMap::default(),
            counters: OrMap::default(),
            sets: OrMap::default(),
        }
    }
}

fn from_causal<V: CausalCrdt>(state: crdt_core::Causal<V::Store>) -> V {
    V::from_causal(state)
}

/// The replica id a map writes under: the writer's, tagged by map.
fn tagged(replica: ReplicaId, map: u8) -> ReplicaId {
    let v = replica.as_u128() & !(0xff << 120);
    ReplicaId::from_u128(v | (u128::from(map) << 120))
}

impl KvState {
    /// The empty store of string values. For another value type use
    /// `KvState::<V>::default()` (as with `HashMap::new`, the default type
    /// parameter applies to `new` only).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl<V: KvValue> KvState<V> {
    /// The values of `key` (several if puts were concurrent) and the context
    /// to hand back to [`KvState::put`].
    #[must_use]
    pub fn get(&self, key: &str) -> (Vec<V>, CausalContext) {
        match self.registers.get(&key.to_string()) {
            Some(view) => {
                let values = view.values().cloned().collect();
                let context = view.store().iter().map(|(d, _)| d).collect();
                (values, context)
            }
            None => (Vec::new(), CausalContext::new()),
        }
    }

    /// Puts `value` under `key`, replacing exactly the siblings in `context`
    /// (from a [`KvState::get`], here or on another replica). Returns the
    /// delta to ship.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn put(
        &mut self,
        replica: ReplicaId,
        key: &str,
        value: V,
        context: &CausalContext,
    ) -> Self {
        let me = tagged(replica, 0);
        let registers = self
            .registers
            .update(key.to_string(), |r| r.write_seen(me, value, context));
        Self {
            registers,
            ..Self::default()
        }
    }

    /// Removes `key`'s register (the values it has seen).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn delete(&mut self, key: &str) -> Self {
        Self {
            registers: self.registers.remove(&key.to_string()),
            ..Self::default()
        }
    }

    /// The register keys that hold a value, sorted.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.registers.keys().map(String::as_str)
    }

    /// Adds `by` to the counter `key`.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn add(&mut self, replica: ReplicaId, key: &str, by: i64) -> Self {
        let me = tagged(replica, 1);
        let counters = self.counters.update(key.to_string(), |c| {
            if by >= 0 {
                c.increment(me, by.unsigned_abs())
            } else {
                c.decrement(me, by.unsigned_abs())
            }
        });
        Self {
            counters,
            ..Self::default()
        }
    }

    /// The counter `key` (0 if never written).
    #[must_use]
    pub fn count(&self, key: &str) -> i64 {
        self.counters.get(&key.to_string()).map_or(0, |c| c.value())
    }

    /// Removes the counter `key`: it reads 0 and leaves
    /// [`KvState::counter_keys`]. What this replica has seen is removed; an
    /// increment concurrent with the delete survives it, and carries its
    /// replica's running total with it (see
    /// [`CausalCounter`](crdt_types::CausalCounter)'s design note).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn delete_counter(&mut self, key: &str) -> Self {
        Self {
            counters: self.counters.remove(&key.to_string()),
            ..Self::default()
        }
    }

    /// The counter keys, sorted (a counter whose total came back to zero
    /// may stay listed).
    pub fn counter_keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.counters.keys().map(String::as_str)
    }

    /// Adds `member` to the set `key` (add wins over a concurrent remove).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn set_add(&mut self, replica: ReplicaId, key: &str, member: &str) -> Self {
        let me = tagged(replica, 2);
        let sets = self
            .sets
            .update(key.to_string(), |s| s.insert(me, member.to_string()));
        Self {
            sets,
            ..Self::default()
        }
    }

    /// Removes `member` from the set `key` (the adds this replica has seen).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn set_remove(&mut self, key: &str, member: &str) -> Self {
        let sets = self
            .sets
            .update(key.to_string(), |s| s.remove(&member.to_string()));
        Self {
            sets,
            ..Self::default()
        }
    }

    /// Removes the whole set `key`: every member this replica has seen, in
    /// one delta (a member added concurrently survives).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn delete_set(&mut self, key: &str) -> Self {
        Self {
            sets: self.sets.remove(&key.to_string()),
            ..Self::default()
        }
    }

    /// The members of the set `key`, sorted.
    #[must_use]
    pub fn members(&self, key: &str) -> Vec<String> {
        self.sets
            .get(&key.to_string())
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The keys of non-empty sets, sorted.
    pub fn set_keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.sets.keys().map(String::as_str)
    }

    /// Register keys with more than one value (unresolved concurrent puts).
    #[must_use]
    pub fn conflicts(&self) -> usize {
        self.registers.iter().filter(|(_, v)| v.len() > 1).count()
    }
}

impl<V: KvValue> Lattice for KvState<V> {
    fn join(&mut self, other: &Self) {
        self.registers.join(&other.registers);
        self.counters.join(&other.counters);
        self.sets.join(&other.sets);
    }

    fn leq(&self, other: &Self) -> bool {
        self.registers.leq(&other.registers)
            && self.counters.leq(&other.counters)
            && self.sets.leq(&other.sets)
    }

    fn is_bottom(&self) -> bool {
        self.registers.is_bottom() && self.counters.is_bottom() && self.sets.is_bottom()
    }
}

impl<V: KvValue> Decompose for KvState<V> {
    fn decompose(&self) -> Vec<Self> {
        let r = self
            .registers
            .decompose()
            .into_iter()
            .map(|registers| Self {
                registers,
                ..Self::default()
            });
        let c = self.counters.decompose().into_iter().map(|counters| Self {
            counters,
            ..Self::default()
        });
        let s = self.sets.decompose().into_iter().map(|sets| Self {
            sets,
            ..Self::default()
        });
        r.chain(c).chain(s).collect()
    }

    fn delta_from(&self, known: &Self) -> Self {
        Self {
            registers: self.registers.delta_from(&known.registers),
            counters: self.counters.delta_from(&known.counters),
            sets: self.sets.delta_from(&known.sets),
        }
    }
}

impl<V: KvValue> Replicated for KvState<V> {
    fn validate(&self) -> Result<(), InvalidState> {
        self.registers.validate()?;
        self.counters.validate()?;
        self.sets.validate()
    }

    fn digest(&self) -> Option<CausalContext> {
        let mut d = self.registers.as_causal().context().clone();
        d.join(self.counters.as_causal().context());
        d.join(self.sets.as_causal().context());
        Some(d)
    }

    /// Cuts the inner map with the most dots at its median dot (the kernel's
    /// `O(n)` split); the other maps stay in the first half. When no map has
    /// two dots, the maps themselves are separated.
    fn split(&self) -> Option<(Self, Self)> {
        let sizes = [
            self.registers.as_causal().context().len(),
            self.counters.as_causal().context().len(),
            self.sets.as_causal().context().len(),
        ];
        let biggest = (0..3).max_by_key(|&i| sizes[i]).unwrap_or(0);
        if sizes[biggest] >= 2 {
            let mut left = self.clone();
            let mut right = Self::default();
            match biggest {
                0 => {
                    let (l, r) = self.registers.as_causal().split()?;
                    (left.registers, right.registers) = (from_causal(l), from_causal(r));
                }
                1 => {
                    let (l, r) = self.counters.as_causal().split()?;
                    (left.counters, right.counters) = (from_causal(l), from_causal(r));
                }
                _ => {
                    let (l, r) = self.sets.as_causal().split()?;
                    (left.sets, right.sets) = (from_causal(l), from_causal(r));
                }
            }
            return Some((left, right));
        }
        // At most one dot per map: give the first non-empty map its own half.
        let nonempty: Vec<usize> = (0..3).filter(|&i| sizes[i] > 0).collect();
        if nonempty.len() < 2 {
            return None;
        }
        let mut left = Self::default();
        let mut right = self.clone();
        match nonempty[0] {
            0 => left.registers = std::mem::take(&mut right.registers),
            1 => left.counters = std::mem::take(&mut right.counters),
            _ => left.sets = std::mem::take(&mut right.sets),
        }
        Some((left, right))
    }

    /// Each inner map writes under the writer's id tagged for that map.
    fn mints_as(me: ReplicaId, id: ReplicaId) -> bool {
        (0..3).any(|map| tagged(me, map) == id)
    }

    fn missing_for(&self, digest: &CausalContext) -> Option<Self> {
        Some(Self {
            registers: CausalCrdt::from_causal(self.registers.as_causal().delta_for(digest)),
            counters: CausalCrdt::from_causal(self.counters.as_causal().delta_for(digest)),
            sets: CausalCrdt::from_causal(self.sets.as_causal().delta_for(digest)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (ReplicaId, ReplicaId) {
        (ReplicaId::from_u128(1), ReplicaId::from_u128(2))
    }

    /// A value type of an application's own.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
    struct Profile {
        name: String,
        age: u8,
        tags: Vec<String>,
    }

    fn profile(name: &str, age: u8) -> Profile {
        Profile {
            name: name.to_string(),
            age,
            tags: vec!["x".to_string()],
        }
    }

    #[test]
    fn typed_values_keep_concurrent_puts_as_siblings_until_resolved() {
        let (a, b) = ids();
        let (mut x, mut y) = (KvState::<Profile>::default(), KvState::<Profile>::default());
        let d1 = x.put(a, "me", profile("Ada", 36), &CausalContext::new());
        let d2 = y.put(b, "me", profile("Ada L.", 37), &CausalContext::new());
        x.join(&d2);
        y.join(&d1);
        assert_eq!(x, y);
        let (mut values, seen) = x.get("me");
        values.sort();
        assert_eq!(values, [profile("Ada", 36), profile("Ada L.", 37)]);
        assert_eq!(x.conflicts(), 1);
        let d3 = x.put(a, "me", profile("Ada Lovelace", 37), &seen);
        y.join(&d3);
        assert_eq!(y.get("me").0, [profile("Ada Lovelace", 37)]);
        assert_eq!(y.conflicts(), 0);
    }

    #[test]
    fn keys_list_each_kind_sorted_and_deleted_keys_leave() {
        let (a, _) = ids();
        let mut s = KvState::<u64>::default();
        let none = CausalContext::new();
        for key in ["b", "a", "c"] {
            let _ = s.put(a, key, 1, &none);
            let _ = s.add(a, &format!("n-{key}"), 1);
            let _ = s.set_add(a, &format!("s-{key}"), "m");
        }
        assert_eq!(s.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(s.counter_keys().collect::<Vec<_>>(), ["n-a", "n-b", "n-c"]);
        assert_eq!(s.set_keys().collect::<Vec<_>>(), ["s-a", "s-b", "s-c"]);
        let _ = s.delete("b");
        let _ = s.delete_counter("n-a");
        let _ = s.delete_set("s-c");
        assert_eq!(s.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(s.counter_keys().collect::<Vec<_>>(), ["n-b", "n-c"]);
        assert_eq!(s.set_keys().collect::<Vec<_>>(), ["s-a", "s-b"]);
        // A set whose last member was removed is gone too.
        let _ = s.set_remove("s-a", "m");
        assert_eq!(s.set_keys().collect::<Vec<_>>(), ["s-b"]);
    }

    #[test]
    fn delete_counter_zeroes_it_everywhere_and_a_concurrent_increment_survives() {
        let (a, b) = ids();
        let (mut x, mut y) = (KvState::new(), KvState::new());
        let d = x.add(a, "likes", 5);
        y.join(&d);
        let d = y.add(b, "likes", 2);
        x.join(&d);
        assert_eq!((x.count("likes"), y.count("likes")), (7, 7));

        // Deleted on x, shipped to y: 0 on both, and the key is gone.
        let del = x.delete_counter("likes");
        y.join(&del);
        assert_eq!((x.count("likes"), y.count("likes")), (0, 0));
        assert_eq!(y.counter_keys().count(), 0);

        // Counting starts again from zero after a delete.
        let d = y.add(b, "likes", 1);
        x.join(&d);
        assert_eq!((x.count("likes"), y.count("likes")), (1, 1));

        // An increment concurrent with a delete survives it, with its
        // replica's running total (here 1 + 3).
        let del = x.delete_counter("likes");
        let inc = y.add(b, "likes", 3);
        x.join(&inc);
        y.join(&del);
        assert_eq!(x, y);
        assert_eq!(x.count("likes"), 4);
    }

    #[test]
    fn delete_set_removes_every_seen_member_and_a_concurrent_add_survives() {
        let (a, b) = ids();
        let (mut x, mut y) = (KvState::new(), KvState::new());
        for m in ["tent", "stove", "map"] {
            let d = x.set_add(a, "wishlist", m);
            y.join(&d);
        }
        let del = x.delete_set("wishlist");
        assert!(x.members("wishlist").is_empty());
        let add = y.set_add(b, "wishlist", "rope"); // concurrent with the delete
        x.join(&add);
        y.join(&del);
        assert_eq!(x, y);
        assert_eq!(x.members("wishlist"), ["rope"]);
    }

    #[test]
    fn deletes_reach_a_peer_that_was_away_through_its_digest() {
        let (a, _) = ids();
        let mut x = KvState::new();
        let _ = x.add(a, "likes", 3);
        let _ = x.set_add(a, "tags", "t");
        let _ = x.put(a, "bio", "hi".to_string(), &CausalContext::new());
        let mut away = x.clone();
        let _ = x.delete_counter("likes");
        let _ = x.delete_set("tags");
        let _ = x.delete("bio");
        let digest = away.digest().expect("KvState has digests");
        let missing = x.missing_for(&digest).expect("KvState answers digests");
        away.join(&missing);
        assert_eq!(away, x);
        assert_eq!(away.count("likes"), 0);
        assert!(away.members("tags").is_empty() && away.get("bio").0.is_empty());
    }
}
