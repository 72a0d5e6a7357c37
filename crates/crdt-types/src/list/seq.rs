//! The integrated sequence: pieces in document order, grouped in chunks
//! that carry their visible and total element counts, an index from
//! element ids to chunks ([`Lanes`]: counter ranges, not runs), and a
//! finger (the last chunk visited, with the counts before it) so that
//! nearby edits cost little.

use smallvec::SmallVec;

use super::piece::{Id, Piece};

mod blocks;
mod boxed;
mod kill;
mod lanes;
mod scan;
mod starts;

pub(crate) use boxed::Seq;
use lanes::Lanes;
use scan::{Blocked, Reach};

/// A small xorshift for the tests' edits: each call draws below `n` (below
/// 1 when `n` is 0), the same sequence for the same seed.
#[cfg(test)]
fn rng(mut seed: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % n.max(1) as u64).unwrap_or(0)
    }
}

/// Most pieces in one chunk before it splits in two.
const CHUNK_MAX: usize = 64;

/// Past this many pieces a chunk's capacity grows by `STEP` at a time
/// rather than doubling.
const STEP: usize = 8;

/// Makes room for one more piece in a chunk: capacity doubles from 4 up to
/// [`STEP`], then grows by [`STEP`] at a time up to the most a chunk holds
/// before it splits (a split and an insert in one step: `CHUNK_MAX + 2`),
/// never past it. A small state (a delta) holds a small chunk, and a big
/// one leaves at most `STEP` slots of a chunk empty, deletes aside (issue
/// 15: doubling left 38% of the slots empty on automerge-paper, 4.6 heap
/// bytes per character). The price is one reallocation per `STEP` pieces
/// placed in a chunk.
fn room<T>(pieces: &mut Vec<Piece<T>>) {
    if pieces.len() == pieces.capacity() {
        let len = pieces.len();
        let want = if len < STEP { len * 2 } else { len + STEP };
        pieces.reserve_exact(want.clamp(4, CHUNK_MAX + 2).saturating_sub(len).max(1));
    }
}

#[derive(Clone, Debug)]
struct Chunk<T> {
    /// Stable id (the index keys chunks by it).
    id: u32,
    pieces: Vec<Piece<T>>,
    visible: usize,
    total: usize,
    /// How far back the left origins of its pieces reach (see [`Reach`]).
    reach: Reach,
}

/// A chunk index with the visible and total counts of the chunks before it.
#[derive(Clone, Copy, Debug, Default)]
struct Finger {
    chunk: usize,
    visible: usize,
    total: usize,
}

/// A piece of the finger's chunk and the visible and total counts of the
/// pieces before it in that chunk: where the last local edit was, so that
/// the next one (typing goes on next to it) scans from there, not from the
/// chunk's first piece. Any change to the chunk's pieces drops it, except
/// the local edits that set it again (they change no piece before it).
#[derive(Clone, Copy, Debug)]
struct Hint {
    chunk: usize,
    piece: usize,
    visible: usize,
    total: usize,
}

/// A place in the sequence: chunk, piece, offset in the piece. At the end of
/// the sequence the piece index is one past the last piece of the last chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    chunk: usize,
    piece: usize,
    off: u32,
}

/// The integrated pieces of a list, in document order (a non-empty
/// [`Seq`]).
#[derive(Clone, Debug)]
struct Tree<T> {
    chunks: Vec<Chunk<T>>,
    /// Chunk id -> its index in `chunks`.
    slot: Vec<u32>,
    /// Per agent: counter ranges -> chunk ids (see [`Lanes`]).
    index: Lanes,
    visible: usize,
    total: usize,
    finger: Finger,
    /// The piece of the last local edit, if nothing moved since.
    hint: Option<Hint>,
    /// The chunks whose reach blocks a run placed from the start.
    blocked: Blocked,
}

impl<T> Default for Tree<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            slot: Vec::new(),
            index: Lanes::default(),
            visible: 0,
            total: 0,
            finger: Finger::default(),
            hint: None,
            blocked: Blocked::default(),
        }
    }
}

impl<T: Clone> Tree<T> {
    /// Visible elements.
    pub(crate) fn visible(&self) -> usize {
        self.visible
    }

    /// All elements, tombstones included.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// Every piece, in document order.
    pub(crate) fn pieces(&self) -> impl Iterator<Item = &Piece<T>> + '_ {
        self.chunks.iter().flat_map(|c| c.pieces.iter())
    }

    /// Every piece, in document order, taken out of the tree (each chunk
    /// freed once its pieces are taken).
    pub(crate) fn into_pieces(self) -> impl Iterator<Item = Piece<T>> {
        self.chunks.into_iter().flat_map(|c| c.pieces)
    }

    /// Number of pieces.
    pub(crate) fn piece_count(&self) -> usize {
        self.chunks.iter().map(|c| c.pieces.len()).sum()
    }

    /// Heap bytes held by the structure (capacity-based estimate).
    pub(crate) fn heap_bytes(&self) -> usize {
        let pieces: usize = self
            .chunks
            .iter()
            .map(|c| {
                c.pieces.capacity() * std::mem::size_of::<Piece<T>>()
                    + c.pieces
                        .iter()
                        .map(|p| p.content.heap_bytes())
                        .sum::<usize>()
            })
            .sum();
        let index = self.index.heap_bytes();
        pieces
            + self.chunks.capacity() * std::mem::size_of::<Chunk<T>>()
            + self.slot.capacity() * 4
            + self.blocked.heap_bytes()
            + index
    }

    /// Registers agent `agent` in the index.
    pub(crate) fn ensure_agent(&mut self, agent: u32) {
        self.index.ensure(agent);
    }

    /// Moves the finger to chunk `c` (in bounds or one past the end).
    fn seek_chunk(&mut self, c: usize) {
        let f = &mut self.finger;
        while f.chunk < c {
            f.visible += self.chunks[f.chunk].visible;
            f.total += self.chunks[f.chunk].total;
            f.chunk += 1;
        }
        while f.chunk > c {
            f.chunk -= 1;
            f.visible -= self.chunks[f.chunk].visible;
            f.total -= self.chunks[f.chunk].total;
        }
    }

    /// The finger moved (on a copy) to the chunk where `key(visible, total)`
    /// of the target falls: `pick` says how to read a chunk's counts.
    fn find_chunk(
        &self,
        target: usize,
        pick: fn(&Chunk<T>) -> usize,
        of: fn(&Finger) -> usize,
    ) -> Finger {
        let mut f = self.finger;
        if f.chunk > self.chunks.len() {
            f = Finger::default();
        }
        while f.chunk > 0 && of(&f) > target {
            f.chunk -= 1;
            f.visible -= self.chunks[f.chunk].visible;
            f.total -= self.chunks[f.chunk].total;
        }
        while f.chunk < self.chunks.len() && of(&f) + pick(&self.chunks[f.chunk]) <= target {
            f.visible += self.chunks[f.chunk].visible;
            f.total += self.chunks[f.chunk].total;
            f.chunk += 1;
        }
        f
    }

    /// The place of the `i`-th visible element (the end when `i` is the
    /// number of visible elements), and the finger at its chunk.
    fn locate_visible(&self, i: usize) -> (Place, Finger) {
        let (at, f, _) = self.locate(i, |c| c.visible, |f| f.visible, Piece::visible);
        (at, f)
    }

    /// The place of element `i` counted by `width` (per piece), `pick`
    /// (per chunk) and `of` (the finger's count), or the end; with the
    /// finger at its chunk and the hint for its piece. The scan starts at
    /// the hint when it is in that chunk and not past the element.
    fn locate(
        &self,
        i: usize,
        pick: fn(&Chunk<T>) -> usize,
        of: fn(&Finger) -> usize,
        width: fn(&Piece<T>) -> usize,
    ) -> (Place, Finger, Hint) {
        let f = self.find_chunk(i, pick, of);
        let mut h = Hint {
            chunk: f.chunk,
            piece: 0,
            visible: 0,
            total: 0,
        };
        if f.chunk == self.chunks.len() {
            return (self.end_place(), f, self.end_hint());
        }
        if let Some(hint) = self.hint
            && hint.chunk == f.chunk
        {
            let before = Finger {
                chunk: f.chunk,
                visible: f.visible + hint.visible,
                total: f.total + hint.total,
            };
            if of(&before) <= i {
                h = hint;
            }
        }
        let mut rest = i
            - of(&f)
            - of(&Finger {
                chunk: h.chunk,
                visible: h.visible,
                total: h.total,
            });
        let pieces = &self.chunks[f.chunk].pieces;
        for (p, piece) in pieces.iter().enumerate().skip(h.piece) {
            let n = width(piece);
            if rest < n {
                let off = u32::try_from(rest).unwrap_or(u32::MAX);
                let at = Place {
                    chunk: f.chunk,
                    piece: p,
                    off,
                };
                return (at, f, h);
            }
            rest -= n;
            h.piece = p + 1;
            h.visible += piece.visible();
            h.total += piece.len as usize;
        }
        (self.end_place(), f, self.end_hint())
    }

    /// The hint for [`Tree::end_place`]: past the last piece of the last
    /// chunk, with that chunk's counts.
    fn end_hint(&self) -> Hint {
        let chunk = self.chunks.len().saturating_sub(1);
        self.chunks.get(chunk).map_or(
            Hint {
                chunk,
                piece: 0,
                visible: 0,
                total: 0,
            },
            |c| Hint {
                chunk,
                piece: c.pieces.len(),
                visible: c.visible,
                total: c.total,
            },
        )
    }

    fn end_place(&self) -> Place {
        match self.chunks.len() {
            0 => Place {
                chunk: 0,
                piece: 0,
                off: 0,
            },
            n => Place {
                chunk: n - 1,
                piece: self.chunks[n - 1].pieces.len(),
                off: 0,
            },
        }
    }

    fn piece(&self, at: Place) -> Option<&Piece<T>> {
        self.chunks.get(at.chunk)?.pieces.get(at.piece)
    }

    /// The place just before `at`'s element, as an element id (the raw
    /// predecessor), if any.
    fn id_before(&self, at: Place) -> Option<Id> {
        if at.off > 0 {
            return self.piece(at).and_then(|p| p.id_at(at.off - 1));
        }
        let (mut c, mut p) = (at.chunk, at.piece);
        loop {
            if p > 0 {
                return self.chunks.get(c)?.pieces.get(p - 1)?.last();
            }
            if c == 0 {
                return None;
            }
            c -= 1;
            p = self.chunks[c].pieces.len();
        }
    }

    /// The element at visible index `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        if i >= self.visible {
            return None;
        }
        let (at, _) = self.locate_visible(i);
        self.piece(at)?.content.get(at.off as usize)
    }

    /// The id of the element at visible index `i`.
    pub(crate) fn id_at_visible(&self, i: usize) -> Option<Id> {
        if i >= self.visible {
            return None;
        }
        let (at, _) = self.locate_visible(i);
        self.piece(at)?.id_at(at.off)
    }

    /// Where `id` is: its chunk, piece and offset.
    fn find(&self, id: Id) -> Option<Place> {
        let ctr = id.ctr.get();
        let chunk = self.chunk_of(id)?;
        let pieces = &self.chunks[chunk].pieces;
        let piece = pieces.iter().position(|p| p.holds(id.agent, ctr))?;
        Some(Place {
            chunk,
            piece,
            off: u32::try_from(ctr - pieces[piece].start).ok()?,
        })
    }

    /// The position in `chunks` of the chunk the index names for `id`.
    fn chunk_of(&self, id: Id) -> Option<usize> {
        self.chunk_at(self.index.chunk_of(id.agent, id.ctr.get())?)
    }

    /// The position in `chunks` of the chunk with id `cid`.
    fn chunk_at(&self, cid: u32) -> Option<usize> {
        let chunk = *self.slot.get(cid as usize)? as usize;
        (chunk < self.chunks.len()).then_some(chunk)
    }

    /// See [`Seq::index_is_exact`].
    #[cfg(test)]
    fn index_is_exact(&self) -> bool {
        let found = |id: Option<Id>| id.and_then(|id| self.find(id));
        self.chunks.iter().enumerate().all(|(chunk, c)| {
            c.pieces.iter().enumerate().all(|(piece, p)| {
                let at = |off| Some(Place { chunk, piece, off });
                found(p.id_at(0)) == at(0)
                    && found(p.id_at(p.len - 1)) == at(p.len - 1)
                    && self
                        .pieces_of(p.agent, 0, u64::MAX)
                        .filter(|q| std::ptr::eq(*q, p))
                        .count()
                        == 1
            })
        })
    }

    /// Whether `id` is an integrated element.
    pub(crate) fn contains(&self, id: Id) -> bool {
        self.find(id).is_some()
    }

    /// Counts before `at` in the chunk, plus the finger's: `(visible, raw)`.
    fn prefix(&self, f: Finger, at: Place) -> (usize, usize) {
        let (mut v, mut t) = (f.visible, f.total);
        for piece in &self.chunks[at.chunk].pieces[..at.piece] {
            v += piece.visible();
            t += piece.len as usize;
        }
        (v, t)
    }

    /// The finger for chunk `c`, computed from the current one.
    fn finger_at(&self, c: usize) -> Finger {
        let mut f = self.finger;
        while f.chunk < c {
            f.visible += self.chunks[f.chunk].visible;
            f.total += self.chunks[f.chunk].total;
            f.chunk += 1;
        }
        while f.chunk > c {
            f.chunk -= 1;
            f.visible -= self.chunks[f.chunk].visible;
            f.total -= self.chunks[f.chunk].total;
        }
        f
    }

    /// `(visible elements before, raw position, visible)` of element `id`.
    pub(crate) fn position(&self, id: Id) -> Option<(usize, usize, bool)> {
        let at = self.find(id)?;
        let (v, t) = self.prefix(self.finger_at(at.chunk), at);
        let piece = self.piece(at)?;
        let visible = piece.content.is_live();
        let off = at.off as usize;
        Some((v + if visible { off } else { 0 }, t + off, visible))
    }

    /// Splits the piece at `at` so that `at.off` starts a piece; returns
    /// the place of that piece.
    fn split_at(&mut self, at: Place) -> Place {
        if at.off == 0 {
            return at;
        }
        self.hint = None;
        let pieces = &mut self.chunks[at.chunk].pieces;
        let right = pieces[at.piece].split_off(at.off);
        // Both parts stay in the chunk: the index does not change.
        room(pieces);
        pieces.insert(at.piece + 1, right);
        Place {
            chunk: at.chunk,
            piece: at.piece + 1,
            off: 0,
        }
    }

    /// Puts `piece` at `at` (before the element there), merging it into the
    /// piece before when it continues it.
    fn place(&mut self, at: Place, piece: Piece<T>) {
        self.hint = None;
        let (n, v) = (piece.len as usize, piece.visible());
        if self.chunks.is_empty() {
            self.slot.push(0);
            self.chunks.push(Chunk {
                id: 0,
                pieces: Vec::new(),
                visible: 0,
                total: 0,
                reach: Reach::Unknown,
            });
            self.blocked.insert(0, true);
        }
        let at = self.split_at(at);
        self.seek_chunk(at.chunk);
        self.count(at.chunk, n, v);
        let last_chunk = at.chunk + 1 == self.chunks.len();
        let chunk = &mut self.chunks[at.chunk];
        self.index
            .assign(piece.agent, piece.start, piece.end(), chunk.id);
        if at.piece > 0 && chunk.pieces[at.piece - 1].continued_by(&piece) {
            chunk.pieces[at.piece - 1].absorb(piece);
            return;
        }
        let at_end = last_chunk && at.piece == chunk.pieces.len();
        room(&mut chunk.pieces);
        chunk.pieces.insert(at.piece, piece);
        chunk.reach = Reach::Unknown;
        self.blocked.set(at.chunk, true);
        if chunk.pieces.len() > CHUNK_MAX {
            // Placed at the very end (a decoded state's runs, typing at
            // the end): the full chunk stays full and the piece starts the
            // next one, so the pieces placed before it are not moved, nor
            // their index ranges assigned again (a tenth of the decode of
            // 14k runs scattered over a replica's counters).
            self.split_chunk(at.chunk, if at_end { CHUNK_MAX } else { CHUNK_MAX / 2 });
        }
    }

    /// Splits chunk `c` after its first `keep` pieces; the finger (at or
    /// before `c`) stays valid.
    fn split_chunk(&mut self, c: usize, keep: usize) {
        self.hint = None;
        let id = u32::try_from(self.slot.len()).unwrap_or(u32::MAX);
        let upper = self.chunks[c].pieces.split_off(keep);
        // The lower half is often done growing (typing goes on in the upper
        // one): give its spare capacity back; it doubles again if needed. A
        // full chunk keeps its two spare slots (no copy).
        if keep < CHUNK_MAX {
            self.chunks[c].pieces.shrink_to_fit();
        }
        let (mut visible, mut total) = (0, 0);
        for p in &upper {
            visible += p.visible();
            total += p.len as usize;
        }
        self.index
            .assign_all(upper.iter().map(|p| (p.agent, p.start, p.end())), id);
        self.chunks[c].visible -= visible;
        self.chunks[c].total -= total;
        self.chunks[c].reach = Reach::Unknown;
        self.blocked.set(c, true);
        self.chunks.insert(
            c + 1,
            Chunk {
                id,
                pieces: upper,
                visible,
                total,
                reach: Reach::Unknown,
            },
        );
        self.blocked.insert(c + 1, true);
        self.slot.push(0);
        for (i, chunk) in self.chunks.iter().enumerate().skip(c + 1) {
            self.slot[chunk.id as usize] = u32::try_from(i).unwrap_or(u32::MAX);
        }
    }

    /// Appends `pieces` at the end in the order given, trusting it (tests
    /// build states with a forged order so; a decoded state's runs are
    /// integrated, see `List::finish`).
    #[cfg(test)]
    pub(crate) fn push_all(&mut self, pieces: Vec<Piece<T>>) {
        for piece in pieces {
            self.ensure_agent(piece.agent);
            let end = self.end_place();
            self.place(end, piece);
        }
    }

    /// A local insert of `piece`'s elements before visible index `i`: after
    /// the tombstones that follow element `i - 1`. Sets the piece's origins
    /// (the raw neighbours). Typing on from the end of a run grows that run
    /// in place (no new piece, no copy of `piece`).
    pub(crate) fn insert_local(&mut self, i: usize, piece: &mut Piece<T>) {
        self.ensure_agent(piece.agent);
        let (at, f, h) = self.locate(i, |c| c.visible, |f| f.visible, Piece::visible);
        self.finger = f;
        piece.set_origins(
            self.id_before(at),
            self.piece(at).and_then(|p| p.id_at(at.off)),
        );
        if at.off == 0 && at.piece > 0 {
            let prev = &self.chunks[at.chunk].pieces[at.piece - 1];
            if prev.continued_by(piece) {
                // The run grows: the pieces before it stay as they are.
                self.hint = Some(Hint {
                    piece: at.piece - 1,
                    visible: h.visible - prev.visible(),
                    total: h.total - prev.len as usize,
                    ..h
                });
                self.seek_chunk(at.chunk);
                self.count(at.chunk, piece.len as usize, piece.visible());
                let cid = self.chunks[at.chunk].id;
                self.index
                    .extend(piece.agent, piece.start, piece.end(), cid);
                self.chunks[at.chunk].pieces[at.piece - 1].append(piece);
                return;
            }
        }
        let chunks = self.chunks.len();
        self.place(at, piece.clone());
        // Placing changes no piece before `at.piece`, unless the chunk split.
        if self.chunks.len() == chunks && h.chunk < chunks {
            self.hint = Some(h);
        }
    }

    /// Adds `n` elements (`v` visible) to chunk `c` (the finger's) and the
    /// totals.
    fn count(&mut self, c: usize, n: usize, v: usize) {
        self.visible += v;
        self.total += n;
        let chunk = &mut self.chunks[c];
        chunk.visible += v;
        chunk.total += n;
    }

    /// The integrated pieces of `agent` holding a counter in `lo..=hi`, in
    /// document order (not by counter).
    pub(crate) fn pieces_of(
        &self,
        agent: u32,
        lo: u64,
        hi: u64,
    ) -> impl Iterator<Item = &Piece<T>> + '_ {
        self.chunks_of(agent, lo, hi)
            .into_iter()
            .flat_map(move |c| self.chunks[c].pieces.iter())
            .filter(move |p| p.meets(agent, lo, hi))
    }

    /// The positions of the chunks that the index names for `agent`'s
    /// counters `lo..=hi`, ascending, each once: every element of that
    /// range is in one of them.
    ///
    /// Design note (issue 11): each range of the index was a scan of its
    /// chunk, and a lane holds about a key per run when the runs of a
    /// range are scattered over the text (typing here and there): the
    /// 14k runs of 100k deletions scanned a chunk each, 64 runs per scan,
    /// to find the runs to tombstone, and again to compare them for a
    /// reused dot. A chunk is now scanned once however many ranges name it.
    fn chunks_of(&self, agent: u32, lo: u64, hi: u64) -> SmallVec<[usize; 4]> {
        let mut out: SmallVec<[usize; 4]> = (self.index.chunks(agent, lo, hi))
            .filter_map(|cid| self.chunk_at(cid))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether an integrated element of `agent` with a counter in `lo..=hi`
    /// is visible.
    pub(crate) fn shows_any(&self, agent: u32, lo: u64, hi: u64) -> bool {
        self.pieces_of(agent, lo, hi).any(|p| p.content.is_live())
    }

    /// The place of the piece after the one at `at`.
    fn next_piece(&self, at: Place) -> Place {
        if at.piece + 1 < self.chunks[at.chunk].pieces.len() || at.chunk + 1 == self.chunks.len() {
            return Place {
                chunk: at.chunk,
                piece: at.piece + 1,
                off: 0,
            };
        }
        Place {
            chunk: at.chunk + 1,
            piece: 0,
            off: 0,
        }
    }
}
