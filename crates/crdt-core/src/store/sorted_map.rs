//! A compact ordered map: sorted entries in fixed-capacity chunks.
//!
//! Design note: `DotMap` needs sorted keys (deterministic iteration and
//! encoding), `O(log n)`-ish inserts and lookups (a small delta must join
//! into a large map cheaply), fast ordered iteration (full merges are linear
//! passes), and few heap bytes per entry (an add-wins set of `u64` should
//! cost under 48 bytes per element). `std::collections::BTreeMap` meets the
//! first three, but its nodes hold at most 11 entries plus parent links and
//! are only about half full after sequential inserts (about 78 bytes per
//! element here). A sorted `Vec` is compact but inserts in the middle move
//! the whole tail. This map is the middle ground: entries live in sorted
//! chunks of at most [`CHUNK`] entries, each allocated once at full capacity;
//! an insert binary-searches the chunk index and then the chunk and moves at
//! most one chunk's tail. Sequential inserts fill chunks completely (a full
//! last chunk is not split, a new one is started), random inserts leave them
//! three-quarters full on average, and chunks emptied by removals are merged
//! with a neighbour.

use std::hash::{Hash, Hasher};

use smallvec::SmallVec;

/// The most entries in one chunk.
pub(crate) const CHUNK: usize = 128;

/// Sorted map of `K` to `V`; see the module docs.
#[derive(Clone, Debug)]
pub(crate) struct SortedMap<K, V> {
    /// Non-empty chunks, each sorted, keys increasing across chunks. The
    /// first chunk's header is inline, so a one-entry map (a typical delta)
    /// makes one allocation.
    chunks: SmallVec<[Vec<(K, V)>; 1]>,
    /// The first key of each chunk: the index searched to find a chunk,
    /// contiguous so that the search stays in cache.
    firsts: SmallVec<[K; 1]>,
    len: usize,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        Self {
            chunks: SmallVec::new(),
            firsts: SmallVec::new(),
            len: 0,
        }
    }
}

fn new_chunk<T>() -> Vec<T> {
    Vec::with_capacity(CHUNK)
}

impl<K, V> SortedMap<K, V> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            inner: self.chunks.iter().flatten(),
            remaining: self.len,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.firsts.clear();
        self.len = 0;
    }

    /// The entries in order, by value.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (K, V)> {
        self.chunks.into_iter().flatten()
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// The chunk that holds `key` or where it would be inserted: the last
    /// chunk whose first key is not above `key` (the first chunk if none).
    fn chunk_for(&self, key: &K) -> usize {
        let n = self.firsts.len();
        if n <= 1 {
            return 0;
        }
        if self.firsts[n - 1] <= *key {
            return n - 1; // appends and recent keys: no search
        }
        self.firsts.partition_point(|f| f <= key).saturating_sub(1)
    }

    /// The chunk for `key` and the key's position in it (found or not).
    fn locate(&self, key: &K) -> (usize, Result<usize, usize>) {
        let c = self.chunk_for(key);
        match self.chunks.get(c) {
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
        self.find(key).map(|(c, i)| &self.chunks[c][i].1)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.find(key).map(|(c, i)| &mut self.chunks[c][i].1)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_some()
    }
}

impl<K: Ord + Clone, V> SortedMap<K, V> {
    /// Inserts or replaces; returns the replaced value.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.locate(&key) {
            (c, Ok(i)) => Some(std::mem::replace(&mut self.chunks[c][i].1, value)),
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
                let r = f(&mut self.chunks[c][i].1);
                if !keep(&self.chunks[c][i].1) {
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
    fn insert_at(&mut self, mut c: usize, mut pos: usize, key: K, value: V) {
        self.len += 1;
        if self.chunks.is_empty() {
            // Small maps (deltas) stay small: the first chunk grows on demand.
            let mut chunk = Vec::with_capacity(1);
            self.firsts.push(key.clone());
            chunk.push((key, value));
            self.chunks.push(chunk);
            return;
        }
        if self.chunks[c].len() >= CHUNK {
            if pos == CHUNK && c + 1 == self.chunks.len() {
                // Appending past the end: start a new chunk, keep this one full.
                let mut chunk = new_chunk();
                self.firsts.push(key.clone());
                chunk.push((key, value));
                self.chunks.push(chunk);
                return;
            }
            let mut right = new_chunk();
            right.extend(self.chunks[c].drain(CHUNK / 2..));
            self.firsts.insert(c + 1, right[0].0.clone());
            self.chunks.insert(c + 1, right);
            if pos > CHUNK / 2 {
                c += 1;
                pos -= CHUNK / 2;
            }
        }
        let chunk = &mut self.chunks[c];
        if chunk.len() == chunk.capacity() {
            // Double, but never past one chunk.
            let target = (chunk.len() * 2).clamp(4, CHUNK);
            chunk.reserve_exact(target - chunk.len());
        }
        if pos == 0 {
            self.firsts[c] = key.clone();
        }
        chunk.insert(pos, (key, value));
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let (c, i) = self.find(key)?;
        Some(self.remove_at(c, i))
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

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
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

    /// Builds the map from entries with strictly increasing keys.
    pub(crate) fn from_sorted_vec(entries: Vec<(K, V)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        let len = entries.len();
        if len == 0 {
            return Self::default();
        }
        if len <= CHUNK {
            // One chunk: keep the vector as it is (no copy).
            let firsts = SmallVec::from_buf_and_len([entries[0].0.clone()], 1);
            let mut chunks = SmallVec::new();
            chunks.push(entries);
            return Self {
                chunks,
                firsts,
                len,
            };
        }
        let mut chunks = SmallVec::with_capacity(len.div_ceil(CHUNK));
        let mut chunk = Vec::with_capacity(len.min(CHUNK));
        for (i, e) in entries.into_iter().enumerate() {
            if chunk.len() == CHUNK {
                let next = Vec::with_capacity((len - i).min(CHUNK));
                chunks.push(std::mem::replace(&mut chunk, next));
            }
            chunk.push(e);
        }
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
        let firsts = chunks
            .iter()
            .map(|c: &Vec<(K, V)>| c[0].0.clone())
            .collect();
        Self {
            chunks,
            firsts,
            len,
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
        self.len == other.len
            && self
                .chunks
                .iter()
                .flatten()
                .eq(other.chunks.iter().flatten())
    }
}

impl<K: Eq, V: Eq> Eq for SortedMap<K, V> {}

impl<K: Hash, V: Hash> Hash for SortedMap<K, V> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.len.hash(state);
        for e in self.chunks.iter().flatten() {
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
        m.chunks
            .iter()
            .all(|c| !c.is_empty() && c.len() <= CHUNK && c.capacity() <= CHUNK)
            && m.chunks
                .iter()
                .flatten()
                .collect::<Vec<_>>()
                .windows(2)
                .all(|w| w[0].0 < w[1].0)
            && m.len == m.chunks.iter().map(Vec::len).sum::<usize>()
            && m.firsts.len() == m.chunks.len()
            && m.chunks.iter().zip(&m.firsts).all(|(c, f)| c[0].0 == *f)
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
        assert_eq!(m.chunks.len(), 10);
        assert!(
            m.chunks
                .iter()
                .all(|c| c.len() == CHUNK && c.capacity() == CHUNK)
        );
    }

    #[test]
    fn from_iter_keeps_the_last_value_of_a_key() {
        let m: SortedMap<u8, u8> = [(2, 1), (1, 1), (2, 9)].into_iter().collect();
        assert_eq!(m.get(&2), Some(&9));
        assert_eq!(m.len(), 2);
    }
}
