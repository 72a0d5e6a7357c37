//! The two halves of a join that a join by reference and a join of a state
//! given away share, and the parts of a run not held yet.
//!
//! Design note (issue 11): [`Lattice::join_owned`](crdt_core::Lattice)
//! moves the other state's runs into this one where a join by reference
//! copies them. An engine joins every received delta it keeps as given
//! away: 25k runs of a 1 MiB message were copied into a vector of parts
//! (1.6 MB, 2.1 MB with its growth) while the message itself was held.

use std::borrow::Cow;

use crdt_core::{CausalContext, Lattice, ReplicaId};

use super::List;
use super::integrity::Conflicts;
use super::piece::Piece;

impl<T: Clone + PartialEq> List<T> {
    /// The first half of a join of `other`: the dots held on both sides
    /// as different elements (the version with the smaller origins kept,
    /// see `integrity`), and the dots deleted there that are held here.
    pub(super) fn join_start(&mut self, other: &Self) -> (Conflicts, CausalContext) {
        let conflicts = self.conflicts(other, false);
        if !conflicts.moved.is_empty() {
            self.drop_versions(&conflicts.moved);
        }
        // Deleted on the other side: seen there and not visible there. Only
        // elements held here already can be reached (what arrives from
        // there comes deleted as it is there), so a delta whose deletions
        // this state does not hold (joined into an accumulated delta)
        // kills nothing and walks no pending run.
        let dead = other.unshown_dots().intersection(&self.held);
        (conflicts, dead)
    }

    /// The second half of a join of a state with replica table `agents`,
    /// context `ctx` and held dots `held`, whose `runs` runs are `pieces`
    /// (lent, or given away and then moved, not copied): the parts not held
    /// here placed, `ctx` seen, and the deletions made.
    pub(super) fn join_end<'a>(
        &mut self,
        (agents, ctx, held): (&[ReplicaId], &CausalContext, &CausalContext),
        (runs, pieces): (usize, impl Iterator<Item = Cow<'a, Piece<T>>>),
        conflicts: &Conflicts,
        dead: &CausalContext,
    ) where
        T: 'a,
    {
        // Nothing new when every run there is held here (a delta of
        // deletions): no run is cut to what is not held. When nothing
        // there is held here, every run is a part: they are reserved at
        // once (doubling, a message of 25k runs held 2.1 MB of parts for
        // its 1.6 MB); otherwise the parts grow with what is new (a state
        // that brings one run gets no room for all of its runs).
        let mut parts = Vec::new();
        if !held.is_subset(&self.held) {
            if held.is_disjoint(&self.held) {
                parts.reserve_exact(runs);
            }
            for p in pieces {
                Self::unheld_into(&self.held, agents, p, &mut parts);
            }
        }
        let names = self.intern_named(agents, parts.iter());
        let incoming: Vec<Piece<T>> = (parts.into_iter())
            .map(|p| self.import(agents, names.as_ref(), p))
            .collect();
        let new_ids = self.dots_of(incoming.iter());
        // New items whose dots we have seen (and so deleted) arrive dead.
        let dead_here = new_ids.intersection(&self.ctx);
        self.held.join(&new_ids);
        self.ctx.join(ctx);
        self.integrate_all(incoming);
        self.kill_all(dead);
        self.kill_all(&dead_here);
        self.kill_all(&conflicts.dead);
    }

    /// The parts of `piece` (of a state with replica table `agents`) whose
    /// dots are not in `held`, as pieces of that state.
    pub(super) fn unheld(
        held: &CausalContext,
        agents: &[ReplicaId],
        piece: &Piece<T>,
    ) -> Vec<Piece<T>> {
        let mut out = Vec::new();
        Self::unheld_into(held, agents, Cow::Borrowed(piece), &mut out);
        out
    }

    /// [`List::unheld`], appended to `out`: a piece none of whose dots
    /// are held is pushed whole, moved if it was given away.
    ///
    /// The held ranges within the piece are read off `held` by a binary
    /// search; a context of the piece's dots was built for each piece and
    /// compared with `held` (a fifth of the join of 25k one-run replicas
    /// into a 100k-character text).
    fn unheld_into(
        held: &CausalContext,
        agents: &[ReplicaId],
        piece: Cow<'_, Piece<T>>,
        out: &mut Vec<Piece<T>>,
    ) {
        let r = agents[piece.agent as usize];
        // A piece's dots are `start..end` with `end` at most `u64::MAX`
        // (checked where pieces come from), so `hi + 1` does not overflow.
        let (lo, hi) = (piece.start, piece.end() - 1);
        let mut inside = held.ranges_within(r, lo, hi).peekable();
        if inside.peek().is_none() {
            out.push(piece.into_owned());
            return;
        }
        let mut from = lo;
        for (_, l, h) in inside {
            if l > from {
                out.push(piece.slice_dots(from, l - 1));
            }
            from = h + 1;
        }
        if from <= hi {
            out.push(piece.slice_dots(from, hi));
        }
    }
}
