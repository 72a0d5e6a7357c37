//! The chunked shape's own bookkeeping: inserting into a chunk (splitting
//! it when full), removing from one (merging small neighbours), and
//! dropping the chunks a `retain` emptied, each keeping the first keys,
//! the tops, the weight and the dot index in step.

use super::{CHUNK, Chunked, STEP, Summary, grow, summarize};

impl<K: Ord + Clone, V: Summary> Chunked<K, V> {
    /// Raises the tops of the map and of chunk `c` to at least `top`.
    pub(super) fn raise(&mut self, c: usize, top: u64) {
        self.top = self.top.max(top);
        self.tops[c] = self.tops[c].max(top);
    }

    pub(super) fn insert_at(&mut self, mut c: usize, mut pos: usize, key: K, value: V) {
        self.len += 1;
        let (weight, top) = value.summary();
        self.weight += weight;
        self.top = self.top.max(top);
        if self.chunks[c].len() >= CHUNK {
            if pos == CHUNK && c + 1 == self.chunks.len() {
                // Appending past the end: start a new chunk, keep this one full.
                self.firsts.push(key.clone());
                self.tops.push(top);
                self.chunks.push(vec![(key, value)]);
                self.index_new_chunk(self.chunks.len() - 1);
                return;
            }
            // Each half keeps one step of room (a full capacity for both
            // left a quarter of every chunk empty under random inserts).
            let mut right = Vec::with_capacity(CHUNK / 2 + STEP);
            right.extend(self.chunks[c].drain(CHUNK / 2..));
            self.chunks[c].shrink_to(CHUNK / 2 + STEP);
            self.firsts.insert(c + 1, right[0].0.clone());
            // Both halves' bounds recomputed (tight again).
            self.tops[c] = summarize(&self.chunks[c]).1;
            self.tops.insert(c + 1, summarize(&right).1);
            self.chunks.insert(c + 1, right);
            // Re-points the moved half's dots.
            self.index_new_chunk(c + 1);
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
        self.tops[c] = self.tops[c].max(top);
        self.index_entries(c, pos..pos + 1);
    }

    pub(super) fn remove_at(&mut self, c: usize, i: usize) -> V {
        let (_, v) = self.chunks[c].remove(i);
        self.len -= 1;
        self.weight -= v.weight();
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
            self.tops.remove(c);
            self.index_removed_chunk(c);
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
                let moved_top = self.tops.remove(right);
                self.tops[left] = self.tops[left].max(moved_top);
                self.index_removed_chunk(right);
                let target = &mut self.chunks[left];
                let kept = target.len();
                target.reserve_exact(moved.len());
                target.extend(moved);
                // Re-points the moved entries' dots.
                self.index_entries(left, kept..self.chunks[left].len());
                return;
            }
        }
    }

    /// After a `retain` of each chunk: drops the empty chunks and mends the
    /// small ones.
    pub(super) fn drop_empty_chunks(&mut self) {
        let mut c = 0;
        let chunks = &self.chunks;
        self.tops.retain(|_| {
            c += 1;
            !chunks[c - 1].is_empty()
        });
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
