//! The other side of a store merge, borrowed or owned.
//!
//! Design note (issue 11): [`DotStore::merge`] borrows the other store, so
//! a key that only the other side holds is adopted as a copy of its nested
//! store. When the caller owns the other side (the engine joining a
//! received delta it decoded, [`crate::Causal`]'s `join_owned`), that copy
//! was most of the join of a deeply nested delta into a non-empty state:
//! every adopted subtree was cloned and the original dropped. With the
//! other side owned, [`DotStore::merge_owned`] moves adopted subtrees in
//! and strips, in place, the dots this side has already seen.
//!
//! Only maps whose values nest do so ([`DotStore::NESTS`]). A map of leaf
//! stores (an OR-set's `DotMap<K, DotSet>`) merges by reference even when
//! owned: a leaf is copied about as cheaply as it is moved, and moving the
//! entries out frees the other map chunk by chunk while the merged map is
//! built, which cost more than the copy (96,821 new elements into 100k:
//! the join took 10.4 ms owned, 5.9 ms by reference; the allocator's
//! bookkeeping, not instructions, which differed by 8%). One merge
//! body serves both: it is generic over a [`Side`], and a map's side
//! yields its entries as sides of the same ownership.

use super::DotStore;
use crate::CausalContext;

/// One side of a merge: [`Borrowed`] (what [`DotStore::merge`] gets) or
/// [`Owned`] (what [`DotStore::merge_owned`] gets). The merge is
/// monomorphized for each: the borrowed merge pays nothing for the owned
/// one's existence.
pub(crate) trait Side<S: DotStore>: Sized {
    /// The store, borrowed.
    fn get(&self) -> &S;

    /// `mine := mine ⊔ self`, by the merge matching the ownership.
    fn merge_into(self, mine: &mut S, ctx: &CausalContext, overlap: &CausalContext);

    /// The store joined into a bottom store: only the dots the other side
    /// has not seen survive, which (every dot of `self` lying in its own
    /// context) are those `overlap` lacks. Borrowed, that is a copy of
    /// them; owned, the store itself, stripped in place.
    fn adopt(self, overlap: &CausalContext) -> S;
}

/// The other side, borrowed.
pub(crate) struct Borrowed<'a, S>(pub(crate) &'a S);

/// The other side, owned.
pub(crate) struct Owned<S>(pub(crate) S);

impl<S: DotStore> Side<S> for Borrowed<'_, S> {
    fn get(&self) -> &S {
        self.0
    }

    fn merge_into(self, mine: &mut S, ctx: &CausalContext, overlap: &CausalContext) {
        mine.merge(ctx, self.0, overlap);
    }

    fn adopt(self, overlap: &CausalContext) -> S {
        if overlap.is_empty() {
            self.0.clone()
        } else {
            self.0.filtered(&mut |d| !overlap.contains(d))
        }
    }
}

impl<S: DotStore> Side<S> for Owned<S> {
    fn get(&self) -> &S {
        &self.0
    }

    fn merge_into(self, mine: &mut S, ctx: &CausalContext, overlap: &CausalContext) {
        mine.merge_owned(ctx, self.0, overlap);
    }

    fn adopt(self, overlap: &CausalContext) -> S {
        let mut s = self.0;
        if !overlap.is_empty() {
            s.retain_dots(&mut |d| !overlap.contains(d));
        }
        s
    }
}
