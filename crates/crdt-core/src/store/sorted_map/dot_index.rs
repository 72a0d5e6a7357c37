//! The optional dot index of a chunked [`SortedMap`](super::SortedMap): from
//! a dot to the chunk whose entry holds it (issue 14; see the design note on
//! the map).
//!
//! Per origin replica, a dense array ("lane") from counter minus a base to
//! a slot: a stable chunk id plus one (0: no chunk) and the position in
//! that chunk of the entry holding the dot when it was pointed (a hint).
//! Chunk ids are stable: a split or a merge of chunks re-points only the
//! dots of the entries that moved, and a chunk's position is found from its
//! id in `at`. A slot may be stale (its dot removed, its chunk gone or its
//! id reused) and a hint may have drifted (entries inserted or removed in
//! front of it): a lookup verifies by scanning the named chunk outward from
//! the hint. What the map keeps true: every dot it holds has a slot naming
//! the chunk that holds it.

use crate::{Dot, ReplicaId};

/// The most chunks an index can name (ids are `u16`, slot 0 means none).
const MAX_CHUNKS: usize = u16::MAX as usize - 1;

/// What a lane costs beyond its slots, counted in slots (its header, 48
/// bytes, and an allocation).
const LANE_COST: u64 = 32;

/// The slots allowed beyond twice the dots held: a small map's index may be
/// sparse, a large one's at most half empty.
const SLACK: u64 = 1024;

/// The most slots plus lane costs an index may have for `weight` dots held:
/// the density guard (a peer's counters never size an allocation beyond
/// it, see [`DotIndex::point`]).
fn budget(weight: u64) -> u64 {
    weight.saturating_mul(2).saturating_add(SLACK)
}

/// Where a dot was last pointed: a chunk id plus one (0: none) and the
/// entry's position in that chunk, packed into 3 bytes (one more than the
/// id alone: a cold lookup then reads the entry at the hint and its
/// neighbours instead of scanning half the chunk, at 1 byte per counter).
#[derive(Clone, Copy, Debug)]
struct Slot {
    id: [u8; 2],
    at: u8,
}

impl Slot {
    const EMPTY: Self = Self { id: [0; 2], at: 0 };

    /// The chunk id plus one (0: none).
    fn id(self) -> u16 {
        u16::from_le_bytes(self.id)
    }
}

/// The slots of one replica: `slots[c - base]` for counter `c`.
#[derive(Debug)]
struct Lane {
    replica: ReplicaId,
    base: u64,
    slots: Vec<Slot>,
}

/// See the module docs.
#[derive(Debug)]
pub(super) struct DotIndex {
    /// Sorted by replica.
    lanes: Vec<Lane>,
    /// The id of the chunk at each position.
    ids: Vec<u16>,
    /// The position of the chunk of each id (`u32::MAX`: a free id).
    at: Vec<u32>,
    /// Ids of removed chunks, for reuse.
    free: Vec<u16>,
    /// The slots of every lane plus [`LANE_COST`] per lane.
    cost: u64,
}

impl DotIndex {
    /// An empty index of `chunks` chunks (ids `0..chunks` in order), with a
    /// lane for each replica of `bounds` (ranges `(replica, lo, hi)` sorted
    /// by replica, which every held dot lies in) spanning its ranges; `None`
    /// if that would exceed the density guard for `weight` dots.
    pub(super) fn new(
        chunks: usize,
        bounds: impl Iterator<Item = (ReplicaId, u64, u64)>,
        weight: u64,
    ) -> Option<Self> {
        if chunks > MAX_CHUNKS {
            return None;
        }
        let mut spans: Vec<(ReplicaId, u64, u64)> = Vec::new();
        let mut cost = 0u64;
        for (replica, lo, hi) in bounds {
            match spans.last_mut() {
                Some(last) if last.0 == replica => {
                    cost = cost.saturating_add(hi.saturating_sub(last.2));
                    last.2 = last.2.max(hi);
                }
                _ => {
                    let len = hi.saturating_sub(lo).saturating_add(1);
                    cost = cost.saturating_add(len.saturating_add(LANE_COST));
                    spans.push((replica, lo, hi));
                }
            }
            if cost > budget(weight) {
                return None;
            }
        }
        let lanes = spans
            .into_iter()
            .map(|(replica, lo, hi)| {
                // Within the budget, hence within memory.
                let len = usize::try_from(hi - lo + 1).unwrap_or(0);
                Lane {
                    replica,
                    base: lo,
                    slots: vec![Slot::EMPTY; len],
                }
            })
            .collect();
        Some(Self {
            lanes,
            ids: (0..chunks).map(|i| i as u16).collect(),
            at: (0..chunks).map(|i| i as u32).collect(),
            free: Vec::new(),
            cost,
        })
    }

    /// The id of the chunk at position `c`.
    pub(super) fn id(&self, c: usize) -> u16 {
        self.ids[c]
    }

    /// The position of the chunk that held `dot` when it was last pointed,
    /// and the entry's position in it then (both to be verified by the
    /// caller).
    pub(super) fn chunk_of(&self, dot: Dot) -> Option<(usize, usize)> {
        let lane = &self.lanes[self.lane(dot.replica).ok()?];
        let offset = usize::try_from(dot.counter().checked_sub(lane.base)?).ok()?;
        let slot = *lane.slots.get(offset)?;
        let at = *self.at.get(usize::from(slot.id()).checked_sub(1)?)?;
        (at != u32::MAX).then_some((at as usize, usize::from(slot.at)))
    }

    fn lane(&self, replica: ReplicaId) -> Result<usize, usize> {
        self.lanes.binary_search_by(|l| l.replica.cmp(&replica))
    }

    /// Charges `more` to the cost; false if the density guard for
    /// `weight` dots would be exceeded.
    fn charge(&mut self, more: u64, weight: u64) -> bool {
        let cost = self.cost.saturating_add(more);
        if cost > budget(weight) {
            return false;
        }
        self.cost = cost;
        true
    }

    /// Points `dot` at the chunk of id `id`, where its entry is at position
    /// `at` (a hint, capped at 255), growing its lane if needed; false (the
    /// index must be dropped) if that would exceed the density guard for
    /// `weight` dots held, so that no counter, however sparse, sizes an
    /// allocation beyond twice the dots held.
    pub(super) fn point(&mut self, dot: Dot, id: u16, at: usize, weight: u64) -> bool {
        let counter = dot.counter();
        let l = match self.lane(dot.replica) {
            Ok(l) => l,
            Err(l) => {
                if !self.charge(LANE_COST, weight) {
                    return false;
                }
                let lane = Lane {
                    replica: dot.replica,
                    base: counter,
                    slots: Vec::new(),
                };
                self.lanes.insert(l, lane);
                l
            }
        };
        let (base, len) = (self.lanes[l].base, self.lanes[l].slots.len() as u64);
        if counter < base {
            let more = base - counter;
            if !self.charge(more, weight) {
                return false;
            }
            let lane = &mut self.lanes[l];
            lane.slots.splice(0..0, (0..more).map(|_| Slot::EMPTY));
            lane.base = counter;
        } else if counter - base >= len {
            let more = counter - base + 1 - len;
            if !self.charge(more, weight) {
                return false;
            }
            let slots = &mut self.lanes[l].slots;
            // Grows by an eighth at least: amortized, and at most an eighth
            // of the lane left empty by appends (the heap target).
            let room = more.max(len / 8) as usize;
            slots.reserve_exact(room.saturating_sub(slots.capacity() - slots.len()));
            slots.resize(slots.len() + more as usize, Slot::EMPTY);
        }
        let lane = &mut self.lanes[l];
        lane.slots[(counter - lane.base) as usize] = Slot {
            id: (id + 1).to_le_bytes(),
            at: u8::try_from(at).unwrap_or(u8::MAX),
        };
        true
    }

    /// A new chunk at position `c` (later chunks move up one); its id, or
    /// `None` (the index must be dropped) when every id is taken.
    pub(super) fn insert_chunk(&mut self, c: usize) -> Option<u16> {
        let id = match self.free.pop() {
            Some(id) => id,
            None if self.at.len() < MAX_CHUNKS => {
                self.at.push(u32::MAX);
                (self.at.len() - 1) as u16
            }
            None => return None,
        };
        self.ids.insert(c, id);
        self.renumber(c);
        Some(id)
    }

    /// The chunk at position `c` is gone (later chunks move down one).
    pub(super) fn remove_chunk(&mut self, c: usize) {
        let id = self.ids.remove(c);
        self.at[usize::from(id)] = u32::MAX;
        self.free.push(id);
        self.renumber(c);
    }

    /// Records the positions of the chunks from position `c` on.
    fn renumber(&mut self, c: usize) {
        for (p, &id) in self.ids.iter().enumerate().skip(c) {
            self.at[usize::from(id)] = p as u32;
        }
    }
}
