//! A compact ordered map: sorted entries in one small vector, or in
//! fixed-capacity chunks once there are many.
//!
//! Design note: `DotMap` needs sorted keys (deterministic iteration and
//! encoding), `O(log n)`-ish inserts and lookups (a small delta must join
//! into a large map cheaply), fast ordered iteration (full merges are linear
//! passes), and few heap bytes per entry (an add-wins set of `u64` should
//! cost under 48 bytes per element). `std::collections::BTreeMap` meets the
//! first three, but its nodes hold at most 11 entries plus parent links and
//! are only about half full after sequential inserts (about 78 bytes per
//! element here). A sorted `Vec` is compact but inserts in the middle move
//! the whole tail. This map is the middle ground, in two shapes:
//!
//! * **Flat**: up to [`CHUNK`] entries in one sorted boxed slice,
//!   allocated exactly. Most maps are small (a delta, or the inner maps of
//!   a nested state: a one-key level of a map of maps), so a one-entry map
//!   is one allocation of one entry, and the map itself is two words, a
//!   pointer and a length (16 bytes: nested maps pay it per inner map, see
//!   the summaries below). (Allocating a whole chunk for it cost about 50
//!   times its encoded size; nested maps multiplied that per level.) The
//!   price is one reallocation per insert or removal (a vector's spare
//!   capacity would need a third word): a flat map holds at most `CHUNK`
//!   entries, and a decoded, cloned or merged map is built at its size
//!   anyway. The third word, in every inner map and again in the buffered
//!   copy of a received delta, kept the shared-path leaves of the issue 11
//!   budget at 16.7x its 16x (about 200 bytes of decoded maps per leaf).
//! * **Chunked** (boxed, so the flat shape stays small): sorted chunks of at
//!   most `CHUNK` entries, and an index of their first keys; an insert
//!   binary-searches the index and then the chunk and moves at most one
//!   chunk's tail. Sequential inserts fill chunks completely (a full last
//!   chunk is not split, a new one is started), random inserts leave them
//!   three-quarters full on average, and chunks emptied by removals are
//!   merged with a neighbour. A chunked map left with one chunk becomes
//!   flat again. A chunk's capacity doubles up to `CHUNK / 8` entries and
//!   then grows by `CHUNK / 8` at a time, and the halves of a split keep
//!   `CHUNK / 8` of room each: inserts leave at most `CHUNK / 8` empty
//!   slots in a chunk, removals aside (issue 14: with full-capacity halves, a
//!   quarter of every chunk was empty under random inserts, 42.4 heap bytes
//!   per element of an `OrSet<u64>` against a target of 40). The price is
//!   one reallocation per `CHUNK / 8` inserts into a chunk.
//!
//! A chunked map also keeps a [`Summary`] of its values, so that a causal
//! state can answer a digest without walking every entry (issue 14): the
//! exact number of dots held (`weight`), and an upper bound of their
//! counters (`top`) for the whole map and for each chunk. A bound, not the
//! maximum: a removal leaves it as it is (lowering it would mean a scan), a
//! split, a `retain` or a rebuild recomputes it. A walk for the dots newer
//! than some counter skips every chunk whose bound is below it; the dots a
//! peer lacks are usually the newest ones, so such a walk visits the few
//! chunks written since. Cost: two words in the chunked shape's box and one
//! per chunk (under 0.1 byte per element of a large map).
//!
//! A flat map keeps no summary: its weight and top are computed on demand
//! from its at most [`CHUNK`] entries, and its mutations compute none. Kept
//! in the map itself, the two words made every map, hence every inner map
//! of a nested state, 40 bytes instead of 24, and the hostile-bytes budget
//! of issue 11 (deep nesting) went from 15.8x to 21.2x its 16x. The cost
//! moves to the reads: the weight of a flat map asks each value's, which
//! for a flat inner map walks it in turn, down to the first chunked maps
//! or leaves (bounded by that subtree, and by the type's nesting depth).
//! A chunked map asks it of one entry per insert, modify or removal, and
//! of each entry once when built or when a flat map fills up, so its
//! upkeep stays proportional to the entries touched (the nested merge it
//! wraps already visits that entry's dots). A walk for new dots
//! ([`SortedMap::chunks_with_tops`]) checks a flat map's entries one by
//! one rather than computing its top first.
//!
//! Why a bound per chunk does not serve a remote remove: a remove names
//! old dots, and old dots are in every chunk of a map with scrambled keys,
//! so no bound can skip them. The bound costs nothing measurable and serves
//! the digest answer, where the dots sought are new. A remove is served by
//! the **dot index** (issue 14; `dot_index.rs`, `indexed.rs`), optional, in
//! the chunked shape's box (so a flat map, hence every small inner map,
//! stays two words):
//!
//! * Per origin replica, a dense array ("lane") from counter minus a base
//!   to a slot: a chunk id plus one, `u16`, and a one-byte hint, the
//!   position of the dot's entry in that chunk when it was pointed (3 bytes
//!   per counter of the lane's span, removed dots included; a map of more
//!   than 65,534 chunks, about 6M entries, keeps none). Chunk ids are
//!   stable (a position is found from an id through a small array,
//!   renumbered when a chunk is added or removed, like the first keys
//!   already are), so that a split or a merge re-points only the dots of
//!   the entries that moved. An earlier note
//!   here rejected the index at 4 bytes per dot against the 40-byte heap
//!   target; with `u16` ids and the capacity steps that brought the map to
//!   35.6 bytes per element, it fits (see `docs/measurements.md`, issue 14).
//! * Built lazily, in one walk, by the first merge of a remove (the delta's
//!   store does not name the keys whose dots it removes) into a chunked map
//!   whose values are light (at most 4 dots per entry on average: the
//!   entries of a set or of a map of small sets, not of a map of large
//!   maps), with lanes spanning the state's context. Then kept by every
//!   insert, replacement and modify (the entry's dots are pointed at its
//!   chunk; a value of more than 64 dots drops the index instead), split
//!   and merge; dropped by `retain` (values may gain dots there and chunks
//!   move: the next remove rebuilds it). A slot may be stale (its dot
//!   removed, its chunk merged away, its id reused) and a hint may have
//!   drifted (entries inserted or removed in front of it; they are not
//!   re-pointed): a lookup scans the named chunk for the dot outward from
//!   the hint, so a stale slot only costs a scan, and every dot held always
//!   has a slot naming its chunk. The hint makes a lookup read a few
//!   entries rather than half a chunk (up to 64 entries, 40 cache lines
//!   cold) for 1 byte per counter.
//! * The density guard: the lanes' slots, plus 32 per lane, may not exceed
//!   twice the dots held plus 1,024. The index is not built past it (lanes
//!   spanning `(B, 1)` and `(B, 2^40)` from a peer), and a dot that would
//!   grow a lane past it drops the index: no peer's counter sizes an
//!   allocation beyond twice the dots held, and a map whose counters have
//!   churned far past its live dots falls back to the walk.
//! * A merge looks the dots up (the overlap of the two contexts, which
//!   holds every dot the remove can take) only when there are fewer than
//!   one per `CHUNK` entries (a lookup scans a chunk); otherwise, or if the
//!   index goes away on the way, it walks, as before. The answer is the
//!   walk's exactly (property tests in `store/index_tests.rs`).
//! * A clone drops the index (it is a cache); equality, hashing and
//!   encoding never look at it.
//!
//! The bound is one counter for all replicas: when one replica writes much
//! faster than another, a peer lacking the slow replica's newest dot makes
//! the filter visit every chunk whose fast dots are newer (it is never
//! slower than the walk it replaces, plus one comparison per chunk).

use std::hash::{Hash, Hasher};

use crate::Dot;
use indexed::IndexSlot;
pub(crate) use iter::Iter;

/// The most entries in one chunk (and in a flat map).
pub(crate) const CHUNK: usize = 128;

/// What a [`SortedMap`] keeps about each value: implemented by every dot
/// store (see the module docs).
pub(crate) trait Summary {
    /// The number of dots the value holds (exact).
    fn weight(&self) -> u64;
    /// An upper bound of the counters of the dots the value holds (0 for
    /// none).
    fn top(&self) -> u64;
    /// The weight and the top together (one walk of a nested value that
    /// keeps no summary).
    fn summary(&self) -> (u64, u64) {
        (self.weight(), self.top())
    }
    /// Calls `f` on every dot the value holds (for the dot index).
    fn each_dot(&self, f: &mut impl FnMut(Dot));
    /// Whether the value holds `dot`.
    fn holds(&self, dot: Dot) -> bool;
}

/// Sorted map of `K` to `V`; see the module docs. Two words: the
/// summaries live in the chunked shape's box.
#[derive(Clone, Debug)]
pub(crate) struct SortedMap<K, V> {
    repr: Repr<K, V>,
}

#[derive(Clone, Debug)]
enum Repr<K, V> {
    /// At most `CHUNK` entries, sorted, allocated exactly (two words: see
    /// the module docs).
    Flat(Box<[(K, V)]>),
    /// Two or more chunks.
    Chunked(Box<Chunked<K, V>>),
}

/// The chunked shape.
#[derive(Clone, Debug)]
struct Chunked<K, V> {
    /// Non-empty chunks, each sorted, keys increasing across chunks.
    chunks: Vec<Vec<(K, V)>>,
    /// The first key of each chunk: the index searched to find a chunk,
    /// contiguous so that the search stays in cache.
    firsts: Vec<K>,
    /// For each chunk, at least the top of each of its values.
    tops: Vec<u64>,
    len: usize,
    /// The sum of the values' weights.
    weight: u64,
    /// At least the top of every value.
    top: u64,
    /// The dot index, if built (see the module docs); not cloned.
    index: IndexSlot,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        Self {
            repr: Repr::Flat(Box::default()),
        }
    }
}

/// The weight and the top of a run of entries.
fn summarize<'a, K: 'a, V: Summary + 'a>(
    entries: impl IntoIterator<Item = &'a (K, V)>,
) -> (u64, u64) {
    entries.into_iter().fold((0, 0), |(w, t), (_, v)| {
        let (vw, vt) = v.summary();
        (w + vw, t.max(vt))
    })
}

/// The capacity step of a large chunk: past `STEP` entries a chunk grows by
/// `STEP` at a time rather than doubling (see the module docs).
const STEP: usize = CHUNK / 8;

/// Makes room for one more entry in `chunk`: doubles its capacity (from 1)
/// up to [`STEP`], then adds [`STEP`] at a time up to `CHUNK`, never past.
fn grow<T>(chunk: &mut Vec<T>) {
    if chunk.len() == chunk.capacity() {
        let len = chunk.len();
        let target = if len < STEP { len * 2 } else { len + STEP };
        chunk.reserve_exact(target.clamp(1, CHUNK).saturating_sub(len));
    }
}

impl<K, V> SortedMap<K, V> {
    /// The map of one entry: one allocation of one entry, as an insert
    /// into an empty map makes, without the search.
    #[inline]
    pub(crate) fn one(key: K, value: V) -> Self {
        Self {
            repr: Repr::Flat(Box::new([(key, value)])),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match &self.repr {
            Repr::Flat(v) => v.len(),
            Repr::Chunked(c) => c.len,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The smallest key, if any.
    #[inline]
    pub(crate) fn first_key(&self) -> Option<&K> {
        match &self.repr {
            Repr::Flat(v) => v.first().map(|(k, _)| k),
            Repr::Chunked(c) => c.firsts.first(),
        }
    }

    /// The non-empty chunks, in order (a non-empty flat map is one chunk):
    /// plain nested loops over them beat [`SortedMap::iter`] in hot walks.
    pub(crate) fn chunks(&self) -> impl DoubleEndedIterator<Item = &[(K, V)]> + '_ {
        let (flat, chunks) = self.parts();
        let flat = (!flat.is_empty()).then_some(flat);
        flat.into_iter().chain(chunks.iter().map(Vec::as_slice))
    }

    /// The entries of a flat map, or the chunks of a chunked one (one of
    /// the two is empty).
    fn parts(&self) -> Parts<'_, K, V> {
        match &self.repr {
            Repr::Flat(v) => (v, &[]),
            Repr::Chunked(c) => (&[], &c.chunks),
        }
    }

    /// Calls `f` on every value in key order, up to the first error: plain
    /// loops over a flat map's entries or a chunked map's chunks, for the
    /// hot walks (validation visits every inner map of a nested state, and
    /// a chained iterator per map cost it twice the instructions).
    #[inline]
    pub(crate) fn try_values<E>(&self, mut f: impl FnMut(&V) -> Result<(), E>) -> Result<(), E> {
        let (flat, chunks) = self.parts();
        for (_, v) in flat {
            f(v)?;
        }
        for chunk in chunks {
            for (_, v) in chunk {
                f(v)?;
            }
        }
        Ok(())
    }

    /// Chunk `c`, if there is one (a flat map is chunk 0, even empty).
    #[inline]
    fn chunk(&self, c: usize) -> Option<&[(K, V)]> {
        match &self.repr {
            Repr::Flat(v) => (c == 0).then_some(v),
            Repr::Chunked(ch) => ch.chunks.get(c).map(Vec::as_slice),
        }
    }

    pub(crate) fn iter(&self) -> Iter<'_, K, V> {
        let (flat, chunks) = self.parts();
        Iter {
            inner: flat.iter().chain(chunks.iter().flatten()),
            remaining: self.len(),
        }
    }

    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// The chunks (as [`SortedMap::chunks`]), each with at least the top of
    /// each of its values: the kept bound of a chunk, `u64::MAX` for the one
    /// chunk of a flat map (which keeps none: check its entries instead).
    pub(crate) fn chunks_with_tops(&self) -> impl Iterator<Item = (&[(K, V)], u64)> + '_ {
        let tops: &[u64] = match &self.repr {
            Repr::Flat(_) => &[u64::MAX],
            Repr::Chunked(c) => &c.tops,
        };
        self.chunks().zip(tops.iter().copied())
    }

    /// The entries in order, by value.
    pub(crate) fn into_entries(self) -> IntoEntries<K, V> {
        match self.repr {
            Repr::Flat(v) => IntoEntries::Flat(v.into_vec().into_iter()),
            Repr::Chunked(c) => IntoEntries::Chunked(c.chunks.into_iter().flatten()),
        }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// The chunk that holds `key` or where it would be inserted: the last
    /// chunk whose first key is not above `key` (the first chunk if none).
    #[inline]
    fn chunk_for(&self, key: &K) -> usize {
        let Repr::Chunked(c) = &self.repr else {
            return 0;
        };
        let n = c.firsts.len();
        if c.firsts[n - 1] <= *key {
            return n - 1; // appends and recent keys: no search
        }
        // The index is contiguous and small (one key per chunk of about a
        // hundred keys) and stays cached where chunks do not: a plain
        // binary search costs fewer instructions than the probes of
        // `search`, which pay off only on cache misses (issue 14: 100k
        // scrambled inserts, 1217 -> 1138 instructions each, removes
        // 825 -> 740, wall time no worse).
        match c.firsts.binary_search(key) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// The chunk for `key` and the key's position in it (found or not).
    #[inline]
    fn locate(&self, key: &K) -> (usize, Result<usize, usize>) {
        let c = self.chunk_for(key);
        match self.chunk(c) {
            Some(chunk) => (c, search(chunk, |(k, _)| k, key)),
            None => (0, Err(0)),
        }
    }

    fn find(&self, key: &K) -> Option<(usize, usize)> {
        match self.locate(key) {
            (c, Ok(i)) => Some((c, i)),
            (_, Err(_)) => None,
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        let (c, i) = self.find(key)?;
        self.chunk(c).map(|chunk| &chunk[i].1)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_some()
    }
}

impl<K, V: Summary> SortedMap<K, V> {
    /// The sum of the values' weights: kept by a chunked map, computed from
    /// the entries of a flat one.
    pub(crate) fn weight(&self) -> u64 {
        self.summary().0
    }

    /// At least the top of every value: kept by a chunked map, computed
    /// (exactly) from the entries of a flat one.
    pub(crate) fn top(&self) -> u64 {
        self.summary().1
    }

    /// The weight and the top together, from one walk of a flat map.
    pub(crate) fn summary(&self) -> (u64, u64) {
        match &self.repr {
            Repr::Flat(v) => summarize(v),
            Repr::Chunked(c) => (c.weight, c.top),
        }
    }
}

impl<K: Ord + Clone, V: Summary> SortedMap<K, V> {
    /// Inserts or replaces; returns the replaced value.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.locate(&key) {
            (c, Ok(i)) => Some(match &mut self.repr {
                Repr::Flat(v) => std::mem::replace(&mut v[i].1, value),
                Repr::Chunked(ch) => {
                    let (weight, top) = value.summary();
                    ch.weight += weight;
                    ch.raise(c, top);
                    let old = std::mem::replace(&mut ch.chunks[c][i].1, value);
                    ch.weight -= old.weight();
                    ch.index_entries(c, i..i + 1);
                    old
                }
            }),
            (c, Err(pos)) => {
                self.insert_at(c, pos, key, value);
                None
            }
        }
    }

    /// Runs `f` on the value of `key` (a fresh `make()` if absent) with one
    /// search, then keeps the entry only if `keep` says so.
    #[inline]
    pub(crate) fn upsert<R>(
        &mut self,
        key: K,
        make: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
        keep: impl FnOnce(&V) -> bool,
    ) -> R {
        match self.locate(&key) {
            (c, Ok(i)) => self.modify_at(c, i, |_, v| f(v), keep),
            (c, Err(pos)) => {
                let mut value = make();
                let r = f(&mut value);
                if keep(&value) {
                    self.insert_at(c, pos, key, value);
                }
                r
            }
        }
    }

    /// Runs `f` on the value of `key`, if present, then keeps the entry
    /// only if `keep` says so.
    pub(crate) fn modify<R>(
        &mut self,
        key: &K,
        f: impl FnOnce(&mut V) -> R,
        keep: impl FnOnce(&V) -> bool,
    ) -> Option<R> {
        let (c, i) = self.find(key)?;
        Some(self.modify_at(c, i, |_, v| f(v), keep))
    }

    /// [`SortedMap::modify`] of the entry with the smallest key, reached
    /// without a search (the one entry of a level of a path, say).
    #[inline]
    pub(crate) fn modify_first<R>(
        &mut self,
        f: impl FnOnce(&K, &mut V) -> R,
        keep: impl FnOnce(&V) -> bool,
    ) -> Option<R> {
        if self.is_empty() {
            return None;
        }
        Some(self.modify_at(0, 0, f, keep))
    }

    /// [`SortedMap::modify`] of the entry at `i` of chunk `c`, keeping the
    /// summaries of a chunked map (the entry's weight before and after, and
    /// its top, and the dot index; a flat map computes none). `f` sees the
    /// key too.
    fn modify_at<R>(
        &mut self,
        c: usize,
        i: usize,
        f: impl FnOnce(&K, &mut V) -> R,
        keep: impl FnOnce(&V) -> bool,
    ) -> R {
        let (r, kept) = match &mut self.repr {
            Repr::Flat(v) => {
                let (k, entry) = &mut v[i];
                let r = f(k, entry);
                (r, keep(entry))
            }
            Repr::Chunked(ch) => {
                let (k, entry) = &mut ch.chunks[c][i];
                let before = entry.weight();
                let r = f(k, entry);
                let ((after, top), kept) = (entry.summary(), keep(entry));
                ch.weight = ch.weight - before + after;
                if kept {
                    ch.raise(c, top);
                    ch.index_entries(c, i..i + 1);
                }
                (r, kept)
            }
        };
        if !kept {
            self.remove_at(c, i);
        }
        r
    }

    /// Inserts a new key at `pos` of chunk `c`, as found by `locate`.
    fn insert_at(&mut self, c: usize, pos: usize, key: K, value: V) {
        if let Repr::Flat(v) = &mut self.repr {
            let mut entries = std::mem::take(v).into_vec();
            if entries.len() < CHUNK {
                // Exact: one reallocation per insert (see the module docs).
                entries.reserve_exact(1);
                entries.insert(pos, (key, value));
                *v = entries.into_boxed_slice();
                return;
            }
            // A full flat map becomes the one chunk of a chunked map, whose
            // summaries are computed once here.
            let full = entries;
            let (weight, top) = summarize(&full);
            self.repr = Repr::Chunked(Box::new(Chunked {
                firsts: full.first().map(|e| e.0.clone()).into_iter().collect(),
                tops: vec![top],
                len: full.len(),
                chunks: vec![full],
                weight,
                top,
                index: IndexSlot::default(),
            }));
        }
        if let Repr::Chunked(ch) = &mut self.repr {
            ch.insert_at(c, pos, key, value);
        }
    }

    #[inline]
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let (c, i) = self.find(key)?;
        Some(self.remove_at(c, i))
    }

    fn remove_at(&mut self, c: usize, i: usize) -> V {
        match &mut self.repr {
            Repr::Flat(v) => {
                let mut entries = std::mem::take(v).into_vec();
                let (_, value) = entries.remove(i);
                *v = entries.into_boxed_slice();
                value
            }
            Repr::Chunked(ch) => {
                let value = ch.remove_at(c, i);
                self.flatten_if_single();
                value
            }
        }
    }

    /// A chunked map left with one chunk becomes flat.
    fn flatten_if_single(&mut self) {
        if let Repr::Chunked(ch) = &mut self.repr
            && ch.chunks.len() <= 1
        {
            let only = ch.chunks.pop().unwrap_or_default();
            self.repr = Repr::Flat(only.into_boxed_slice());
        }
    }

    /// Keeps the entries for which `keep` returns true (it may change the
    /// values it keeps); a chunked map's summaries are recomputed, tightly,
    /// in the same pass.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        match &mut self.repr {
            Repr::Flat(v) => {
                let mut entries = std::mem::take(v).into_vec();
                entries.retain_mut(|(k, v)| keep(k, v));
                *v = entries.into_boxed_slice();
            }
            Repr::Chunked(ch) => {
                // Values may gain dots and chunks move: the index is
                // dropped (a later remove rebuilds it in one walk).
                ch.index.clear();
                let (mut weight, mut top, mut chunk_top) = (0, 0, 0);
                for (chunk, t) in ch.chunks.iter_mut().zip(&mut ch.tops) {
                    chunk.retain_mut(|(k, v)| {
                        retain_one(&mut keep, k, v, &mut weight, &mut chunk_top)
                    });
                    *t = std::mem::take(&mut chunk_top);
                    top = top.max(*t);
                }
                (ch.weight, ch.top) = (weight, top);
                ch.drop_empty_chunks();
                self.flatten_if_single();
            }
        }
    }

    /// Builds the map from entries with strictly increasing keys. Capacities
    /// are exact: a decoded or rebuilt map is usually final.
    pub(crate) fn from_sorted_vec(entries: Vec<(K, V)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        let len = entries.len();
        if len <= CHUNK {
            // One flat vector: kept as it is (no copy), trimmed; no summary.
            return Self {
                repr: Repr::Flat(entries.into_boxed_slice()),
            };
        }
        let mut chunks = Vec::with_capacity(len.div_ceil(CHUNK));
        let mut chunk = Vec::with_capacity(CHUNK);
        for (i, e) in entries.into_iter().enumerate() {
            if chunk.len() == CHUNK {
                let next = Vec::with_capacity((len - i).min(CHUNK));
                chunks.push(std::mem::replace(&mut chunk, next));
            }
            chunk.push(e);
        }
        chunks.push(chunk);
        let firsts = chunks
            .iter()
            .map(|c: &Vec<(K, V)>| c[0].0.clone())
            .collect();
        let (mut weight, mut top) = (0, 0);
        let tops = chunks
            .iter()
            .map(|c| {
                let (w, t) = summarize(c);
                (weight, top) = (weight + w, top.max(t));
                t
            })
            .collect();
        Self {
            repr: Repr::Chunked(Box::new(Chunked {
                chunks,
                firsts,
                tops,
                len,
                weight,
                top,
                index: IndexSlot::default(),
            })),
        }
    }
}

/// One entry of a `retain`: whether `keep` keeps it, adding it to the
/// summaries if so.
fn retain_one<K, V: Summary>(
    keep: &mut impl FnMut(&K, &mut V) -> bool,
    k: &K,
    v: &mut V,
    weight: &mut u64,
    top: &mut u64,
) -> bool {
    let kept = keep(k, v);
    if kept {
        let (w, t) = v.summary();
        *weight += w;
        *top = (*top).max(t);
    }
    kept
}

impl<K: Ord + Clone, V: Summary> FromIterator<(K, V)> for SortedMap<K, V> {
    /// Any order; a later value for the same key wins.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut entries: Vec<(K, V)> = iter.into_iter().collect();
        if !entries.windows(2).all(|w| w[0].0 < w[1].0) {
            entries.reverse(); // so that, after a stable sort, the last write comes first
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.dedup_by(|later, earlier| later.0 == earlier.0);
        }
        Self::from_sorted_vec(entries)
    }
}

/// One chunk of a chunked map.
type Chunk<K, V> = Vec<(K, V)>;

/// The entries of a flat map and the chunks of a chunked one: see
/// [`SortedMap::parts`].
type Parts<'a, K, V> = (&'a [(K, V)], &'a [Chunk<K, V>]);

impl<K: PartialEq, V: PartialEq> PartialEq for SortedMap<K, V> {
    /// Equal entries, whatever the chunking.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<K: Eq, V: Eq> Eq for SortedMap<K, V> {}

impl<K: Hash, V: Hash> Hash for SortedMap<K, V> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.len().hash(state);
        for e in self.iter() {
            e.hash(state);
        }
    }
}

mod chunked;
mod dot_index;
mod indexed;
mod iter;
pub(crate) use iter::IntoEntries;
mod search;
#[cfg(test)]
pub(crate) use indexed::WALK_ONLY;
use search::search;
#[cfg(test)]
mod tests;
