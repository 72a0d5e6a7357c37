//! Causal contexts: the compressed set of dots a state has seen.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use crate::intervals::IntervalSet;
use crate::sorted::{deserialize_entries, serialize_entries};
use crate::{Decompose, Dot, Lattice, ReplicaId, VersionVector};

/// The set of dots a state has seen, compressed.
///
/// For each replica the context keeps the counters it has seen as sorted,
/// disjoint ranges: the contiguous prefix `1..=n` (what a version vector
/// would say) is one range, and each gap beyond it (the "dot cloud" of the
/// delta-CRDT papers) costs one more range. Ranges are merged on every insert
/// and join, so the representation is always canonical: equal contexts are
/// equal values with equal encodings, whatever history built them.
///
/// The context is the "seen" half of every causal state ([`crate::Causal`]):
/// a dot in the context but not in the store is a dot that was removed.
///
/// ```
/// use crdt_core::{CausalContext, Dot, Lattice, ReplicaId};
/// let a = ReplicaId::from_u128(1);
/// let dot = |n| Dot::new(a, n).unwrap();
///
/// let mut x = CausalContext::new();
/// let first = x.next_dot(a);
/// x.insert(first);
/// x.insert(dot(3)); // a gap at 2
/// assert!(x.contains(dot(3)) && !x.contains(dot(2)));
/// assert_eq!(x.version_vector().get(a), 1); // contiguous prefix
/// assert_eq!(x.next_dot(a), dot(4));
///
/// let mut y = CausalContext::new();
/// y.insert(dot(2));
/// x.join(&y); // the gap closes: 1..=3
/// assert_eq!(x.version_vector().get(a), 3);
/// assert_eq!(x.len(), 3);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct CausalContext {
    /// Sorted by replica; no empty sets. One replica inline (48 bytes in
    /// all): a delta names one replica nearly always, and every delta is
    /// built, moved and dropped once per write (issue 15: with two inline,
    /// 88 bytes, a text replay spent 6% more instructions moving them); a
    /// state naming two or more replicas keeps them on the heap.
    entries: Entries,
}

/// The entries of a [`CausalContext`]: one replica inline.
type Entries = SmallVec<[(ReplicaId, IntervalSet); 1]>;

impl CausalContext {
    /// The empty context (bottom).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The next dot `replica` would mint after everything in this context:
    /// one past the highest counter of `replica` seen, gaps included.
    ///
    /// Minting only from the local context is what keeps a replica from
    /// issuing the same dot twice. The counter saturates at `u64::MAX`, a
    /// value no real replica reaches.
    #[must_use]
    #[inline]
    pub fn next_dot(&self, replica: ReplicaId) -> Dot {
        dot_after(replica, self.max(replica))
    }

    /// Mints the next dot of `replica` and records it as seen: the dot of
    /// [`CausalContext::next_dot`], inserted, with one search for `replica`
    /// instead of two.
    #[inline]
    pub fn mint(&mut self, replica: ReplicaId) -> Dot {
        match self.find(replica) {
            Ok(i) => {
                let set = &mut self.entries[i].1;
                let dot = dot_after(replica, set.max());
                set.insert(dot.counter());
                dot
            }
            Err(i) => {
                let dot = dot_after(replica, 0);
                self.entries
                    .insert(i, (replica, IntervalSet::single(dot.counter())));
                dot
            }
        }
    }

    /// Adds `dot`; returns whether it was new.
    #[inline]
    pub fn insert(&mut self, dot: Dot) -> bool {
        match self.find(dot.replica) {
            Ok(i) => self.entries[i].1.insert(dot.counter()),
            Err(i) => {
                let set = IntervalSet::single(dot.counter());
                self.entries.insert(i, (dot.replica, set));
                true
            }
        }
    }

    /// Adds every dot `(replica, n)` with `lo <= n <= hi`. Does nothing when
    /// `lo > hi`; a `lo` of 0 is treated as 1.
    pub fn insert_range(&mut self, replica: ReplicaId, lo: u64, hi: u64) {
        let lo = lo.max(1);
        if lo > hi {
            return;
        }
        // Past the last replica or at it: a context built in replica order
        // (a decoded state's held dots, one range per replica of thousands)
        // appends without a search.
        let found = match self.entries.last() {
            Some((r, _)) if *r < replica => Err(self.entries.len()),
            Some((r, _)) if *r == replica => Ok(self.entries.len() - 1),
            _ => self.find(replica),
        };
        match found {
            Ok(i) => self.entries[i].1.insert_span((lo, hi)),
            Err(i) => self.entries.insert(i, (replica, IntervalSet::span(lo, hi))),
        }
    }

    /// The context of the dots `(replica, n)` with `lo <= n <= hi` and
    /// nothing else: [`CausalContext::insert_range`] into the empty
    /// context, built directly (inline: no allocation, no search), the
    /// context of a one-run delta.
    #[must_use]
    #[inline]
    pub fn of_range(replica: ReplicaId, lo: u64, hi: u64) -> Self {
        let lo = lo.max(1);
        let mut entries = SmallVec::new();
        if lo <= hi {
            entries.push((replica, IntervalSet::span(lo, hi)));
        }
        Self { entries }
    }

    /// Whether this context has seen `dot`.
    #[must_use]
    #[inline]
    pub fn contains(&self, dot: Dot) -> bool {
        match self.find(dot.replica) {
            Ok(i) => self.entries[i].1.contains(dot.counter()),
            Err(_) => false,
        }
    }

    /// The highest counter of `replica` seen (0 if none).
    #[must_use]
    #[inline]
    pub fn max(&self, replica: ReplicaId) -> u64 {
        match self.find(replica) {
            Ok(i) => self.entries[i].1.max(),
            Err(_) => 0,
        }
    }

    /// The contiguous prefix of each replica, as a version vector (the dots
    /// beyond a gap are left out).
    #[must_use]
    pub fn version_vector(&self) -> VersionVector {
        self.entries
            .iter()
            .filter_map(|(r, set)| Dot::new(*r, set.contiguous()))
            .collect()
    }

    /// Whether some dot lies beyond a gap (the context is not just a version
    /// vector).
    #[must_use]
    pub fn has_gaps(&self) -> bool {
        self.entries
            .iter()
            .any(|(_, set)| set.spans().len() > 1 || set.contiguous() == 0)
    }

    /// The number of dots in the context, saturating at `u64::MAX` (only a
    /// forged context of whole counter ranges holds more).
    #[must_use]
    pub fn len(&self) -> u64 {
        self.entries
            .iter()
            .fold(0u64, |n, (_, set)| n.saturating_add(set.count()))
    }

    /// Whether the context has seen no dot.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The smallest counter of any dot (of any replica); 0 if empty.
    pub(crate) fn min_counter(&self) -> u64 {
        self.entries
            .iter()
            .filter_map(|(_, set)| set.spans().first().map(|s| s.0))
            .min()
            .unwrap_or(0)
    }

    /// The replicas with at least one dot, in order.
    pub fn replicas(&self) -> impl ExactSizeIterator<Item = ReplicaId> + '_ {
        self.entries.iter().map(|(r, _)| *r)
    }

    /// The ranges `(replica, lo, hi)` of the compressed form, in order.
    pub fn ranges(&self) -> impl Iterator<Item = (ReplicaId, u64, u64)> + '_ {
        self.entries
            .iter()
            .flat_map(|(r, set)| set.spans().iter().map(move |&(lo, hi)| (*r, lo, hi)))
    }

    /// The ranges `(replica, lo, hi)` of one replica, in order.
    pub fn ranges_of(
        &self,
        replica: ReplicaId,
    ) -> impl Iterator<Item = (ReplicaId, u64, u64)> + '_ {
        let spans = match self.find(replica) {
            Ok(i) => self.entries[i].1.spans(),
            Err(_) => &[],
        };
        spans.iter().map(move |&(lo, hi)| (replica, lo, hi))
    }

    /// The ranges of `replica` that overlap `lo..=hi`, clipped to it, in
    /// order: found by a binary search, so the cost follows the ranges
    /// returned, not the context.
    ///
    /// ```
    /// use crdt_core::{CausalContext, Dot, ReplicaId};
    /// let r = ReplicaId::from_u128(1);
    /// let c: CausalContext = [1, 2, 5, 6, 7, 9].into_iter().filter_map(|n| Dot::new(r, n)).collect();
    /// let within: Vec<_> = c.ranges_within(r, 2, 6).collect();
    /// assert_eq!(within, [(r, 2, 2), (r, 5, 6)]);
    /// assert_eq!(c.ranges_within(r, 3, 4).count(), 0);
    /// assert_eq!(c.ranges_within(ReplicaId::from_u128(2), 1, 9).count(), 0);
    /// ```
    pub fn ranges_within(
        &self,
        replica: ReplicaId,
        lo: u64,
        hi: u64,
    ) -> impl Iterator<Item = (ReplicaId, u64, u64)> + '_ {
        let set = self.find(replica).ok().map(|i| &self.entries[i].1);
        set.into_iter()
            .flat_map(move |set| set.spans_within(lo, hi))
            .map(move |&(l, h)| (replica, l.max(lo), h.min(hi)))
    }

    /// Every dot, sorted by replica then counter. (A context may hold many
    /// dots in little space: prefer [`CausalContext::ranges`] for big ones.)
    pub fn iter(&self) -> impl Iterator<Item = Dot> + '_ {
        self.entries
            .iter()
            .flat_map(|(r, set)| set.iter().filter_map(move |n| Dot::new(*r, n)))
    }

    /// The dots in `self` and not in `other`.
    #[must_use]
    pub fn difference(&self, other: &Self) -> Self {
        let mut entries = SmallVec::new();
        let mut from = 0;
        for (r, set) in &self.entries {
            let rest = match other.find_from(from, *r) {
                Ok(j) => {
                    from = j + 1;
                    set.difference(&other.entries[j].1)
                }
                Err(j) => {
                    from = j;
                    set.clone()
                }
            };
            if !rest.is_empty() {
                entries.push((*r, rest));
            }
        }
        Self { entries }
    }

    /// `self := self \ other`, reusing `self`'s allocations where the
    /// result fits in them (see [`IntervalSet::subtract`]).
    pub(crate) fn subtract(&mut self, other: &Self) {
        let mut from = 0;
        for (r, set) in &mut self.entries {
            match other.find_from(from, *r) {
                Ok(j) => {
                    from = j + 1;
                    set.subtract(&other.entries[j].1);
                }
                Err(j) => from = j,
            }
        }
        self.entries.retain(|(_, set)| !set.is_empty());
    }

    /// The dots in both `self` and `other`.
    #[must_use]
    pub fn intersection(&self, other: &Self) -> Self {
        let mut entries = SmallVec::new();
        self.zip(other, |r, a, b| {
            let both = a.intersection(b);
            if !both.is_empty() {
                entries.push((r, both));
            }
            true
        });
        Self { entries }
    }

    /// Whether `self` and `other` have no dot in common.
    #[must_use]
    pub fn is_disjoint(&self, other: &Self) -> bool {
        self.zip(other, |_, a, b| a.is_disjoint(b))
    }

    /// Whether every dot of `self` is in `other`.
    #[must_use]
    pub fn is_subset(&self, other: &Self) -> bool {
        let mut from = 0;
        self.entries
            .iter()
            .all(|(r, set)| match other.find_from(from, *r) {
                Ok(j) => {
                    from = j + 1;
                    set.is_subset(&other.entries[j].1)
                }
                Err(_) => false,
            })
    }

    /// Calls `f` on the sets of each replica present in both contexts, in
    /// order, until it returns false; returns false if it did.
    fn zip(
        &self,
        other: &Self,
        mut f: impl FnMut(ReplicaId, &IntervalSet, &IntervalSet) -> bool,
    ) -> bool {
        let (a, b) = (&self.entries, &other.entries);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                Ordering::Less => i += 1,
                Ordering::Greater => j += 1,
                Ordering::Equal => {
                    if !f(a[i].0, &a[i].1, &b[j].1) {
                        return false;
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        true
    }

    /// Whether this context has seen `dot`, for a run of increasing dots:
    /// `at` (start from `Cursor::default()`) moves forward only, so a run
    /// costs one pass over the context at most, not a search per dot.
    pub(crate) fn contains_from(&self, at: &mut Cursor, dot: Dot) -> bool {
        while let Some((r, set)) = self.entries.get(at.entry) {
            match r.cmp(&dot.replica) {
                Ordering::Less => {
                    *at = Cursor {
                        entry: at.entry + 1,
                        span: 0,
                    }
                }
                Ordering::Greater => return false,
                Ordering::Equal => {
                    let spans = set.spans();
                    while let Some(&(lo, hi)) = spans.get(at.span) {
                        if hi >= dot.counter() {
                            return lo <= dot.counter();
                        }
                        at.span += 1;
                    }
                    return false;
                }
            }
        }
        false
    }

    /// The position of `replica` among the context's replicas.
    pub(crate) fn replica_index(&self, replica: ReplicaId) -> Option<usize> {
        self.find(replica).ok()
    }

    /// The ranges `(i, lo, hi)` of the compressed form, in order, `i` being
    /// the position of their replica (see [`CausalContext::replica_index`]).
    pub(crate) fn indexed_ranges(&self) -> impl Iterator<Item = (usize, u64, u64)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .flat_map(|(i, (_, set))| set.spans().iter().map(move |&(lo, hi)| (i, lo, hi)))
    }

    /// The replica at position `i` (see [`CausalContext::replica_index`]).
    pub(crate) fn replica_at(&self, i: usize) -> Option<ReplicaId> {
        self.entries.get(i).map(|(r, _)| *r)
    }

    #[inline]
    fn find(&self, replica: ReplicaId) -> Result<usize, usize> {
        // Few replicas: a linear scan beats binary search on the hot path.
        if self.entries.len() <= 4 {
            for (i, (r, _)) in self.entries.iter().enumerate() {
                match r.cmp(&replica) {
                    Ordering::Less => {}
                    Ordering::Equal => return Ok(i),
                    Ordering::Greater => return Err(i),
                }
            }
            return Err(self.entries.len());
        }
        self.entries.binary_search_by(|(r, _)| r.cmp(&replica))
    }

    /// [`CausalContext::find`] among the entries from `from` on, every
    /// entry before `from` being below `replica`: a galloping search, so
    /// that walking the `n` replicas of another context in order costs
    /// `O(n log(m / n))` here, not `n` searches of all `m` entries (the
    /// difference of two contexts of 25k replicas each, a received text's
    /// context and its visible dots: 9.3M instructions, 8.5M of them in
    /// the searches).
    #[inline]
    fn find_from(&self, from: usize, replica: ReplicaId) -> Result<usize, usize> {
        let from = from.min(self.entries.len());
        if from == 0 {
            return self.find(replica);
        }
        let rest = &self.entries[from..];
        // The entries `rest[..lo]` are below `replica`; the first entry at
        // or above it is within `rest[lo..hi]` or is `rest[hi]`.
        let mut hi = 1;
        while hi < rest.len() && rest[hi - 1].0 < replica {
            hi *= 2;
        }
        let lo = hi / 2;
        let hi = hi.min(rest.len());
        match rest[lo..hi].binary_search_by(|(r, _)| r.cmp(&replica)) {
            Ok(i) => Ok(from + lo + i),
            Err(i) => Err(from + lo + i),
        }
    }
}

/// A position in a [`CausalContext`] for [`CausalContext::contains_from`].
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Cursor {
    entry: usize,
    span: usize,
}

/// Up to this many replicas of the other side missing here, a join inserts
/// them one by one; past it, the two entry lists are merged.
const FEW_LACKING: usize = 4;

impl CausalContext {
    /// How many replicas `other` names that `self` does not.
    fn lacking(&self, other: &Self) -> usize {
        other
            .entries
            .iter()
            .filter(|(r, _)| self.find(*r).is_err())
            .count()
    }

    /// `self := self ∪ theirs`, the other side's entries in replica order,
    /// `missing` of them naming a replica `self` lacks; a set `S` is
    /// borrowed ([`Lattice::join`]) or owned ([`Lattice::join_owned`]):
    /// `union` merges it into a set held here, `adopt` makes it one. In
    /// place when few replicas are missing (the common case: a delta); a
    /// merge of the two entry lists otherwise.
    fn join_entries<S>(
        &mut self,
        missing: usize,
        theirs: impl Iterator<Item = (ReplicaId, S)>,
        union: impl Fn(&mut IntervalSet, S),
        adopt: impl Fn(S) -> IntervalSet,
    ) {
        if missing <= FEW_LACKING {
            for (r, set) in theirs {
                match self.find(r) {
                    Ok(i) => union(&mut self.entries[i].1, set),
                    Err(i) => self.entries.insert(i, (r, adopt(set))),
                }
            }
            return;
        }
        let mut out: Entries = SmallVec::with_capacity(self.entries.len() + missing);
        let mut mine = std::mem::take(&mut self.entries).into_iter().peekable();
        let mut theirs = theirs.peekable();
        while let (Some(a), Some(b)) = (mine.peek(), theirs.peek()) {
            let next = match a.0.cmp(&b.0) {
                Ordering::Less => mine.next(),
                Ordering::Greater => theirs.next().map(|(r, set)| (r, adopt(set))),
                Ordering::Equal => match (mine.next(), theirs.next()) {
                    (Some((r, mut set)), Some((_, other_set))) => {
                        union(&mut set, other_set);
                        Some((r, set))
                    }
                    _ => None,
                },
            };
            out.extend(next);
        }
        out.extend(mine);
        out.extend(theirs.map(|(r, set)| (r, adopt(set))));
        self.entries = out;
    }
}

impl Lattice for CausalContext {
    fn join(&mut self, other: &Self) {
        if other.entries.is_empty() {
            return;
        }
        let missing = self.lacking(other);
        let theirs = other.entries.iter().map(|(r, set)| (*r, set));
        self.join_entries(missing, theirs, IntervalSet::union_with, IntervalSet::clone);
    }

    /// The join consuming `other`: its sets are moved in, and where both
    /// name a replica the larger set is kept and the smaller merged into
    /// it, so a large received context is not copied into the state it
    /// joins (issue 11: a removal context of half a million gaps cost two
    /// copies at once, one in the state and one in the received delta).
    fn join_owned(&mut self, other: Self) {
        if self.entries.is_empty() {
            *self = other;
            return;
        }
        let missing = self.lacking(&other);
        self.join_entries(
            missing,
            other.entries.into_iter(),
            IntervalSet::union_owned,
            |s| s,
        );
    }

    fn leq(&self, other: &Self) -> bool {
        self.is_subset(other)
    }

    fn is_bottom(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Decompose for CausalContext {
    /// One single-dot context per dot (the join-irreducibles of a set).
    fn decompose(&self) -> Vec<Self> {
        self.iter().map(|d| std::iter::once(d).collect()).collect()
    }

    fn delta_from(&self, known: &Self) -> Self {
        self.difference(known)
    }
}

/// The dot after counter `max` of `replica`, saturating at `u64::MAX` (see
/// [`CausalContext::next_dot`]).
#[inline]
fn dot_after(replica: ReplicaId, max: u64) -> Dot {
    Dot::new(replica, max.saturating_add(1)).unwrap_or(Dot {
        replica,
        counter: std::num::NonZeroU64::MAX,
    })
}

impl From<&VersionVector> for CausalContext {
    fn from(vv: &VersionVector) -> Self {
        Self {
            entries: vv
                .iter()
                .map(|(r, n)| (r, IntervalSet::prefix(n)))
                .collect(),
        }
    }
}

impl From<VersionVector> for CausalContext {
    fn from(vv: VersionVector) -> Self {
        Self::from(&vv)
    }
}

impl From<Dot> for CausalContext {
    /// The context that has seen `dot` and nothing else (inline: no
    /// allocation), the context of a one-element delta.
    #[inline]
    fn from(dot: Dot) -> Self {
        let mut entries = SmallVec::new();
        entries.push((dot.replica, IntervalSet::single(dot.counter())));
        Self { entries }
    }
}

impl FromIterator<Dot> for CausalContext {
    /// Collects dots in any order (duplicates allowed) in `O(n log n)`; one
    /// dot (the context of a remove of an element added once) takes the
    /// direct path of `From<Dot>`.
    fn from_iter<I: IntoIterator<Item = Dot>>(iter: I) -> Self {
        let mut iter = iter.into_iter();
        let Some(first) = iter.next() else {
            return Self::new();
        };
        let Some(second) = iter.next() else {
            return Self::from(first);
        };
        // Inline for a few dots (a remove delta): no allocation.
        let mut dots: SmallVec<[Dot; 4]> = SmallVec::new();
        dots.extend([first, second]);
        dots.extend(iter);
        dots.sort_unstable();
        dots.dedup();
        let mut entries: Entries = SmallVec::new();
        for group in dots.chunk_by(|a, b| a.replica == b.replica) {
            let set = IntervalSet::from_sorted(group.iter().map(|d| d.counter()));
            entries.push((group[0].replica, set));
        }
        Self { entries }
    }
}

impl Extend<Dot> for CausalContext {
    fn extend<I: IntoIterator<Item = Dot>>(&mut self, iter: I) {
        for dot in iter {
            self.insert(dot);
        }
    }
}

impl PartialOrd for CausalContext {
    /// Set inclusion.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        crate::lattice::order_from_leq(self.is_subset(other), other.is_subset(self))
    }
}

impl fmt::Debug for CausalContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (r, set) in &self.entries {
            m.entry(r, &SpansDebug(set));
        }
        m.finish()
    }
}

struct SpansDebug<'a>(&'a IntervalSet);

impl fmt::Debug for SpansDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        for &(lo, hi) in self.0.spans() {
            if lo == hi {
                l.entry(&lo);
            } else {
                l.entry(&(lo..=hi));
            }
        }
        l.finish()
    }
}

/// A sequence of `(replica, ranges)`; in a human-readable format a map
/// from replica ids (UUID strings) to their counter ranges `[[lo, hi], ...]`.
impl Serialize for CausalContext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_entries(serializer, &self.entries)
    }
}

impl<'de> Deserialize<'de> for CausalContext {
    /// Rejects unsorted or repeated replicas and empty or non-canonical
    /// counter ranges.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let entries: Entries = deserialize_entries(deserializer, "causal context")?;
        if entries.iter().any(|(_, set)| set.is_empty()) {
            return Err(D::Error::custom(
                "causal context has a replica with no dots",
            ));
        }
        Ok(Self { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `of_range` builds what `insert_range` into the empty context does,
    /// empty ranges and a `lo` of 0 included.
    #[test]
    fn of_range_equals_insert_range_into_the_empty_context() {
        let a = ReplicaId::from_u128(7);
        for (lo, hi) in [(1, 1), (0, 3), (5, 9), (4, 3), (0, 0), (u64::MAX, u64::MAX)] {
            let mut c = CausalContext::new();
            c.insert_range(a, lo, hi);
            assert_eq!(CausalContext::of_range(a, lo, hi), c, "{lo}..={hi}");
        }
    }

    /// A decoded context is allocated at its length (from the length
    /// prefix), not grown by doubling, and a joined-in replica's one span
    /// stays inline: issue 11's budget counts both.
    #[test]
    fn decoding_and_joining_allocate_what_the_context_holds() {
        let mut c = CausalContext::new();
        for r in 1..=5u128 {
            c.insert_range(ReplicaId::from_u128(r), 1, r as u64);
        }
        let bytes = bincode::serde::encode_to_vec(&c, bincode::config::standard()).unwrap();
        let (decoded, _): (CausalContext, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!(decoded, c);
        assert_eq!(decoded.entries.capacity(), 5);
        let mut joined = CausalContext::of_range(ReplicaId::from_u128(9), 1, 1);
        joined.join(&decoded);
        assert_eq!(joined.entries.len(), 6);
        assert!(joined.entries.iter().all(|(_, set)| !set.spans_spilled()));
    }

    /// The galloping search from any position at or below the answer finds
    /// what the plain search finds, and the walks built on it (difference,
    /// in-place subtraction, inclusion) agree with sets of dots on contexts
    /// of up to 40 replicas, most missing on one side or the other.
    #[test]
    fn searches_from_a_position_agree_with_the_plain_search_and_with_sets() {
        use std::collections::BTreeSet;
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut wide = |n: u64| -> CausalContext {
            (0..n)
                .filter_map(|_| {
                    Dot::new(ReplicaId::from_u128(u128::from(next(40)) + 1), next(8) + 1)
                })
                .collect()
        };
        let dots = |c: &CausalContext| -> BTreeSet<Dot> { c.iter().collect() };
        for round in 0..300 {
            let (a, b) = (wide(round % 90), wide((round * 7) % 90));
            for r in 0..=41u128 {
                let r = ReplicaId::from_u128(r);
                let found = b.find(r);
                let at = found.unwrap_or_else(|i| i);
                for from in 0..=at {
                    assert_eq!(b.find_from(from, r), found, "{r:?} from {from}");
                }
            }
            let mut subtracted = a.clone();
            subtracted.subtract(&b);
            let expected: BTreeSet<Dot> = dots(&a).difference(&dots(&b)).copied().collect();
            assert_eq!(dots(&a.difference(&b)), expected);
            assert_eq!(subtracted, a.difference(&b));
            assert_eq!(a.is_subset(&b), dots(&a).is_subset(&dots(&b)));
            assert!(a.difference(&b).is_subset(&a) && a.intersection(&b).is_subset(&b));
        }
    }
}
