//! A bit per dot of a causal context: marking the dots a store holds in one
//! walk, without collecting and sorting them.
//!
//! Used where a walk of a store meets its dots out of dot order (a map's
//! keys need not follow its dots): validation finds a dot held twice as a
//! bit already set, and the strip of a received state finds the removals
//! as the bits left clear. The bitmap costs one bit per dot of the context,
//! so callers build it only when the context has at most
//! [`DotBits::MAX_BITS_PER_DOT`] dots per dot of the store (wide ranges
//! fall back to sorting the dots themselves).

use super::DotStore;
use crate::{CausalContext, Dot, InvalidState, ReplicaId};

/// One bit per dot of a context, in dot order.
pub(super) struct DotBits {
    /// The context's ranges `(replica, lo, hi)`, in dot order.
    ranges: Vec<(ReplicaId, u64, u64)>,
    /// `starts[i]`: the bit of the first dot of range `i`.
    starts: Vec<u64>,
    /// The bits, 64 per word.
    words: Vec<u64>,
}

impl DotBits {
    /// The most bits of bitmap per dot of the store: 8 bytes, half of the
    /// 16-byte `(index, counter)` pair that sorting holds per dot.
    pub(super) const MAX_BITS_PER_DOT: u64 = 64;

    /// A clear bitmap over `seen`, or `None` if `seen` has more than
    /// `max_bits` dots.
    fn new(seen: &CausalContext, max_bits: u64) -> Option<Self> {
        if seen.len() > max_bits {
            return None;
        }
        let ranges: Vec<(ReplicaId, u64, u64)> = seen.ranges().collect();
        let mut starts = Vec::with_capacity(ranges.len());
        let mut bits = 0u64;
        for &(_, lo, hi) in &ranges {
            starts.push(bits);
            bits += hi - lo + 1;
        }
        let words = vec![0u64; usize::try_from(bits.div_ceil(64)).ok()?];
        Some(Self {
            ranges,
            starts,
            words,
        })
    }

    /// A clear bitmap over `seen` if `seen` has at most
    /// [`DotBits::MAX_BITS_PER_DOT`] dots per dot of `store`, 1024 dots'
    /// worth of slack included. The store's dots are counted only as far
    /// as that needs (none for a context of up to 65,536 dots): counting a
    /// nested store of flat maps walks it.
    pub(super) fn for_store<S: DotStore>(seen: &CausalContext, store: &S) -> Option<Self> {
        let needed = seen
            .len()
            .div_ceil(Self::MAX_BITS_PER_DOT)
            .saturating_sub(1024);
        let mut held = 0u64;
        if needed > 0 {
            let _enough = store.try_each_dot(&mut |_| {
                held += 1;
                if held >= needed { Err(()) } else { Ok(()) }
            });
        }
        Self::new(
            seen,
            held.saturating_add(1024)
                .saturating_mul(Self::MAX_BITS_PER_DOT),
        )
    }

    /// The bit of `dot`, if the context holds it.
    fn bit(&self, dot: Dot) -> Option<u64> {
        let key = (dot.replica, dot.counter());
        let i = self
            .ranges
            .partition_point(|&(r, lo, _)| (r, lo) <= key)
            .checked_sub(1)?;
        let (r, lo, hi) = self.ranges[i];
        (r == dot.replica && dot.counter() <= hi).then(|| self.starts[i] + (dot.counter() - lo))
    }

    /// Sets the bit of `dot`: `None` if the context does not hold `dot`,
    /// else whether the bit was clear.
    pub(super) fn mark(&mut self, dot: Dot) -> Option<bool> {
        let bit = self.bit(dot)?;
        let word = self.words.get_mut(usize::try_from(bit / 64).ok()?)?;
        let mask = 1 << (bit % 64);
        let was_clear = *word & mask == 0;
        *word |= mask;
        Some(was_clear)
    }

    /// The dots of the context whose bits are clear, in dot order.
    pub(super) fn unmarked(&self) -> impl Iterator<Item = Dot> + '_ {
        let clear = |bit: u64| {
            usize::try_from(bit / 64)
                .ok()
                .and_then(|w| self.words.get(w))
                .is_some_and(|w| w & (1 << (bit % 64)) == 0)
        };
        self.ranges
            .iter()
            .zip(&self.starts)
            .flat_map(move |(&(r, lo, hi), &start)| {
                (lo..=hi)
                    .filter(move |n| clear(start + (n - lo)))
                    .filter_map(move |n| Dot::new(r, n))
            })
    }
}

/// The dots met, as `(replica index, counter)` keys, checked against the
/// context by sorting them and then walking the context's ranges in step:
/// `O(n log n)` in the dots met plus one pass over the ranges.
///
/// Used where the context has many ranges (a bitmap would be searched by
/// range for every dot, a binary search over the ranges that misses the
/// cache at most of its steps) or too many dots for a bitmap.
pub(super) struct SortedDots(Vec<u128>);

impl SortedDots {
    /// No dot met yet, with room for `n`.
    pub(super) fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    /// Records `dot`: an error if `ctx` has no dot of its replica (the
    /// counter is checked by [`SortedDots::check`]).
    pub(super) fn add(&mut self, ctx: &CausalContext, dot: Dot) -> Result<(), InvalidState> {
        let i = ctx
            .replica_index(dot.replica)
            .ok_or(InvalidState::DotOutsideContext(dot))?;
        self.0.push((i as u128) << 64 | u128::from(dot.counter()));
        Ok(())
    }

    /// Whether every dot met is in `ctx` and none was met twice: the first
    /// dot (in dot order) outside `ctx` is the error, else the first
    /// repeated one.
    pub(super) fn check(mut self, ctx: &CausalContext) -> Result<(), InvalidState> {
        self.0.sort_unstable();
        let dot = |key: u128| {
            let replica = ctx.replica_at(usize::try_from(key >> 64).ok()?)?;
            Dot::new(replica, key as u64)
        };
        let mut ranges = ctx.indexed_ranges().map(|(i, lo, hi)| (i as u128, lo, hi));
        let mut range = ranges.next();
        let mut repeat = None;
        let mut last = None;
        for &key in &self.0 {
            if last == Some(key) {
                repeat = repeat.or_else(|| dot(key));
                continue;
            }
            last = Some(key);
            let (i, counter) = (key >> 64, key as u64);
            while let Some((ri, _, hi)) = range {
                if (ri, hi) >= (i, counter) {
                    break;
                }
                range = ranges.next();
            }
            if !range.is_some_and(|(ri, lo, _)| ri == i && lo <= counter) {
                return dot(key).map_or(Ok(()), |d| Err(InvalidState::DotOutsideContext(d)));
            }
        }
        repeat.map_or(Ok(()), |d| Err(InvalidState::DuplicateDot(d)))
    }
}
