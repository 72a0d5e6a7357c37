//! Integrating a remote run: the Fugue scan between its origins, which
//! passes whole chunks without visiting their pieces when none of them can
//! stop it.
//!
//! The scan from a run's left origin `L` stops at the first element whose
//! left origin lies before `L`, at a sibling (left origin `L`) that belongs
//! after the run, or at the right origin; it passes every element whose
//! left origin lies after `L` (what hangs below a sibling already passed).
//! A chunk whose pieces' left origins all lie after `L` is passed whole:
//! its [`Reach`] says so without a look at its pieces. Without this, a run
//! whose origins are far apart (a hostile peer's, or one typed concurrently
//! at the start of an empty document) visited every piece between them: a
//! thousand such runs into a 100k-character text took seconds (issue 11).

use std::cmp::Ordering;

use crdt_core::ReplicaId;

use super::super::piece::{Id, Piece};
use super::{Place, Tree};

/// How far back, in document order, the left origins of a chunk's pieces
/// reach outside the chunk. A lower bound: a piece that loses its origin
/// or takes one inside the chunk leaves it as it was; a piece placed in the
/// chunk, or a split of the chunk, makes it [`Reach::Unknown`] until a scan
/// computes it again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Reach {
    /// Not known since the chunk last changed.
    #[default]
    Unknown,
    /// Every piece's left origin lies inside the chunk.
    Within,
    /// Some piece has no left origin (it hangs from the document's start).
    Start,
    /// The earliest left origin outside the chunk.
    At(Id),
}

impl Reach {
    /// Whether a run placed from the document's start may not pass the
    /// chunk by its reach alone (not known, or a piece hangs from the
    /// start).
    pub(super) const fn blocks(self) -> bool {
        matches!(self, Self::Unknown | Self::Start)
    }
}

/// One bit per chunk position, set when its [`Reach`] blocks (see
/// [`Reach::blocks`]): a run placed from the document's start finds the
/// next chunk it must look into a word (64 chunks) at a time.
///
/// Design note (issue 11): 25k runs, each typed by its own replica before
/// the last one's, joined into a 100k-character text, read the reach of
/// each of its 300 chunks per run; that walk was a quarter of the join.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Blocked(Vec<u64>);

impl Blocked {
    /// Sets the bit of chunk `c` to `on`.
    pub(super) fn set(&mut self, c: usize, on: bool) {
        let (w, b) = (c / 64, c % 64);
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        if on {
            self.0[w] |= 1 << b;
        } else {
            self.0[w] &= !(1 << b);
        }
    }

    /// A chunk inserted at `c`, its bit `on`: the bits from `c` on move up
    /// by one.
    pub(super) fn insert(&mut self, c: usize, on: bool) {
        let (w, b) = (c / 64, c % 64);
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        let below = (1u64 << b) - 1;
        let word = self.0[w];
        let mut carry = word >> 63;
        self.0[w] = (word & below) | ((word & !below) << 1);
        for x in &mut self.0[w + 1..] {
            let out = *x >> 63;
            *x = (*x << 1) | carry;
            carry = out;
        }
        if carry != 0 {
            self.0.push(carry);
        }
        self.set(c, on);
    }

    /// The first chunk in `from..stop` whose bit is set, or `stop`.
    pub(super) fn first(&self, from: usize, stop: usize) -> usize {
        let mut c = from;
        while c < stop {
            let (w, b) = (c / 64, c % 64);
            let Some(&word) = self.0.get(w) else {
                return stop;
            };
            let bits = word >> b;
            if bits != 0 {
                return (c + bits.trailing_zeros() as usize).min(stop);
            }
            c = (w + 1) * 64;
        }
        stop
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.0.capacity() * 8
    }
}

/// Whether the scan may pass chunks whole (tests turn it off to compare
/// with the scan of every piece, and count the chunks passed).
#[cfg(not(test))]
const fn may_pass() -> bool {
    true
}

#[cfg(test)]
thread_local! {
    /// Tests: whether chunks may be passed whole, and how many were.
    static PASSING: std::cell::Cell<(bool, usize)> = const { std::cell::Cell::new((true, 0)) };
}

#[cfg(test)]
fn may_pass() -> bool {
    PASSING.with(|p| {
        let (on, n) = p.get();
        p.set((on, n + usize::from(on)));
        on
    })
}

/// A piece that cannot be placed yet, and the origin it waits for.
pub(crate) type Waiting<T> = (Piece<T>, Id);

/// The document order of places (chunk, then piece, then offset).
fn order(at: Place) -> (usize, usize, u32) {
    (at.chunk, at.piece, at.off)
}

impl<T: Clone> Tree<T> {
    /// Integrates a remote piece whose origins are integrated, at the place
    /// Fugue gives it (see the module documentation): scan the elements
    /// between the left and the right origin, skip those that belong after
    /// the new run, stop at the first that belongs after it.
    ///
    /// `after`, if given, is an element the piece is known to follow (a
    /// run with the same origins and a smaller id): the scan starts there.
    /// It gives the place the whole scan gives. That scan does not stop
    /// before `after` (its result lies beyond), and from `after` on its
    /// steps are those of a scan started there: each element with the
    /// left origin `L` sets whether the scan is tentatively past the place
    /// (a sibling reaching further right) afresh, and `after` itself, a
    /// sibling with the same origins and a smaller id, leaves it not past.
    ///
    /// Returns the first element of the last such sibling the scan passed,
    /// if any; or, if an origin of the piece is not integrated, the piece,
    /// untouched, with that origin (the lookups that place a run tell
    /// whether it can be placed: a check before them looked every origin up
    /// twice).
    pub(crate) fn integrate(
        &mut self,
        piece: Piece<T>,
        agents: &[ReplicaId],
        after: impl FnOnce() -> Option<Id>,
    ) -> Result<Option<Id>, Waiting<T>> {
        // Places are compared in document order, not as raw positions: a
        // position is counted from the finger chunk by chunk, and the scan
        // asked for one per origin and per piece visited (a remote run
        // into a long text walked the chunks between the finger and it).
        let rank = |at: Option<Place>| at.map(order);
        let end = (usize::MAX, usize::MAX, u32::MAX);
        let left_at = match piece.left() {
            None => None,
            Some(id) => match self.find(id) {
                Some(at) => Some(at),
                None => return Err((piece, id)),
            },
        };
        let left = rank(left_at);
        let key = |agent: u32, ctr: u64| (agents.get(agent as usize).copied(), ctr);
        let mine = key(piece.agent, piece.start);
        let mut at = match left_at {
            Some(l) if self.piece(l).is_some_and(|p| l.off + 1 < p.len) => Place {
                off: l.off + 1,
                ..l
            },
            Some(l) => self.next_piece(l),
            // The first element, or the end of an empty tree: both there.
            None => Place {
                chunk: 0,
                piece: 0,
                off: 0,
            },
        };
        // The right origin was the element just after the left one when the
        // run was typed, and still is when nothing was placed between them
        // since (always, for the runs of one writer placed in the order they
        // were typed, as decoding a text does): then it needs no lookup.
        let right_at = match piece.right() {
            None => None,
            Some(id) if self.piece(at).and_then(|p| p.id_at(at.off)) == Some(id) => Some(at),
            Some(id) => match self.find(id) {
                Some(r) => Some(r),
                None => return Err((piece, id)),
            },
        };
        let right = right_at.map_or(end, order);
        self.ensure_agent(piece.agent);
        if let Some(hint) = after().filter(|_| may_pass()).and_then(|id| self.find(id))
            && left < Some(order(hint))
            && order(hint) < right
        {
            at = hint;
        }
        let mut dest = at;
        let mut scanning = false;
        let mut passed = None;
        loop {
            if !scanning {
                dest = at;
            }
            if self.piece(at).is_none() || Some(at) == right_at {
                break;
            }
            if at.piece == 0 && at.off == 0 && left_at.is_none() {
                // From the document's start, the chunks whose pieces all have
                // a left origin (their reach known) are passed up to the
                // first that is not (see [`Blocked`]) or the right origin's.
                // A run typed before the last of many went through the
                // general step below for each chunk of a 100k-character
                // text before it: 4 µs a run.
                let stop = right_at.map_or(self.chunks.len(), |r| r.chunk);
                let c = if may_pass() {
                    self.blocked.first(at.chunk, stop)
                } else {
                    at.chunk
                };
                if c > at.chunk {
                    at = if c < self.chunks.len() {
                        Place {
                            chunk: c,
                            piece: 0,
                            off: 0,
                        }
                    } else {
                        self.end_place()
                    };
                    continue;
                }
            }
            if at.piece == 0 && at.off == 0 {
                // A chunk after `L` that holds neither the right origin nor a
                // piece whose left origin is `L` or before it: pass it whole.
                if right_at.is_none_or(|r| r.chunk > at.chunk)
                    && may_pass()
                    && self.hangs_after(at.chunk, left_at)
                {
                    at = if at.chunk + 1 < self.chunks.len() {
                        Place {
                            chunk: at.chunk + 1,
                            piece: 0,
                            off: 0,
                        }
                    } else {
                        self.end_place()
                    };
                    continue;
                }
            }
            if left_at.is_none() && at.off == 0 && may_pass() {
                // From the document's start, every piece with a left origin
                // hangs after the start: the step below passes it and
                // changes nothing but the place. Such pieces are passed at
                // once, up to one that hangs from the start, the right
                // origin's piece or the chunk's end. 25k runs each typed
                // before the last, joined into a 100k-character text, each
                // stepped through a chunk of it piece by piece: a third of
                // the join.
                let pieces = &self.chunks[at.chunk].pieces;
                let stop = right_at
                    .filter(|r| r.chunk == at.chunk && r.piece >= at.piece)
                    .map_or(pieces.len(), |r| r.piece);
                let skip = (pieces[at.piece..stop].iter())
                    .position(|p| p.left().is_none())
                    .unwrap_or(stop - at.piece);
                if skip > 0 {
                    // The place after the last piece passed.
                    at = self.next_piece(Place {
                        piece: at.piece + skip - 1,
                        ..at
                    });
                    continue;
                }
            }
            let Some(other) = self.piece(at) else { break };
            let ordering = match (other.left_at(at.off), left) {
                // Any origin lies after the start: no lookup needed.
                (Some(_), None) => Ordering::Greater,
                (oleft, _) => rank(oleft.and_then(|id| self.find(id))).cmp(&left),
            };
            match ordering {
                Ordering::Less => break,
                Ordering::Equal => {
                    let oright = (other.right().and_then(|id| self.find(id))).map_or(end, order);
                    let theirs = key(other.agent, other.start + u64::from(at.off));
                    match oright.cmp(&right) {
                        Ordering::Less => scanning = true,
                        Ordering::Equal if mine < theirs => break,
                        Ordering::Equal => {
                            scanning = false;
                            passed = Id::new(other.agent, other.start + u64::from(at.off));
                        }
                        Ordering::Greater => scanning = false,
                    }
                }
                Ordering::Greater => {}
            }
            // The rest of this piece follows its first element (their left
            // origins are after `left`): skip it as a whole.
            at = self.next_piece(at);
        }
        self.place(dest, piece);
        Ok(passed)
    }

    /// Whether every piece of chunk `c` (which lies after the left origin,
    /// at `left`, or after the document's start for `None`) has its left
    /// origin after that origin.
    fn hangs_after(&mut self, c: usize, left: Option<Place>) -> bool {
        match self.reach(c) {
            Reach::Within => true,
            Reach::Unknown | Reach::Start => false,
            Reach::At(id) => match left {
                // Every piece has a left origin: all hang after the start,
                // wherever that origin is (no lookup: a run typed at the
                // start passed every chunk of the text after it with one).
                None => true,
                // Most often the chunks decide, without a look inside.
                Some(left) => match self.chunk_of(id) {
                    Some(chunk) if chunk != left.chunk => chunk > left.chunk,
                    Some(_) => self.find(id).is_some_and(|at| order(at) > order(left)),
                    None => false,
                },
            },
        }
    }

    /// The [`Reach`] of chunk `c`, computed if it is not known.
    pub(super) fn reach(&mut self, c: usize) -> Reach {
        let known = self.chunks[c].reach;
        if known != Reach::Unknown {
            return known;
        }
        let mut out = Reach::Within;
        let mut earliest: Option<Place> = None;
        for p in &self.chunks[c].pieces {
            let Some(at) = p.left().and_then(|id| self.find(id).map(|at| (id, at))) else {
                // No left origin (or one not found: nothing to rely on).
                out = Reach::Start;
                break;
            };
            let (id, at) = at;
            if at.chunk < c && earliest.is_none_or(|e| order(at) < order(e)) {
                earliest = Some(at);
                out = Reach::At(id);
            }
        }
        self.chunks[c].reach = out;
        self.blocked.set(c, out.blocks());
        out
    }
}

#[cfg(test)]
mod tests {
    use crdt_core::{Lattice, ReplicaId};

    use super::{Blocked, PASSING, Reach, order};
    use crate::List;
    use crate::list::seq::Tree;
    use crate::list::seq::rng;

    impl<T: Clone> Tree<T> {
        /// Whether every known [`Reach`] is at or before every left origin
        /// outside its chunk, and the [`Blocked`] bits are those of the
        /// reaches.
        pub(in crate::list::seq) fn reaches_are_sound(&self) -> bool {
            let n = self.chunks.len();
            let bits = (self.chunks.iter().enumerate())
                .all(|(c, chunk)| (self.blocked.first(c, c + 1) == c) == chunk.reach.blocks());
            bits && self.blocked.first(n, n + 64 * 4) == n + 64 * 4
                && self.chunks.iter().enumerate().all(|(c, chunk)| {
                    let reach = match chunk.reach {
                        Reach::Unknown | Reach::Start => return true,
                        Reach::Within => None,
                        Reach::At(id) => self.find(id),
                    };
                    chunk.pieces.iter().all(|p| {
                        let Some(at) = p.left().and_then(|id| self.find(id)) else {
                            return false;
                        };
                        at.chunk == c || reach.is_some_and(|r| order(r) <= order(at))
                    })
                })
        }
    }

    /// The bits answer as a vector of flags does, through inserts at any
    /// position (word boundaries included), sets and searches.
    #[test]
    fn blocked_bits_answer_as_a_vector_of_flags() {
        let mut next = rng(0x2545_F491_4F6C_DD1D);
        let (mut bits, mut model) = (Blocked::default(), Vec::<bool>::new());
        for step in 0..4000 {
            let on = next(3) == 0;
            if model.is_empty() || step % 3 != 0 {
                let c = next(model.len() + 1);
                bits.insert(c, on);
                model.insert(c, on);
            } else {
                let c = next(model.len());
                bits.set(c, on);
                model[c] = on;
            }
            let from = next(model.len() + 1);
            let stop = from + next(model.len() + 1 - from + 1);
            let want = (from..stop.min(model.len()))
                .find(|&c| model[c])
                .unwrap_or(stop);
            assert_eq!(bits.first(from, stop), want, "step {step}");
        }
        assert!(model.len() > 64 * 20);
    }

    /// A run's right origin is found without a lookup when it is still
    /// the element after its left origin, and by a lookup when a run was
    /// placed between them since: concurrent runs at one place, delivered
    /// in both orders and decoded again, end in Fugue's order (by replica
    /// id), the same everywhere.
    #[test]
    fn a_right_origin_no_longer_next_to_the_left_one_is_looked_up() {
        let id = ReplicaId::from_u128;
        let mut x: List<u8> = List::new();
        let base = x.insert(id(1), 0, [1, 2]);
        let (mut y, mut z) = (List::new(), List::new());
        y.join(&base);
        z.join(&base);
        // Both between 1 and 2: each run's origins are 1 and 2.
        let from_3 = z.insert(id(3), 1, [8]);
        let from_2 = y.insert(id(2), 1, [7]);
        let mut p = x.clone();
        p.join(&from_2);
        p.join(&from_3);
        let mut q = x.clone();
        q.join(&from_3);
        q.join(&from_2);
        assert_eq!(p.to_vec(), [1, 7, 8, 2]);
        assert!(p == q);
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&p, config).expect("encodes");
        let (back, _): (List<u8>, usize) =
            bincode::serde::decode_from_slice(&bytes, config).expect("decodes");
        assert!(back == p);
    }

    /// A document of many runs over many chunks, and the deltas of runs
    /// typed concurrently into it by other replicas: from copies of it at
    /// several moments (in the middle, and at the end: those go after all
    /// that was typed since, into chunks whose reach a scan has computed),
    /// and from empty documents (runs at the start, their origins the whole
    /// document apart in the receiver).
    fn document_and_concurrent_runs(seed: u64) -> (List<u8>, Vec<List<u8>>) {
        let mut next = rng(seed);
        let mut doc: List<u8> = List::new();
        let mut deltas = Vec::new();
        let writer = ReplicaId::from_u128(1);
        for step in 0..4_000u32 {
            let at = if next(8) == 0 {
                next(doc.len() + 1)
            } else {
                doc.len()
            };
            let _ = doc.insert(writer, at, [step as u8, 1]);
            if step % 97 == 0 && doc.len() > 2 {
                let _ = doc.delete(next(doc.len() - 1), 2);
            }
            if step % 400 == 0 {
                // Siblings: runs typed at one place of one copy.
                let at = next(doc.len() + 1);
                for k in 0..12u128 {
                    let r = ReplicaId::from_u128(50_000 + k * 7 % 12 + u128::from(step) * 16);
                    deltas.push(doc.clone().insert(r, at, [5, 5]));
                }
                let mut fork = doc.clone();
                for k in 0..20u128 {
                    let r = ReplicaId::from_u128(100 + k + u128::from(step));
                    // At its end half the time: such a run goes after
                    // all that was typed since, its left origin far back.
                    let at = if k % 2 == 0 {
                        fork.len()
                    } else {
                        next(fork.len() + 1)
                    };
                    deltas.push(fork.insert(r, at, [7, 7, 7]));
                }
            }
        }
        for k in 0..40u128 {
            let mut empty = List::new();
            deltas.push(empty.insert(ReplicaId::from_u128(10_000 + k), 0, [9]));
        }
        // Runs each typed before the last by its own replica (left origin
        // the start, right origin the run before): placed after the whole
        // document, each passing every chunk from the start.
        let mut chain = List::new();
        for k in 0..40u128 {
            deltas.push(chain.insert(ReplicaId::from_u128(20_000 + k), 0, [8]));
        }
        (doc, deltas)
    }

    /// Passing whole chunks, and starting a scan at a sibling placed
    /// before (same origins, smaller id), put every run where the scan of
    /// every piece from its left origin puts it: the deltas joined into the
    /// document one by one and all at once (joined in a scrambled order
    /// first), with both on and off, give equal states; chunks were
    /// passed; every known reach is a lower bound after the joins.
    #[test]
    fn passing_whole_chunks_places_runs_as_the_piece_by_piece_scan() {
        for seed in [0x9E37_79B9_7F4A_7C15, 0x2545_F491_4F6C_DD1D, 7] {
            let (doc, deltas) = document_and_concurrent_runs(seed);
            assert!(doc.run_count() > 10 * 64, "{} runs", doc.run_count());
            let joined = |pass: bool| {
                PASSING.with(|p| p.set((pass, 0)));
                let mut one_by_one = doc.clone();
                for d in &deltas {
                    one_by_one.join(d);
                    assert!(one_by_one.seq.reaches_are_sound(), "seed {seed:#x}");
                }
                let mut all = doc.clone();
                let mut batch = List::new();
                let mut order: Vec<usize> = (0..deltas.len()).collect();
                let mut next = rng(seed ^ 0xABCD);
                for k in (1..order.len()).rev() {
                    order.swap(k, next(k + 1));
                }
                for &k in &order {
                    batch.join(&deltas[k]);
                }
                all.join(&batch);
                let passed = PASSING.with(|p| p.get().1);
                (one_by_one, all, passed)
            };
            let (a, b, passed) = joined(true);
            let (c, d, _) = joined(false);
            assert!(passed > 0, "no chunk passed whole");
            assert!(a == c && b == d && a == b, "seed {seed:#x}");
            assert_eq!(a.to_vec(), c.to_vec());
            for x in [&a, &b] {
                assert!(x.seq.reaches_are_sound(), "seed {seed:#x}");
            }
        }
    }
}
