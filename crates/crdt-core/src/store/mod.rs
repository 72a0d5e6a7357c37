//! The dot-store kernel: the stores causal types are built from.
//!
//! A dot store holds the dots (events) that are still *live* in a state; it
//! is always paired with a [`CausalContext`] of every dot the state has seen,
//! in [`Causal`]. The one causal join is defined once, generically, by
//! [`DotStore::merge`]:
//!
//! * a dot both sides hold stays (with the join of its payloads);
//! * a dot one side holds stays only if the other side has not seen it
//!   (if the other side has seen it and does not hold it, it was removed).
//!
//! Every causal type in `crdt-types` is a newtype over [`Causal`] with one of
//! these stores, so none of them writes its own causal join.

use std::fmt::Debug;

use smallvec::SmallVec;

use crate::{CausalContext, Dot, InvalidState};

mod causal;
mod dot_bits;
mod dot_fun;
mod dot_map;
mod dot_set;
mod fingerprint;
#[cfg(test)]
mod index_tests;
mod int_key;
mod packed;
mod sorted_map;
mod theirs;
mod wire;

pub use causal::Causal;
pub use dot_fun::DotFun;
pub use dot_map::DotMap;
pub use dot_set::DotSet;
pub use fingerprint::{Fingerprint, content_hash};
pub use packed::{StoreEncoding, with_store_encoding};
pub use wire::{InternedDeserialize, InternedSerialize};

/// A store of live dots, the store half of a [`Causal`] state.
///
/// Implemented by [`DotSet`], [`DotFun`] and [`DotMap`], and by any store a
/// user composes from them. The methods take the contexts of both sides,
/// because what a store keeps in a join depends on what each side has seen.
pub trait DotStore: Clone + Default + PartialEq + Debug {
    /// Whether the store holds no dot (the bottom store).
    fn is_bottom(&self) -> bool;

    /// Every dot held, each once.
    fn dots(&self) -> impl Iterator<Item = Dot> + '_;

    /// The number of dots held. The kernel's stores answer in `O(1)` (a map
    /// keeps the count of its nested dots), which lets
    /// [`Causal::delta_for`] see that nothing was removed without a walk;
    /// the default counts [`DotStore::dots`].
    fn dot_count(&self) -> u64 {
        self.dots().count() as u64
    }

    /// An upper bound of the counters of the dots held (0 for none): the
    /// greatest counter for sets and functions, a bound kept by maps that a
    /// removal does not lower (see [`DotStore::filtered_from`]).
    fn counter_bound(&self) -> u64 {
        self.dots().map(Dot::counter).max().unwrap_or(0)
    }

    /// [`DotStore::dot_count`] and [`DotStore::counter_bound`] together.
    /// A map that keeps no summary (a small one) answers both from one walk
    /// of its entries; asked for each apart, every level of nesting would
    /// walk the levels below it twice.
    fn count_and_bound(&self) -> (u64, u64) {
        (self.dot_count(), self.counter_bound())
    }

    /// [`DotStore::filtered`] for a `keep` that is false for every dot whose
    /// counter is below `from`: a store may skip, without calling `keep`,
    /// the entries whose [`DotStore::counter_bound`] is below `from`. Maps
    /// skip whole chunks so, which makes the answer to a peer that lacks
    /// only the newest dots proportional to them. The default filters all.
    #[must_use]
    fn filtered_from<F: FnMut(Dot) -> bool>(&self, from: u64, keep: &mut F) -> Self {
        let _ = from;
        self.filtered(keep)
    }

    /// Calls `f` on every dot held, in the order of [`DotStore::dots`],
    /// until it fails. The same walk as `dots()` without nested iterators:
    /// maps of maps override it with plain loops (validating a deeply
    /// nested payload spent most of its time in nested `flat_map`s).
    fn try_each_dot<E>(&self, f: &mut impl FnMut(Dot) -> Result<(), E>) -> Result<(), E> {
        self.dots().try_for_each(f)
    }

    /// [`DotStore::check`] and then [`DotStore::try_each_dot`], in one walk
    /// where the store nests others (what validation does; a walk of a
    /// large nested store is bound by its cache misses).
    fn check_each_dot(
        &self,
        f: &mut impl FnMut(Dot) -> Result<(), InvalidState>,
    ) -> Result<(), InvalidState> {
        self.check()?;
        self.try_each_dot(f)
    }

    /// The store half of the causal join: `self := (self, ctx) ⊔ (other,
    /// other_ctx)`, where `overlap` is `ctx ∩ other_ctx`, computed once per
    /// join by [`Causal`]. Each side's dots lie in its own context, so a
    /// dot held on one side only was seen by the other exactly when
    /// `overlap` holds it: the merge needs no other view of `other_ctx`.
    /// `ctx` (every dot `self` may hold) bounds the dot index of large maps.
    fn merge(&mut self, ctx: &CausalContext, other: &Self, overlap: &CausalContext);

    /// Whether the store nests other stores, as [`DotMap`] does. A map
    /// whose values nest moves them in [`DotStore::merge_owned`]; a map of
    /// leaf stores (sets, functions) merges by reference, as copying a leaf
    /// costs less than moving it out of a map that is freed entry by entry.
    const NESTS: bool = false;

    /// [`DotStore::merge`] with `other` given by value, for a caller that
    /// has no further use for it ([`Causal`]'s `join_owned`): what `self`
    /// adopts of `other` may be moved in rather than copied. [`DotMap`]
    /// moves the nested stores of the keys only `other` holds when they
    /// nest ([`DotStore::NESTS`]); the default merges by reference.
    fn merge_owned(&mut self, ctx: &CausalContext, other: Self, overlap: &CausalContext) {
        self.merge(ctx, &other, overlap);
    }

    /// Keeps only the dots for which `keep` returns true; entries left empty
    /// are removed.
    fn retain_dots<F: FnMut(Dot) -> bool>(&mut self, keep: &mut F);

    /// A copy that holds only the dots for which `keep` returns true
    /// (cheaper than cloning and then retaining).
    #[must_use]
    fn filtered<F: FnMut(Dot) -> bool>(&self, keep: &mut F) -> Self;

    /// The first dot that both stores hold with different payloads, looking
    /// only at dots in `overlap` (both contexts' common dots). See
    /// [`crate::DotReuse`].
    fn conflict(&self, other: &Self, overlap: &CausalContext) -> Option<Dot>;

    /// Structural invariants other than context membership: canonical order,
    /// no empty entries inside maps. Called by [`Causal::validate`].
    fn check(&self) -> Result<(), InvalidState>;

    /// The dots of `dots` this store holds, when it can tell without a walk
    /// of its dots; `None` when it cannot (the default). A map of light
    /// values answers through its dot index, when it has one and `dots`
    /// are few against it: what a received remove costs to strip of the
    /// dots already removed here ([`crate::Decompose::into_delta_from`],
    /// which the sync engine calls on every received delta), in lookups
    /// rather than a walk of the state (issue 14).
    fn held_of(&self, dots: &CausalContext) -> Option<CausalContext> {
        let _ = dots;
        None
    }
}

impl<S: DotStore> sorted_map::Summary for S {
    fn weight(&self) -> u64 {
        self.dot_count()
    }

    fn top(&self) -> u64 {
        self.counter_bound()
    }

    fn summary(&self) -> (u64, u64) {
        self.count_and_bound()
    }

    fn each_dot(&self, f: &mut impl FnMut(Dot)) {
        self.dots().for_each(f);
    }

    fn holds(&self, dot: Dot) -> bool {
        self.dots().any(|d| d == dot)
    }
}

/// The causal merge of two dot-sorted lists, shared by [`DotSet`] and
/// [`DotFun`]: an entry on both sides is combined with `both`; an entry on
/// one side survives unless the other side's context has seen its dot.
///
/// Each side's dots lie in its own context (the store invariant), so the
/// other side has seen a dot of one side exactly when `overlap` (the two
/// contexts' intersection) holds it: the lookups go to `overlap`, which
/// names at most the replicas both sides know, not to a context that may
/// name thousands (issue 11: a delta of one element per replica id made
/// every merged entry a binary search over all of them).
pub(crate) fn merge_by_dot<T: Clone, const N: usize>(
    mine: &[T],
    theirs: &[T],
    overlap: &CausalContext,
    dot: impl Fn(&T) -> Dot,
    both: impl Fn(&T, &T) -> T,
) -> SmallVec<[T; N]>
where
    [T; N]: smallvec::Array<Item = T>,
{
    let mut out = SmallVec::with_capacity(mine.len().max(theirs.len()));
    let (mut i, mut j) = (0, 0);
    while i < mine.len() || j < theirs.len() {
        let order = match (mine.get(i), theirs.get(j)) {
            (Some(a), Some(b)) => dot(a).cmp(&dot(b)),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                if !overlap.contains(dot(&mine[i])) {
                    out.push(mine[i].clone());
                }
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                if !overlap.contains(dot(&theirs[j])) {
                    out.push(theirs[j].clone());
                }
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(both(&mine[i], &theirs[j]));
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Checks that `items` are strictly increasing by `key`.
pub(crate) fn check_sorted<T, K: Ord>(
    items: &[T],
    key: impl Fn(&T) -> K,
    what: &'static str,
) -> Result<(), InvalidState> {
    if items.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        Ok(())
    } else {
        Err(InvalidState::Unsorted(what))
    }
}
