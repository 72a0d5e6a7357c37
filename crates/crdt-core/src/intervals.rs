//! Sets of positive integers stored as sorted, disjoint inclusive ranges.
//!
//! This is the per-replica part of a [`crate::CausalContext`]: the counters of
//! one replica that a state has seen. A contiguous history `1..=n` is a single
//! range, and a history with gaps costs one range per gap, so a context is as
//! small as a version vector whenever there is nothing else to say.

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

/// Inclusive range `lo..=hi` with `1 <= lo <= hi`.
pub(crate) type Span = (u64, u64);

/// Sorted, disjoint, non-adjacent spans of positive integers (canonical form:
/// two equal sets have equal representations).
#[derive(Default, PartialEq, Eq, Hash, Debug)]
pub(crate) struct IntervalSet {
    spans: SmallVec<[Span; 1]>,
}

/// The most spans [`IntervalSet::union_owned`] merges into the larger set
/// one at a time (each a binary search and a move of the spans after it);
/// past it, one merge of the two.
const IN_PLACE_SPANS: usize = 8;

impl Clone for IntervalSet {
    /// A copy of the spans (`Copy` pairs): the one inline span as it is,
    /// more in one `memcpy`, where the derived clone pushed them one by one
    /// through an iterator (half of a context join that adopts 34,842
    /// replicas, issue 11).
    fn clone(&self) -> Self {
        let spans = match *self.spans {
            [one] => SmallVec::from_buf([one]),
            ref many => SmallVec::from_slice(many),
        };
        Self { spans }
    }
}

impl IntervalSet {
    /// Whether the spans live on the heap (tests of what a copy allocates).
    #[cfg(test)]
    pub(crate) fn spans_spilled(&self) -> bool {
        self.spans.spilled()
    }

    /// The set `1..=n` (empty for 0).
    pub(crate) fn prefix(n: u64) -> Self {
        let mut s = Self::default();
        if n > 0 {
            s.spans.push((1, n));
        }
        s
    }

    /// The set `lo..=hi` (`1 <= lo <= hi`).
    #[inline]
    pub(crate) fn span(lo: u64, hi: u64) -> Self {
        debug_assert!(1 <= lo && lo <= hi);
        Self {
            spans: SmallVec::from_buf([(lo, hi)]),
        }
    }

    /// The set `{n}` (`n >= 1`).
    #[inline]
    pub(crate) fn single(n: u64) -> Self {
        debug_assert!(n >= 1);
        Self {
            spans: SmallVec::from_buf([(n, n)]),
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub(crate) fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The number of integers in the set (saturating at `u64::MAX`: a set
    /// can hold more than that many counters only in a forged state).
    pub(crate) fn count(&self) -> u64 {
        self.spans.iter().fold(0u64, |n, &(lo, hi)| {
            n.saturating_add((hi - lo).saturating_add(1))
        })
    }

    /// The largest member, 0 if empty.
    #[inline]
    pub(crate) fn max(&self) -> u64 {
        self.spans.last().map_or(0, |s| s.1)
    }

    /// The `n` such that `1..=n` is in the set and `n + 1` is not.
    pub(crate) fn contiguous(&self) -> u64 {
        match self.spans.first() {
            Some(&(1, hi)) => hi,
            _ => 0,
        }
    }

    #[inline]
    pub(crate) fn contains(&self, n: u64) -> bool {
        // Fast path: most lookups hit the first span (the contiguous prefix).
        if let Some(&(lo, hi)) = self.spans.first()
            && lo <= n
            && n <= hi
        {
            return true;
        }
        let i = self.spans.partition_point(|s| s.0 <= n);
        i > 0 && self.spans[i - 1].1 >= n
    }

    /// Adds `n` (`n >= 1`); returns whether it was new.
    #[inline]
    pub(crate) fn insert(&mut self, n: u64) -> bool {
        debug_assert!(n >= 1);
        // Fast path: appending just after (or beyond) the last span.
        match self.spans.last_mut() {
            None => {
                self.spans.push((n, n));
                return true;
            }
            Some(last) if n > last.1 => {
                if n == last.1 + 1 {
                    last.1 = n;
                } else {
                    self.spans.push((n, n));
                }
                return true;
            }
            Some(_) => {}
        }
        if self.contains(n) {
            return false;
        }
        self.insert_span((n, n));
        true
    }

    /// Adds every integer of `span` (assumed `1 <= lo <= hi`).
    pub(crate) fn insert_span(&mut self, span: Span) {
        // Fast paths, no temporary set: the first span, or a span at or past
        // the last one (the next dots minted, a run deleted further on).
        match self.spans.last_mut() {
            None => {
                self.spans.push(span);
                return;
            }
            Some(last) if span.0 >= last.0 => {
                if span.0 <= last.1.saturating_add(1) {
                    last.1 = last.1.max(span.1);
                } else {
                    self.spans.push(span);
                }
                return;
            }
            Some(_) => {}
        }
        if !self.merge_span_in_place(span) {
            let one = Self {
                spans: SmallVec::from_elem(span, 1),
            };
            self.union_with(&one);
        }
    }

    /// Adds every integer of `span` (assumed `1 <= lo <= hi`) without
    /// allocating: the spans it touches become one, or it is inserted where
    /// it belongs if there is room. False (nothing changed) if it touches no
    /// span and the set is at capacity: a large set is not doubled to take
    /// one more span.
    fn merge_span_in_place(&mut self, (lo, hi): Span) -> bool {
        let v = &mut self.spans;
        // The spans that overlap or touch `lo..=hi` are `v[i..j]`.
        let i = v.partition_point(|s| s.1.saturating_add(1) < lo);
        let j = v.partition_point(|s| s.0 <= hi.saturating_add(1));
        if i == j {
            if v.len() == v.capacity() {
                return false;
            }
            v.insert(i, (lo, hi));
        } else {
            v[i] = (v[i].0.min(lo), v[j - 1].1.max(hi));
            v.drain(i + 1..j);
        }
        true
    }

    /// `self := self ∪ other`, consuming `other`: the larger of the two
    /// sets is kept and the smaller merged into it (in place when it has a
    /// few spans, see [`IntervalSet::union_with`]), so that a large
    /// received set joined into a small one (or a few spans into a large
    /// one) is not copied (issue 11: the peak memory of a received
    /// context).
    pub(crate) fn union_owned(&mut self, mut other: Self) {
        if other.spans.len() > self.spans.len() {
            std::mem::swap(&mut self.spans, &mut other.spans);
        }
        // A few spans merge into the larger set in place (see `union_with`).
        self.union_with(&other);
    }

    /// `self := self ∪ other`.
    pub(crate) fn union_with(&mut self, other: &Self) {
        if other.spans.is_empty() || self.spans == other.spans {
            return;
        }
        if self.spans.is_empty() {
            self.spans.clone_from(&other.spans);
            return;
        }
        // Fast path: one span at or past the end (a delta's new dots).
        if let ([(lo, hi)], Some(last)) = (other.spans.as_slice(), self.spans.last_mut())
            && *lo >= last.0
        {
            if *lo <= last.1.saturating_add(1) {
                last.1 = last.1.max(*hi);
            } else {
                self.spans.push((*lo, *hi));
            }
            return;
        }
        // A few spans into a large set (a delta's dots joined into an
        // accumulated delta or a state): each merged where it belongs, not
        // the whole set rebuilt (joining thousands of one-dot deltas one by
        // one was quadratic).
        if other.spans.len() <= IN_PLACE_SPANS && other.spans.len() < self.spans.len() {
            for &span in &other.spans {
                if !self.merge_span_in_place(span) {
                    // Full: room for this span and a sixty-fourth more, so
                    // spans added one by one copy the set rarely, and a
                    // large set is not doubled for one more span.
                    self.spans.reserve_exact(self.spans.len() / 64 + 1);
                    self.merge_span_in_place(span);
                }
            }
            return;
        }
        let mut out: SmallVec<[Span; 1]> =
            SmallVec::with_capacity(self.spans.len() + other.spans.len());
        let (a, b) = (&self.spans, &other.spans);
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let next = if j == b.len() || (i < a.len() && a[i].0 <= b[j].0) {
                i += 1;
                a[i - 1]
            } else {
                j += 1;
                b[j - 1]
            };
            push_merging(&mut out, next);
        }
        self.spans = out;
    }

    /// `self \ other`, allocated at its exact size (a stripped delta is
    /// kept in a buffer: no doubling slack).
    pub(crate) fn difference(&self, other: &Self) -> Self {
        let mut count = 0;
        self.difference_each(other, |_| count += 1);
        let mut out: SmallVec<[Span; 1]> = SmallVec::with_capacity(count);
        self.difference_each(other, |s| out.push(s));
        Self { spans: out }
    }

    /// `self := self \ other`, in place when no span of `self` is split in
    /// two (the usual case: `other` covers whole spans or their ends), so a
    /// large received set is stripped without a second copy.
    ///
    /// Only the spans of `self` that meet `other`'s bounds can change: they
    /// are found by two binary searches and only they are visited, and the
    /// spans after them move down in one block if some were removed (a
    /// received context of 524k one-dot ranges stripped of a local one of a
    /// few thousand dots visited every range twice, issue 11).
    pub(crate) fn subtract(&mut self, other: &Self) {
        let b = &other.spans;
        let (Some(&(first, _)), Some(&(_, last))) = (b.first(), b.last()) else {
            return;
        };
        let from = self.spans.partition_point(|s| s.1 < first);
        let to = from + self.spans[from..].partition_point(|s| s.0 <= last);
        let mut j = 0;
        for &span in &self.spans[from..to] {
            let mut outputs = 0;
            span_minus(span, b, &mut j, &mut |_| outputs += 1);
            if outputs > 1 {
                *self = self.difference(other);
                return;
            }
        }
        // Each span yields at most one, written at or before its own slot.
        let (mut j, mut w) = (0, from);
        for i in from..to {
            let span = self.spans[i];
            let spans = &mut self.spans;
            span_minus(span, b, &mut j, &mut |s| {
                spans[w] = s;
                w += 1;
            });
        }
        if w < to {
            self.spans.drain(w..to);
        }
    }

    /// Calls `emit` on each span of `self \ other`, in order.
    fn difference_each(&self, other: &Self, mut emit: impl FnMut(Span)) {
        let mut j = 0;
        for &span in &self.spans {
            span_minus(span, &other.spans, &mut j, &mut emit);
        }
    }

    /// `self ∩ other`.
    /// The spans that overlap `lo..=hi` (not clipped), found by a binary
    /// search.
    pub(crate) fn spans_within(&self, lo: u64, hi: u64) -> impl Iterator<Item = &Span> {
        overlapping(&self.spans, lo, hi)
    }

    pub(crate) fn intersection(&self, other: &Self) -> Self {
        let mut out: SmallVec<[Span; 1]> = SmallVec::new();
        if let Some((small, big)) = lopsided(&self.spans, &other.spans) {
            // A few spans against many (a delta's dots against a state's):
            // each looked up, not a walk of the big side.
            for &(lo, hi) in small {
                out.extend(overlapping(big, lo, hi).map(|&(l, h)| (l.max(lo), h.min(hi))));
            }
            return Self { spans: out };
        }
        let (a, b) = (&self.spans, &other.spans);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let lo = a[i].0.max(b[j].0);
            let hi = a[i].1.min(b[j].1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Self { spans: out }
    }

    /// Whether the two sets share no member.
    pub(crate) fn is_disjoint(&self, other: &Self) -> bool {
        if let Some((small, big)) = lopsided(&self.spans, &other.spans) {
            return small
                .iter()
                .all(|&(lo, hi)| overlapping(big, lo, hi).next().is_none());
        }
        let (a, b) = (&self.spans, &other.spans);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if a[i].0.max(b[j].0) <= a[i].1.min(b[j].1) {
                return false;
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        true
    }

    /// Whether every member of `self` is in `other`.
    pub(crate) fn is_subset(&self, other: &Self) -> bool {
        let b = &other.spans;
        // A few spans against many (a delta's dots against a state's
        // context with many gaps): each found by a binary search, not by a
        // walk of the spans before it (joining thousands of one-dot deltas
        // in a shuffled order walked the context's gaps at each join).
        let search = self.spans.len().saturating_mul(16) < b.len();
        let mut j = 0;
        self.spans.iter().all(|&(lo, hi)| {
            if search {
                j += b[j..].partition_point(|s| s.1 < lo);
            } else {
                while j < b.len() && b[j].1 < lo {
                    j += 1;
                }
            }
            j < b.len() && b[j].0 <= lo && hi <= b[j].1
        })
    }

    /// The members in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.spans.iter().flat_map(|&(lo, hi)| lo..=hi)
    }

    /// Builds the set from strictly increasing members.
    pub(crate) fn from_sorted(members: impl IntoIterator<Item = u64>) -> Self {
        let mut out: SmallVec<[Span; 1]> = SmallVec::new();
        for n in members {
            push_merging(&mut out, (n, n));
        }
        Self { spans: out }
    }
}

/// Calls `emit` on each span of `span \ b`, in order; `j` is the first
/// span of `b` that may meet `span` (spans of `self` passed in increasing
/// order move it forward only).
fn span_minus(span: Span, b: &[Span], j: &mut usize, emit: &mut impl FnMut(Span)) {
    let (first, hi) = span;
    // Skip spans of `b` wholly before this one.
    while *j < b.len() && b[*j].1 < first {
        *j += 1;
    }
    let mut lo = first;
    let mut k = *j;
    while k < b.len() && b[k].0 <= hi {
        if b[k].0 > lo {
            emit((lo, b[k].0 - 1));
        }
        if b[k].1 >= hi {
            return;
        }
        lo = b[k].1 + 1; // b[k].1 < hi, so no overflow and lo <= hi
        k += 1;
    }
    emit((lo, hi));
}

/// Appends `span` to sorted `out`, merging it with the last span when they
/// overlap or touch. `span.0` must not be below the last span's start.
fn push_merging(out: &mut SmallVec<[Span; 1]>, span: Span) {
    if let Some(last) = out.last_mut()
        && span.0 <= last.1.saturating_add(1)
    {
        last.1 = last.1.max(span.1);
        return;
    }
    out.push(span);
}

/// On the wire each span is `(gap, extra)`: `gap` counters skipped since the
/// previous span's end (0 before the first), and `extra` counters after the
/// span's first one. Small numbers become one-byte varints, so `1..=100000`
/// costs a few bytes.
///
/// In a human-readable format each span is `[lo, hi]`, both inclusive.
impl Serialize for IntervalSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let readable = serializer.is_human_readable();
        let mut seq = serializer.serialize_seq(Some(self.spans.len()))?;
        let mut prev_end = 0u64;
        for &(lo, hi) in &self.spans {
            if readable {
                seq.serialize_element(&(lo, hi))?;
            } else {
                seq.serialize_element(&(lo - prev_end - 1, hi - lo))?;
            }
            prev_end = hi;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for IntervalSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Whether the format is human-readable (absolute ranges).
        struct SpansVisitor(bool);
        impl<'de> Visitor<'de> for SpansVisitor {
            type Value = IntervalSet;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(if self.0 {
                    "a sequence of [lo, hi] counter ranges"
                } else {
                    "a sequence of (gap, extra) counter spans"
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IntervalSet, A::Error> {
                let mut spans: SmallVec<[Span; 1]> =
                    SmallVec::with_capacity(crate::sorted::capacity_for::<Span>(seq.size_hint()));
                let mut prev_end = 0u64;
                if self.0 {
                    // Readable: absolute `[lo, hi]`, sorted, apart, non-adjacent.
                    while let Some((lo, hi)) = seq.next_element::<(u64, u64)>()? {
                        let after = if spans.is_empty() {
                            1
                        } else {
                            prev_end
                                .checked_add(2)
                                .ok_or_else(|| A::Error::custom("counter span overflows u64"))?
                        };
                        if lo < after || hi < lo {
                            return Err(A::Error::custom(
                                "counter ranges must be [lo, hi] with 1 <= lo <= hi, sorted, apart and not adjacent",
                            ));
                        }
                        spans.push((lo, hi));
                        prev_end = hi;
                    }
                    return Ok(IntervalSet { spans });
                }
                while let Some((gap, extra)) = seq.next_element::<(u64, u64)>()? {
                    if !spans.is_empty() && gap == 0 {
                        return Err(A::Error::custom("adjacent counter spans are not canonical"));
                    }
                    let lo = prev_end
                        .checked_add(gap)
                        .and_then(|x| x.checked_add(1))
                        .ok_or_else(|| A::Error::custom("counter span overflows u64"))?;
                    let hi = lo
                        .checked_add(extra)
                        .ok_or_else(|| A::Error::custom("counter span overflows u64"))?;
                    if !spans.is_empty() && prev_end == u64::MAX {
                        return Err(A::Error::custom("counter span overflows u64"));
                    }
                    spans.push((lo, hi));
                    prev_end = hi;
                }
                Ok(IntervalSet { spans })
            }
        }
        let readable = deserializer.is_human_readable();
        deserializer.deserialize_seq(SpansVisitor(readable))
    }
}

/// The smaller and the bigger of two span lists when one has at least 16
/// times the other's spans: then looking each small span up in the big one
/// beats a walk of both.
fn lopsided<'a>(a: &'a [Span], b: &'a [Span]) -> Option<(&'a [Span], &'a [Span])> {
    let (small, big) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    (small.len().saturating_mul(16) < big.len()).then_some((small, big))
}

/// The spans of `spans` (sorted, disjoint) that overlap `lo..=hi`, found by
/// a binary search.
fn overlapping(spans: &[Span], lo: u64, hi: u64) -> impl Iterator<Item = &Span> {
    let first = spans.partition_point(|&(_, h)| h < lo);
    spans[first..].iter().take_while(move |&&(l, _)| l <= hi)
}

#[cfg(test)]
mod tests;
