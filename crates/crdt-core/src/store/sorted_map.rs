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
//! * **Flat**: up to [`CHUNK`] entries in one sorted vector whose capacity
//!   grows geometrically (1, 2, 4, ... up to `CHUNK`) and is exact when the
//!   map is decoded or cloned. Most maps are small (a delta, or the inner
//!   maps of a nested state: a one-key level of a map of maps), so a
//!   one-entry map is one allocation of one entry, and the map itself is as
//!   small as a vector. (Allocating a whole chunk for it cost about 50 times
//!   its encoded size; nested maps multiplied that per level.)
//! * **Chunked** (boxed, so the flat shape stays small): sorted chunks of at
//!   most `CHUNK` entries, and an index of their first keys; an insert
//!   binary-searches the index and then the chunk and moves at most one
//!   chunk's tail. Sequential inserts fill chunks completely (a full last
//!   chunk is not split, a new one is started), random inserts leave them
//!   three-quarters full on average, and chunks emptied by removals are
//!   merged with a neighbour. A chunked map left with one chunk becomes
//!   flat again.

use std::hash::{Hash, Hasher};

/// The most entries in one chunk (and in a flat map).
pub(crate) const CHUNK: usize = 128;

/// Sorted map of `K` to `V`; see the module docs.
#[derive(Clone, Debug)]
pub(crate) struct SortedMap<K, V> {
    repr: Repr<K, V>,
}

#[derive(Clone, Debug)]
enum Repr<K, V> {
    /// At most `CHUNK` entries, sorted.
    Flat(Vec<(K, V)>),
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
    len: usize,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        Self {
            repr: Repr::Flat(Vec::new()),
        }
    }
}

/// Makes room for one more entry in `chunk`: doubles its capacity (from 1)
/// up to `CHUNK`, never past.
fn grow<T>(chunk: &mut Vec<T>) {
    if chunk.len() == chunk.capacity() {
        let target = (chunk.len() * 2).clamp(1, CHUNK);
        chunk.reserve_exact(target.saturating_sub(chunk.len()));
    }
}

impl<K, V> SortedMap<K, V> {
    pub(crate) fn len(&self) -> usize {
        match &self.repr {
            Repr::Flat(v) => v.len(),
            Repr::Chunked(c) => c.len,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The non-empty chunks, in order (a non-empty flat map is one chunk):
    /// plain nested loops over them beat [`SortedMap::iter`] in hot walks.
    pub(crate) fn chunks(&self) -> &[Vec<(K, V)>] {
        match &self.repr {
            Repr::Flat(v) if v.is_empty() => &[],
            Repr::Flat(v) => std::slice::from_ref(v),
            Repr::Chunked(c) => &c.chunks,
        }
    }

    fn chunk_mut(&mut self, c: usize) -> &mut Vec<(K, V)> {
        match &mut self.repr {
            Repr::Flat(v) => v,
            Repr::Chunked(ch) => &mut ch.chunks[c],
        }
    }

    pub(crate) fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            inner: self.chunks().iter().flatten(),
            remaining: self.len(),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.repr = Repr::Flat(Vec::new());
    }

    /// The entries in order, by value.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (K, V)> {
        let (flat, chunks) = match self.repr {
            Repr::Flat(v) => (v, Vec::new()),
            Repr::Chunked(c) => (Vec::new(), c.chunks),
        };
        flat.into_iter().chain(chunks.into_iter().flatten())
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// The chunk that holds `key` or where it would be inserted: the last
    /// chunk whose first key is not above `key` (the first chunk if none).
    fn chunk_for(&self, key: &K) -> usize {
        let Repr::Chunked(c) = &self.repr else {
            return 0;
        };
        let n = c.firsts.len();
        if c.firsts[n - 1] <= *key {
            return n - 1; // appends and recent keys: no search
        }
        c.firsts.partition_point(|f| f <= key).saturating_sub(1)
    }

    /// The chunk for `key` and the key's position in it (found or not).
    fn locate(&self, key: &K) -> (usize, Result<usize, usize>) {
        let c = self.chunk_for(key);
        match self.chunks().get(c) {
            Some(chunk) => (c, chunk.binary_search_by(|(k, _)| k.cmp(key))),
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
        self.find(key).map(|(c, i)| &self.chunks()[c][i].1)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.find(key).map(|(c, i)| &mut self.chunk_mut(c)[i].1)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_some()
    }
}

impl<K: Ord + Clone, V> SortedMap<K, V> {
    /// Inserts or replaces; returns the replaced value.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.locate(&key) {
            (c, Ok(i)) => Some(std::mem::replace(&mut self.chunk_mut(c)[i].1, value)),
            (c, Err(pos)) => {
                self.insert_at(c, pos, key, value);
                None
            }
        }
    }

    /// Runs `f` on the value of `key` (a fresh `make()` if absent) with one
    /// search, then keeps the entry only if `keep` says so.
    pub(crate) fn upsert<R>(
        &mut self,
        key: K,
        make: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
        keep: impl FnOnce(&V) -> bool,
    ) -> R {
        match self.locate(&key) {
            (c, Ok(i)) => {
                let entry = &mut self.chunk_mut(c)[i].1;
                let r = f(entry);
                if !keep(entry) {
                    self.remove_at(c, i);
                }
                r
            }
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

    /// Inserts a new key at `pos` of chunk `c`, as found by `locate`.
    fn insert_at(&mut self, c: usize, pos: usize, key: K, value: V) {
        if let Repr::Flat(v) = &mut self.repr {
            if v.len() < CHUNK {
                grow(v);
                v.insert(pos, (key, value));
                return;
            }
            // A full flat map becomes the one chunk of a chunked map.
            let full = std::mem::take(v);
            self.repr = Repr::Chunked(Box::new(Chunked {
                firsts: full.first().map(|e| e.0.clone()).into_iter().collect(),
                len: full.len(),
                chunks: vec![full],
            }));
        }
        if let Repr::Chunked(ch) = &mut self.repr {
            ch.insert_at(c, pos, key, value);
        }
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let (c, i) = self.find(key)?;
        Some(self.remove_at(c, i))
    }

    fn remove_at(&mut self, c: usize, i: usize) -> V {
        match &mut self.repr {
            Repr::Flat(v) => {
                let (_, value) = v.remove(i);
                if v.len() <= v.capacity() / 4 {
                    v.shrink_to(v.len() * 2);
                }
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
            self.repr = Repr::Flat(only);
        }
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        match &mut self.repr {
            Repr::Flat(v) => {
                v.retain_mut(|(k, v)| keep(k, v));
                if v.len() <= v.capacity() / 4 {
                    v.shrink_to(v.len() * 2);
                }
            }
            Repr::Chunked(ch) => {
                ch.retain(keep);
                self.flatten_if_single();
            }
        }
    }

    /// Builds the map from entries with strictly increasing keys. Capacities
    /// are exact: a decoded or rebuilt map is usually final.
    pub(crate) fn from_sorted_vec(mut entries: Vec<(K, V)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        let len = entries.len();
        if len <= CHUNK {
            // One flat vector: kept as it is (no copy), trimmed.
            entries.shrink_to_fit();
            return Self {
                repr: Repr::Flat(entries),
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
        Self {
            repr: Repr::Chunked(Box::new(Chunked {
                chunks,
                firsts,
                len,
            })),
        }
    }
}

impl<K: Ord + Clone, V> Chunked<K, V> {
    fn insert_at(&mut self, mut c: usize, mut pos: usize, key: K, value: V) {
        self.len += 1;
        if self.chunks[c].len() >= CHUNK {
            if pos == CHUNK && c + 1 == self.chunks.len() {
                // Appending past the end: start a new chunk, keep this one full.
                self.firsts.push(key.clone());
                self.chunks.push(vec![(key, value)]);
                return;
            }
            let mut right = Vec::with_capacity(CHUNK);
            right.extend(self.chunks[c].drain(CHUNK / 2..));
            self.firsts.insert(c + 1, right[0].0.clone());
            self.chunks.insert(c + 1, right);
            if pos > CHUNK / 2 {
                c += 1;
                pos -= CHUNK / 2;
            }
        }
        let chunk = &mut self.chunks[c];
        grow(chunk);
        if pos == 0 {
            self.firsts[c] = key.clone();
        }
        chunk.insert(pos, (key, value));
    }

    fn remove_at(&mut self, c: usize, i: usize) -> V {
        let (_, v) = self.chunks[c].remove(i);
        self.len -= 1;
        if i == 0
            && let Some((k, _)) = self.chunks[c].first()
        {
            self.firsts[c] = k.clone();
        }
        self.mend(c);
        v
    }

    /// After chunk `c` shrank: drop it if empty, merge it into a neighbour if
    /// both are small.
    fn mend(&mut self, c: usize) {
        let n = self.chunks[c].len();
        if n == 0 {
            self.chunks.remove(c);
            self.firsts.remove(c);
            return;
        }
        if n >= CHUNK / 4 {
            return;
        }
        for (left, right) in [(c.wrapping_sub(1), c), (c, c + 1)] {
            if left < self.chunks.len()
                && right < self.chunks.len()
                && self.chunks[left].len() + self.chunks[right].len() <= CHUNK * 3 / 4
            {
                let moved = self.chunks.remove(right);
                self.firsts.remove(right);
                let target = &mut self.chunks[left];
                target.reserve_exact(CHUNK.saturating_sub(target.len()));
                target.extend(moved);
                return;
            }
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        for chunk in &mut self.chunks {
            chunk.retain_mut(|(k, v)| keep(k, v));
        }
        self.chunks.retain(|c| !c.is_empty());
        self.len = self.chunks.iter().map(Vec::len).sum();
        self.firsts = self.chunks.iter().map(|c| c[0].0.clone()).collect();
        let mut c = 0;
        while c < self.chunks.len() {
            let before = self.chunks.len();
            self.mend(c);
            if self.chunks.len() == before {
                c += 1;
            }
        }
    }
}

impl<K: Ord + Clone, V> FromIterator<(K, V)> for SortedMap<K, V> {
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

/// Borrowing iterator over a [`SortedMap`], in key order.
pub(crate) struct Iter<'a, K, V> {
    inner: std::iter::Flatten<std::slice::Iter<'a, Vec<(K, V)>>>,
    remaining: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);
    fn next(&mut self) -> Option<Self::Item> {
        let (k, v) = self.inner.next()?;
        self.remaining -= 1;
        Some((k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> DoubleEndedIterator for Iter<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (k, v) = self.inner.next_back()?;
        self.remaining -= 1;
        Some((k, v))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

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
        for e in self.chunks().iter().flatten() {
            e.hash(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use quickcheck::quickcheck;

    use super::*;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u16, u8),
        Remove(u16),
        Retain(u8),
    }

    impl quickcheck::Arbitrary for Op {
        fn arbitrary(g: &mut quickcheck::Gen) -> Self {
            match u8::arbitrary(g) % 8 {
                0 => Op::Remove(u16::arbitrary(g) % 600),
                1 if u8::arbitrary(g) % 8 == 0 => Op::Retain(u8::arbitrary(g) % 4 + 2),
                _ => Op::Insert(u16::arbitrary(g) % 600, u8::arbitrary(g)),
            }
        }
    }

    fn well_formed(m: &SortedMap<u16, u8>) -> bool {
        let chunks = m.chunks();
        let shape = match &m.repr {
            Repr::Flat(v) => v.len() <= CHUNK && v.capacity() <= CHUNK,
            Repr::Chunked(c) => {
                c.chunks.len() >= 2
                    && c.len == c.chunks.iter().map(Vec::len).sum::<usize>()
                    && c.firsts.len() == c.chunks.len()
                    && c.chunks.iter().zip(&c.firsts).all(|(ch, f)| ch[0].0 == *f)
            }
        };
        shape
            && chunks
                .iter()
                .all(|c| !c.is_empty() && c.len() <= CHUNK && c.capacity() <= CHUNK)
            && chunks
                .iter()
                .flatten()
                .collect::<Vec<_>>()
                .windows(2)
                .all(|w| w[0].0 < w[1].0)
    }

    quickcheck! {
        fn behaves_like_a_btreemap(ops: Vec<Op>, seq: u16) -> bool {
            let mut m = SortedMap::default();
            let mut r = BTreeMap::new();
            // A sequential run first, to exercise full chunks.
            for k in 0..seq % 700 {
                m.insert(k, 0);
                r.insert(k, 0);
            }
            for op in ops {
                match op {
                    Op::Insert(k, v) => { if m.insert(k, v) != r.insert(k, v) { return false; } }
                    Op::Remove(k) => { if m.remove(&k) != r.remove(&k) { return false; } }
                    Op::Retain(n) => {
                        m.retain(|k, _| k % u16::from(n) != 0);
                        r.retain(|k, _| k % u16::from(n) != 0);
                    }
                }
                if !well_formed(&m) { return false; }
            }
            m.iter().map(|(k, v)| (*k, *v)).eq(r.iter().map(|(k, v)| (*k, *v)))
                && m.iter().rev().map(|(k, _)| *k).eq(r.keys().rev().copied())
                && m.iter().len() == r.len()
                && (0..700).all(|k| m.get(&k) == r.get(&k))
                && SortedMap::from_iter(r.clone()) == m
        }
    }

    #[test]
    fn sequential_inserts_fill_chunks() {
        let mut m = SortedMap::default();
        for k in 0..10 * CHUNK as u32 {
            m.insert(k, ());
        }
        assert_eq!(m.chunks().len(), 10);
        assert!(
            m.chunks()
                .iter()
                .all(|c| c.len() == CHUNK && c.capacity() == CHUNK)
        );
    }

    #[test]
    fn small_maps_allocate_what_they_hold() {
        let mut m = SortedMap::default();
        m.insert(1u64, 0u64);
        assert_eq!(m.chunks()[0].capacity(), 1);
        m.insert(2, 0);
        m.insert(3, 0);
        assert_eq!(m.chunks()[0].capacity(), 4);
        let decoded = SortedMap::from_sorted_vec(Vec::from([(1u64, 0u64), (2, 0), (3, 0)]));
        assert_eq!(decoded.chunks()[0].capacity(), 3);
        assert!(std::mem::size_of::<SortedMap<u64, u64>>() <= 24);
        // Removing down to one chunk makes the map flat again.
        let mut big: SortedMap<u32, ()> = (0..3 * CHUNK as u32).map(|k| (k, ())).collect();
        big.retain(|k, _| *k < 10);
        assert!(matches!(big.repr, Repr::Flat(_)));
        assert_eq!(big.len(), 10);
    }

    #[test]
    fn from_iter_keeps_the_last_value_of_a_key() {
        let m: SortedMap<u8, u8> = [(2, 1), (1, 1), (2, 9)].into_iter().collect();
        assert_eq!(m.get(&2), Some(&9));
        assert_eq!(m.len(), 2);
    }
}
