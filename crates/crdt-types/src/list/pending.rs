//! [`Pending`]: a state's pending runs, with the index of the origins
//! they wait for; [`PendingIndex`]: those runs searched by replica and
//! counter.

use std::cell::{Cell, OnceCell};
use std::collections::BTreeSet;
use std::ops::Deref;

use smallvec::SmallVec;

use super::Runs;
use super::piece::Piece;

/// A state's pending runs sorted by replica and first counter, so that
/// those of a replica in a range of counters are found by search, not by a
/// scan of them all per range (a delta of thousands of deletions holds
/// thousands of pending runs, and its conflicts, novel part and digest
/// answer ask range by range). Pending runs hold distinct dots (the
/// validation's "held once"), so their ends are sorted too.
///
/// When the pending runs are indexed (see [`Pending`]), searched by that
/// index. Otherwise sorted once searched more than [`SCANS`] times, not when made: a join
/// that asks nothing of the pending runs (a delta sharing no dot with an
/// accumulated one, which holds thousands of pending runs) does not sort
/// them, and one that asks about a few ranges (a backspace joined into
/// it) scans them once per range (joining thousands of deletions one by
/// one sorted them once per join).
pub(super) struct PendingIndex<'a, T> {
    pending: &'a Pending<T>,
    sorted: OnceCell<Vec<&'a Piece<T>>>,
    scans: Cell<usize>,
}

/// Searches a [`PendingIndex`] answers by a scan before it sorts.
const SCANS: usize = 4;

impl<'a, T> PendingIndex<'a, T> {
    /// The index of `pending`.
    pub(super) fn of(pending: &'a Pending<T>) -> Self {
        Self {
            pending,
            sorted: OnceCell::new(),
            scans: Cell::new(0),
        }
    }

    /// The runs of `agent` with a dot in `lo..=hi`, by counter.
    pub(super) fn within(
        &self,
        agent: u32,
        lo: u64,
        hi: u64,
    ) -> impl Iterator<Item = &'a Piece<T>> + '_ {
        let meets = move |p: &&Piece<T>| p.meets(agent, lo, hi);
        let indexed = self.pending.within(agent, lo, hi);
        let unindexed = indexed.is_none();
        let scanned =
            (unindexed && self.sorted.get().is_none() && self.scans.get() < SCANS).then(|| {
                self.scans.set(self.scans.get() + 1);
                let mut hits: Vec<&'a Piece<T>> = self.pending.iter().filter(meets).collect();
                hits.sort_unstable_by_key(|p| p.start);
                hits.into_iter()
            });
        let searched = (unindexed && scanned.is_none()).then(|| {
            let sorted = self.sorted.get_or_init(|| {
                let mut by: Vec<&Piece<T>> = self.pending.iter().collect();
                by.sort_unstable_by_key(|p| (p.agent, p.start));
                by
            });
            let from = sorted.partition_point(|p| (p.agent, p.end()) <= (agent, lo));
            sorted[from..].iter().copied().take_while(meets)
        });
        (indexed.into_iter().flatten())
            .chain(scanned.into_iter().flatten())
            .chain(searched.into_iter().flatten())
    }
}

/// A state's pending runs, and an index of the origins they wait for and
/// of their dots.
///
/// Design note: a run is pending while an origin of it is not placed, so
/// it can be placed only once a run holding that origin is. The index maps
/// each origin (left and right) of each pending run to the run's position,
/// so that placing a run takes out exactly the pending runs that name one
/// of its elements, by a search. It maps each run's first dot to its
/// position too, so that a join finds the pending runs a received run or
/// deletion meets by a search, not by a scan of them all. Every placement
/// tried all pending runs again (sorted, each looked up): deltas joined
/// one by one in a shuffled order kept thousands pending, and 20k
/// keystrokes with deletions took 1.8-3.6 s to join (`join_shuffled`,
/// benches).
///
/// The index is built at the first such search (a state whose runs all
/// wait, a local edit's delta or a decoded message, never builds it), then
/// kept by every change of the runs; a clone drops it (it is a cache).
pub(super) struct Pending<T> {
    runs: Runs<T>,
    waits: Option<Box<Waits>>,
}

/// The index of [`Pending`].
#[derive(Default)]
struct Waits {
    /// (origin's agent, origin's counter, position of the run) for each
    /// origin of each run.
    origins: BTreeSet<(u32, u64, usize)>,
    /// (agent, first counter, position) of each run.
    ids: BTreeSet<(u32, u64, usize)>,
}

/// The (agent, counter) of each origin of `p`.
fn origins<T>(p: &Piece<T>) -> impl Iterator<Item = (u32, u64)> {
    (p.left().into_iter().chain(p.right())).map(|id| (id.agent, id.ctr.get()))
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Self::from_runs(Runs::new())
    }
}

impl<T: Clone> Clone for Pending<T> {
    fn clone(&self) -> Self {
        Self::from_runs(self.runs.clone())
    }
}

impl<T> Deref for Pending<T> {
    type Target = [Piece<T>];

    fn deref(&self) -> &[Piece<T>] {
        &self.runs
    }
}

impl<'a, T> IntoIterator for &'a Pending<T> {
    type Item = &'a Piece<T>;
    type IntoIter = std::slice::Iter<'a, Piece<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.runs.iter()
    }
}

impl<T> Pending<T> {
    /// `runs`, pending, not indexed.
    pub(super) fn from_runs(runs: Runs<T>) -> Self {
        Self { runs, waits: None }
    }

    /// The runs, taken out.
    pub(super) fn into_runs(self) -> Runs<T> {
        self.runs
    }

    /// Whether the runs are on the heap (tests: a delta's one run is not).
    #[cfg(test)]
    pub(super) fn spilled(&self) -> bool {
        self.runs.spilled()
    }

    /// Whether the index, if built, is the one the runs give.
    #[cfg(test)]
    pub(super) fn index_is_exact(&self) -> bool {
        let Some(w) = self.waits.as_deref() else {
            return true;
        };
        let fresh = Waits::of(&self.runs);
        fresh.origins == w.origins && fresh.ids == w.ids
    }

    /// No run pending any more.
    pub(super) fn clear(&mut self) {
        self.runs.clear();
        self.waits = None;
    }

    /// Adds `runs`, indexed if the index is built.
    pub(super) fn extend(&mut self, runs: impl IntoIterator<Item = Piece<T>>) {
        for p in runs {
            index(&mut self.waits, &p, self.runs.len(), true);
            self.runs.push(p);
        }
    }

    /// Replaces the run at `i` with `p` (part of it, with its origins).
    pub(super) fn replace(&mut self, i: usize, p: Piece<T>) {
        index(&mut self.waits, &self.runs[i], i, false);
        index(&mut self.waits, &p, i, true);
        self.runs[i] = p;
    }

    /// Moves into `out` every pending run with an origin among the
    /// elements `lo..hi` of `agent` (just placed), by a search of the
    /// index (built on the way if there is none).
    ///
    /// Nothing to do, inline, when none is pending (a replay: every local
    /// insert and every placed run asks).
    #[inline]
    pub(super) fn take_waiting_on(
        &mut self,
        agent: u32,
        lo: u64,
        hi: u64,
        out: &mut Vec<Piece<T>>,
    ) {
        if !self.runs.is_empty() {
            self.take_waiting(agent, lo, hi, out);
        }
    }

    /// [`Pending::take_waiting_on`] when some run is pending.
    fn take_waiting(&mut self, agent: u32, lo: u64, hi: u64, out: &mut Vec<Piece<T>>) {
        let waits = (self.waits).get_or_insert_with(|| Box::new(Waits::of(&self.runs)));
        let mut at: SmallVec<[usize; 4]> = (waits.origins.range((agent, lo, 0)..(agent, hi, 0)))
            .map(|&(_, _, i)| i)
            .collect();
        if at.is_empty() {
            return;
        }
        // From the last position down: the run a removal moves into the
        // hole is then never one still to take.
        at.sort_unstable_by(|a, b| b.cmp(a));
        at.dedup();
        for i in at {
            let last = self.runs.len() - 1;
            index(&mut self.waits, &self.runs[i], i, false);
            if i != last {
                index(&mut self.waits, &self.runs[last], last, false);
                index(&mut self.waits, &self.runs[last], i, true);
            }
            out.push(self.runs.swap_remove(i));
        }
    }

    /// Whether the runs are indexed.
    pub(super) fn is_indexed(&self) -> bool {
        self.waits.is_some()
    }

    /// The runs of `agent` with a dot in `lo..=hi`, by counter, if the
    /// runs are indexed.
    pub(super) fn within(
        &self,
        agent: u32,
        lo: u64,
        hi: u64,
    ) -> Option<impl Iterator<Item = &Piece<T>> + '_> {
        Some(self.positions_within(agent, lo, hi)?.map(|i| &self.runs[i]))
    }

    /// The positions of the runs of [`Pending::within`].
    pub(super) fn positions_within(
        &self,
        agent: u32,
        lo: u64,
        hi: u64,
    ) -> Option<impl Iterator<Item = usize> + '_> {
        let ids = &self.waits.as_deref()?.ids;
        // The run holding `lo`, if any, is the last to start at or before
        // it (runs hold distinct dots).
        let from = (ids.range(..=(agent, lo, usize::MAX)).next_back())
            .filter(|&&(a, ..)| a == agent)
            .map_or(lo, |&(_, start, _)| start);
        let hits = ids.range((agent, from, 0)..=(agent, hi, usize::MAX));
        Some((hits.map(|&(.., i)| i)).filter(move |&i| lo < self.runs[i].end()))
    }

    /// Whether a live run holds a dot of `agent` in `lo..=hi` (by the
    /// index if it is built; stops at the first).
    pub(super) fn shows_any(&self, agent: u32, lo: u64, hi: u64) -> bool {
        let live = |i: usize| self.runs[i].content.is_live();
        match self.positions_within(agent, lo, hi) {
            Some(mut at) => at.any(live),
            None => (self.runs.iter()).any(|p| p.content.is_live() && p.meets(agent, lo, hi)),
        }
    }

    /// The positions, increasing, of the live runs with a dot in one of
    /// `ranges` (agent, first and last counter; an agent's ranges
    /// together): by the index if it is built (a state that places runs
    /// while some are pending), else in one pass, not one per range (a
    /// delta of many deletions joined into one with many pending runs was
    /// quadratic): a run outside the bounds of the ranges of its agent is
    /// passed with a few comparisons.
    pub(super) fn live_meeting(&self, ranges: impl Iterator<Item = (u32, u64, u64)>) -> Vec<usize> {
        if self.runs.is_empty() {
            return Vec::new();
        }
        let live = |i: &usize| self.runs[*i].content.is_live();
        if self.is_indexed() {
            let mut near: Vec<usize> = Vec::new();
            for (agent, lo, hi) in ranges {
                near.extend(
                    self.positions_within(agent, lo, hi)
                        .into_iter()
                        .flatten()
                        .filter(live),
                );
            }
            near.sort_unstable();
            near.dedup();
            return near;
        }
        let mut bounds: SmallVec<[(u32, u64, u64); 2]> = SmallVec::new();
        for (agent, lo, hi) in ranges {
            match bounds.last_mut() {
                Some((a, _, top)) if *a == agent => *top = hi,
                _ => bounds.push((agent, lo, hi)),
            }
        }
        let meets = |p: &Piece<T>| (bounds.iter()).any(|&(a, lo, hi)| p.meets(a, lo, hi));
        (0..self.runs.len())
            .filter(|i| live(i) && meets(&self.runs[*i]))
            .collect()
    }

    /// Heap bytes: the runs' vector if spilled, the index (an estimate:
    /// an entry and half of one again for the tree's nodes).
    pub(super) fn heap_bytes(&self) -> usize {
        let runs = if self.runs.spilled() {
            self.runs.capacity() * std::mem::size_of::<Piece<T>>()
        } else {
            0
        };
        let entry = std::mem::size_of::<(u32, u64, usize)>();
        let entries = self
            .waits
            .as_ref()
            .map_or(0, |w| w.origins.len() + w.ids.len());
        runs + entries * entry * 3 / 2
    }
}

/// Adds (`add`) or removes the index entries of run `p` at position `i`,
/// if the index `waits` is built.
fn index<T>(waits: &mut Option<Box<Waits>>, p: &Piece<T>, i: usize, add: bool) {
    let Some(w) = waits.as_deref_mut() else {
        return;
    };
    if add {
        w.add(p, i);
    } else {
        for (a, c) in origins(p) {
            w.origins.remove(&(a, c, i));
        }
        w.ids.remove(&(p.agent, p.start, i));
    }
}

impl Waits {
    /// The index of `runs`.
    fn of<T>(runs: &[Piece<T>]) -> Self {
        let mut w = Self::default();
        for (p, i) in runs.iter().zip(0..) {
            w.add(p, i);
        }
        w
    }

    /// Indexes run `p` at position `i`.
    fn add<T>(&mut self, p: &Piece<T>, i: usize) {
        self.origins.extend(origins(p).map(|(a, c)| (a, c, i)));
        self.ids.insert((p.agent, p.start, i));
    }
}

#[cfg(test)]
mod tests {
    use crdt_core::{Lattice, ReplicaId};

    use super::super::List;

    /// Three replicas typing and deleting, their deltas delivered in a
    /// random order (many runs pending): after every join the index of the
    /// pending runs, once built, is the one a rebuild gives, and every
    /// replica ends equal with nothing pending.
    #[test]
    fn the_pending_index_stays_exact_through_shuffled_joins_with_deletions() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut replicas: Vec<List<u8>> = vec![List::new(), List::new(), List::new()];
        let mut queue: Vec<(usize, List<u8>)> = Vec::new();
        let mut indexed = 0;
        for _ in 0..1500 {
            let r = next(3);
            let x = &mut replicas[r];
            let len = x.len();
            let delta = if next(3) == 0 && len > 0 {
                let at = next(len);
                x.delete(at, 1 + next(3).min(len - at - 1))
            } else {
                let n = 1 + next(3);
                let item = u8::try_from(next(256)).expect("below 256");
                x.insert(
                    ReplicaId::from_u128(r as u128 + 1),
                    next(len + 1),
                    vec![item; n],
                )
            };
            for to in (0..3).filter(|&to| to != r) {
                queue.push((to, delta.clone()));
            }
            while queue.len() > 40 || (!queue.is_empty() && next(4) == 0) {
                let (to, d) = queue.swap_remove(next(queue.len()));
                replicas[to].join(&d);
                assert!(replicas[to].pending.index_is_exact());
                indexed += usize::from(replicas[to].pending.is_indexed());
            }
        }
        for (to, d) in queue.drain(..) {
            replicas[to].join(&d);
            assert!(replicas[to].pending.index_is_exact());
        }
        assert!(indexed > 100, "the index was built and used: {indexed}");
        assert!(replicas.iter().all(|x| x.pending.is_empty()));
        assert!(replicas.windows(2).all(|w| w[0] == w[1]));
    }
}
