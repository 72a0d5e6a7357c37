//! Pieces: runs of consecutive dots of one replica, with the Fugue origins
//! of their first element.

use std::num::NonZeroU64;

use super::content::Content;

/// An element id inside one state: an interned replica (`agent`, an index
/// into the state's replica table) and a counter.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub(crate) struct Id {
    /// Index into the owning state's replica table.
    pub(crate) agent: u32,
    /// The dot's counter.
    pub(crate) ctr: NonZeroU64,
}

impl Id {
    /// The id `(agent, ctr)`, `None` for counter 0.
    pub(crate) fn new(agent: u32, ctr: u64) -> Option<Self> {
        NonZeroU64::new(ctr).map(|ctr| Self { agent, ctr })
    }
}

/// The two origins of a piece's first element, packed without padding: the
/// agents side by side, then the counters, counter 0 for no origin (a dot's
/// counter is never 0). Two `Option<Id>` would take 32 bytes (each 12
/// bytes of data padded to 16); this takes 24, so a piece takes 64 bytes,
/// not 72 (issue 15: pieces are most of a text's heap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Origins {
    left_agent: u32,
    right_agent: u32,
    left_ctr: u64,
    right_ctr: u64,
}

/// `id` as an agent and a counter, `(0, 0)` for none.
fn unpack(id: Option<Id>) -> (u32, u64) {
    id.map_or((0, 0), |id| (id.agent, id.ctr.get()))
}

/// A run of `len` elements with consecutive dots `start..start + len` of one
/// agent. Element 0 has origins [`Piece::left`] / [`Piece::right`]; element
/// `k > 0` has left origin element `k - 1` and right origin `right` (what
/// typing forward produces, so one run is one typing burst). `content` is
/// [`Content::Dead`] for a tombstone run (deleted: ordering information
/// only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Piece<T> {
    pub(crate) agent: u32,
    pub(crate) len: u32,
    pub(crate) start: u64,
    origins: Origins,
    pub(crate) content: Content<T>,
}

impl<T> Piece<T> {
    /// The run of `len` elements from counter `start` of `agent`, whose
    /// first element has origins `left` and `right`.
    pub(crate) fn new(
        agent: u32,
        len: u32,
        start: u64,
        left: Option<Id>,
        right: Option<Id>,
        content: Content<T>,
    ) -> Self {
        let (left_agent, left_ctr) = unpack(left);
        let (right_agent, right_ctr) = unpack(right);
        Self {
            agent,
            len,
            start,
            origins: Origins {
                left_agent,
                right_agent,
                left_ctr,
                right_ctr,
            },
            content,
        }
    }

    /// The left origin of the first element.
    #[inline]
    pub(crate) fn left(&self) -> Option<Id> {
        Id::new(self.origins.left_agent, self.origins.left_ctr)
    }

    /// The right origin of every element.
    #[inline]
    pub(crate) fn right(&self) -> Option<Id> {
        Id::new(self.origins.right_agent, self.origins.right_ctr)
    }

    /// Renames the agents of the origins (left, then right) and of the
    /// piece by `map`, in that order; an origin whose agent `map` does not
    /// know becomes none, a piece's agent it does not know becomes 0.
    pub(crate) fn remap(&mut self, mut map: impl FnMut(u32) -> Option<u32>) {
        let o = &mut self.origins;
        if o.left_ctr != 0 {
            (o.left_agent, o.left_ctr) = map(o.left_agent).map_or((0, 0), |a| (a, o.left_ctr));
        }
        if o.right_ctr != 0 {
            (o.right_agent, o.right_ctr) = map(o.right_agent).map_or((0, 0), |a| (a, o.right_ctr));
        }
        self.agent = map(self.agent).unwrap_or(0);
    }

    /// The agents the origins (left, then right) and the piece name.
    pub(crate) fn agents(&self) -> impl Iterator<Item = u32> + use<T> {
        let o = &self.origins;
        let left = (o.left_ctr != 0).then_some(o.left_agent);
        let right = (o.right_ctr != 0).then_some(o.right_agent);
        left.into_iter().chain(right).chain([self.agent])
    }

    /// How many distinct agents the piece and its origins name (1 to 3).
    pub(crate) fn agents_named(&self) -> usize {
        let o = &self.origins;
        let left = o.left_ctr != 0 && o.left_agent != self.agent;
        let right = o.right_ctr != 0
            && o.right_agent != self.agent
            && !(left && o.right_agent == o.left_agent);
        1 + usize::from(left) + usize::from(right)
    }

    /// Sets the origins of the first element.
    pub(crate) fn set_origins(&mut self, left: Option<Id>, right: Option<Id>) {
        (self.origins.left_agent, self.origins.left_ctr) = unpack(left);
        (self.origins.right_agent, self.origins.right_ctr) = unpack(right);
    }

    /// One past the last counter.
    #[inline]
    pub(crate) fn end(&self) -> u64 {
        self.start + u64::from(self.len)
    }

    /// Number of visible elements (all or none).
    #[inline]
    pub(crate) fn visible(&self) -> usize {
        if self.content.is_live() {
            self.len as usize
        } else {
            0
        }
    }

    /// Whether the piece holds counter `ctr` of `agent`.
    #[inline]
    pub(crate) fn holds(&self, agent: u32, ctr: u64) -> bool {
        self.agent == agent && self.start <= ctr && ctr < self.end()
    }

    /// Whether the piece holds a counter of `agent` in `lo..=hi`.
    #[inline]
    pub(crate) fn meets(&self, agent: u32, lo: u64, hi: u64) -> bool {
        self.agent == agent && self.start <= hi && lo < self.end()
    }

    /// The id of element `off`.
    #[inline]
    pub(crate) fn id_at(&self, off: u32) -> Option<Id> {
        Id::new(self.agent, self.start + u64::from(off))
    }

    /// The id of the last element.
    #[inline]
    pub(crate) fn last(&self) -> Option<Id> {
        self.id_at(self.len.saturating_sub(1))
    }

    /// The left origin of element `off`.
    #[inline]
    pub(crate) fn left_at(&self, off: u32) -> Option<Id> {
        if off == 0 {
            self.left()
        } else {
            self.id_at(off - 1)
        }
    }

    /// Keeps elements `..off` and returns elements `off..` as their own
    /// piece (`0 < off < len`). The part kept gives back its spare room:
    /// only a piece's last element is typed on from (the next dot), and
    /// that is now in the other part, so the room would stay empty (issue
    /// 15).
    #[inline]
    pub(crate) fn split_off(&mut self, off: u32) -> Self {
        let content = self.content.split_off(off as usize);
        let right = Self::new(
            self.agent,
            self.len - off,
            self.start + u64::from(off),
            self.id_at(off - 1),
            self.right(),
            content,
        );
        self.len = off;
        right
    }

    /// Whether `next` continues this piece: same agent and visibility,
    /// the next counter, left origin our last element, same right origin.
    pub(crate) fn continued_by(&self, next: &Self) -> bool {
        self.continued_by_as(next, self.content.is_live())
    }

    /// [`Piece::continued_by`] for this piece's ids and origins, taken
    /// as live or not by `live` (whatever its content): a run's shape
    /// ([`Piece::shape`]) grown without its content.
    pub(crate) fn continued_by_as(&self, next: &Self, live: bool) -> bool {
        self.agent == next.agent
            && next.start == self.end()
            && next.left() == self.last()
            && next.origins.right_agent == self.origins.right_agent
            && next.origins.right_ctr == self.origins.right_ctr
            && live == next.content.is_live()
            && u64::from(self.len) + u64::from(next.len) <= u64::from(u32::MAX)
    }

    /// The piece's ids and origins without its content (a tombstone run).
    pub(crate) fn shape(&self) -> Self {
        Self {
            agent: self.agent,
            len: self.len,
            start: self.start,
            origins: self.origins,
            content: Content::Dead,
        }
    }

    /// Appends `next` (which must continue this piece).
    pub(crate) fn absorb(&mut self, next: Self) {
        self.len += next.len;
        self.content.absorb(next.content);
    }
}

impl<T: Clone> Piece<T> {
    /// Appends a copy of `next` (which must continue this piece); see
    /// [`Content::append`].
    pub(crate) fn append(&mut self, next: &Self) {
        self.len += next.len;
        self.content.append(&next.content);
    }

    /// The offset in this piece of its element with counter `ctr`
    /// (`start <= ctr < end`).
    pub(crate) fn offset(&self, ctr: u64) -> u32 {
        u32::try_from(ctr.saturating_sub(self.start)).unwrap_or(self.len)
    }

    /// The elements with counters `from..=to` as their own piece
    /// (`start <= from <= to < end`).
    pub(crate) fn slice_dots(&self, from: u64, to: u64) -> Self {
        self.slice(self.offset(from), self.offset(to) + 1)
    }

    /// Elements `from..to` as their own piece (`from < to <= len`).
    pub(crate) fn slice(&self, from: u32, to: u32) -> Self {
        Self::new(
            self.agent,
            to - from,
            self.start + u64::from(from),
            self.left_at(from),
            self.right(),
            self.content.slice(from as usize, to as usize),
        )
    }
}

/// Merges consecutive pieces that continue each other (the canonical form).
pub(crate) fn coalesce<T>(pieces: Vec<Piece<T>>) -> Vec<Piece<T>> {
    let mut out: Vec<Piece<T>> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match out.last_mut() {
            Some(last) if last.continued_by(&p) => last.absorb(p),
            _ => out.push(p),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15: pieces are most of a text's heap; the packed origins keep
    /// one at 64 bytes (two `Option<Id>` made it 72).
    #[test]
    fn piece_of_chars_is_64_bytes() {
        assert_eq!(std::mem::size_of::<Piece<char>>(), 64);
    }

    /// The packed origins tell no origin from the first counter of agent 0,
    /// and give back every origin they were given.
    #[test]
    fn packed_origins_round_trip() {
        let ids = [
            None,
            Id::new(0, 1),
            Id::new(u32::MAX, u64::MAX),
            Id::new(3, 1 << 40),
        ];
        for left in ids {
            for right in ids {
                let mut p = Piece::new(7, 2, 5, left, right, Content::of_vec(vec!['a', 'b']));
                assert_eq!((p.left(), p.right()), (left, right));
                assert_eq!(p.left_at(1), Id::new(7, 5));
                p.set_origins(right, left);
                assert_eq!((p.left(), p.right()), (right, left));
                let q = p.split_off(1);
                assert_eq!((q.left(), q.right()), (Id::new(7, 5), left));
                // Agents 0 and MAX are unknown, every other one moves up.
                let map = |a: u32| (a != 0 && a != u32::MAX).then(|| a + 1);
                let moved = |id: Option<Id>| id.and_then(|i| Id::new(map(i.agent)?, i.ctr.get()));
                p.remap(map);
                assert_eq!((p.left(), p.right()), (moved(right), moved(left)));
                assert_eq!(p.agent, 8);
            }
        }
    }
}
