//! [`Seq`]: the integrated sequence behind one pointer, allocated on its
//! first piece.
//!
//! Design note (issue 15): every local edit returns a delta that is a whole
//! `List`, and a local edit's delta holds its run pending, never
//! integrated: its sequence stays empty. Inline, the empty sequence took
//! 152 of a `List<char>`'s 448 bytes, written when the delta is built,
//! copied on every move of it and checked when it is dropped; behind an
//! optional box it takes 8 (a `List<char>` takes 304). A state that holds
//! pieces pays one allocation and one indirection.

use crdt_core::ReplicaId;

use super::super::Runs;
use super::super::piece::{Id, Piece};
use super::Tree;
use super::scan::Waiting;

/// The integrated pieces of a list, in document order: empty, or a
/// [`Tree`] on the heap.
#[derive(Clone, Debug)]
pub(crate) struct Seq<T>(Option<Box<Tree<T>>>);

impl<T> Default for Seq<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T: Clone> Seq<T> {
    /// The tree, allocated empty if there is none yet.
    pub(super) fn tree_mut(&mut self) -> &mut Tree<T> {
        self.0.get_or_insert_with(Box::default)
    }

    /// Visible elements.
    pub(crate) fn visible(&self) -> usize {
        self.0.as_ref().map_or(0, |t| t.visible())
    }

    /// All elements, tombstones included.
    pub(crate) fn total(&self) -> usize {
        self.0.as_ref().map_or(0, |t| t.total())
    }

    /// Every piece, in document order.
    pub(crate) fn pieces(&self) -> impl Iterator<Item = &Piece<T>> + '_ {
        self.0.iter().flat_map(|t| t.pieces())
    }

    /// Every piece, in document order, taken out.
    pub(crate) fn into_pieces(self) -> impl Iterator<Item = Piece<T>> {
        self.0.into_iter().flat_map(|t| t.into_pieces())
    }

    /// Number of pieces.
    pub(crate) fn piece_count(&self) -> usize {
        self.0.as_ref().map_or(0, |t| t.piece_count())
    }

    /// Heap bytes held by the structure (capacity-based estimate), the
    /// tree's own box included.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |t| std::mem::size_of::<Tree<T>>() + t.heap_bytes())
    }

    /// The element at visible index `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.0.as_ref()?.get(i)
    }

    /// The id of the element at visible index `i`.
    pub(crate) fn id_at_visible(&self, i: usize) -> Option<Id> {
        self.0.as_ref()?.id_at_visible(i)
    }

    /// Whether `id` is an integrated element.
    pub(crate) fn contains(&self, id: Id) -> bool {
        self.0.as_ref().is_some_and(|t| t.contains(id))
    }

    /// `(visible elements before, raw position, visible)` of element `id`.
    pub(crate) fn position(&self, id: Id) -> Option<(usize, usize, bool)> {
        self.0.as_ref()?.position(id)
    }

    /// The integrated pieces of `agent` holding a counter in `lo..=hi`,
    /// by chunk (not by counter).
    pub(crate) fn pieces_of(
        &self,
        agent: u32,
        lo: u64,
        hi: u64,
    ) -> impl Iterator<Item = &Piece<T>> + '_ {
        self.0.iter().flat_map(move |t| t.pieces_of(agent, lo, hi))
    }

    /// Whether every chunk's known reach is a lower bound of its pieces'
    /// left origins outside it (see `scan::Reach`).
    #[cfg(test)]
    pub(crate) fn reaches_are_sound(&self) -> bool {
        self.0.as_ref().is_none_or(|t| t.reaches_are_sound())
    }

    /// Whether the index finds every piece at its first and last element,
    /// and lists each piece of each agent once (tests).
    #[cfg(test)]
    pub(crate) fn index_is_exact(&self) -> bool {
        self.0.as_ref().is_none_or(|t| t.index_is_exact())
    }

    /// Number of keys in the index (tests).
    #[cfg(test)]
    pub(crate) fn index_keys(&self) -> usize {
        self.0.as_ref().map_or(0, |t| t.index.keys())
    }

    /// Registers agent `agent` in the index.
    pub(crate) fn ensure_agent(&mut self, agent: u32) {
        self.tree_mut().ensure_agent(agent);
    }

    /// Whether an integrated element of `agent` with a counter in `lo..=hi`
    /// is visible.
    pub(crate) fn shows_any(&self, agent: u32, lo: u64, hi: u64) -> bool {
        self.0.as_ref().is_some_and(|t| t.shows_any(agent, lo, hi))
    }

    /// Appends `pieces` at the end in the order given (see
    /// [`Tree::push_all`]); no tree is allocated for none.
    #[cfg(test)]
    pub(crate) fn push_all(&mut self, pieces: Vec<Piece<T>>) {
        if !pieces.is_empty() {
            self.tree_mut().push_all(pieces);
        }
    }

    /// A local insert of `piece`'s elements before visible index `i` (see
    /// [`Tree::insert_local`]).
    pub(crate) fn insert_local(&mut self, i: usize, piece: &mut Piece<T>) {
        self.tree_mut().insert_local(i, piece);
    }

    /// Integrates a remote piece if its origins are integrated, or gives it
    /// back (see [`Tree::integrate`]). An empty sequence holds no origin: a
    /// piece with one is given back without building a tree (a delta's runs
    /// wait so).
    pub(crate) fn integrate(
        &mut self,
        piece: Piece<T>,
        agents: &[ReplicaId],
        after: impl FnOnce() -> Option<Id>,
    ) -> Result<Option<Id>, Waiting<T>> {
        if self.0.is_none()
            && let Some(id) = piece.left().or(piece.right())
        {
            return Err((piece, id));
        }
        self.tree_mut().integrate(piece, agents, after)
    }

    /// Turns `n` visible elements from visible index `i` into tombstones;
    /// returns the deleted runs (without content).
    pub(crate) fn delete_local(&mut self, i: usize, n: usize) -> Runs<T> {
        match self.0.as_mut() {
            Some(t) => t.delete_local(i, n),
            None => Runs::new(),
        }
    }

    /// Tombstones every integrated element of `agent` with a counter in
    /// `lo..=hi`.
    pub(crate) fn kill_range(&mut self, agent: u32, lo: u64, hi: u64) {
        if let Some(t) = self.0.as_mut() {
            t.kill_range(agent, lo, hi);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::content::Content;
    use super::*;

    /// Issue 15: the empty sequence of a local edit's delta is one null
    /// pointer, allocated on the first piece, and it reads as empty.
    #[test]
    fn empty_seq_is_one_word_and_allocates_on_the_first_piece() {
        assert_eq!(std::mem::size_of::<Seq<char>>(), 8);
        let mut s: Seq<char> = Seq::default();
        assert!(s.0.is_none());
        assert_eq!((s.visible(), s.total(), s.piece_count()), (0, 0, 0));
        assert_eq!((s.heap_bytes(), s.pieces().count()), (0, 0));
        assert_eq!(s.get(0), None);
        assert!(s.delete_local(0, 3).is_empty());
        s.kill_range(0, 1, 5);
        assert!(s.0.is_none());
        s.push_all(Vec::new());
        assert!(s.0.is_none());
        s.push_all(vec![Piece::new(
            0,
            2,
            1,
            None,
            None,
            Content::of_vec(vec!['a', 'b']),
        )]);
        assert!(s.0.is_some());
        assert_eq!((s.visible(), s.get(1)), (2, Some(&'b')));
        assert!(s.heap_bytes() > std::mem::size_of::<Tree<char>>());
    }

    /// A run whose origin is missing waits, pending, and no sequence is
    /// allocated for it (a delta's stays empty); once the origin comes,
    /// both are placed.
    #[test]
    fn a_run_waiting_for_its_origin_allocates_no_sequence() {
        use crate::List;
        use crdt_core::Lattice;

        let a = ReplicaId::from_u128(1);
        let mut x: List<u8> = List::new();
        let first = x.insert(a, 0, [1]);
        let second = x.insert(a, 1, [2]);
        let mut delta = List::new();
        delta.join(&second);
        assert!(delta.seq.0.is_none());
        assert_eq!((delta.run_count(), delta.len()), (1, 0));
        delta.join(&first);
        assert!(delta.seq.0.is_some());
        assert_eq!(delta.to_vec(), [1, 2]);
        assert!(delta == x);
    }
}
