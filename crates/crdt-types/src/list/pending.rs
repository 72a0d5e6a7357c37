//! [`PendingIndex`]: a state's pending runs, searched by replica and
//! counter.

use std::cell::{Cell, OnceCell};

use super::piece::Piece;

/// A state's pending runs sorted by replica and first counter, so that
/// those of a replica in a range of counters are found by search, not by a
/// scan of them all per range (a delta of thousands of deletions holds
/// thousands of pending runs, and its conflicts, novel part and digest
/// answer ask range by range). Pending runs hold distinct dots (the
/// validation's "held once"), so their ends are sorted too.
///
/// Sorted once searched more than [`SCANS`] times, not when made: a join
/// that asks nothing of the pending runs (a delta sharing no dot with an
/// accumulated one, which holds thousands of pending runs) does not sort
/// them, and one that asks about a few ranges (a backspace joined into
/// it) scans them once per range (joining thousands of deletions one by
/// one sorted them once per join).
pub(super) struct PendingIndex<'a, T> {
    pending: &'a [Piece<T>],
    sorted: OnceCell<Vec<&'a Piece<T>>>,
    scans: Cell<usize>,
}

/// Searches a [`PendingIndex`] answers by a scan before it sorts.
const SCANS: usize = 4;

impl<'a, T> PendingIndex<'a, T> {
    /// The index of `pending`.
    pub(super) fn of(pending: &'a [Piece<T>]) -> Self {
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
        let meets = move |p: &&Piece<T>| p.agent == agent && p.start <= hi && lo < p.end();
        let scanned = (self.sorted.get().is_none() && self.scans.get() < SCANS).then(|| {
            self.scans.set(self.scans.get() + 1);
            let mut hits: Vec<&'a Piece<T>> = self.pending.iter().filter(meets).collect();
            hits.sort_unstable_by_key(|p| p.start);
            hits.into_iter()
        });
        let searched = scanned.is_none().then(|| {
            let sorted = self.sorted.get_or_init(|| {
                let mut by: Vec<&Piece<T>> = self.pending.iter().collect();
                by.sort_unstable_by_key(|p| (p.agent, p.start));
                by
            });
            let from = sorted.partition_point(|p| (p.agent, p.end()) <= (agent, lo));
            sorted[from..].iter().copied().take_while(meets)
        });
        scanned
            .into_iter()
            .flatten()
            .chain(searched.into_iter().flatten())
    }
}
