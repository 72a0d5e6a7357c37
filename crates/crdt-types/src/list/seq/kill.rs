//! Deleting: local deletes, remote deletes by dot range, and the splits
//! and merges of runs they make.

use smallvec::SmallVec;

use super::super::Runs;
use super::super::content::Content;
use super::super::piece::Piece;
use super::{CHUNK_MAX, Hint, Place, STEP, Tree};

impl<T: Clone> Tree<T> {
    /// Turns `n` visible elements from visible index `i` into tombstones;
    /// returns the deleted runs (without content).
    pub(crate) fn delete_local(&mut self, i: usize, mut n: usize) -> Runs<T> {
        // Most deletes hit one run: it is held inline.
        let mut out = Runs::new();
        while n > 0 && i < self.visible {
            let (at, f, h) = self.locate(i, |c| c.visible, |f| f.visible, Piece::visible);
            self.finger = f;
            let Some(piece) = self.piece(at) else { break };
            let take = (piece.len - at.off).min(u32::try_from(n).unwrap_or(u32::MAX));
            // Killing merges the piece into the one before at most: the
            // pieces before that one stay as they are.
            let hint = match at.piece.checked_sub(1) {
                Some(p) => {
                    let prev = &self.chunks[at.chunk].pieces[p];
                    Hint {
                        piece: p,
                        visible: h.visible - prev.visible(),
                        total: h.total - prev.len as usize,
                        ..h
                    }
                }
                None => h,
            };
            let chunks = self.chunks.len();
            out.push(self.kill(at, take));
            n -= take as usize;
            if self.chunks.len() == chunks {
                self.hint = Some(hint);
            }
        }
        out
    }

    /// Tombstones `n` elements of the (visible) piece at `at`; the finger
    /// must be at `at.chunk`. Returns them as a tombstone run.
    ///
    /// The content is cut before the run is split: the dead elements keep
    /// none, so the part before them keeps the run's buffer (cutting a run's
    /// tail, as a backspace does, allocates nothing; only the part after
    /// the cut, if any, gets a buffer of its own).
    fn kill(&mut self, at: Place, n: u32) -> Piece<T> {
        if let Some(dead) = self.kill_tail(at, n) {
            return dead;
        }
        if let Some(dead) = self.kill_head(at, n) {
            return dead;
        }
        self.kill_split(at, n)
    }

    /// The common backspace: `n` elements at the tail of the visible
    /// piece at `at` (not all of it), when the tombstone run after it in
    /// the chunk continues them. The piece shrinks and that run grows to
    /// the front: what [`Tree::kill_split`] does (split, then merge), without
    /// a piece inserted and removed. `None`, and nothing changed, when the
    /// elements are not such a tail.
    fn kill_tail(&mut self, at: Place, n: u32) -> Option<Piece<T>> {
        let chunk = &mut self.chunks[at.chunk];
        let [piece, next] = chunk.pieces.get_mut(at.piece..at.piece + 2)? else {
            return None;
        };
        if at.off == 0 || at.off + n != piece.len || piece.content.is_dead() {
            return None;
        }
        let start = piece.start + u64::from(at.off);
        let dead = Piece::new(
            piece.agent,
            n,
            start,
            piece.id_at(at.off - 1),
            piece.right(),
            Content::Dead,
        );
        if !dead.continued_by(next) {
            return None;
        }
        let mut merged = dead.shape();
        merged.len += next.len;
        *next = merged;
        piece.len = at.off;
        let content = piece.content.take();
        piece.content = content.cut(at.off as usize, (at.off + n) as usize).0;
        chunk.visible -= n as usize;
        self.visible -= n as usize;
        // Every element stays in its chunk: the index does not change.
        self.hint = None;
        Some(dead)
    }

    /// The common forward delete: `n` elements at the head of the visible
    /// piece at `at` (not all of it), when the tombstone run before it in
    /// the chunk continues into them. That run grows at its end and the
    /// piece shrinks from the front (its left origin becomes the last dead
    /// element): what [`Tree::kill_split`] does (split, then merge), without
    /// a piece inserted and removed. `None`, and nothing changed, when the
    /// elements are not such a head.
    fn kill_head(&mut self, at: Place, n: u32) -> Option<Piece<T>> {
        let chunk = &mut self.chunks[at.chunk];
        let [prev, piece] = chunk.pieces.get_mut(at.piece.checked_sub(1)?..=at.piece)? else {
            return None;
        };
        if at.off != 0 || n >= piece.len || piece.content.is_dead() {
            return None;
        }
        let old = piece.start;
        let dead = Piece::new(
            piece.agent,
            n,
            old,
            piece.left(),
            piece.right(),
            Content::Dead,
        );
        if !prev.continued_by(&dead) {
            return None;
        }
        prev.len += n;
        piece.start += u64::from(n);
        piece.len -= n;
        piece.set_origins(dead.last(), dead.right());
        // The part after the cut gets a buffer of its exact size, as in
        // the general path ([`Content::cut`]).
        piece.content.drop_front(n as usize);
        chunk.visible -= n as usize;
        self.visible -= n as usize;
        // Every element stays in its chunk: the index does not change.
        self.hint = None;
        Some(dead)
    }

    /// [`Tree::kill`] in general: split the piece around the elements,
    /// then merge the tombstones with the tombstones they continue.
    fn kill_split(&mut self, at: Place, n: u32) -> Piece<T> {
        self.hint = None;
        let (off, len) = (at.off, self.chunks[at.chunk].pieces[at.piece].len);
        let content = self.chunks[at.chunk].pieces[at.piece].content.take();
        let shown = content.is_live();
        let (before, after) = content.cut(off as usize, (off + n) as usize);
        let at = self.split_at(at);
        if n < len - off {
            self.split_at(Place { off: n, ..at });
        }
        let chunk = &mut self.chunks[at.chunk];
        if shown {
            chunk.visible -= n as usize;
            self.visible -= n as usize;
        }
        if off > 0 {
            chunk.pieces[at.piece - 1].content = before;
        }
        if n < len - off {
            chunk.pieces[at.piece + 1].content = after;
        }
        let dead = chunk.pieces[at.piece].shape();
        // Tombstones next to tombstones they continue become one run.
        self.merge_next(at.chunk, at.piece);
        if at.piece > 0 {
            self.merge_next(at.chunk, at.piece - 1);
        }
        if self.chunks[at.chunk].pieces.len() > CHUNK_MAX {
            self.split_chunk(at.chunk, CHUNK_MAX / 2);
        }
        dead
    }

    /// Merges piece `p + 1` of chunk `c` into piece `p` if it continues it.
    fn merge_next(&mut self, c: usize, p: usize) {
        self.hint = None;
        let pieces = &mut self.chunks[c].pieces;
        if p + 1 < pieces.len() && pieces[p].continued_by(&pieces[p + 1]) {
            let next = pieces.remove(p + 1);
            // Merges (deletes) leave room that no insert may fill: keep
            // at most a step of it.
            if pieces.capacity() >= pieces.len() + 2 * STEP {
                pieces.shrink_to(pieces.len() + STEP);
            }
            // Both in this chunk: the index does not change.
            pieces[p].absorb(next);
        }
    }

    /// Tombstones every integrated element of `agent` with a counter in
    /// `lo..=hi`.
    ///
    /// Chunk by chunk in document order (the finger moves forwards only),
    /// each chunk the index names for the range scanned once for the live
    /// pieces in it (see [`Tree::chunks_of`]; a kill leaves the pieces
    /// before the one it cut as they were, so the scan goes on from there).
    /// A chunk split by a kill is followed by its upper half, which is
    /// scanned next: chunks are named by id, which a split keeps.
    pub(crate) fn kill_range(&mut self, agent: u32, lo: u64, hi: u64) {
        let mut todo: SmallVec<[u32; 4]> = (self.chunks_of(agent, lo, hi).into_iter().rev())
            .map(|c| self.chunks[c].id)
            .collect();
        while let Some(cid) = todo.pop() {
            let Some(chunk) = self.chunk_at(cid) else {
                continue;
            };
            self.seek_chunk(chunk);
            let mut from = 0;
            loop {
                let pieces = &self.chunks[chunk].pieces;
                let Some((piece, p)) = (pieces.iter().enumerate().skip(from))
                    .find(|(_, p)| p.content.is_live() && p.meets(agent, lo, hi))
                else {
                    break;
                };
                let first = p.start.max(lo);
                let last = hi.min(p.end() - 1);
                let off = u32::try_from(first - p.start).unwrap_or(0);
                let n = u32::try_from(last - first + 1).unwrap_or(0);
                let chunks = self.chunks.len();
                let _ = self.kill(Place { chunk, piece, off }, n);
                if self.chunks.len() > chunks {
                    todo.push(self.chunks[chunk + 1].id);
                }
                from = piece;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crdt_core::ReplicaId;

    use super::super::super::List;
    use super::*;

    /// The two sequences hold the same pieces (every field), counts, chunk
    /// counts and index.
    fn assert_same(a: &Tree<char>, b: &Tree<char>) {
        assert!(a.pieces().eq(b.pieces()));
        assert_eq!((a.visible, a.total), (b.visible, b.total));
        let counts = |s: &Tree<char>| -> Vec<(usize, usize, usize)> {
            s.chunks
                .iter()
                .map(|c| (c.visible, c.total, c.pieces.len()))
                .collect()
        };
        assert_eq!(counts(a), counts(b));
        assert_eq!(a.index, b.index);
    }

    /// A remote delete of a counter range whose runs are scattered over
    /// full chunks: the runs holding its two ends are cut, which splits
    /// their chunks while [`Tree::kill_range`] scans them. Every element of
    /// the range ends a tombstone and no other, the counts follow, and the
    /// index still finds every run.
    #[test]
    fn a_range_killed_across_full_chunks_that_split_midway() {
        let n = 3 * CHUNK_MAX as u64;
        let mut seq: Tree<char> = Tree::default();
        seq.push_all(
            (0..n)
                .map(|j| {
                    let k = (j * 37) % n;
                    let content = Content::of_vec(vec!['a', 'b', 'c']);
                    Piece::new(0, 3, 1 + 3 * k, None, None, content)
                })
                .collect(),
        );
        assert!(seq.chunks.iter().all(|c| c.pieces.len() == CHUNK_MAX));
        let (lo, hi) = (1 + 3 * 50 + 1, 1 + 3 * 120 + 1);
        let chunks = seq.chunks.len();
        seq.kill_range(0, lo, hi);
        assert!(seq.chunks.len() > chunks, "a chunk split during the scan");
        for p in seq.pieces() {
            for c in p.start..p.end() {
                assert_eq!(p.content.is_dead(), (lo..=hi).contains(&c), "counter {c}");
            }
        }
        let killed = usize::try_from(hi - lo + 1).unwrap_or(0);
        assert_eq!(seq.visible, 3 * CHUNK_MAX * 3 - killed);
        for c in &seq.chunks {
            assert_eq!(
                c.visible,
                c.pieces.iter().map(Piece::visible).sum::<usize>()
            );
        }
        assert!(seq.index_is_exact());
    }

    /// A fast path of [`Tree::kill`]: the tombstone run, or `None` and
    /// nothing changed.
    type FastPath = fn(&mut Tree<char>, Place, u32) -> Option<Piece<char>>;

    /// The fast paths of [`Tree::kill`], in the order it tries them.
    const FAST: [(&str, FastPath); 2] = [("tail", Tree::kill_tail), ("head", Tree::kill_head)];

    /// Deletes up to `n` elements of one piece from visible index `i` (if
    /// there is one) through each fast path and through splitting and
    /// merging ([`Tree::kill_split`]) on a copy: the fast path that takes it
    /// must leave the same sequence and return the same tombstone run, the
    /// ones that do not must change nothing. Returns the path taken (an
    /// index into [`FAST`], `FAST.len()` for the general one).
    fn kill_both(seq: &mut Tree<char>, i: usize, n: usize) -> Option<usize> {
        if i >= seq.visible {
            return None;
        }
        let (at, f, _) = seq.locate(i, |c| c.visible, |f| f.visible, Piece::visible);
        seq.finger = f;
        let piece = seq.piece(at)?;
        let n = (piece.len - at.off).min(u32::try_from(n).ok()?);
        let mut general = seq.clone();
        let slow = general.kill_split(at, n);
        for (k, (name, path)) in FAST.iter().enumerate() {
            let before = seq.clone();
            match path(seq, at, n) {
                Some(dead) => {
                    assert_eq!(dead, slow, "{name}");
                    assert_same(seq, &general);
                    return Some(k);
                }
                None => assert_same(seq, &before),
            }
        }
        *seq = general;
        Some(FAST.len())
    }

    /// A backspace at a run's tail next to the tombstones it continues
    /// (the fast path, [`Tree::kill_tail`]) leaves the sequence and returns
    /// the tombstone run that splitting and merging ([`Tree::kill_split`])
    /// gives; elsewhere the fast path changes nothing.
    #[test]
    fn backspace_at_a_run_tail_equals_split_and_merge() {
        let me = ReplicaId::from_u128(1);
        let mut x: List<char> = List::new();
        let _ = x.insert(me, 0, "hello world, typed on and on".chars());
        let mut paths = [0; FAST.len() + 1];
        for step in 0..200usize {
            if step % 7 == 6 {
                let at = (step * 13) % (x.len() + 1);
                let _ = x.insert(me, at, "abc".chars());
            }
            if x.is_empty() {
                break;
            }
            // Mostly backspaces at the end of the last typing, some
            // deletes elsewhere.
            let i = if step % 5 == 4 {
                (step * 11) % x.len()
            } else {
                x.len() - 1
            };
            if let Some(k) = kill_both(x.seq.tree_mut(), i, 1 + usize::from(step % 3 == 0)) {
                paths[k] += 1;
            }
        }
        assert!(
            paths[0] > 10 && paths[1] + paths[2] > 10,
            "deletes by path (tail, head, general): {paths:?}"
        );
    }

    /// A forward delete at a run's head next to the tombstones that
    /// continue into it (the fast path, [`Tree::kill_head`]) leaves the
    /// sequence and returns the tombstone run that splitting and merging
    /// gives; elsewhere the fast path changes nothing.
    #[test]
    fn forward_delete_at_a_run_head_equals_split_and_merge() {
        let me = ReplicaId::from_u128(1);
        let mut x: List<char> = List::new();
        let _ = x.insert(me, 0, "a long run to delete forwards from".chars());
        let mut paths = [0; FAST.len() + 1];
        let mut cursor = 3;
        for step in 0..200usize {
            if step % 9 == 8 {
                // Type a little and move the cursor somewhere else.
                let _ = x.insert(me, cursor.min(x.len()), "typed again".chars());
                cursor = (step * 17) % (x.len() + 1);
            }
            if let Some(k) = kill_both(x.seq.tree_mut(), cursor, 1 + usize::from(step % 4 == 0)) {
                paths[k] += 1;
            } else {
                cursor = 0;
            }
        }
        assert!(
            paths[1] > 10 && paths[2] > 10,
            "deletes by path (tail, head, general): {paths:?}"
        );
    }

    /// Quickcheck: over random typing, cursor moves, backspaces, forward
    /// deletes and deletes anywhere (replicas interleaved), every delete
    /// through [`Tree::kill`]'s fast paths leaves the state splitting and
    /// merging leaves.
    #[test]
    fn fast_deletes_equal_split_and_merge_on_random_edits() {
        fn prop(ops: Vec<(u8, u8, u8)>) -> bool {
            let mut x: List<char> = List::new();
            let mut cursor = 0usize;
            for (kind, a, b) in ops {
                let len = x.len();
                match kind % 6 {
                    0 | 1 => {
                        let me = ReplicaId::from_u128(1 + u128::from(b % 2));
                        let typed = (0..=a % 5).map(|k| char::from(b'a' + k));
                        let at = cursor.min(len);
                        let _ = x.insert(me, at, typed);
                        cursor = at + usize::from(a % 5) + 1;
                    }
                    2 => cursor = usize::from(a) % (len + 1),
                    3 if cursor > 0 && cursor <= len => {
                        cursor -= 1;
                        let _ = kill_both(x.seq.tree_mut(), cursor, 1);
                    }
                    4 => {
                        let _ = kill_both(x.seq.tree_mut(), cursor, usize::from(b % 3) + 1);
                    }
                    _ if len > 0 => {
                        let _ = kill_both(
                            x.seq.tree_mut(),
                            usize::from(a) % len,
                            usize::from(b % 3) + 1,
                        );
                    }
                    _ => {}
                }
            }
            x.validate().is_ok()
        }
        quickcheck::QuickCheck::new()
            .tests(300)
            .quickcheck(prop as fn(Vec<(u8, u8, u8)>) -> bool);
    }
}
