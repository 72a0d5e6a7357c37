//! The upkeep and the use of a chunked map's dot index (see the design note
//! on [`SortedMap`] and [`DotIndex`]).

use std::ops::Range;

use super::dot_index::DotIndex;
use super::{CHUNK, Chunked, Repr, SortedMap, Summary};
use crate::{CausalContext, Dot};

/// The most dots per entry, on average, of a map that builds an index: the
/// split of a chunk re-points half its entries' dots, so values must be
/// light (a set's few dots, not a nested map's many).
const LIGHT: u64 = 4;

/// The most dots of one value that an index re-points on a change of that
/// value: a heavier value drops the index instead (the next remove-shaped
/// merge rebuilds it, one walk, which the merge would otherwise pay).
const HEAVY: u64 = 64;

#[cfg(test)]
thread_local! {
    /// Set by tests to make [`SortedMap::strip_indexed`] decline: the walk
    /// join, to compare the indexed one with.
    pub(crate) static WALK_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The slot of a chunked map's index: a clone drops it (an index is a
/// cache, rebuilt on demand), and it takes no part in equality, hashing or
/// encoding (the map's impls of those never look at it).
#[derive(Debug, Default)]
pub(super) struct IndexSlot(Option<Box<DotIndex>>);

impl IndexSlot {
    /// Drops the index, if any (out of line: the walks that call this
    /// should not carry the drop of an index).
    #[inline]
    pub(super) fn clear(&mut self) {
        if self.0.is_some() {
            self.drop_index();
        }
    }

    #[cold]
    #[inline(never)]
    fn drop_index(&mut self) {
        self.0 = None;
    }
}

impl Clone for IndexSlot {
    fn clone(&self) -> Self {
        Self(None)
    }
}

impl<K: Ord + Clone, V: Summary> Chunked<K, V> {
    /// Points the dots of the entries `range` of chunk `c` at that chunk,
    /// if there is an index; drops it when a value is too heavy or the
    /// density guard says no.
    pub(super) fn index_entries(&mut self, c: usize, range: Range<usize>) {
        let Some(index) = self.index.0.as_deref_mut() else {
            return;
        };
        let (id, weight) = (index.id(c), self.weight);
        let mut ok = true;
        for (_, v) in &self.chunks[c][range] {
            if v.weight() > HEAVY {
                ok = false;
                break;
            }
            v.each_dot(&mut |d| ok &= index.point(d, id, weight));
            if !ok {
                break;
            }
        }
        if !ok {
            self.index = IndexSlot::default();
        }
    }

    /// A chunk was inserted at position `c`: gives it an id and points its
    /// entries' dots at it.
    pub(super) fn index_new_chunk(&mut self, c: usize) {
        let Some(index) = self.index.0.as_deref_mut() else {
            return;
        };
        if index.insert_chunk(c).is_some() {
            self.index_entries(c, 0..self.chunks[c].len());
        } else {
            self.index = IndexSlot::default();
        }
    }

    /// The chunk at position `c` was removed.
    pub(super) fn index_removed_chunk(&mut self, c: usize) {
        if let Some(index) = self.index.0.as_deref_mut() {
            index.remove_chunk(c);
        }
    }

    /// Builds the index in one walk, with lanes spanning `bounds` (a
    /// context holding every dot of the map); false (nothing built) if the
    /// values are not light or the lanes would be too sparse.
    fn build_index(&mut self, bounds: &CausalContext) -> bool {
        if self.weight > (self.len as u64).saturating_mul(LIGHT) {
            return false;
        }
        let Some(mut index) = DotIndex::new(self.chunks.len(), bounds.ranges(), self.weight) else {
            return false;
        };
        let mut ok = true;
        for (c, chunk) in self.chunks.iter().enumerate() {
            let id = index.id(c);
            for (_, v) in chunk {
                v.each_dot(&mut |d| ok &= index.point(d, id, self.weight));
            }
        }
        if ok {
            self.index = IndexSlot(Some(Box::new(index)));
        }
        ok
    }
}

impl<K: Ord + Clone, V: Summary> SortedMap<K, V> {
    /// Runs `strip` on every entry that holds a dot of `dots`, keeping it
    /// only if `keep` says so afterwards: what
    /// `retain(|k, v| { strip(k, v); keep(v) })` does when `strip` changes
    /// only the entries holding such dots (a merge of a remove: the dots
    /// the other side has seen are dropped). Done through the dot index
    /// (built first if need be, one walk, with lanes spanning `bounds`, a
    /// context of every dot held) when the dots are few against the map;
    /// returns false, having changed nothing, when the map is flat, the
    /// dots are many, or no index can be built.
    pub(crate) fn strip_indexed(
        &mut self,
        dots: &CausalContext,
        bounds: &CausalContext,
        strip: &mut impl FnMut(&K, &mut V),
        keep: impl Fn(&V) -> bool,
    ) -> bool {
        #[cfg(test)]
        if WALK_ONLY.get() {
            return false;
        }
        let Repr::Chunked(ch) = &mut self.repr else {
            return false;
        };
        // A lookup scans a chunk: worth it while the lookups scan less
        // than the walk would.
        if dots.len().saturating_mul(CHUNK as u64) > ch.len as u64 {
            return false;
        }
        if ch.index.0.is_none() && !ch.build_index(bounds) {
            return false;
        }
        for dot in dots.iter() {
            match self.find_dot(dot) {
                // The index was dropped on the way (or the map became
                // flat): the walk does the rest, exactly.
                None => {
                    self.retain(|k, v| {
                        strip(k, v);
                        keep(v)
                    });
                    return true;
                }
                Some(None) => {}
                Some(Some((c, i))) => self.modify_at(c, i, |k, v| strip(k, v), &keep),
            }
        }
        true
    }

    /// Where the entry holding `dot` is (chunk, position): `None` if the
    /// map has no index, `Some(None)` if no entry holds `dot`.
    fn find_dot(&self, dot: Dot) -> Option<Option<(usize, usize)>> {
        let Repr::Chunked(ch) = &self.repr else {
            return None;
        };
        let index = ch.index.0.as_deref()?;
        Some(index.chunk_of(dot).and_then(|c| {
            let i = ch.chunks.get(c)?.iter().position(|(_, v)| v.holds(dot))?;
            Some((c, i))
        }))
    }

    /// Whether the map has a dot index.
    #[cfg(test)]
    pub(crate) fn is_indexed(&self) -> bool {
        matches!(&self.repr, Repr::Chunked(ch) if ch.index.0.is_some())
    }
}
