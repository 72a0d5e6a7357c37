//! Join, order, decomposition and validation of `List<T>`.

use std::borrow::Cow;
use std::fmt::{self, Debug};

use crdt_core::{CausalContext, Decompose, Dot, InvalidState, Lattice, ReplicaId};
use smallvec::SmallVec;

use super::List;
use super::content::Content;
use super::pending::PendingIndex;
use super::piece::{Id, Piece, coalesce};

/// One element in global terms: id, left origin, right origin, content.
type Element<'a, T> = (Dot, Option<Dot>, Option<Dot>, Option<&'a T>);

impl<T: Clone> List<T> {
    /// The global form of an optional id.
    pub(super) fn global(&self, id: Option<Id>) -> Option<Dot> {
        id.and_then(|id| self.dot_of(id))
    }

    /// Every element of `pieces`, one by one, in global terms.
    fn elements<'a>(
        &'a self,
        pieces: impl Iterator<Item = &'a Piece<T>> + 'a,
    ) -> impl Iterator<Item = Element<'a, T>> + 'a {
        pieces.flat_map(move |p| {
            (0..p.len).filter_map(move |off| {
                let id = self.global(p.id_at(off))?;
                let item = p.content.get(off as usize);
                Some((
                    id,
                    self.global(p.left_at(off)),
                    self.global(p.right()),
                    item,
                ))
            })
        })
    }

    /// The pending runs in canonical order (by replica id, then counter),
    /// coalesced.
    pub(super) fn pending_sorted(&self) -> Vec<Piece<T>> {
        let mut pending = self.pending.to_vec();
        pending.sort_by_key(|p| (self.agents[p.agent as usize], p.start));
        coalesce(pending)
    }

    /// The dots of the visible items.
    pub(super) fn visible_dots(&self) -> CausalContext {
        self.dots_of(
            self.seq
                .pieces()
                .chain(&self.pending)
                .filter(|p| p.content.is_live()),
        )
    }

    /// The dots seen and not visible here: `ctx` less [`List::visible_dots`].
    ///
    /// The held dots are within `ctx` and the visible ones are the held ones
    /// less the deleted runs' dots, so when deleted runs are fewer than live
    /// ones this is the dots seen and not held, with the deleted runs'
    /// dots: a state of live runs (25k one-run replicas received into a
    /// 100k-character text) builds no context of all its runs' dots.
    pub(super) fn unshown_dots(&self) -> CausalContext {
        let runs = || self.seq.pieces().chain(&self.pending);
        let live = runs().filter(|p| p.content.is_live()).count();
        if 2 * live <= self.run_count() {
            return self.ctx.difference(&self.visible_dots());
        }
        debug_assert!(
            self.held.is_subset(&self.ctx),
            "the context covers the runs"
        );
        let mut out = self.ctx.difference(&self.held);
        out.join(&self.dots_of(runs().filter(|p| !p.content.is_live())));
        out
    }

    /// The runs of `replica` (integrated, found through the index, and
    /// pending, found in `pending`, this state's [`PendingIndex`]) with
    /// dots in `lo..=hi`, each with the first and last of those dots: the
    /// cost follows the runs in that range, not the state.
    pub(super) fn runs_in<'a, 'p: 'a>(
        &'a self,
        pending: &'a PendingIndex<'p, T>,
        replica: ReplicaId,
        lo: u64,
        hi: u64,
    ) -> impl Iterator<Item = (&'a Piece<T>, u64, u64)> + 'a {
        let agent = self.agent(&replica);
        let integrated = agent
            .into_iter()
            .flat_map(move |a| self.seq.pieces_of(a, lo, hi));
        let pending = agent
            .into_iter()
            .flat_map(move |a| pending.within(a, lo, hi))
            .map(|p| -> &'a Piece<T> { p });
        integrated
            .chain(pending)
            .map(move |p| (p, p.start.max(lo), (p.end() - 1).min(hi)))
            .filter(|(_, from, to)| from <= to)
    }

    /// Adds to `out` the dots of `replica` in `lo..=hi` that this state
    /// shows (holds live): what [`List::visible_dots`] restricted to the
    /// range gives, without the walk (a received delta's novel part asks
    /// this of the whole state).
    pub(super) fn shown_into(
        &self,
        pending: &PendingIndex<'_, T>,
        replica: ReplicaId,
        lo: u64,
        hi: u64,
        out: &mut CausalContext,
    ) {
        // By counter: each range then appends (the runs come in document
        // order, and inserting before the context's last range moves the
        // ranges after it).
        let mut shown: SmallVec<[(u64, u64); 4]> = (self.runs_in(pending, replica, lo, hi))
            .filter(|(p, _, _)| p.content.is_live())
            .map(|(_, from, to)| (from, to))
            .collect();
        shown.sort_unstable();
        for (from, to) in shown {
            out.insert_range(replica, from, to);
        }
    }

    /// The dots this state shows among `dots` ([`List::shown_into`] of each
    /// range).
    pub(super) fn shown_within(&self, dots: &CausalContext) -> CausalContext {
        let pending = PendingIndex::of(&self.pending);
        let mut out = CausalContext::new();
        for (r, lo, hi) in dots.ranges() {
            self.shown_into(&pending, r, lo, hi, &mut out);
        }
        out
    }

    /// The dots of `pieces` (of this state), built in sorted order so that
    /// each range appends (inserting them in document order would shift the
    /// context's ranges on every insert).
    pub(super) fn dots_of<'a>(&self, pieces: impl Iterator<Item = &'a Piece<T>>) -> CausalContext
    where
        T: 'a,
    {
        // Sorted by agent and counter (small integer keys, not replica
        // ids: a fifth of the decode of a long text sorted those), then
        // each agent's ranges inserted in replica id order so that every
        // range appends. Only the agents the pieces name are ordered: a
        // few pieces of a state with thousands of replicas cost what they
        // name.
        let mut runs: Vec<(u32, u64, u64)> =
            pieces.map(|p| (p.agent, p.start, p.end() - 1)).collect();
        runs.sort_unstable();
        let mut by_agent: Vec<&[(u32, u64, u64)]> = runs.chunk_by(|a, b| a.0 == b.0).collect();
        by_agent.sort_unstable_by_key(|ranges| self.agents[ranges[0].0 as usize]);
        let mut out = CausalContext::new();
        for &(agent, lo, hi) in by_agent.into_iter().flatten() {
            out.insert_range(self.agents[agent as usize], lo, hi);
        }
        out
    }

    /// Tombstones every held element whose dot is in `dead`.
    pub(super) fn kill_all(&mut self, dead: &CausalContext) {
        if dead.is_empty() {
            return;
        }
        for (r, lo, hi) in dead.ranges() {
            let Some(agent) = self.agent(&r) else {
                continue;
            };
            self.seq.kill_range(agent, lo, hi);
        }
        // The pending runs it reaches (see `Pending::live_meeting`), cut in
        // place (an accumulated delta holds thousands of pending runs; a
        // backspace joined into it moved them all).
        let ranges = (dead.ranges()).filter_map(|(r, lo, hi)| Some((self.agent(&r)?, lo, hi)));
        let near = self.pending.live_meeting(ranges);
        let mut rest = Vec::new();
        for i in near {
            let p = &self.pending[i];
            let (agent, first, last) = (p.agent, p.start, p.end() - 1);
            let cuts: SmallVec<[(u64, u64); 2]> = dead
                .ranges_within(self.agents[agent as usize], first, last)
                .map(|(_, lo, hi)| (lo, hi))
                .collect();
            if cuts.is_empty() {
                continue;
            }
            let mut parts = vec![p.clone()];
            for (lo, hi) in cuts {
                parts = parts
                    .into_iter()
                    .flat_map(|q| kill_in(q, agent, lo, hi))
                    .collect();
            }
            let mut parts = parts.into_iter();
            if let Some(head) = parts.next() {
                self.pending.replace(i, head);
            }
            rest.extend(parts);
        }
        self.pending.extend(rest);
    }
}

/// `piece` with its elements of `agent` in `lo..=hi` made tombstones (split
/// as needed).
fn kill_in<T: Clone>(piece: Piece<T>, agent: u32, lo: u64, hi: u64) -> Vec<Piece<T>> {
    if piece.agent != agent || piece.content.is_dead() || piece.end() <= lo || piece.start > hi {
        return vec![piece];
    }
    let from = u32::try_from(lo.saturating_sub(piece.start)).unwrap_or(0);
    let to = u32::try_from((hi + 1).min(piece.end()) - piece.start).unwrap_or(piece.len);
    let mut out = Vec::with_capacity(3);
    if from > 0 {
        out.push(piece.slice(0, from));
    }
    let mut dead = piece.slice(from, to);
    dead.content = Content::Dead;
    out.push(dead);
    if to < piece.len {
        out.push(piece.slice(to, piece.len));
    }
    out
}

impl<T: Clone + PartialEq> PartialEq for List<T> {
    /// Equal elements (ids, origins, contents) in equal order, equal pending
    /// runs and equal contexts, whatever the runs' boundaries and the
    /// replica tables.
    fn eq(&self, other: &Self) -> bool {
        if self.ctx != other.ctx
            || self.held != other.held
            || self.seq.visible() != other.seq.visible()
            || self.seq.total() != other.seq.total()
        {
            return false;
        }
        let (mine, theirs) = (self.pending_sorted(), other.pending_sorted());
        self.elements(self.seq.pieces())
            .eq(other.elements(other.seq.pieces()))
            && self.elements(mine.iter()).eq(other.elements(theirs.iter()))
    }
}

impl<T: Clone + Eq> Eq for List<T> {}

impl<T: Clone + Debug> Debug for List<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let run = |p: &Piece<T>| {
            format!(
                "{:?}@{}+{} <{:?} >{:?} {}",
                self.agents[p.agent as usize],
                p.start,
                p.len,
                self.global(p.left()),
                self.global(p.right()),
                p.content
                    .as_slice()
                    .map_or_else(|| "deleted".to_owned(), |c| format!("{c:?}"))
            )
        };
        let runs: Vec<String> = coalesce(self.seq.pieces().cloned().collect())
            .iter()
            .map(run)
            .collect();
        let pending: Vec<String> = self.pending_sorted().iter().map(run).collect();
        f.debug_struct("List")
            .field("runs", &runs)
            .field("pending", &pending)
            .field("context", &self.ctx)
            .finish()
    }
}

impl<T: Clone + PartialEq> Lattice for List<T> {
    fn join(&mut self, other: &Self) {
        if other.ctx.is_empty() {
            return;
        }
        if self.ctx.is_empty() {
            // Bottom joined with a state is that state.
            self.clone_from(other);
            return;
        }
        let (conflicts, dead) = self.join_start(other);
        let lent = other.seq.pieces().chain(&other.pending).map(Cow::Borrowed);
        let of = (&other.agents[..], &other.ctx, &other.held);
        self.join_end(of, (other.run_count(), lent), &conflicts, &dead);
    }

    /// `self ≤ other` without a join: `other` has seen every dot and holds
    /// every run of `self`, and shows nothing `self` deleted.
    fn leq(&self, other: &Self) -> bool {
        if !self.ctx.is_subset(&other.ctx) || !self.held.is_subset(&other.held) {
            return false;
        }
        let dead = self.unshown_dots();
        dead.ranges().all(|(r, lo, hi)| !other.shows_any(r, lo, hi))
    }

    /// As [`List::join`], with `other`'s runs moved, not copied: into
    /// bottom, `other` is taken as it is (issue 11: an engine joining a
    /// received message held its runs twice while joining them).
    fn join_owned(&mut self, other: Self) {
        if other.ctx.is_empty() {
            return;
        }
        if self.ctx.is_empty() {
            *self = other;
            return;
        }
        let (conflicts, dead) = self.join_start(&other);
        let runs = other.run_count();
        let Self {
            agents,
            seq,
            pending,
            ctx,
            held,
            agent_of: _,
        } = other;
        let given = (seq.into_pieces().chain(pending.into_runs())).map(Cow::Owned);
        self.join_end((&agents[..], &ctx, &held), (runs, given), &conflicts, &dead);
    }

    fn is_bottom(&self) -> bool {
        self.ctx.is_empty()
    }
}

impl<T: Clone> List<T> {
    /// Whether an element of `replica` with a counter in `lo..=hi` is
    /// visible here.
    fn shows_any(&self, replica: ReplicaId, lo: u64, hi: u64) -> bool {
        let Some(agent) = self.agent(&replica) else {
            return false;
        };
        self.seq.shows_any(agent, lo, hi) || self.pending.shows_any(agent, lo, hi)
    }

    /// Exactly what a peer that has seen the dots of `peer` (its context)
    /// lacks: the runs with dots it has not seen, and as context those dots
    /// plus the ones it has seen that are deleted here. The sync engine's
    /// digest catch-up.
    ///
    /// The runs are found from the dots the peer lacks, through the index
    /// of runs; what the peer has seen and this state does not show (never
    /// held here, or deleted) comes from the contexts and the tombstone
    /// runs. A peer that lacks a keystroke of a 100k-character text costs a
    /// walk of the tombstones, not a sort of every visible character.
    #[must_use]
    pub fn delta_for(&self, peer: &CausalContext) -> Self
    where
        T: PartialEq,
    {
        let mut pieces = Vec::new();
        let pending = PendingIndex::of(&self.pending);
        for (r, lo, hi) in self.held.difference(peer).ranges() {
            for (p, from, to) in self.runs_in(&pending, r, lo, hi) {
                pieces.push(p.slice_dots(from, to));
            }
        }
        let mut ctx = self.ctx.difference(peer);
        // Not shown here: seen without a run, or deleted.
        let mut unshown = self.ctx.difference(&self.held);
        unshown.join(
            &self.dots_of(
                self.seq
                    .pieces()
                    .chain(&self.pending)
                    .filter(|p| p.content.is_dead()),
            ),
        );
        ctx.join(&unshown.intersection(peer));
        self.delta_of(pieces, ctx)
    }
}

impl<T: Clone + PartialEq> Decompose for List<T> {
    /// One part per maximal run (with its dots as context), and one per
    /// range of dots seen without a run. The parts are irredundant; a
    /// tombstone run is kept whole rather than split into its insert and
    /// its delete.
    fn decompose(&self) -> Vec<Self> {
        let mut parts = Vec::new();
        let runs = coalesce(self.seq.pieces().cloned().collect());
        for p in runs.into_iter().chain(self.pending_sorted()) {
            let mut ctx = CausalContext::new();
            ctx.insert_range(self.agents[p.agent as usize], p.start, p.end() - 1);
            parts.push(self.delta_of(vec![p], ctx));
        }
        for (r, lo, hi) in self.ctx.difference(&self.held).ranges() {
            let mut ctx = CausalContext::new();
            ctx.insert_range(r, lo, hi);
            parts.push(self.delta_of(Vec::new(), ctx));
        }
        parts
    }

    /// The runs `known` does not hold, the runs deleted here that `known`
    /// still shows (as tombstones), and the dots `known` has not seen or
    /// shows but this state deleted.
    ///
    /// Costs follow this state (a received delta, on the engine's path)
    /// and the runs of `known` it touches, not the size of `known`: what
    /// `known` shows is looked up range by range.
    fn delta_from(&self, known: &Self) -> Self {
        match self.novel(known) {
            Novel::Whole(ctx) => {
                let mut out = self.clone();
                out.ctx = ctx;
                out
            }
            Novel::Parts(pieces, ctx) => self.delta_of(pieces, ctx),
        }
    }

    /// `self` itself when `known` has seen none of its dots (a received
    /// keystroke, most often): all of it is new, and rebuilding it from
    /// its runs would cost a placement of each (thousands of runs typed
    /// concurrently at one place cost a scan past the others each). So
    /// too, with a smaller context, when every run of `self` is shipped
    /// whole (one check on ranges, see `List::novel`).
    fn into_delta_from(mut self, known: &Self) -> Self {
        if self.ctx.is_disjoint(&known.ctx) {
            return self;
        }
        match self.novel(known) {
            Novel::Whole(ctx) => {
                self.ctx = ctx;
                self
            }
            Novel::Parts(pieces, ctx) => self.delta_of(pieces, ctx),
        }
    }
}

/// What [`Decompose::delta_from`] ships: every run whole (the delta is
/// the state's runs, with this context), or these runs.
enum Novel<T> {
    /// Every run, whole, with this context.
    Whole(CausalContext),
    /// These runs (parts of the state's), with this context.
    Parts(Vec<Piece<T>>, CausalContext),
}

impl<T: Clone + PartialEq> List<T> {
    /// The runs and context of [`Decompose::delta_from`]`(known)`.
    ///
    /// Design note (issue 11): a received delta of 14k tombstone runs
    /// (100k deletions scattered over a text the receiver holds) ships
    /// every run whole. Rebuilding the delta from its runs placed each
    /// again: 19 of the 48 ms the engine spent on the message. A run is
    /// shipped whole when each of its dots is either not held by `known`
    /// or deleted here and shown there; for all runs at once that is
    /// `held ∩ known.held ⊆ shown` (where `shown` is what `known` shows of
    /// the dots deleted here; a live run's dots are never in it), a few
    /// set operations on ranges. Then the delta is this state with the
    /// delta's context: the same runs placed give the same sequence.
    fn novel(&self, known: &Self) -> Novel<T> {
        let mut ctx = self.ctx.difference(&known.ctx);
        // Seen here without a run or deleted here, and shown there.
        let gone = self.unshown_dots();
        let shown = known.shown_within(&gone);
        if self.held.intersection(&known.held).is_subset(&shown) {
            ctx.join(&shown);
            ctx.join(&self.held);
            return Novel::Whole(ctx);
        }
        let (pieces, ctx) = self.novel_parts(known, ctx, &shown);
        Novel::Parts(pieces, ctx)
    }

    /// The runs of `self` that `known` does not hold or shows deleted here,
    /// cut to those dots, and the delta's context: `ctx` (what `known` has
    /// not seen) with `shown` (what it shows of the dots deleted here) and
    /// the runs' dots.
    fn novel_parts(
        &self,
        known: &Self,
        mut ctx: CausalContext,
        shown: &CausalContext,
    ) -> (Vec<Piece<T>>, CausalContext) {
        let mut pieces = Vec::new();
        let pending = PendingIndex::of(&known.pending);
        for p in self.seq.pieces().chain(&self.pending) {
            let unheld = Self::unheld(&known.held, &self.agents, p);
            let whole = unheld.len() == 1 && unheld[0].len == p.len;
            pieces.extend(unheld);
            if p.content.is_dead() && !whole {
                // Deleted here: ship the part `known` still shows.
                let r = self.agents[p.agent as usize];
                let mut shown = CausalContext::new();
                known.shown_into(&pending, r, p.start, p.end() - 1, &mut shown);
                for (_, lo, hi) in shown.ranges() {
                    pieces.push(p.slice_dots(lo, hi));
                }
            }
        }
        ctx.join(shown);
        ctx.join(&self.dots_of(pieces.iter()));
        (pieces, ctx)
    }
}

impl<T: Clone + PartialEq + Debug> crate::Crdt for List<T> {
    fn validate(&self) -> Result<(), InvalidState> {
        Self::validate(self)
    }
}

impl<T: Clone> List<T> {
    /// The replica ids of the state's table (for the wire form).
    pub(super) fn agents(&self) -> &[ReplicaId] {
        &self.agents
    }
}

#[cfg(test)]
mod tests {
    use crdt_core::{CausalContext, Decompose, Lattice, ReplicaId};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use quickcheck::QuickCheck;

    use super::Novel;
    use crate::laws::Mutate;
    use crate::{List, ListOp};

    /// `x` after `ops` (replica 1 or 2 each), and `x` with every other of
    /// their deltas joined (runs waiting, pending, for origins it lacks).
    fn later_and_gappy(x: &List<u8>, ops: &[(bool, ListOp<u8>)]) -> (List<u8>, List<u8>) {
        let (mut y, mut gappy) = (x.clone(), x.clone());
        for (i, (first, op)) in ops.iter().enumerate() {
            let r = ReplicaId::from_u128(if *first { 1 } else { 2 });
            let d = y.apply(r, op);
            if i % 2 == 1 {
                gappy.join(&d);
            }
        }
        (y, gappy)
    }

    /// What a state shows among some dots, looked up range by range (the
    /// novel part of a received delta asks it of the whole state), is what
    /// the walk of every visible run gives, restricted to those dots: for
    /// the state's own context, a later state's, their difference (the
    /// new dots) and an unrelated context; asked of the earlier state, the
    /// later one, and one that got every other delta in between (whose
    /// runs wait, pending, for origins it lacks).
    #[test]
    fn shown_within_is_the_visible_dots_in_the_range() {
        fn prop(x: List<u8>, ops: Vec<(bool, ListOp<u8>)>, other: CausalContext) -> bool {
            let (y, gappy) = later_and_gappy(&x, &ops);
            let new = y.context().difference(x.context());
            [&x, &y, &gappy].into_iter().all(|known| {
                let visible = known.visible_dots();
                [x.context(), y.context(), &new, &other]
                    .into_iter()
                    .all(|dots| known.shown_within(dots) == visible.intersection(dots))
            })
        }
        QuickCheck::new()
            .tests(500)
            .quickcheck(prop as fn(List<u8>, Vec<(bool, ListOp<u8>)>, CausalContext) -> bool);
    }

    /// The dots seen and not shown are the context less the visible dots,
    /// whichever way [`List::unshown_dots`] takes (the deleted runs' dots
    /// with the unheld ones when live runs are most, or that difference):
    /// on states of mostly live runs, of deleted runs only, and with runs
    /// pending.
    #[test]
    fn unshown_dots_are_the_context_less_the_visible_dots() {
        fn prop(x: List<u8>, ops: Vec<(bool, ListOp<u8>)>) -> bool {
            let (y, gappy) = later_and_gappy(&x, &ops);
            let mut wiped = y.clone();
            let n = wiped.len();
            let _ = wiped.delete(0, n);
            [&x, &y, &gappy, &wiped]
                .into_iter()
                .all(|s| s.unshown_dots() == s.ctx.difference(&s.visible_dots()))
        }
        QuickCheck::new()
            .tests(500)
            .quickcheck(prop as fn(List<u8>, Vec<(bool, ListOp<u8>)>) -> bool);
    }

    /// A delta whose runs all ship whole is the state itself with the
    /// delta's context: equal to the delta rebuilt from its runs (as every
    /// other delta is built), valid, and what `into_delta_from` gives too.
    /// Guards the shortcut of `novel` against the runs cut one by one
    /// (the engine rebuilt a received delta of 100k deletions run by run:
    /// 19 of the 48 ms it spent on it).
    #[test]
    fn a_delta_of_whole_runs_is_the_one_rebuilt_from_its_runs() {
        static WHOLE: AtomicUsize = AtomicUsize::new(0);
        fn agrees(state: &List<u8>, known: &List<u8>) -> bool {
            if matches!(state.novel(known), Novel::Whole(_)) {
                WHOLE.fetch_add(1, Ordering::Relaxed);
            }
            let ctx = state.ctx.difference(&known.ctx);
            let gone = state.ctx.difference(&state.visible_dots());
            let (pieces, ctx) = state.novel_parts(known, ctx, &known.shown_within(&gone));
            let expected = state.delta_of(pieces, ctx);
            let got = state.delta_from(known);
            let owned = state.clone().into_delta_from(known);
            let (mut by_delta, mut by_state) = (known.clone(), known.clone());
            by_delta.join(&got);
            by_state.join(state);
            got == expected
                && (owned == got || state.ctx.is_disjoint(&known.ctx))
                && got.validate().is_ok()
                && by_delta == by_state
        }
        fn prop(x: List<u8>, ops: Vec<(u8, ListOp<u8>)>) -> bool {
            let mut y = x.clone();
            let mut d = List::new();
            for (r, op) in &ops {
                d.join(&y.apply(ReplicaId::from_u128(u128::from(r % 3)), op));
            }
            agrees(&d, &x) && agrees(&y, &x) && agrees(&x, &y) && agrees(&d, &y)
        }
        // Deletions scattered over a text the receiver holds: every run
        // of the delta ships whole.
        let me = ReplicaId::from_u128(1);
        let mut x = List::new();
        for i in 0..200 {
            let _ = x.insert(me, (i * 7) % (x.len() + 1), [b'a']);
        }
        let mut y = x.clone();
        let mut d = List::new();
        for i in 0..60 {
            d.join(&y.delete((i * 5) % y.len(), 1));
        }
        WHOLE.store(0, Ordering::Relaxed);
        assert!(agrees(&d, &x));
        assert_eq!(WHOLE.load(Ordering::Relaxed), 1, "shipped whole");
        assert!(!d.delta_from(&x).is_bottom());
        QuickCheck::new()
            .tests(500)
            .quickcheck(prop as fn(List<u8>, Vec<(u8, ListOp<u8>)>) -> bool);
        assert!(WHOLE.load(Ordering::Relaxed) > 10, "the shortcut is taken");
    }

    /// A run waiting for an origin under this replica's own id that it
    /// has not minted yet (forged: minted by another process under that
    /// id) becomes ready when a local insert mints that dot. Pending runs
    /// are tried again only once something is integrated, so the local
    /// insert must try them: otherwise the state keeps a pending run whose
    /// origins it holds, which no state from elsewhere may have.
    #[test]
    fn a_local_insert_integrates_a_pending_run_waiting_for_its_dot() {
        let (me, forger) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
        let mut forged = List::new();
        let _ = forged.insert(me, 0, [b'a']);
        let waiting = forged.insert(forger, 1, [b'b']);
        let mut x = List::new();
        x.join(&waiting);
        assert_eq!(x.pending.len(), 1, "its origin is not here yet");
        let _ = x.insert(me, 0, [b'z']);
        assert!(x.pending.is_empty(), "the run is integrated");
        assert_eq!(x.to_vec(), b"zb");
        assert!(x.validate().is_ok());
    }

    /// Deltas joined one by one into one (an engine's interval: thousands
    /// of deletions, their runs pending there) give the same delta in
    /// either order, and it brings the state they were made from to the
    /// state after them. Guards the join's deletions reaching only the
    /// elements held before it (so such a join walks no pending run).
    #[test]
    fn deltas_joined_one_by_one_into_one_bring_a_state_to_the_edits() {
        fn prop(x: List<u8>, ops: Vec<(u8, ListOp<u8>)>) -> bool {
            let mut y = x.clone();
            let deltas: Vec<List<u8>> = ops
                .iter()
                .map(|(r, op)| y.apply(ReplicaId::from_u128(u128::from(r % 3)), op))
                .collect();
            let (mut forwards, mut backwards) = (List::new(), List::new());
            for d in &deltas {
                forwards.join(d);
            }
            for d in deltas.iter().rev() {
                backwards.join(d);
            }
            let (mut a, mut b) = (x.clone(), x.clone());
            a.join(&forwards);
            b.join(&backwards);
            forwards == backwards && forwards.validate().is_ok() && a == y && b == y
        }
        QuickCheck::new()
            .tests(500)
            .quickcheck(prop as fn(List<u8>, Vec<(u8, ListOp<u8>)>) -> bool);
    }

    /// A deletion inside a run that waits, pending, in an accumulated
    /// delta cuts it in three where it lies, and the pieces still bring
    /// the state to the edits; the other pending runs stay as they were.
    #[test]
    fn a_deletion_inside_a_pending_run_cuts_it_in_place() {
        let me = ReplicaId::from_u128(1);
        let mut x = List::new();
        let _ = x.insert(me, 0, *b"0123456789");
        let base = x.clone();
        let mut interval = List::new();
        interval.join(&x.insert(me, 2, *b"abcdef"));
        interval.join(&x.insert(me, 12, *b"uvw"));
        assert_eq!(interval.pending.len(), 2, "their origins are not here");
        interval.join(&x.delete(4, 2));
        assert_eq!(x.to_vec(), b"01abef2345uvw6789");
        let live: Vec<u32> = (interval.pending.iter())
            .filter(|p| p.content.is_live())
            .map(|p| p.len)
            .collect();
        assert_eq!(live, [2, 3, 2], "ab, uvw, ef");
        let mut y = base;
        y.join(&interval);
        assert!(y == x && interval.validate().is_ok());
    }

    /// The digest answer as it was computed before it used the index: a
    /// walk of every run, and every visible dot listed.
    fn delta_for_by_walk(x: &List<u8>, peer: &CausalContext) -> List<u8> {
        let mut pieces = Vec::new();
        for p in x.seq.pieces().chain(&x.pending) {
            pieces.extend(List::unheld(peer, &x.agents, p));
        }
        let mut ctx = x.ctx.difference(peer);
        ctx.join(&x.ctx.intersection(peer).difference(&x.visible_dots()));
        x.delta_of(pieces, ctx)
    }

    /// The digest answer found through the index is the walk's, for peers
    /// that saw an earlier state, a later one, one with gaps (pending
    /// runs), or unrelated dots; asked of each of those states.
    #[test]
    fn delta_for_through_the_index_is_the_walks() {
        fn prop(x: List<u8>, ops: Vec<(u8, ListOp<u8>)>, other: CausalContext) -> bool {
            let (mut y, mut gappy) = (x.clone(), x.clone());
            for (i, (r, op)) in ops.iter().enumerate() {
                let d = y.apply(ReplicaId::from_u128(u128::from(r % 3)), op);
                if i % 2 == 1 {
                    gappy.join(&d);
                }
            }
            [&x, &y, &gappy].into_iter().all(|state| {
                [
                    x.context(),
                    y.context(),
                    gappy.context(),
                    &other,
                    &CausalContext::new(),
                ]
                .into_iter()
                .all(|peer| {
                    let answer = state.delta_for(peer);
                    answer == delta_for_by_walk(state, peer) && answer.validate().is_ok()
                })
            })
        }
        QuickCheck::new()
            .tests(500)
            .quickcheck(prop as fn(List<u8>, Vec<(u8, ListOp<u8>)>, CausalContext) -> bool);
    }
}
