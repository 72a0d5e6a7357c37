//! `Causal<S>`: a dot store with its causal context, and the one causal join.

use std::fmt;
use std::marker::PhantomData;

use smallvec::SmallVec;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::DotStore;
use super::dot_bits::{DotBits, SortedDots};
use super::wire::{Interned, InternedDeserialize, InternedSerialize, Seed};
use crate::context::Cursor;
use crate::{CausalContext, Decompose, Dot, DotReuse, InvalidState, Lattice, ReplicaId};

/// A causal state: a store of live dots plus the context of every dot seen.
///
/// This is the lattice every causal CRDT is a newtype over. Its join is the
/// one causal join of the kernel (see [`DotStore::merge`]):
///
/// `(s, c) ⊔ (s', c') = ((s ∩ s') ∪ (s \ c') ∪ (s' \ c), c ∪ c')`
///
/// in words: keep what both hold, and what one holds that the other has not
/// seen; a dot one side has seen but no longer holds was removed, and stays
/// removed. Removal therefore needs no tombstone: a remove is a delta with an
/// empty store and the removed dots in its context.
///
/// Invariant: every dot in the store is in the context. Joins keep it;
/// [`Causal::validate`] checks it (deserialization runs it, so a state decoded
/// from a peer that breaks it is an error, never a corrupt local state).
///
/// ```
/// use crdt_core::{Causal, DotSet, Lattice, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x: Causal<DotSet> = Causal::new();
/// let mut y = x.clone();
/// for (s, r) in [(&mut x, a), (&mut y, b)] {
///     let dot = s.next_dot(r);
///     let (store, ctx) = s.parts_mut();
///     ctx.insert(dot);
///     store.insert(dot);
/// }
/// // y ships to x only what x lacks.
/// let delta = y.delta_for(x.context());
/// let mut via_delta = x.clone();
/// via_delta.join(&delta);
/// x.join(&y);
/// assert_eq!(via_delta, x);
/// assert_eq!(x.store().len(), 2);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct Causal<S> {
    store: S,
    context: CausalContext,
}

impl<S: DotStore> Causal<S> {
    /// The bottom state: nothing held, nothing seen.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A state from its parts, checked with [`Causal::validate`].
    pub fn from_parts(store: S, context: CausalContext) -> Result<Self, InvalidState> {
        let state = Self { store, context };
        state.validate()?;
        Ok(state)
    }

    /// A state from parts the caller knows to be valid (every dot of
    /// `store` in `context`).
    pub(super) fn from_parts_unchecked(store: S, context: CausalContext) -> Self {
        Self { store, context }
    }

    /// The live dots.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The dots seen.
    #[must_use]
    pub fn context(&self) -> &CausalContext {
        &self.context
    }

    /// Both halves, mutable, for implementing mutators.
    ///
    /// The caller keeps the invariant: a dot put in the store must be in the
    /// context (insert it there, after minting it with
    /// [`Causal::next_dot`]); removing dots from the store while keeping them
    /// in the context is how a remove is expressed.
    pub fn parts_mut(&mut self) -> (&mut S, &mut CausalContext) {
        (&mut self.store, &mut self.context)
    }

    /// The two halves, by value.
    #[must_use]
    pub fn into_parts(self) -> (S, CausalContext) {
        (self.store, self.context)
    }

    /// The next dot `replica` may mint (see [`CausalContext::next_dot`]).
    #[must_use]
    pub fn next_dot(&self, replica: ReplicaId) -> Dot {
        self.context.next_dot(replica)
    }

    /// Checks the invariants of a state received from elsewhere: every dot in
    /// the store is in the context, no dot is held twice, and the store is in
    /// canonical form (sorted, no empty entries).
    ///
    /// One walk of the store, the context walked alongside while the dots
    /// come in increasing order (sets, registers, maps whose keys follow
    /// their dots): then nothing is allocated and no dot can repeat. From
    /// the first dot out of order on, the dots are recorded, the increasing
    /// prefix first. Under a context of at most 1,024 ranges and at most 64
    /// dots per dot of the store, each dot is marked in a bitmap of the
    /// context (`DotBits`), where a bit already set is a repeat. Otherwise
    /// the dots are collected as
    /// (replica index, counter) keys, 16 bytes each, sorted, and checked in
    /// one walk of the context's ranges in step (`SortedDots`):
    /// `O(n log n)`, with no search of the context per dot.
    pub fn validate(&self) -> Result<(), InvalidState> {
        let ctx = &self.context;
        let mut at = Cursor::default();
        let mut last: Option<Dot> = None;
        // The dots before the first one out of order, and those from it on.
        let mut prefix = 0usize;
        let mut rest = Repeats::None;
        self.store.check_each_dot(&mut |dot| {
            if matches!(rest, Repeats::None) && last.is_none_or(|l| l < dot) {
                last = Some(dot);
                prefix += 1;
                return if ctx.contains_from(&mut at, dot) {
                    Ok(())
                } else {
                    Err(InvalidState::DotOutsideContext(dot))
                };
            }
            if matches!(rest, Repeats::None) {
                rest = self.repeats_from(prefix);
            }
            rest.add(ctx, dot)
        })?;
        match rest {
            Repeats::None | Repeats::Marked(_) => Ok(()),
            Repeats::Sorted(dots) => dots.check(ctx),
        }
    }

    /// The record of the first `prefix` dots of the store (increasing, and
    /// in the context), for finding repeats among the dots out of order.
    fn repeats_from(&self, prefix: usize) -> Repeats {
        let few_ranges = self.context.ranges().nth(MAX_MARKED_RANGES).is_none();
        let bits = few_ranges
            .then(|| DotBits::for_store(&self.context, &self.store))
            .flatten();
        let mut rest = match bits {
            Some(bits) => Repeats::Marked(bits),
            None => {
                let held = usize::try_from(self.store.dot_count()).unwrap_or(0);
                Repeats::Sorted(SortedDots::with_capacity(held))
            }
        };
        let mut seen = 0;
        let _stopped = self.store.try_each_dot(&mut |dot| {
            if seen == prefix {
                return Err(());
            }
            seen += 1;
            rest.add(&self.context, dot).map_err(|_| ())
        });
        rest
    }

    /// Joins `other` unless the two states carry the same dot with different
    /// payloads (a reused replica id); then nothing changes and the clashing
    /// dot is returned.
    pub fn checked_join(&mut self, other: &Self) -> Result<(), DotReuse> {
        let overlap = self.context.intersection(&other.context);
        if let Some(dot) = self.store.conflict(&other.store, &overlap) {
            return Err(DotReuse { dot });
        }
        self.join_with_overlap(other, &overlap);
        Ok(())
    }

    /// Exactly what a peer whose context is `peer` lacks: `peer_state ⊔
    /// self.delta_for(peer_state.context()) == peer_state ⊔ self` for every
    /// state with that context.
    ///
    /// The result holds the live dots the peer has not seen, and in its
    /// context the dots the peer has not seen plus the dots the peer has seen
    /// that `self` has removed (so removals reach a peer that may still hold
    /// them). When nothing was removed that the peer knows of, this is as
    /// small as the new dots alone.
    ///
    /// Cost: the live dots the peer lacks are found by
    /// [`DotStore::filtered_from`] from the smallest counter the peer
    /// lacks, so a map visits only the chunks of keys holding dots at least
    /// that new (the few written since, when the peer lacks the newest
    /// dots; all of them when it lacks an old dot). Whether some dot the
    /// peer has seen was removed here is told by counting
    /// ([`DotStore::dot_count`]): every live dot is in the context, so the
    /// live dots the peer has seen are those not sent, and if they are as
    /// many as the dots the peer has seen, none was removed. Only then is
    /// the answer found without a walk of the store: `O(replicas × ranges)`
    /// when the peer lacks nothing. A state with removals the peer has seen
    /// walks the store once to name them (they are in the answer).
    #[must_use]
    pub fn delta_for(&self, peer: &CausalContext) -> Self {
        let unseen = self.context.difference(peer);
        let store = if unseen.is_empty() {
            S::default() // the peer has seen every dot we have
        } else {
            let from = unseen.min_counter();
            self.store.filtered_from(from, &mut |d| !peer.contains(d))
        };
        let total = self.context.len();
        // `len` saturates only for a forged context: then count nothing.
        if total < u64::MAX {
            let seen_by_peer = total - unseen.len();
            let held_seen = self.store.dot_count().checked_sub(store.dot_count());
            if held_seen == Some(seen_by_peer) {
                return Self {
                    store,
                    context: unseen, // no removal the peer has seen
                };
            }
        }
        let shared = self.context.intersection(peer);
        let removed = removed_within(&self.store, &shared);
        let context = if removed.is_empty() {
            unseen
        } else {
            // `unseen ∪ removed`, built at its size in one pass (joining into
            // `unseen` would copy it): `removed` lies in `self.context`.
            self.context.difference(&peer.difference(&removed))
        };
        Self { store, context }
    }

    /// Two states, each with about half of the dots, whose join is `self`;
    /// `None` when the context has at most one dot (an irreducible state).
    ///
    /// The cut is a dot `m`: the first half has the dots before `m` (store
    /// and context), the second the rest. `m` is the median live dot when the
    /// store holds two or more, otherwise the median dot of the context, so
    /// each half is a valid state and both are strictly smaller. One call
    /// costs `O(n)` in the store; halving down to pieces of a given size costs
    /// `O(n log n)`. The sync engine splits a payload over the message limit
    /// with this.
    ///
    /// ```
    /// use crdt_core::{Causal, DotSet, Lattice, ReplicaId};
    /// let a = ReplicaId::from_u128(1);
    /// let mut x: Causal<DotSet> = Causal::new();
    /// for _ in 0..10 {
    ///     let dot = x.next_dot(a);
    ///     let (store, ctx) = x.parts_mut();
    ///     ctx.insert(dot);
    ///     store.insert(dot);
    /// }
    /// let (left, right) = x.split().unwrap();
    /// assert_eq!((left.store().len(), right.store().len()), (5, 5));
    /// assert_eq!(left.joined(&right), x);
    /// ```
    #[must_use]
    pub fn split(&self) -> Option<(Self, Self)> {
        let total = self.context.len();
        if total <= 1 {
            return None;
        }
        let mut held: Vec<Dot> = self.store.dots().collect();
        let cut = if held.len() >= 2 {
            let mid = held.len() / 2;
            *held.select_nth_unstable(mid).1
        } else {
            nth_dot(&self.context, total / 2)?
        };
        let mut before = CausalContext::new();
        let mut after = CausalContext::new();
        for (replica, lo, hi) in self.context.ranges() {
            let (lo_dot, hi_dot) = (Dot::new(replica, lo)?, Dot::new(replica, hi)?);
            if hi_dot < cut {
                before.insert_range(replica, lo, hi);
            } else if lo_dot >= cut {
                after.insert_range(replica, lo, hi);
            } else {
                // The cut falls inside this range (same replica).
                before.insert_range(replica, lo, cut.counter() - 1);
                after.insert_range(replica, cut.counter(), hi);
            }
        }
        let left = Self {
            store: self.store.filtered(&mut |d| d < cut),
            context: before,
        };
        let right = Self {
            store: self.store.filtered(&mut |d| d >= cut),
            context: after,
        };
        Some((left, right))
    }

    fn join_with_overlap(&mut self, other: &Self, overlap: &CausalContext) {
        self.store.merge(&self.context, &other.store, overlap);
        self.context.join(&other.context);
    }
}

impl<S: DotStore> Lattice for Causal<S> {
    fn join(&mut self, other: &Self) {
        let overlap = self.context.intersection(&other.context);
        self.join_with_overlap(other, &overlap);
    }

    /// The join consuming `other`: into bottom it is taken whole (nothing
    /// copied); otherwise the stores merge by [`DotStore::merge_owned`]
    /// (what is adopted of `other`'s store is moved in) and `other`'s
    /// context is moved in rather than copied (issue 11).
    fn join_owned(&mut self, other: Self) {
        if self.is_bottom() {
            // A valid bottom state holds nothing: its store lies in its
            // empty context.
            *self = other;
            return;
        }
        let overlap = self.context.intersection(&other.context);
        self.store.merge_owned(&self.context, other.store, &overlap);
        self.context.join_owned(other.context);
    }

    /// `self ≤ other` iff `other` has seen every dot of `self`, holds every
    /// dot `self` holds (with the same payload), and holds no dot that `self`
    /// has seen removed.
    fn leq(&self, other: &Self) -> bool {
        self.context.is_subset(&other.context) && other.clone().joined(self) == *other
    }

    fn is_bottom(&self) -> bool {
        self.context.is_empty()
    }
}

impl<S: DotStore> Decompose for Causal<S> {
    /// One state per live dot (that dot with its payload and a context of
    /// just that dot) and one per removed dot (empty store, context of that
    /// dot), in dot order. Built by halving with [`Causal::split`]:
    /// `O(n log n)` in the number of dots.
    fn decompose(&self) -> Vec<Self> {
        let mut parts = Vec::new();
        let mut pending = vec![self.clone()];
        while let Some(piece) = pending.pop() {
            match piece.split() {
                Some((left, right)) => {
                    pending.push(right);
                    pending.push(left);
                }
                None if !piece.is_bottom() => parts.push(piece),
                None => {}
            }
        }
        parts
    }

    /// The parts of `self` not below `known`: the live dots `known` has not
    /// seen, and the removals of dots `known` still holds.
    fn delta_from(&self, known: &Self) -> Self {
        let store = self.store.filtered(&mut |d| !known.context.contains(d));
        let still_there = self.still_held_by(known);
        // `(self \ known) ∪ still_there`, built at its size in one pass
        // (joining into the difference would copy it): `still_there` lies in
        // `self.context`.
        let context = if still_there.is_empty() {
            self.context.difference(&known.context)
        } else {
            self.context
                .difference(&known.context.difference(&still_there))
        };
        Self { store, context }
    }

    /// `self` itself when `known` has seen none of its dots (a delta of new
    /// writes, or anything sent to an empty replica); a copy otherwise.
    fn into_delta_from(mut self, known: &Self) -> Self {
        if self.context.is_disjoint(&known.context) {
            return self;
        }
        let still_there = self.still_held_by(known);
        self.store.retain_dots(&mut |d| !known.context.contains(d));
        if still_there.is_empty() {
            self.context.subtract(&known.context);
        } else {
            self.context
                .subtract(&known.context.difference(&still_there));
        }
        self
    }
}

impl<S: DotStore> Causal<S> {
    /// The dots `self` has removed that `known` still holds (usually every
    /// one of them, told without a copy: see [`held_within`]).
    ///
    /// When `known` holds as many dots as it has seen, it has removed none
    /// and holds every dot of its context, so every one of the removals
    /// (which lie in it): told by counting, without the walk of
    /// [`held_within`] (a removal of a whole state received by a replica
    /// that never removed anything walked it twice, issue 11).
    fn still_held_by(&self, known: &Self) -> CausalContext {
        let shared = self.context.intersection(&known.context);
        if shared.is_empty() {
            return CausalContext::new();
        }
        let removed_here = removed_within(&self.store, &shared);
        if removed_here.is_empty() {
            return CausalContext::new();
        }
        // `len` saturates only for a forged context: then count nothing.
        let seen = known.context.len();
        if seen < u64::MAX && known.store.dot_count() == seen {
            return removed_here;
        }
        held_within(&known.store, &removed_here).unwrap_or(removed_here)
    }
}

/// The dot at index `n` (from 0) of `context` in dot order.
fn nth_dot(context: &CausalContext, mut n: u64) -> Option<Dot> {
    for (replica, lo, hi) in context.ranges() {
        let len = hi - lo + 1;
        if n < len {
            return Dot::new(replica, lo + n);
        }
        n -= len;
    }
    None
}

/// The most ranges of a context under which [`Causal::validate`] marks
/// the dots met out of order in a bitmap: a search of up to 1,024 ranges
/// per dot stays in the cache; past that, sorting the dots is cheaper.
const MAX_MARKED_RANGES: usize = 1024;

/// What [`Causal::validate`] keeps of the dots met out of order.
enum Repeats {
    /// Every dot so far was increasing.
    None,
    /// A bit per dot of the context, set for each dot met.
    Marked(DotBits),
    /// The dots met, sorted and checked at the end.
    Sorted(SortedDots),
}

impl Repeats {
    /// Records `dot`: an error if `ctx` does not hold it, or (marked) if it
    /// was met before.
    fn add(&mut self, ctx: &CausalContext, dot: Dot) -> Result<(), InvalidState> {
        match self {
            Self::None => Ok(()),
            Self::Marked(bits) => match bits.mark(dot) {
                Some(true) => Ok(()),
                Some(false) => Err(InvalidState::DuplicateDot(dot)),
                None => Err(InvalidState::DotOutsideContext(dot)),
            },
            Self::Sorted(dots) => dots.add(ctx, dot),
        }
    }
}

/// The dots of `seen` that `store` does not hold (the removals among them).
///
/// One walk of the store marking the held dots of `seen` in a bitmap (a
/// bit per dot of `seen`, searched by range), then the unmarked dots,
/// gathered into ranges as they come: no sort, and nothing allocated
/// beyond the bitmap and the ranges of the answer. A `seen` of more than 64
/// dots per dot held (wide ranges: a bitmap would not be bounded by the
/// store) is handled by counting the held dots, and only if some is missing
/// by collecting and sorting them.
fn removed_within<S: DotStore>(store: &S, seen: &CausalContext) -> CausalContext {
    if seen.is_empty() {
        return CausalContext::new();
    }
    if store.is_bottom() {
        return seen.clone(); // a removal delta: no bitmap of what it removes
    }
    if let Some(mut held) = DotBits::for_store(seen, store) {
        store
            .try_each_dot(&mut |d: Dot| {
                let _ = held.mark(d);
                Ok::<(), ()>(())
            })
            .ok();
        // In dot order: each extends the last range or starts one, so the
        // removals are kept as ranges, never as a list of dots.
        let mut removed = CausalContext::new();
        for d in held.unmarked() {
            removed.insert_range(d.replica, d.counter(), d.counter());
        }
        return removed;
    }
    match held_within(store, seen) {
        None => CausalContext::new(),
        Some(held) => seen.difference(&held),
    }
}

/// The dots of `seen` that `store` holds: `None` when it holds every one.
///
/// That common answer is told by counting, one walk of the store with
/// nothing collected (a removal of a whole state costs no copy of its
/// dots); only when some dot of `seen` is missing are the held ones
/// collected, in a second walk. A store that can look the dots up
/// ([`DotStore::held_of`]: a map with a dot index, few dots) answers
/// without either walk.
fn held_within<S: DotStore>(store: &S, seen: &CausalContext) -> Option<CausalContext> {
    if let Some(held) = store.held_of(seen) {
        // Looked up (a map's dot index): no walk.
        return (held.len() < seen.len()).then_some(held);
    }
    let mut held = 0u64;
    let _ = store.try_each_dot(&mut |d| {
        held += u64::from(seen.contains(d));
        Ok::<(), ()>(())
    });
    // `len` saturates only for a forged context, which no store fills.
    if held == seen.len() {
        return None;
    }
    Some(store.dots().filter(|d| seen.contains(*d)).collect())
}

/// Encoded as `(context, store)`, the store's dots written as indices into
/// the context's replicas (see [`InternedSerialize`]). In a human-readable
/// format, a struct `{"context": {replica: [[lo, hi], ...]}, "store": ...}`
/// with replica ids as UUID strings and each dot as `[replica, counter]`:
///
/// ```text
/// {"context":{"00000000-0000-0000-0000-000000000001":[[1,2]]},
///  "store":[["stove",[["00000000-0000-0000-0000-000000000001",2]]]]}
/// ```
impl<S: InternedSerialize> Serialize for Causal<S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let replicas: SmallVec<[ReplicaId; 4]> = self.context.replicas().collect();
        if serializer.is_human_readable() {
            use serde::ser::SerializeStruct;
            let mut t = serializer.serialize_struct("Causal", 2)?;
            t.serialize_field("context", &self.context)?;
            t.serialize_field("store", &Interned(&self.store, &replicas))?;
            return t.end();
        }
        let mut t = serializer.serialize_tuple(2)?;
        t.serialize_element(&self.context)?;
        t.serialize_element(&Interned(&self.store, &replicas))?;
        t.end()
    }
}

impl<'de, S: InternedDeserialize> Deserialize<'de> for Causal<S> {
    /// Decodes and then runs [`Causal::validate`]; an invalid state is an error.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<S>(PhantomData<fn() -> S>);
        impl<'de, S: InternedDeserialize> Visitor<'de> for V<S> {
            type Value = Causal<S>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a causal state (context, store)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Causal<S>, A::Error> {
                let context: CausalContext = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let replicas: SmallVec<[ReplicaId; 4]> = context.replicas().collect();
                let store = seq
                    .next_element_seed(Seed::<S>(&replicas, PhantomData))?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                Causal::from_parts(store, context).map_err(A::Error::custom)
            }
            /// The readable form: `context` first, then `store`.
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Causal<S>, A::Error> {
                let order = "a causal state has the fields `context` then `store`";
                if map.next_key::<String>()?.as_deref() != Some("context") {
                    return Err(A::Error::custom(order));
                }
                let context: CausalContext = map.next_value()?;
                if map.next_key::<String>()?.as_deref() != Some("store") {
                    return Err(A::Error::custom(order));
                }
                let replicas: SmallVec<[ReplicaId; 4]> = context.replicas().collect();
                let store = map.next_value_seed(Seed::<S>(&replicas, PhantomData))?;
                if map.next_key::<String>()?.is_some() {
                    return Err(A::Error::custom(order));
                }
                Causal::from_parts(store, context).map_err(A::Error::custom)
            }
        }
        if deserializer.is_human_readable() {
            return deserializer.deserialize_struct(
                "Causal",
                &["context", "store"],
                V(PhantomData),
            );
        }
        deserializer.deserialize_tuple(2, V(PhantomData))
    }
}
