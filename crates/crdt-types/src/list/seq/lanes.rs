//! [`Lanes`]: the index from element ids to chunks, one lane per agent.
//!
//! Design note (issue 15): a lane maps counter ranges, not pieces, to
//! chunks. A key `k` with chunk `c` says that every integrated element of
//! the agent whose counter is at least `k` and below the next key is in
//! chunk `c`; counters no element holds may map anywhere. A lookup takes
//! the greatest key at or below the counter and then scans that chunk (at
//! most [`CHUNK_MAX`](super::CHUNK_MAX) pieces plus two) for the piece
//! holding it, as the lookup by piece start did.
//!
//! Keyed by piece start (the previous design), every split of a run, every
//! merge of tombstones and every backspace (a run's tail moving into the
//! tombstone run after it) inserted or removed a key: 56M of the 372M
//! instructions of the automerge-paper replay went to B-tree inserts and
//! removals made by deletes alone. Those changes keep every element in its
//! chunk, so by range they change no key: a lane changes only when pieces
//! are placed in a chunk their counters' range does not name, or move to a
//! new chunk when one splits. Typing on in one place adds no key at all, and
//! a lane holds about one key per stretch of counters typed into one chunk.

#[cfg(test)]
use std::collections::BTreeMap;

use super::starts::Starts;

/// One agent's lane: counter range starts to chunk ids, and one past the
/// greatest counter integrated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Lane {
    starts: Starts,
    top: u64,
}

/// Per agent, the chunk of each integrated element (see the module
/// documentation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Lanes {
    lanes: Vec<Lane>,
}

impl Lanes {
    /// Registers agent `agent`.
    pub(super) fn ensure(&mut self, agent: u32) {
        while self.lanes.len() <= agent as usize {
            self.lanes.push(Lane::default());
        }
    }

    /// Number of keys in all lanes (tests).
    #[cfg(test)]
    pub(super) fn keys(&self) -> usize {
        self.lanes.iter().map(|l| l.starts.len()).sum()
    }

    /// Heap bytes held (capacity-based estimate).
    pub(super) fn heap_bytes(&self) -> usize {
        self.lanes.capacity() * std::mem::size_of::<Lane>()
            + self
                .lanes
                .iter()
                .map(|l| l.starts.heap_bytes())
                .sum::<usize>()
    }

    /// The chunk id of `agent`'s element `ctr`, if the lane names one (the
    /// element may not exist).
    pub(super) fn chunk_of(&self, agent: u32, ctr: u64) -> Option<u32> {
        let lane = self.lanes.get(agent as usize)?;
        lane.starts.floor(ctr).map(|(_, c)| c)
    }

    /// Records that `agent`'s elements `lo..hi` (a piece's counters) are
    /// in chunk `chunk`; the lane's other elements keep their chunks.
    pub(super) fn assign(&mut self, agent: u32, lo: u64, hi: u64, chunk: u32) {
        self.ensure(agent);
        let lane = &mut self.lanes[agent as usize];
        let top = lane.top;
        lane.top = top.max(hi);
        let starts = &mut lane.starts;
        if lo >= top {
            // Past every element, hence past every key (a key is put at a
            // piece's start or end below `top`): the last range holds them.
            if starts.last().map(|(_, c)| c) != Some(chunk) {
                starts.insert(lo, chunk);
            }
            return;
        }
        // The common move (a chunk split, pieces of scattered counters):
        // `lo..hi` is one whole range of the lane. Its key takes the
        // chunk, and a key that no longer marks a change goes: three or
        // four searches, not the general path's nine.
        if let (Some((k, old)), next) = starts.ceil_two(lo)
            && k == lo
            && next.map_or(hi >= top, |(k, _)| k == hi)
        {
            if old != chunk {
                if starts.below(lo).map(|(_, c)| c) == Some(chunk) {
                    starts.remove(lo);
                } else {
                    starts.insert(lo, chunk);
                }
                if let Some((k, c)) = next
                    && c == chunk
                {
                    starts.remove(k);
                }
            }
            return;
        }
        // The chunk of the elements from `hi` on, before this change.
        let above = starts.floor(hi);
        if let Some((k, c)) = above
            && k < lo
            && c == chunk
        {
            // The range holding `lo..hi` already names the chunk (typing
            // on into the chunk of the last typing).
            return;
        }
        while let Some((k, _)) = starts.ceil(lo).filter(|&(k, _)| k < hi) {
            starts.remove(k);
        }
        // Elements from `hi` on keep their chunk: a key at `hi` unless the
        // range there names `chunk` too, or no element is past `hi`.
        if let Some((_, c)) = above
            && c != chunk
            && hi < top
        {
            starts.insert_if_absent(hi, c);
        }
        let before = starts.below(lo).map(|(_, c)| c);
        if before != Some(chunk) {
            starts.insert(lo, chunk);
        }
        if starts.get(hi) == Some(chunk) {
            starts.remove(hi);
        }
    }

    /// [`Lanes::assign`] of every `(agent, lo, hi)` of `pieces` (the pieces
    /// moved to a new chunk), in counter order with the ranges that follow
    /// one another as one: the pieces of a chunk are often one typing
    /// stretch cut up, and one range is one key to move rather than a key
    /// per piece inserted and removed again by the next.
    pub(super) fn assign_all(&mut self, pieces: impl Iterator<Item = (u32, u64, u64)>, chunk: u32) {
        let mut ranges: Vec<(u32, u64, u64)> = pieces.collect();
        ranges.sort_unstable();
        let mut run: Option<(u32, u64, u64)> = None;
        for (agent, lo, hi) in ranges {
            match &mut run {
                Some((a, _, end)) if *a == agent && *end == lo => *end = hi,
                _ => {
                    if let Some((a, l, h)) = run.replace((agent, lo, hi)) {
                        self.assign(a, l, h, chunk);
                    }
                }
            }
        }
        if let Some((a, l, h)) = run {
            self.assign(a, l, h, chunk);
        }
    }

    /// Records that `agent`'s elements `lo..hi` joined the piece holding
    /// `lo - 1`, in chunk `chunk` (typing on at the end of a local run).
    /// When nothing past `lo` is integrated (always, for dots this replica
    /// minted) no key lies past it, so the range holding `lo - 1` holds
    /// them too and only the top moves; otherwise [`Lanes::assign`].
    pub(super) fn extend(&mut self, agent: u32, lo: u64, hi: u64, chunk: u32) {
        match self.lanes.get_mut(agent as usize) {
            Some(lane) if lane.top <= lo => lane.top = hi.max(lane.top),
            _ => self.assign(agent, lo, hi, chunk),
        }
    }

    /// The chunks named by the ranges of `agent`'s counters that meet
    /// `lo..=hi`, in counter order (a chunk may come more than once):
    /// every element of `agent` with a counter in `lo..=hi` is in one of
    /// them. Counters below the lane's first key hold no element.
    pub(super) fn chunks(&self, agent: u32, lo: u64, hi: u64) -> impl Iterator<Item = u32> + '_ {
        let starts = self.lanes.get(agent as usize).map(|l| &l.starts);
        let first = starts.and_then(|m| m.floor(lo)).map_or(lo, |(k, _)| k);
        (starts.into_iter()).flat_map(move |m| m.chunks_in(first, hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::seq::rng;

    /// A model: counter -> chunk for every element placed.
    fn check(lanes: &Lanes, model: &BTreeMap<u64, u32>) {
        for (&ctr, &c) in model {
            assert_eq!(lanes.chunk_of(0, ctr), Some(c), "counter {ctr}");
        }
    }

    /// Pieces placed in any order and moved between chunks keep every
    /// element's chunk, and the lane holds a key only where the chunk
    /// changes.
    #[test]
    fn assigned_ranges_name_each_element_s_chunk() {
        let mut lanes = Lanes::default();
        let mut model = BTreeMap::new();
        // (lo, hi, chunk): out of counter order, gaps filled later, moves.
        let steps = [
            (1, 5, 0),
            (5, 9, 0),
            (20, 25, 1),
            (12, 14, 2),
            (9, 12, 0),
            (14, 20, 1),
            (3, 5, 3),
            (20, 22, 0),
            (25, 30, 1),
            (1, 3, 3),
        ];
        for (lo, hi, c) in steps {
            lanes.assign(0, lo, hi, c);
            for ctr in lo..hi {
                model.insert(ctr, c);
            }
            check(&lanes, &model);
        }
        let starts = &lanes.lanes[0].starts;
        let changes = model
            .iter()
            .zip(model.iter().skip(1))
            .filter(|((_, a), (_, b))| a != b)
            .count();
        assert_eq!(starts.len(), changes + 1, "{starts:?}");
    }

    /// Pieces of scattered counters placed, then moved between chunks one
    /// by one (as chunk splits move them: whole ranges of the lane, the
    /// shortcut of `assign`) or a few at once: every element keeps its
    /// chunk and the lane holds a key only where the chunk changes.
    #[test]
    fn pieces_moved_between_chunks_keep_the_lane_exact() {
        let mut draw = rng(0x9E37_79B9_7F4A_7C15);
        let mut next = move |n: u64| draw(usize::try_from(n).unwrap_or(usize::MAX)) as u64;
        let mut pieces = Vec::new();
        let mut lo = 1;
        while lo < 300 {
            let hi = lo + 1 + next(4);
            pieces.push((lo, hi));
            lo = hi;
        }
        let mut lanes = Lanes::default();
        let mut model = BTreeMap::new();
        // Placed first, out of order (gaps in between may hold
        // keys that mark no change yet).
        let n = pieces.len();
        for k in (0..n).step_by(2).chain((1..n).step_by(2)).rev() {
            let (lo, hi) = pieces[k];
            let c = u32::try_from(next(4)).unwrap_or(0);
            lanes.assign(0, lo, hi, c);
            for ctr in lo..hi {
                model.insert(ctr, c);
            }
        }
        check(&lanes, &model);
        for step in 0..3000 {
            let i = usize::try_from(next(pieces.len() as u64)).unwrap_or(0);
            // Mostly one piece; sometimes two neighbours as one range.
            let (lo, mut hi) = pieces[i];
            if step % 7 == 0 && i + 1 < pieces.len() {
                hi = pieces[i + 1].1;
            }
            let c = u32::try_from(next(4)).unwrap_or(0);
            lanes.assign(0, lo, hi, c);
            for ctr in lo..hi {
                model.insert(ctr, c);
            }
            check(&lanes, &model);
            let changes = (model.iter().zip(model.iter().skip(1)))
                .filter(|((_, a), (_, b))| a != b)
                .count();
            assert_eq!(lanes.keys(), changes + 1, "step {step}");
        }
    }

    /// Typing on adds no key; the chunks of a span are those of the ranges
    /// meeting it, in counter order.
    #[test]
    fn typing_on_adds_no_key_and_a_span_lists_its_chunks() {
        let mut lanes = Lanes::default();
        lanes.assign(0, 1, 4, 0);
        lanes.extend(0, 4, 10, 0);
        lanes.assign(0, 10, 12, 0);
        assert_eq!(lanes.keys(), 1);
        lanes.assign(0, 12, 15, 1);
        lanes.assign(0, 15, 16, 0);
        assert_eq!(lanes.chunks(0, 3, 11).collect::<Vec<_>>(), [0]);
        assert_eq!(lanes.chunks(0, 3, 12).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(lanes.chunks(0, 13, 14).collect::<Vec<_>>(), [1]);
        assert_eq!(lanes.chunks(0, 0, u64::MAX).collect::<Vec<_>>(), [0, 1, 0]);
        assert_eq!(lanes.chunks(1, 0, 9).count(), 0);
    }

    /// A run grown at its end past counters that other elements lie
    /// beyond (not a run this replica is typing) goes through `assign`:
    /// the key left for the elements past an earlier piece is not taken
    /// for theirs.
    #[test]
    fn a_run_grown_below_the_top_keeps_its_chunk() {
        let mut lanes = Lanes::default();
        lanes.assign(0, 1, 4, 0);
        lanes.assign(0, 8, 9, 1);
        lanes.assign(0, 4, 6, 2);
        lanes.extend(0, 6, 8, 2);
        let want = [(1, 0), (3, 0), (4, 2), (6, 2), (7, 2), (8, 1)];
        for (ctr, chunk) in want {
            assert_eq!(lanes.chunk_of(0, ctr), Some(chunk), "counter {ctr}");
        }
    }

    /// Quickcheck: in every state a generated history reaches (concurrent
    /// edits, deltas joined out of order, remote deletes) and in the join
    /// of any two, the index finds every piece at its first and last
    /// element and lists it once among its agent's pieces.
    #[test]
    fn the_index_finds_every_piece_after_any_history() {
        use crate::List;
        use crate::testing::History;
        use crdt_core::Lattice;

        fn prop(h: History<List<u8>>) -> bool {
            h.states.iter().all(|a| {
                a.seq.index_is_exact()
                    && h.states
                        .iter()
                        .all(|b| a.clone().joined(b).seq.index_is_exact())
            })
        }
        quickcheck::QuickCheck::new()
            .tests(300)
            .quickcheck(prop as fn(History<List<u8>>) -> bool);
    }

    /// Three replicas typing, moving about and deleting (runs split across
    /// many chunks), their deltas delivered late and out of order: at every
    /// step every replica's index finds every piece, and all converge.
    #[test]
    fn the_index_finds_every_piece_while_replicas_edit_and_exchange() {
        use crate::List;
        use crdt_core::{Lattice, ReplicaId};

        let mut next = rng(0x2545_f491_4f6c_dd1d);
        let mut replicas: Vec<List<u8>> = vec![List::new(); 3];
        let mut cursors = [0usize; 3];
        let mut queue: Vec<(usize, List<u8>)> = Vec::new();
        for step in 0..6_000 {
            let r = next(3);
            let x = &mut replicas[r];
            if next(10) == 0 {
                cursors[r] = next(x.len() + 1);
            }
            let at = cursors[r].min(x.len());
            let delta = if next(4) == 0 && at > 0 {
                let n = 1 + next(12).min(at - 1);
                cursors[r] = at - n;
                x.delete(at - n, n)
            } else {
                let n = 1 + next(4);
                cursors[r] = at + n;
                x.insert(
                    ReplicaId::from_u128(r as u128 + 1),
                    at,
                    (0..n).map(|k| k as u8),
                )
            };
            for to in (0..3).filter(|&to| to != r) {
                queue.push((to, delta.clone()));
            }
            // Deliver a random queued delta now and then.
            while !queue.is_empty() && next(3) == 0 {
                let (to, d) = queue.swap_remove(next(queue.len()));
                replicas[to].join(&d);
            }
            if step % 500 == 0 {
                assert!(
                    replicas.iter().all(|x| x.seq.index_is_exact()),
                    "step {step}"
                );
            }
        }
        for (to, d) in queue.drain(..) {
            replicas[to].join(&d);
        }
        assert!(replicas.iter().all(|x| x.seq.index_is_exact()));
        assert!(
            replicas[0].run_count() > 3 * 64,
            "{} runs",
            replicas[0].run_count()
        );
        assert!(replicas.windows(2).all(|w| w[0] == w[1]));
        // A decoded state's lanes are built at once, sorted: the same
        // lookups, and at most one key per run (one where the chunk
        // changes along an agent's counters).
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&replicas[0], config).expect("encodes");
        let (back, _): (List<u8>, usize) =
            bincode::serde::decode_from_slice(&bytes, config).expect("decodes");
        assert!(back == replicas[0] && back.seq.index_is_exact());
        let keys = |x: &List<u8>| x.seq.index_keys();
        assert!(keys(&back) < back.run_count(), "{} keys", keys(&back));
    }
}
