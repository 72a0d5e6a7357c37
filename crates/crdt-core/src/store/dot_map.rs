//! `DotMap<K, S>`: keys mapped to nested dot stores.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::DotStore;
use super::sorted_map::SortedMap;
use super::theirs::{Borrowed, Owned, Side};
use crate::sorted::capacity_for;
use crate::{CausalContext, Dot, InvalidState};

/// A map from keys to nested dot stores, all sharing one causal context: the
/// store of observed-remove sets (`DotMap<T, DotSet>`) and maps
/// (`DotMap<K, V::Store>`).
///
/// A key is present exactly while its store holds a live dot; bottom stores
/// are never kept, so equality is semantic. Keys are kept sorted (in compact
/// sorted chunks, see the design note on `SortedMap` in the source), so
/// iteration and encoding order never depend on a hash seed, and a small
/// delta joins into a large map in `O(delta · log n)`.
///
/// ```
/// use crdt_core::{Causal, DotMap, DotSet, Lattice, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// // An add-wins set of strings.
/// fn add(s: &mut Causal<DotMap<String, DotSet>>, r: ReplicaId, x: &str) {
///     let dot = s.next_dot(r);
///     let (store, ctx) = s.parts_mut();
///     ctx.insert(dot);
///     store.update(x.to_string(), |dots| {
///         dots.insert(dot);
///     });
/// }
/// let mut x = Causal::new();
/// add(&mut x, a, "milk");
/// let mut y = x.clone();
/// // x removes "milk" (drops its dots, keeps them in the context) while y
/// // concurrently adds it again: the add wins.
/// x.parts_mut().0.remove(&"milk".to_string());
/// add(&mut y, b, "milk");
/// x.join(&y);
/// assert!(x.store().contains_key(&"milk".to_string()));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DotMap<K, S> {
    map: SortedMap<K, S>,
}

impl<K, S> Default for DotMap<K, S> {
    fn default() -> Self {
        Self {
            map: SortedMap::default(),
        }
    }
}

impl<K: Ord, S: DotStore> DotMap<K, S> {
    /// The empty map.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The store under `key`.
    #[must_use]
    pub fn get(&self, key: &K) -> Option<&S> {
        self.map.get(key)
    }

    /// Whether `key` has a (non-bottom) store.
    #[must_use]
    pub fn contains_key(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &S)> + ExactSizeIterator + '_ {
        self.map.iter()
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator + '_ {
        self.map.iter().map(|(k, _)| k)
    }

    /// The number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl<K: Ord + Clone, S: DotStore> DotMap<K, S> {
    /// Runs `f` on the store under `key` (bottom if absent) and keeps the
    /// result only if it is not bottom.
    #[inline]
    pub fn update<R>(&mut self, key: K, f: impl FnOnce(&mut S) -> R) -> R {
        self.map.upsert(key, S::default, f, |s| !s.is_bottom())
    }

    /// Sets the store under `key` (removing the key if `store` is bottom);
    /// returns the previous store.
    pub fn insert(&mut self, key: K, store: S) -> Option<S> {
        if store.is_bottom() {
            self.map.remove(&key)
        } else {
            self.map.insert(key, store)
        }
    }

    /// The map holding `store` under `key` alone (the store of a
    /// one-element delta), built without a search; empty if `store` is
    /// bottom.
    #[must_use]
    #[inline]
    pub fn singleton(key: K, store: S) -> Self {
        if store.is_bottom() {
            return Self::new();
        }
        Self {
            map: SortedMap::one(key, store),
        }
    }

    /// Removes `key`, returning its store.
    #[inline]
    pub fn remove(&mut self, key: &K) -> Option<S> {
        self.map.remove(key)
    }

    /// Keeps the entries for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &S) -> bool) {
        self.map.retain(|k, s| keep(k, s));
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Whether every key of `other` is a key of `self` (one ordered walk
    /// of the keys, stopping at the first new one).
    fn names_only_own_keys(&self, other: &Self) -> bool {
        let mut mine = self.map.iter().map(|(k, _)| k);
        other
            .map
            .iter()
            .all(|(ok, _)| mine.by_ref().find(|k| *k >= ok) == Some(ok))
    }

    /// Whether some dot that `other` could remove lives under a key that
    /// `other` does not mention, so that such keys must be visited.
    fn must_scan_own_keys(&self, other: &Self, overlap: &CausalContext) -> bool {
        if overlap.is_empty() {
            return false;
        }
        let mut accounted = 0u64;
        for (key, _) in other.map.iter() {
            if let Some(s) = self.map.get(key) {
                accounted += s.dots().filter(|d| overlap.contains(*d)).count() as u64;
            }
        }
        accounted < overlap.len()
    }
}

impl<K: Ord + Clone + fmt::Debug, S: DotStore> DotMap<K, S> {
    /// The merge of [`DotStore::merge`] and [`DotStore::merge_owned`], over
    /// the other map borrowed or owned (see its design note there).
    fn merge_from<O: MapSide<K, S>>(
        &mut self,
        ctx: &CausalContext,
        other: O,
        overlap: &CausalContext,
    ) {
        if self.map.is_empty() {
            // Every entry of `other` is adopted: whole when `self` has seen
            // none of its dots, else without those.
            *self = other.adopt(overlap);
            return;
        }
        let o = other.get();
        if self.map.len() == 1 && o.map.len() == 1 && self.map.first_key() == o.map.first_key() {
            // One entry each, under the same key (a level of the same path
            // of a nested state): merged in place, no pass to set up.
            let os = other.entries().next().map(|(_, os)| os);
            let merge = |_: &K, s: &mut S| merge_entry(s, os, ctx, overlap);
            let _ = self.map.modify_first(merge, |s| !s.is_bottom());
            return;
        }
        let comparable = o.map.len().saturating_mul(8) >= self.map.len();
        if comparable && self.names_only_own_keys(o) {
            // Comparable sizes, no new key (both hold the same paths of a
            // nested map, say): merged in place, in one ordered pass.
            let mut theirs = other.entries().peekable();
            self.map.retain(|k, s| {
                let os = theirs.next_if(|(ok, _)| O::key(ok) == k).map(|(_, os)| os);
                merge_entry(s, os, ctx, overlap);
                !s.is_bottom()
            });
            return;
        }
        if comparable {
            // Comparable sizes: one ordered pass, then a bulk rebuild.
            let mine = std::mem::take(&mut self.map);
            let mut out: Vec<(K, S)> = Vec::with_capacity(mine.len().max(o.map.len()));
            let mut theirs = other.entries().peekable();
            let adopt = |out: &mut Vec<(K, S)>, ok: O::Key, os: O::Store| {
                let adopted = os.adopt(overlap);
                if !adopted.is_bottom() {
                    out.push((O::owned_key(ok), adopted));
                }
            };
            for (k, mut s) in mine.into_entries() {
                while let Some((ok, os)) = theirs.next_if(|(ok, _)| *O::key(ok) < k) {
                    adopt(&mut out, ok, os);
                }
                let os = theirs.next_if(|(ok, _)| *O::key(ok) == k).map(|(_, os)| os);
                merge_entry(&mut s, os, ctx, overlap);
                if !s.is_bottom() {
                    out.push((k, s));
                }
            }
            for (ok, os) in theirs {
                adopt(&mut out, ok, os);
            }
            self.map = SortedMap::from_sorted_vec(out);
            return;
        }
        if self.must_scan_own_keys(o, overlap) {
            // The keys not named lose the dots the other side has seen,
            // which lie in `overlap`: found through the dot index when
            // they are few, else by a walk of every key.
            let named = !o.map.is_empty();
            let mut strip = |k: &K, s: &mut S| {
                if !(named && o.map.contains_key(k)) {
                    merge_entry(s, None::<O::Store>, ctx, overlap);
                } // else merged below
            };
            let keep = |s: &S| !s.is_bottom();
            if !self.map.strip_indexed(overlap, ctx, &mut strip, keep) {
                self.map.retain(|k, s| {
                    strip(k, s);
                    keep(s)
                });
            }
        }
        for (k, os) in other.entries() {
            let mut os = Some(os);
            let merge = |s: &mut S| merge_entry(s, os.take(), ctx, overlap);
            let held = self
                .map
                .modify(O::key(&k), merge, |s| !s.is_bottom())
                .is_some();
            if let (false, Some(os)) = (held, os) {
                let adopted = os.adopt(overlap);
                if !adopted.is_bottom() {
                    self.map.insert(O::owned_key(k), adopted);
                }
            }
        }
    }
}

/// The other side of a map merge ([`Side`]), yielding its entries as sides
/// of the same ownership: keys and stores borrowed, or moved out.
trait MapSide<K: Ord + Clone + fmt::Debug, S: DotStore>: Side<DotMap<K, S>> {
    type Key;
    type Store: Side<S>;
    fn key(k: &Self::Key) -> &K;
    fn owned_key(k: Self::Key) -> K;
    fn entries(self) -> impl Iterator<Item = (Self::Key, Self::Store)>;
}

impl<'a, K: Ord + Clone + fmt::Debug, S: DotStore> MapSide<K, S> for Borrowed<'a, DotMap<K, S>> {
    type Key = &'a K;
    type Store = Borrowed<'a, S>;
    fn key<'k>(k: &'k &'a K) -> &'k K {
        k
    }
    fn owned_key(k: &'a K) -> K {
        k.clone()
    }
    fn entries(self) -> impl Iterator<Item = (&'a K, Borrowed<'a, S>)> {
        self.0.map.iter().map(|(k, s)| (k, Borrowed(s)))
    }
}

impl<K: Ord + Clone + fmt::Debug, S: DotStore> MapSide<K, S> for Owned<DotMap<K, S>> {
    type Key = K;
    type Store = Owned<S>;
    fn key(k: &K) -> &K {
        k
    }
    fn owned_key(k: K) -> K {
        k
    }
    fn entries(self) -> impl Iterator<Item = (K, Owned<S>)> {
        self.0.map.into_entries().map(|(k, s)| (k, Owned(s)))
    }
}

impl<K: Ord + Clone + fmt::Debug, S: DotStore> DotStore for DotMap<K, S> {
    const NESTS: bool = true;

    fn is_bottom(&self) -> bool {
        self.map.is_empty()
    }

    fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.map.iter().flat_map(|(_, s)| s.dots())
    }

    fn dot_count(&self) -> u64 {
        self.map.weight()
    }

    fn counter_bound(&self) -> u64 {
        self.map.top()
    }

    fn count_and_bound(&self) -> (u64, u64) {
        self.map.summary()
    }

    /// Skips every chunk of keys, and then every key, whose counter bound
    /// is below `from` (see the design note on `SortedMap` in the source).
    fn filtered_from<F: FnMut(Dot) -> bool>(&self, from: u64, keep: &mut F) -> Self {
        let mut out = Vec::new();
        for (chunk, top) in self.map.chunks_with_tops() {
            if top < from {
                continue;
            }
            for (k, s) in chunk {
                if s.counter_bound() < from {
                    continue;
                }
                let s = s.filtered_from(from, keep);
                if !s.is_bottom() {
                    out.push((k.clone(), s));
                }
            }
        }
        Self::from_sorted_entries(out)
    }

    fn try_each_dot<E>(&self, f: &mut impl FnMut(Dot) -> Result<(), E>) -> Result<(), E> {
        self.map.try_values(|s| s.try_each_dot(f))
    }

    fn check_each_dot(
        &self,
        f: &mut impl FnMut(Dot) -> Result<(), InvalidState>,
    ) -> Result<(), InvalidState> {
        self.map.try_values(|s| {
            if s.is_bottom() {
                return Err(InvalidState::EmptyEntry);
            }
            s.check_each_dot(f)
        })
    }

    /// Design note: a small delta must join into a large map without touching
    /// every key (a catch-up after one insert into 100k elements must be cheap).
    /// Keys the delta names are visited by lookup. Keys it does not name can
    /// only lose dots that lie in `overlap`; when every such dot is accounted
    /// for under the named keys (an add, or an add that supersedes older dots
    /// of the same element), those keys are skipped. Otherwise (a remove, whose
    /// store is empty) the keys holding those dots are found through the dot
    /// index of a large map when the dots are few (see the design note on
    /// `SortedMap`), and every key is visited once when they are many or
    /// the map keeps no index. When the other map is about as large as this
    /// one, one linear merge of the two sorted maps is used.
    fn merge(&mut self, ctx: &CausalContext, other: &Self, overlap: &CausalContext) {
        self.merge_from(ctx, Borrowed(other), overlap);
    }

    /// Moves in the nested stores of the keys only `other` holds, when
    /// they nest (see the design note in `theirs.rs`).
    fn merge_owned(&mut self, ctx: &CausalContext, other: Self, overlap: &CausalContext) {
        if S::NESTS {
            self.merge_from(ctx, Owned(other), overlap);
        } else {
            self.merge_from(ctx, Borrowed(&other), overlap);
        }
    }

    fn retain_dots<F: FnMut(Dot) -> bool>(&mut self, keep: &mut F) {
        self.map.retain(|_, s| {
            s.retain_dots(keep);
            !s.is_bottom()
        });
    }

    fn filtered<F: FnMut(Dot) -> bool>(&self, keep: &mut F) -> Self {
        // The entries come out in key order: no sortedness check needed.
        Self::from_sorted_entries(
            self.map
                .iter()
                .filter_map(|(k, s)| {
                    let s = s.filtered(keep);
                    (!s.is_bottom()).then(|| (k.clone(), s))
                })
                .collect(),
        )
    }

    /// Design note: the engine checks every received payload against the
    /// local state with this, so it must cost in proportion to the smaller
    /// side (the payload), not the state. The smaller map is walked: under
    /// each of its keys, the nested stores are compared (a lookup), and its
    /// overlap dots that the other side does not hold under the same key
    /// are collected. Only if there are such candidates (the other side
    /// removed them, or holds them under another key: the conflict sought)
    /// is the larger map scanned once for them. A candidate arises from a
    /// stale add arriving after its remove, which a remove's own merge
    /// already pays a scan for.
    fn conflict(&self, other: &Self, overlap: &CausalContext) -> Option<Dot> {
        if overlap.is_empty() {
            return None;
        }
        let (small, large) = if other.map.len() <= self.map.len() {
            (other, self)
        } else {
            (self, other)
        };
        let mut candidates: Vec<Dot> = Vec::new();
        for (k, ss) in small.map.iter() {
            let mut wanted: Vec<Dot> = ss.dots().filter(|d| overlap.contains(*d)).collect();
            if wanted.is_empty() {
                continue;
            }
            match large.map.get(k) {
                Some(ls) => {
                    // The same dot under the same key with another payload.
                    if let Some(dot) = ss.conflict(ls, overlap) {
                        return Some(dot);
                    }
                    wanted.sort_unstable();
                    let mut held = vec![false; wanted.len()];
                    for d in ls.dots() {
                        if let Ok(i) = wanted.binary_search(&d) {
                            held[i] = true;
                        }
                    }
                    candidates.extend(wanted.iter().zip(&held).filter(|e| !*e.1).map(|e| *e.0));
                }
                None => candidates.append(&mut wanted),
            }
        }
        if candidates.is_empty() {
            return None;
        }
        // The same dot under two different keys.
        candidates.sort_unstable();
        large.map.iter().find_map(|(k, ls)| {
            ls.dots().find(|d| {
                candidates.binary_search(d).is_ok()
                    && !small
                        .map
                        .get(k)
                        .is_some_and(|ss| ss.dots().any(|x| x == *d))
            })
        })
    }

    fn held_of(&self, dots: &CausalContext) -> Option<CausalContext> {
        self.map.held_indexed(dots)
    }

    fn check(&self) -> Result<(), InvalidState> {
        self.map.try_values(|s| {
            if s.is_bottom() {
                return Err(InvalidState::EmptyEntry);
            }
            s.check()
        })
    }
}

impl<K: Ord + Clone, S: DotStore> DotMap<K, S> {
    /// Whether the map has a dot index (see `SortedMap`).
    #[cfg(test)]
    pub(crate) fn is_indexed(&self) -> bool {
        self.map.is_indexed()
    }

    /// A map from entries with strictly increasing keys and no bottom
    /// stores (what a decoder has already checked).
    pub(crate) fn from_sorted_entries(entries: Vec<(K, S)>) -> Self {
        Self {
            map: SortedMap::from_sorted_vec(entries),
        }
    }
}

impl<K: Ord + Clone, S: DotStore> FromIterator<(K, S)> for DotMap<K, S> {
    /// Bottom stores are left out; a later store for the same key replaces
    /// an earlier one.
    fn from_iter<I: IntoIterator<Item = (K, S)>>(iter: I) -> Self {
        Self {
            map: iter.into_iter().filter(|(_, s)| !s.is_bottom()).collect(),
        }
    }
}

impl<K: fmt::Debug, S: fmt::Debug> fmt::Debug for DotMap<K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.map.iter()).finish()
    }
}

impl<K: Serialize, S: Serialize> Serialize for DotMap<K, S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut seq = serializer.serialize_seq(Some(self.map.len()))?;
        for entry in self.map.iter() {
            seq.serialize_element(&entry)?;
        }
        seq.end()
    }
}

impl<'de, K: Deserialize<'de> + Ord + Clone, S: Deserialize<'de> + DotStore> Deserialize<'de>
    for DotMap<K, S>
{
    /// Rejects keys that are not strictly increasing (unsorted or repeated).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<K, S>(PhantomData<fn() -> (K, S)>);
        impl<'de, K: Deserialize<'de> + Ord + Clone, S: Deserialize<'de> + DotStore> Visitor<'de>
            for MapVisitor<K, S>
        {
            type Value = DotMap<K, S>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence of (key, store) entries with strictly increasing keys")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(K, S)> =
                    Vec::with_capacity(capacity_for::<(K, S)>(seq.size_hint()));
                while let Some((k, s)) = seq.next_element::<(K, S)>()? {
                    if entries.last().is_some_and(|(last, _)| *last >= k) {
                        return Err(A::Error::custom("dot map keys are not strictly sorted"));
                    }
                    entries.push((k, s));
                }
                Ok(DotMap {
                    map: SortedMap::from_sorted_vec(entries),
                })
            }
        }
        deserializer.deserialize_seq(MapVisitor(PhantomData))
    }
}

/// Merges into `mine`, an entry of this map, the entry of the other map
/// under the same key (`None`: the other map has none, so `mine` loses
/// the dots the other side has seen, which can only be in `overlap`).
fn merge_entry<S: DotStore>(
    mine: &mut S,
    theirs: Option<impl Side<S>>,
    ctx: &CausalContext,
    overlap: &CausalContext,
) {
    match theirs {
        Some(os) => os.merge_into(mine, ctx, overlap),
        // `mine`'s dots lie in `ctx`: the other side has seen one exactly
        // when the overlap holds it (the smaller context to search).
        None if !overlap.is_empty() => mine.retain_dots(&mut |d| !overlap.contains(d)),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DotSet, ReplicaId};

    /// Keys `1..=n`, key `k` holding the dot `(replica, k)`, and the context
    /// of those dots.
    fn keyed(replica: u128, n: u64) -> (DotMap<u64, DotSet>, CausalContext) {
        let r = ReplicaId::from_u128(replica);
        let mut map = DotMap::new();
        let mut ctx = CausalContext::new();
        for k in 1..=n {
            let dot = Dot::new(r, k).unwrap();
            map.insert(k, DotSet::from(dot));
            ctx.insert(dot);
        }
        (map, ctx)
    }

    /// A merge of a map naming only keys already held (the same paths of a
    /// nested map) was rebuilt into a new vector at every level; it is now
    /// done in place.
    #[test]
    fn a_merge_naming_only_held_keys_is_in_place() {
        let (mut mine, ctx) = keyed(1, 10);
        let (theirs, their_ctx) = keyed(2, 10);
        let overlap = ctx.intersection(&their_ctx);
        let before = mine.map.chunks().next().map(<[_]>::as_ptr);
        mine.merge(&ctx, &theirs, &overlap);
        assert_eq!(mine.map.chunks().next().map(<[_]>::as_ptr), before);
        assert!(mine.iter().all(|(_, s)| s.len() == 2));
        assert_eq!(mine.len(), 10);
    }

    /// Two maps of one entry under the same key (a level of one path of a
    /// nested state) merge that entry in place: both dots kept when
    /// neither side has seen the other's, and the entry (so the map)
    /// dropped when each side has seen and removed the other's dot. The
    /// same as the merge of the same entries beside a second key, which
    /// takes the ordered pass.
    #[test]
    fn one_entry_maps_under_one_key_merge_their_entries() {
        let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
        let (da, db) = (Dot::new(a, 1).unwrap(), Dot::new(b, 1).unwrap());
        let one = |d: Dot| DotMap::singleton(7u64, DotSet::from(d));
        let mut both = CausalContext::from(da);
        both.insert(db);
        let cases = [
            (CausalContext::from(da), CausalContext::from(db), 2),
            (both.clone(), both.clone(), 0),
            (both.clone(), CausalContext::from(db), 1),
        ];
        for (mine_ctx, their_ctx, dots) in cases {
            let overlap = mine_ctx.intersection(&their_ctx);
            let mut mine = one(da);
            let before = mine.map.chunks().next().map(<[_]>::as_ptr);
            mine.merge(&mine_ctx, &one(db), &overlap);
            assert_eq!(mine.dot_count(), dots);
            if dots > 0 {
                assert_eq!(mine.map.chunks().next().map(<[_]>::as_ptr), before);
            } else {
                assert!(mine.is_bottom());
            }
            let beside = |d: Dot| {
                let mut m = one(d);
                m.insert(
                    9,
                    DotSet::from(Dot::new(ReplicaId::from_u128(3), 1).unwrap()),
                );
                m
            };
            let mut wide = beside(da);
            wide.merge(&mine_ctx, &beside(db), &overlap);
            let _ = wide.remove(&9);
            assert_eq!(mine, wide);
        }
    }

    /// Into an empty map, with nothing seen in common, the other map is
    /// adopted whole.
    #[test]
    fn a_merge_into_an_empty_map_adopts_every_entry() {
        let (theirs, _) = keyed(2, 300);
        let mut mine = DotMap::new();
        mine.merge(&CausalContext::new(), &theirs, &CausalContext::new());
        assert_eq!(mine, theirs);
        assert_eq!(mine.dot_count(), 300);
    }

    /// An owned merge moves the nested stores of the keys it adopts (a
    /// received delta of deep paths was copied level by level into the
    /// state, then dropped), and strips in place the dots this side has
    /// seen: the same result as the borrowed merge.
    #[test]
    fn an_owned_merge_moves_adopted_subtrees() {
        type Nested = DotMap<u64, DotMap<u64, DotSet>>;
        let nest = |replica: u128, keys: std::ops::Range<u64>| {
            let (inner, ctx) = keyed(replica, 3);
            let map: Nested = keys.map(|k| (k, inner.clone())).collect();
            (map, ctx)
        };
        let (mut mine, ctx) = nest(1, 0..20);
        let (theirs, their_ctx) = nest(2, 10..30);
        let overlap = ctx.intersection(&their_ctx);
        let adopted = |m: &Nested, k: u64| {
            let inner = m.get(&k).expect("key held");
            inner.map.chunks().next().map(<[_]>::as_ptr)
        };
        let before = adopted(&theirs, 25);
        let mut borrowed = mine.clone();
        borrowed.merge(&ctx, &theirs, &overlap);
        mine.merge_owned(&ctx, theirs, &overlap);
        assert_eq!(adopted(&mine, 25), before);
        assert_eq!(mine, borrowed);
        assert_eq!(mine.len(), 30);
        // Adopted under a context that has seen some of the dots: those
        // are stripped from the moved store.
        let (theirs, _) = nest(3, 40..41);
        let seen = Dot::new(ReplicaId::from_u128(3), 1).unwrap();
        let overlap = CausalContext::from(seen);
        let mut borrowed = mine.clone();
        borrowed.merge(&ctx, &theirs, &overlap);
        mine.merge_owned(&ctx, theirs, &overlap);
        assert_eq!(mine, borrowed);
        let inner = mine.get(&40).expect("adopted");
        assert_eq!(inner.len(), 2);
        assert!(inner.dots().all(|d| d != seen));
    }
}
