//! [`Starts`]: the keys of one lane of the index (counter range starts to
//! chunk ids), a few held inline and sorted, more in [`Blocks`].
//!
//! Design note (issue 11): a text written by many replicas has one lane
//! per replica, and most such lanes hold one key (a replica that typed one
//! stretch). A `BTreeMap` allocates a node of eleven slots for its first
//! key: 25k replicas' one-character runs, a 1 MiB message, took 3.5 MB of
//! B-tree nodes to decode, and as much again in the replica that joined
//! them. Up to [`FEW`] keys now live in a sorted vector whose first key
//! is inline; past that the lane moves to [`Blocks`] for good (a
//! `BTreeMap` until 2026-12-07), so a lane of a long typed text keeps its
//! logarithmic searches and inserts that move at most a block.

#[cfg(test)]
use std::collections::BTreeMap;

use smallvec::SmallVec;

use super::blocks::{Blocks, Values};

/// A key and its chunk.
type Entry = (u64, u32);

/// Most keys held in the sorted vector.
const FEW: usize = 8;

/// The keys of a lane, counter to chunk id, in counter order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Starts {
    /// At most [`FEW`] keys, sorted, no repeats.
    Few(SmallVec<[(u64, u32); 1]>),
    /// Any number of keys (boxed: a lane of one key stays small).
    Many(Box<Blocks>),
}

impl Default for Starts {
    fn default() -> Self {
        Self::Few(SmallVec::new())
    }
}

impl Starts {
    /// Number of keys (tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        match self {
            Self::Few(v) => v.len(),
            Self::Many(m) => m.len(),
        }
    }

    /// Heap bytes held (capacity-based).
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Self::Few(v) if v.spilled() => v.capacity() * std::mem::size_of::<(u64, u32)>(),
            Self::Few(_) => 0,
            Self::Many(m) => size_of::<Blocks>() + m.heap_bytes(),
        }
    }

    /// The greatest key at or below `x`, with its chunk.
    #[inline]
    pub(super) fn floor(&self, x: u64) -> Option<(u64, u32)> {
        match self {
            Self::Few(v) => v[..v.partition_point(|&(k, _)| k <= x)].last().copied(),
            Self::Many(m) => m.floor(x),
        }
    }

    /// The greatest key below `x`, with its chunk.
    #[inline]
    pub(super) fn below(&self, x: u64) -> Option<(u64, u32)> {
        match self {
            Self::Few(v) => v[..v.partition_point(|&(k, _)| k < x)].last().copied(),
            Self::Many(m) => m.below(x),
        }
    }

    /// The least key at or above `x`, with its chunk.
    #[inline]
    pub(super) fn ceil(&self, x: u64) -> Option<(u64, u32)> {
        match self {
            Self::Few(v) => v.get(v.partition_point(|&(k, _)| k < x)).copied(),
            Self::Many(m) => m.ceil(x),
        }
    }

    /// The least key at or above `x` and the key after it, with their
    /// chunks, in one search.
    pub(super) fn ceil_two(&self, x: u64) -> (Option<Entry>, Option<Entry>) {
        match self {
            Self::Few(v) => {
                let i = v.partition_point(|&(k, _)| k < x);
                (v.get(i).copied(), v.get(i + 1).copied())
            }
            Self::Many(m) => m.ceil_two(x),
        }
    }

    /// The greatest key, with its chunk.
    #[inline]
    pub(super) fn last(&self) -> Option<(u64, u32)> {
        match self {
            Self::Few(v) => v.last().copied(),
            Self::Many(m) => m.last(),
        }
    }

    /// The chunk of key `k`, if it is a key.
    #[inline]
    pub(super) fn get(&self, k: u64) -> Option<u32> {
        self.floor(k).filter(|&(f, _)| f == k).map(|(_, c)| c)
    }

    /// Sets key `k` to chunk `c`.
    pub(super) fn insert(&mut self, k: u64, c: u32) {
        match self {
            Self::Few(v) => match v.binary_search_by_key(&k, |&(key, _)| key) {
                Ok(i) => v[i].1 = c,
                Err(i) if v.len() < FEW => v.insert(i, (k, c)),
                Err(_) => {
                    let mut m: Box<Blocks> = Box::new(v.iter().copied().collect());
                    m.insert(k, c);
                    *self = Self::Many(m);
                }
            },
            Self::Many(m) => {
                m.insert(k, c);
            }
        }
    }

    /// Sets key `k` to chunk `c` unless `k` is a key already.
    pub(super) fn insert_if_absent(&mut self, k: u64, c: u32) {
        match self {
            Self::Few(v) => {
                if v.binary_search_by_key(&k, |&(key, _)| key).is_err() {
                    self.insert(k, c);
                }
            }
            Self::Many(m) => m.insert_if_absent(k, c),
        }
    }

    /// Removes key `k` (nothing if it is not a key).
    pub(super) fn remove(&mut self, k: u64) {
        match self {
            Self::Few(v) => {
                if let Ok(i) = v.binary_search_by_key(&k, |&(key, _)| key) {
                    v.remove(i);
                }
            }
            Self::Many(m) => m.remove(k),
        }
    }

    /// The chunks of the keys in `lo..=hi`, in counter order.
    pub(super) fn chunks_in(&self, lo: u64, hi: u64) -> Chunks<'_> {
        if lo > hi {
            return Chunks::Few([].iter());
        }
        match self {
            Self::Few(v) => {
                let from = v.partition_point(|&(k, _)| k < lo);
                let to = v.partition_point(|&(k, _)| k <= hi);
                Chunks::Few(v[from..to.max(from)].iter())
            }
            Self::Many(m) => Chunks::Many(m.values_in(lo, hi)),
        }
    }
}

/// The chunks of a range of keys ([`Starts::chunks_in`]).
pub(super) enum Chunks<'a> {
    /// Of the sorted vector.
    Few(std::slice::Iter<'a, (u64, u32)>),
    /// Of the blocks.
    Many(Values<'a>),
}

impl Iterator for Chunks<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        match self {
            Self::Few(it) => it.next().map(|&(_, c)| c),
            Self::Many(it) => it.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::seq::rng;

    /// Every query answers as a B-tree does, through inserts and removes
    /// that cross from the vector to the blocks.
    #[test]
    fn starts_answer_as_a_b_tree_does() {
        for seed in [1, 0x9E37_79B9_7F4A_7C15, 0x2545_F491_4F6C_DD1D] {
            let mut next = rng(seed);
            let (mut starts, mut model) = (Starts::default(), BTreeMap::<u64, u32>::new());
            for step in 0..3000 {
                let k = next(40) as u64;
                match next(5) {
                    0 | 1 => {
                        let c = next(7) as u32;
                        starts.insert(k, c);
                        model.insert(k, c);
                    }
                    2 => {
                        let c = next(7) as u32;
                        starts.insert_if_absent(k, c);
                        model.entry(k).or_insert(c);
                    }
                    _ => {
                        starts.remove(k);
                        model.remove(&k);
                    }
                }
                let pair = |(&k, &c): (&u64, &u32)| (k, c);
                for x in [k, k.saturating_sub(3), k + 2, 0, 50, u64::MAX] {
                    assert_eq!(starts.floor(x), model.range(..=x).next_back().map(pair));
                    assert_eq!(starts.below(x), model.range(..x).next_back().map(pair));
                    assert_eq!(starts.ceil(x), model.range(x..).next().map(pair));
                    let mut from = model.range(x..).map(pair);
                    assert_eq!(starts.ceil_two(x), (from.next(), from.next()));
                    assert_eq!(starts.get(x), model.get(&x).copied());
                    let hi = x.saturating_add(next(20) as u64);
                    let want: Vec<u32> = model.range(x..=hi).map(|(_, &c)| c).collect();
                    assert_eq!(starts.chunks_in(x, hi).collect::<Vec<_>>(), want);
                }
                assert_eq!(starts.chunks_in(9, 3).count(), 0);
                assert_eq!(starts.last(), model.last_key_value().map(pair));
                assert_eq!(starts.len(), model.len(), "step {step}");
            }
            // The vector held a few, then the blocks took over for good.
            assert!(matches!(starts, Starts::Many(_)));
        }
    }

    /// A lane of one key allocates nothing.
    #[test]
    fn one_key_is_held_inline() {
        let mut starts = Starts::default();
        starts.insert(7, 1);
        match &starts {
            Starts::Few(v) => assert!(!v.spilled()),
            Starts::Many(_) => panic!("one key moved to the blocks"),
        }
        assert_eq!(starts.floor(9), Some((7, 1)));
    }
}
