//! [`Blocks`]: a sorted map from `u64` keys to `u32` values held as a
//! list of short sorted blocks, with the first key of each block in a
//! contiguous index: the many-key form of a lane's
//! [`Starts`](super::starts::Starts).
//!
//! Design note (issues 11 and 15): a lane of a text typed by one writer
//! holds a key per stretch of counters typed into one chunk, thousands of
//! them, and decoding or joining such a text asks a lane for the key at or
//! below a counter once per run placed (each origin's chunk) and moves keys
//! when chunks split. In a `BTreeMap` that lookup is a range built from
//! both ends and searched node by node, about 350 instructions: a third of
//! the decode of 14k scattered deletions went to the lanes. Here it is two
//! binary searches of contiguous memory (the index, then one block of at
//! most [`BLOCK`] entries), and an insert or removal moves at most a block.

/// A key and its value.
type Entry = (u64, u32);

/// Most entries in a block; a fuller block splits in two (or, when the
/// entry went to the end of the last block, keeps its entries and the new
/// one starts the next, so that keys added in increasing order fill their
/// blocks).
const BLOCK: usize = 64;

/// A position: block and entry within it.
type Pos = (usize, usize);

/// A sorted map of `u64` keys to `u32` values (see the module docs).
#[derive(Clone, Debug, Default)]
pub(super) struct Blocks {
    /// The first key of each block.
    firsts: Vec<u64>,
    /// Non-empty blocks, each sorted, keys increasing across blocks.
    blocks: Vec<Vec<Entry>>,
}

impl PartialEq for Blocks {
    /// The same entries, however they are cut into blocks.
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Blocks {}

impl FromIterator<Entry> for Blocks {
    fn from_iter<I: IntoIterator<Item = Entry>>(iter: I) -> Self {
        let mut out = Self::default();
        for (k, v) in iter {
            out.insert(k, v);
        }
        out
    }
}

impl Blocks {
    /// Number of entries (tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum()
    }

    /// Heap bytes held (capacity-based).
    pub(super) fn heap_bytes(&self) -> usize {
        self.firsts.capacity() * size_of::<u64>()
            + self.blocks.capacity() * size_of::<Vec<Entry>>()
            + (self.blocks.iter())
                .map(|b| b.capacity() * size_of::<Entry>())
                .sum::<usize>()
    }

    /// The entries in key order.
    fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.blocks.iter().flatten().copied()
    }

    /// The block that holds `k` if it is a key, and where it goes if not:
    /// the last block whose first key is at or below `k` (the first block
    /// for a key below every key).
    #[inline]
    fn block_of(&self, k: u64) -> usize {
        self.firsts.partition_point(|&f| f <= k).saturating_sub(1)
    }

    /// The position of the first entry whose key is above `x` (`past`) or
    /// at or above it; `(blocks, 0)` past the end.
    #[inline]
    fn first_from(&self, x: u64, past: bool) -> Pos {
        let before = |k: u64| if past { k <= x } else { k < x };
        let b = self
            .firsts
            .partition_point(|&f| before(f))
            .saturating_sub(1);
        let Some(block) = self.blocks.get(b) else {
            return (self.blocks.len(), 0);
        };
        let i = block.partition_point(|&(k, _)| before(k));
        if i == block.len() { (b + 1, 0) } else { (b, i) }
    }

    /// The entry at `pos`, if any.
    #[inline]
    fn at(&self, (b, i): Pos) -> Option<Entry> {
        self.blocks.get(b).and_then(|block| block.get(i)).copied()
    }

    /// The entry before position `pos`, if any.
    #[inline]
    fn before(&self, (b, i): Pos) -> Option<Entry> {
        if i > 0 {
            return self.at((b, i - 1));
        }
        let block = self.blocks.get(b.checked_sub(1)?)?;
        block.last().copied()
    }

    /// The position after `pos`.
    #[inline]
    fn next(&self, (b, i): Pos) -> Pos {
        match self.blocks.get(b) {
            Some(block) if i + 1 < block.len() => (b, i + 1),
            _ => (b + 1, 0),
        }
    }

    /// The greatest entry with a key at or below `x`.
    #[inline]
    pub(super) fn floor(&self, x: u64) -> Option<Entry> {
        self.before(self.first_from(x, true))
    }

    /// The greatest entry with a key below `x`.
    #[inline]
    pub(super) fn below(&self, x: u64) -> Option<Entry> {
        self.before(self.first_from(x, false))
    }

    /// The least entry with a key at or above `x`.
    #[inline]
    pub(super) fn ceil(&self, x: u64) -> Option<Entry> {
        self.at(self.first_from(x, false))
    }

    /// The least entry with a key at or above `x` and the one after it.
    #[inline]
    pub(super) fn ceil_two(&self, x: u64) -> (Option<Entry>, Option<Entry>) {
        let pos = self.first_from(x, false);
        (self.at(pos), self.at(self.next(pos)))
    }

    /// The entry with the greatest key.
    #[inline]
    pub(super) fn last(&self) -> Option<Entry> {
        self.blocks.last().and_then(|b| b.last()).copied()
    }

    /// Sets key `k` to `v`; when `k` is a key already and `replace` is
    /// false, leaves its value as it was.
    fn put(&mut self, k: u64, v: u32, replace: bool) {
        if self.blocks.is_empty() {
            self.firsts.push(k);
            self.blocks.push(vec![(k, v)]);
            return;
        }
        let b = self.block_of(k);
        let last = b + 1 == self.blocks.len();
        let block = &mut self.blocks[b];
        let i = match block.binary_search_by_key(&k, |&(key, _)| key) {
            Ok(i) => {
                if replace {
                    block[i].1 = v;
                }
                return;
            }
            Err(i) => i,
        };
        let at_end = last && i == block.len();
        if block.len() == BLOCK {
            if at_end {
                self.firsts.push(k);
                self.blocks.push(vec![(k, v)]);
                return;
            }
            let upper = block.split_off(BLOCK / 2);
            self.firsts.insert(b + 1, upper[0].0);
            self.blocks.insert(b + 1, upper);
            let (b, i) = if i > BLOCK / 2 {
                (b + 1, i - BLOCK / 2)
            } else {
                (b, i)
            };
            self.blocks[b].insert(i, (k, v));
            self.firsts[b] = self.blocks[b][0].0;
            return;
        }
        block.insert(i, (k, v));
        self.firsts[b] = block[0].0;
    }

    /// Sets key `k` to `v`.
    pub(super) fn insert(&mut self, k: u64, v: u32) {
        self.put(k, v, true);
    }

    /// Sets key `k` to `v` unless `k` is a key already.
    pub(super) fn insert_if_absent(&mut self, k: u64, v: u32) {
        self.put(k, v, false);
    }

    /// Removes key `k` (nothing if it is not a key). A block left empty
    /// goes; one left with its next at most half a block between them
    /// takes the next in.
    pub(super) fn remove(&mut self, k: u64) {
        let b = self.block_of(k);
        let Some(block) = self.blocks.get_mut(b) else {
            return;
        };
        let Ok(i) = block.binary_search_by_key(&k, |&(key, _)| key) else {
            return;
        };
        block.remove(i);
        if block.is_empty() {
            self.blocks.remove(b);
            self.firsts.remove(b);
            return;
        }
        self.firsts[b] = block[0].0;
        let left = block.len();
        if b + 1 < self.blocks.len() && left + self.blocks[b + 1].len() <= BLOCK / 2 {
            let next = self.blocks.remove(b + 1);
            self.firsts.remove(b + 1);
            self.blocks[b].extend(next);
        }
    }

    /// The values of the keys in `lo..=hi`, in key order.
    pub(super) fn values_in(&self, lo: u64, hi: u64) -> Values<'_> {
        let (b, i) = self.first_from(lo, false);
        Values {
            block: self
                .blocks
                .get(b)
                .map_or(&[][..], |block| &block[i..])
                .iter(),
            rest: self.blocks.get(b + 1..).unwrap_or(&[]).iter(),
            hi,
        }
    }
}

/// The values of a range of keys ([`Blocks::values_in`]).
pub(super) struct Values<'a> {
    /// What is left of the current block.
    block: std::slice::Iter<'a, Entry>,
    /// The blocks after it.
    rest: std::slice::Iter<'a, Vec<Entry>>,
    /// The last key wanted.
    hi: u64,
}

impl Iterator for Values<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        loop {
            if let Some(&(k, v)) = self.block.next() {
                return (k <= self.hi).then_some(v);
            }
            self.block = self.rest.next()?.iter();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::list::seq::rng;

    /// Every query answers as a B-tree does, through inserts (in any
    /// order and in increasing order) and removes that split, empty and
    /// merge blocks, and the blocks stay within their bounds.
    #[test]
    fn blocks_answer_as_a_b_tree_does() {
        for (seed, space) in [(1, 300), (0x9E37_79B9_7F4A_7C15, 3000), (7, 40)] {
            let mut next = rng(seed);
            let (mut blocks, mut model) = (Blocks::default(), BTreeMap::<u64, u32>::new());
            let mut rising = 0u64;
            for step in 0..20_000 {
                let k = next(space) as u64;
                let c = next(7) as u32;
                match next(9) {
                    0..=2 => {
                        blocks.insert(k, c);
                        model.insert(k, c);
                    }
                    3 => {
                        rising += 1 + next(3) as u64;
                        blocks.insert(rising, c);
                        model.insert(rising, c);
                    }
                    4 => {
                        blocks.insert_if_absent(k, c);
                        model.entry(k).or_insert(c);
                    }
                    _ => {
                        blocks.remove(k);
                        model.remove(&k);
                    }
                }
                let pair = |(&k, &c): (&u64, &u32)| (k, c);
                for x in [k, k.saturating_sub(3), k + 2, 0, rising, u64::MAX] {
                    assert_eq!(blocks.floor(x), model.range(..=x).next_back().map(pair));
                    assert_eq!(blocks.below(x), model.range(..x).next_back().map(pair));
                    assert_eq!(blocks.ceil(x), model.range(x..).next().map(pair));
                    let mut from = model.range(x..).map(pair);
                    assert_eq!(blocks.ceil_two(x), (from.next(), from.next()));
                    let hi = x.saturating_add(next(200) as u64);
                    let want: Vec<u32> = model.range(x..=hi).map(|(_, &c)| c).collect();
                    assert_eq!(blocks.values_in(x, hi).collect::<Vec<_>>(), want);
                }
                assert_eq!(blocks.last(), model.last_key_value().map(pair));
                assert_eq!(blocks.len(), model.len(), "step {step}");
                assert!(
                    blocks
                        .blocks
                        .iter()
                        .all(|b| !b.is_empty() && b.len() <= BLOCK)
                );
                let firsts: Vec<u64> = blocks.blocks.iter().map(|b| b[0].0).collect();
                assert_eq!(blocks.firsts, firsts);
            }
            assert!(blocks.iter().eq(model.iter().map(|(&k, &c)| (k, c))));
            let rebuilt: Blocks = model.iter().map(|(&k, &c)| (k, c)).collect();
            assert_eq!(rebuilt, blocks, "equal entries, other blocks");
        }
    }

    /// Keys added in increasing order fill their blocks: a long typed
    /// text's lane is not left half empty.
    #[test]
    fn increasing_keys_fill_their_blocks() {
        let blocks: Blocks = (0..10 * BLOCK as u64).map(|k| (k, 0)).collect();
        assert_eq!(blocks.blocks.len(), 10);
        assert!(blocks.blocks.iter().all(|b| b.len() == BLOCK));
    }
}
