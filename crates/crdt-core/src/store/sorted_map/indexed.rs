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
    /// Set by tests to make [`SortedMap::strip_indexed`] and
    /// [`SortedMap::held_indexed`] decline: the walks, to compare the
    /// indexed answers with.
    pub(crate) static WALK_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether looking `dots` up one by one through the index of a map of
/// `len` entries is worth it: a lookup scans a chunk, so only while the
/// lookups scan less than a walk of the map would. False while a test has
/// set [`WALK_ONLY`].
fn lookups_pay(dots: &CausalContext, len: usize) -> bool {
    #[cfg(test)]
    if WALK_ONLY.get() {
        return false;
    }
    dots.len().saturating_mul(CHUNK as u64) <= len as u64
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
        let first = range.start;
        for (at, (_, v)) in (first..).zip(&self.chunks[c][range]) {
            if v.weight() > HEAVY {
                ok = false;
                break;
            }
            v.each_dot(&mut |d| ok &= index.point(d, id, at, weight));
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
            for (at, (_, v)) in chunk.iter().enumerate() {
                v.each_dot(&mut |d| ok &= index.point(d, id, at, self.weight));
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
        let Repr::Chunked(ch) = &mut self.repr else {
            return false;
        };
        if !lookups_pay(dots, ch.len) {
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

    /// The dots of `dots` that the map's values hold, found through the
    /// dot index: `None` (nothing looked up) when the map has no index or
    /// the dots are not few against it (as for
    /// [`SortedMap::strip_indexed`]: a lookup scans a chunk). The index is
    /// not built here (the map is borrowed): a map gets it from the first
    /// merge of a remove.
    pub(crate) fn held_indexed(&self, dots: &CausalContext) -> Option<CausalContext> {
        let Repr::Chunked(ch) = &self.repr else {
            return None;
        };
        if ch.index.0.is_none() || !lookups_pay(dots, ch.len) {
            return None;
        }
        let mut held = CausalContext::new();
        for dot in dots.iter() {
            if self.find_dot(dot)?.is_some() {
                held.insert(dot);
            }
        }
        Some(held)
    }

    /// Where the entry holding `dot` is (chunk, position): `None` if the
    /// map has no index, `Some(None)` if no entry holds `dot`.
    fn find_dot(&self, dot: Dot) -> Option<Option<(usize, usize)>> {
        let Repr::Chunked(ch) = &self.repr else {
            return None;
        };
        let index = ch.index.0.as_deref()?;
        Some(index.chunk_of(dot).and_then(|(c, hint)| {
            let i = position_near(ch.chunks.get(c)?, hint, |v| v.holds(dot))?;
            Some((c, i))
        }))
    }

    /// Whether the map has a dot index.
    #[cfg(test)]
    pub(crate) fn is_indexed(&self) -> bool {
        matches!(&self.repr, Repr::Chunked(ch) if ch.index.0.is_some())
    }
}

/// The position of the first entry of `entries` found, looking outward from
/// `hint` (`hint`, `hint + 1`, `hint - 1`, ...), whose value `holds`: where
/// an entry recorded at `hint` is after the inserts and removes in front of
/// it moved it a few places. Every entry is looked at once at most.
fn position_near<K, V>(
    entries: &[(K, V)],
    hint: usize,
    mut holds: impl FnMut(&V) -> bool,
) -> Option<usize> {
    let n = entries.len();
    let h = hint.min(n.saturating_sub(1));
    for d in 0..n {
        let (up, down) = (h + d, h.checked_sub(d));
        if up < n && holds(&entries[up].1) {
            return Some(up);
        }
        match down {
            Some(i) if d > 0 && holds(&entries[i].1) => return Some(i),
            None if up >= n => break,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DotSet, ReplicaId};

    /// Whatever the hint (past the end included), the search finds the
    /// entry and looks at each entry once at most; a missing one costs
    /// exactly one look per entry.
    #[test]
    fn a_search_from_any_hint_finds_the_entry_looking_once_at_each() {
        for n in 0..10usize {
            let entries: Vec<(usize, usize)> = (0..n).map(|i| (i, i)).collect();
            for hint in 0..n + 3 {
                for target in 0..=n {
                    let mut looks = 0;
                    let found = position_near(&entries, hint, |&v| {
                        looks += 1;
                        v == target
                    });
                    assert_eq!(found, (target < n).then_some(target));
                    let most = if target < n {
                        target.abs_diff(hint.min(n - 1)) * 2 + 1
                    } else {
                        n
                    };
                    assert!(
                        looks <= most.min(n),
                        "n {n} hint {hint} target {target}: {looks}"
                    );
                    if target == n {
                        assert_eq!(looks, n);
                    }
                }
            }
        }
    }

    /// The index records where each entry is (after a build, every hint is
    /// its entry's position), and an entry that has drifted (a key
    /// inserted in front of it) is still found.
    #[test]
    fn a_lookup_starts_at_the_recorded_position() {
        let r = ReplicaId::from_u128(7);
        let dot = |c: u64| Dot::new(r, c).unwrap();
        let mut map = SortedMap::default();
        let mut ctx = CausalContext::new();
        for k in 1..=1000u64 {
            map.insert(k * 2, DotSet::from(dot(k)));
            ctx.insert(dot(k));
        }
        let Repr::Chunked(ch) = &mut map.repr else {
            panic!("1000 keys are chunked");
        };
        assert!(ch.build_index(&ctx));
        let index = ch.index.0.as_deref().unwrap();
        for (c, chunk) in ch.chunks.iter().enumerate() {
            for (i, (k, _)) in chunk.iter().enumerate() {
                assert_eq!(index.chunk_of(dot(k / 2)), Some((c, i)));
            }
        }
        // Key 1 goes in front of every entry of the first chunk.
        map.insert(1, DotSet::from(dot(1001)));
        for k in [1u64, 2, 50, 1000] {
            let (c, i) = map.find_dot(dot(k)).unwrap().unwrap();
            let Repr::Chunked(ch) = &map.repr else {
                panic!("still chunked");
            };
            assert_eq!(ch.chunks[c][i].0, k * 2);
        }
        assert_eq!(map.find_dot(dot(1001)), Some(Some((0, 0))));
        assert_eq!(map.find_dot(dot(5000)), Some(None));
    }
}
