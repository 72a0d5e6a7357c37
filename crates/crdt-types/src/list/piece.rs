//! Pieces: runs of consecutive dots of one replica, with the Fugue origins
//! of their first element.

use std::num::NonZeroU64;

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

/// A run of `len` elements with consecutive dots `start..start + len` of one
/// agent. Element 0 has origins `left` / `right`; element `k > 0` has left
/// origin element `k - 1` and right origin `right` (what typing forward
/// produces, so one run is one typing burst). `content` is `None` for a
/// tombstone run (deleted: ordering information only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Piece<T> {
    pub(crate) agent: u32,
    pub(crate) len: u32,
    pub(crate) start: u64,
    pub(crate) left: Option<Id>,
    pub(crate) right: Option<Id>,
    pub(crate) content: Option<Vec<T>>,
}

impl<T> Piece<T> {
    /// One past the last counter.
    #[inline]
    pub(crate) fn end(&self) -> u64 {
        self.start + u64::from(self.len)
    }

    /// Number of visible elements (all or none).
    #[inline]
    pub(crate) fn visible(&self) -> usize {
        if self.content.is_some() {
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
            self.left
        } else {
            self.id_at(off - 1)
        }
    }

    /// Keeps elements `..off` and returns elements `off..` as their own
    /// piece (`0 < off < len`). The part kept gives back its spare room:
    /// only a piece's last element is typed on from (the next dot), and
    /// that is now in the other part, so the room would stay empty (issue
    /// 15).
    pub(crate) fn split_off(&mut self, off: u32) -> Self {
        let content = self.content.as_mut().map(|c| {
            let rest = c.split_off(off as usize);
            c.shrink_to_fit();
            rest
        });
        let right = Self {
            agent: self.agent,
            len: self.len - off,
            start: self.start + u64::from(off),
            left: self.id_at(off - 1),
            right: self.right,
            content,
        };
        self.len = off;
        right
    }

    /// Whether `next` continues this piece: same agent and visibility,
    /// the next counter, left origin our last element, same right origin.
    pub(crate) fn continued_by(&self, next: &Self) -> bool {
        self.agent == next.agent
            && next.start == self.end()
            && next.left == self.last()
            && next.right == self.right
            && self.content.is_some() == next.content.is_some()
            && u64::from(self.len) + u64::from(next.len) <= u64::from(u32::MAX)
    }

    /// The piece's ids and origins without its content (a tombstone run).
    pub(crate) fn shape(&self) -> Self {
        Self {
            agent: self.agent,
            len: self.len,
            start: self.start,
            left: self.left,
            right: self.right,
            content: None,
        }
    }

    /// Appends `next` (which must continue this piece).
    pub(crate) fn absorb(&mut self, next: Self) {
        self.len += next.len;
        if let (Some(mine), Some(theirs)) = (self.content.as_mut(), next.content) {
            mine.extend(theirs);
        }
    }
}

impl<T: Clone> Piece<T> {
    /// Appends a copy of `next` (which must continue this piece). The
    /// content grows by a quarter at a time, not doubling: a run typed on
    /// and on keeps little spare capacity, for a few more copies.
    pub(crate) fn append(&mut self, next: &Self) {
        self.len += next.len;
        if let (Some(mine), Some(theirs)) = (self.content.as_mut(), next.content.as_ref()) {
            if mine.capacity() - mine.len() < theirs.len() {
                mine.reserve_exact(theirs.len().max(spare(mine.len())));
            }
            mine.extend_from_slice(theirs);
        }
    }

    /// Elements `from..to` as their own piece (`from < to <= len`).
    pub(crate) fn slice(&self, from: u32, to: u32) -> Self {
        Self {
            agent: self.agent,
            len: to - from,
            start: self.start + u64::from(from),
            left: self.left_at(from),
            right: self.right,
            content: self
                .content
                .as_ref()
                .map(|c| c[from as usize..to as usize].to_vec()),
        }
    }
}

/// The spare room a run's content of `len` elements grows by when typed
/// on (a quarter, not doubling), and the most it keeps after a backspace
/// before it gives the rest back.
pub(crate) fn spare(len: usize) -> usize {
    len / 4 + 4
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
