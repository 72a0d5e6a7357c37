//! `List<T>` and `Text`: sequences with Fugue's non-interleaving order,
//! stored and shipped as runs.
//!
//! # Design
//!
//! **Element.** Every inserted item gets one dot of its replica. Fugue
//! (Weidner and Kleppmann, "The Art of the Fugue", 2023) places an item by
//! two *origins*: the item that was immediately left of it and the one
//! immediately right of it when it was inserted (tombstones included). In
//! the paper's tree form the new item becomes a right child of its left
//! origin, unless that one already has right children, in which case it
//! becomes a left child of its right origin; the list is the in-order walk,
//! siblings ordered by id. The paper proves that this never interleaves two
//! runs typed concurrently at the same place, whether typed forwards or
//! backwards ("maximal non-interleaving"), which Yjs, RGA and Logoot do not
//! all guarantee. The list form used here keeps items in a flat sequence and
//! places a new item by scanning the items between its two origins and
//! comparing *their* origins with its own (the variant the paper calls
//! FugueMax, which the paper reports as equivalent to the list-form
//! integration used by diamond-types); two items with the same two origins
//! are ordered by replica id, then counter.
//!
//! **Run.** Typing produces items whose dots are consecutive and whose
//! origins chain: item `k + 1` has item `k` as left origin and the same right
//! origin. So an element is stored as a *run*: replica, first counter,
//! length, the left origin of its first item and the shared right origin,
//! and the content (or none, for a deleted run). A run is split only when
//! something is inserted inside it or part of it is deleted; splitting needs
//! no new metadata (the left origin of the second half is the last item of
//! the first). Integrating a remote run places its first item by the scan
//! above; the rest follow it directly (nothing between them can belong
//! there), so remote typing costs one scan per run, not per character.
//!
//! **State and delta.** A state is its runs plus a causal context (every dot
//! seen). A deleted item keeps its ordering information (a tombstone run: ids
//! and origins as ranges, no content) because later items may name it as an
//! origin. A delta has the same shape: an insert ships its run (content and
//! origins) and its dots in the context; a delete ships the deleted runs as
//! tombstones and their dots in the context. Runs whose origins a state does
//! not hold (a delta on its own, or deltas joined out of order) wait as
//! *pending* runs and are integrated when their origins arrive.
//!
//! **Join.** Union of runs (an incoming run is cut to the counters not yet
//! held) and of contexts; an item is visible when visible on one side and
//! not deleted on the other, where deleted means "in that side's context and
//! not visible there" (the causal rule of the kernel's dot stores, so a
//! delete that races an insert next to it never removes the insert). The
//! order of the integrated items depends only on the set of items, so joins
//! commute; equality and encoding use the canonical form (maximal runs in
//! document order, pending runs sorted by id).
//!
//! **One dot, two versions.** A forged dot, or a replica id reused after a
//! restore, can give two states the same dot as different elements (other
//! origins, or other content). The join keeps the version with the smaller
//! origins and deletes it, on both sides alike, so it still commutes;
//! [`List::reused_dot`] finds such a dot, and [`List::fingerprints`] /
//! [`List::project`] let the sync engine find and repair one that delta
//! sync never ships (see `integrity.rs`).
//!
//! **Encoding.** Readable formats (JSON) get one record per run. Binary
//! formats get the runs packed: a header byte and a few varints per run,
//! origins implied by the neighbouring runs where typing makes them so, and
//! the visible content as one sequence (see `packed.rs`).
//!
//! **Index.** Runs (64 bytes each: the origins are packed, see `piece.rs`)
//! live in chunks of at most 64 runs, whose capacity grows 8 runs at a time
//! (at most 8 empty slots a chunk, see `seq.rs`), that carry visible and
//! total counts, with a finger on the last chunk used (local edits are near
//! each other), and per replica a B-tree from counter ranges to chunks (a
//! key where the chunk of the replica's counters changes, not one per run:
//! splits, merges and deletes inside a chunk change no key, see
//! `seq/lanes.rs`), so index lookups and id lookups cost
//! `O(chunks walked + log runs)`, not `O(n)`.
//! Inside the finger's chunk a hint keeps the run of the last local edit
//! and the counts before it, so the next edit next to it (typing on,
//! backspacing) scans from there, not from the chunk's first run.
//! Typing on from the end of a run (the next dot, at the place right after
//! the run's last item) grows that run in place: no new run, no index
//! entry, no copy of the content beyond the delta's own. Backspacing at the
//! end of a run next to the tombstones it left shrinks the run and grows
//! that tombstone run to the front, and deleting forwards from the head of
//! a run next to the tombstones that continue into it grows those at their
//! end and shrinks the run from the front: no split, no merge (see
//! `seq/kill.rs`).
//!
//! **A local edit's delta** (issue 15: building and dropping deltas was a
//! third of a replay's instructions) is built directly when it is one run
//! with origins naming one replica: the replica table and the pending runs
//! hold one entry inline (no allocation), the run is renamed in place, and
//! the context and held dots are each built as one range. So an insert's
//! delta allocates only its content, and nothing for one item (a
//! keystroke: one item is held inline, see `content.rs`), a delete's
//! nothing, and dropping it frees at most the content. Such a delta
//! integrates no run: its sequence stays empty, and an empty sequence is one null pointer (the sequence is
//! boxed on its first run, see `seq/boxed.rs`), and a causal context
//! holds one replica inline, so a `List<char>` is 224 bytes to build, move
//! and drop, not 448.

mod agents;
mod content;
mod integrity;
mod join;
mod lattice;
mod packed;
mod pending;
mod piece;
mod place;
mod seq;
mod text;
mod validate;
mod wire;

use std::fmt::Debug;

use crdt_core::{CausalContext, Dot, ReplicaId};
use smallvec::SmallVec;

use agents::{AgentIndex, Names};
use content::Content;
use pending::Pending;
use piece::{Id, Piece};
use seq::Seq;

pub use text::{Text, TextOp};

/// A replica table: inline up to one replica (the size of a `Vec`, 24
/// bytes), so a local edit's delta, which names one replica in a
/// single-writer text, allocates nothing for it.
type Agents = SmallVec<[ReplicaId; 1]>;

/// Runs held inline up to one: a local edit's delta (one run, the common
/// case) ships its run without a heap allocation of its own.
type Runs<T> = SmallVec<[Piece<T>; 1]>;

/// A replicated list: insert and delete by index, concurrent inserts at the
/// same place never interleave (Fugue), a delete racing an insert next to it
/// keeps the insert, and [`Cursor`]s that stay between the same two items.
///
/// Every mutation returns a delta (a `List` too) to ship to other replicas.
/// See the module documentation for the design (runs, tombstones, joins).
///
/// ```
/// use crdt_types::{Lattice, List, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = List::new();
/// let d = x.insert(a, 0, [1, 2, 3]);
/// let mut y = List::new();
/// y.join(&d);
/// // Concurrently: x inserts at the front, y deletes the middle item.
/// let d1 = x.insert(a, 0, [0]);
/// let d2 = y.delete(1, 1);
/// x.join(&d2);
/// y.join(&d1);
/// assert_eq!(x, y);
/// assert_eq!(x.to_vec(), [0, 1, 3]);
/// ```
#[derive(Clone)]
pub struct List<T> {
    /// Interned replica ids; pieces name them by index.
    agents: Agents,
    agent_of: AgentIndex,
    seq: Seq<T>,
    /// Runs whose origins are not (yet) integrated.
    pending: Pending<T>,
    /// Every dot seen.
    ctx: CausalContext,
    /// The dots of the runs held (integrated or pending).
    held: CausalContext,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self {
            agents: Agents::new(),
            agent_of: AgentIndex::default(),
            seq: Seq::default(),
            pending: Pending::default(),
            ctx: CausalContext::new(),
            held: CausalContext::new(),
        }
    }
}

/// A position between two items of a [`List`] or [`Text`] that keeps
/// pointing between the same two items while others edit: it names the item
/// to its left (or the start), and [`List::index_of`] finds it again, even
/// after that item is deleted.
///
/// ```
/// use crdt_types::{Lattice, ReplicaId, Text};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = Text::new();
/// let _ = x.insert_str(a, 0, "hello world");
/// let cursor = x.cursor_at(5); // between "hello" and " world"
/// let mut y = x.clone();
/// let d = y.insert_str(b, 0, ">> ");
/// x.join(&d);
/// assert_eq!(x.index_of(&cursor), 8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    /// The item to the left of the position; `None` is the start.
    pub after: Option<Dot>,
}

impl<T: Clone> List<T> {
    /// The empty list.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of visible items.
    #[must_use]
    pub fn len(&self) -> usize {
        self.seq.visible()
    }

    /// Whether there is no visible item.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The item at `index`.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&T> {
        self.seq.get(index)
    }

    /// The visible items, in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.seq
            .pieces()
            .filter_map(|p| p.content.as_slice())
            .flatten()
    }

    /// The visible items, cloned into a vector.
    #[must_use]
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().cloned().collect()
    }

    /// The causal context: every dot this state has seen.
    #[must_use]
    pub fn context(&self) -> &CausalContext {
        &self.ctx
    }

    /// Inserts `items` before `index` (at the end when `index == len()`),
    /// as one run of new dots of `replica`. The delta holds the run (content
    /// and origins) and its dots; bottom when `items` is empty.
    ///
    /// # Panics
    /// If `index > len()` (as `Vec::insert`).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn insert(
        &mut self,
        replica: ReplicaId,
        index: usize,
        items: impl IntoIterator<Item = T>,
    ) -> Self {
        assert!(index <= self.len(), "insert index {index} is past the end");
        // One item (typing) is held inline: its delta allocates nothing.
        let Some(items) = Content::collect(items) else {
            return Self::new();
        };
        let mut piece = self.new_run(replica, items);
        self.seq.insert_local(index, &mut piece);
        self.retry_pending(&piece);
        let mut runs = Runs::new();
        runs.push(piece);
        self.local_delta(runs)
    }

    /// Replaces the `len` items from `index` (fewer if the list ends
    /// first) with `items`, as one run of new dots of `replica`: what
    /// [`List::delete`] then [`List::insert`] at `index` do, with one delta
    /// (their deltas' join) for an editor's replace (typing over a
    /// selection, a paste over it), built without the join.
    ///
    /// ```
    /// use crdt_types::{Lattice, List, ReplicaId};
    /// let a = ReplicaId::from_u128(1);
    /// let mut x = List::new();
    /// let d = x.insert(a, 0, [1, 2, 3, 4]);
    /// let mut y = List::new();
    /// y.join(&d);
    /// let d = x.splice(a, 1, 2, [7]);
    /// y.join(&d);
    /// assert_eq!(y.to_vec(), [1, 7, 4]);
    /// assert_eq!(x, y);
    /// ```
    ///
    /// # Panics
    /// If `index > len()` (as `Vec::splice`).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn splice(
        &mut self,
        replica: ReplicaId,
        index: usize,
        len: usize,
        items: impl IntoIterator<Item = T>,
    ) -> Self {
        assert!(index <= self.len(), "splice index {index} is past the end");
        let mut runs = self.seq.delete_local(index, len);
        if let Some(items) = Content::collect(items) {
            let mut piece = self.new_run(replica, items);
            self.seq.insert_local(index, &mut piece);
            self.retry_pending(&piece);
            runs.push(piece);
        }
        self.local_delta(runs)
    }

    /// After a local insert of `piece`: a pending run (a forged one: no
    /// honest run names an element before it exists) may name the new
    /// elements as its origins, so those runs are tried again. Nothing to
    /// do in the usual state, with none pending.
    fn retry_pending(&mut self, piece: &Piece<T>) {
        let mut ready = Vec::new();
        (self.pending).take_waiting_on(piece.agent, piece.start, piece.end(), &mut ready);
        if !ready.is_empty() {
            self.integrate_all(ready);
        }
    }

    /// A new run of `replica` holding `items` (not empty), its dots
    /// minted and recorded; not yet in the sequence, its origins unset.
    fn new_run(&mut self, replica: ReplicaId, items: Content<T>) -> Piece<T> {
        let Ok(len) = u32::try_from(items.len()) else {
            panic!("one insert holds at most u32::MAX items");
        };
        let agent = self.intern(replica);
        let start = if len == 1 {
            // Typing: one dot, minted and recorded with one search each.
            let dot = self.ctx.mint(replica);
            self.held.insert(dot);
            dot.counter()
        } else {
            let start = self.ctx.next_dot(replica).counter();
            let last = start.saturating_add(u64::from(len) - 1);
            self.ctx.insert_range(replica, start, last);
            self.held.insert_range(replica, start, last);
            start
        };
        Piece::new(agent, len, start, None, None, items)
    }

    /// Deletes `len` items from `index` (fewer if the list ends first). The
    /// delta holds the deleted runs as tombstones and their dots; an insert
    /// made concurrently next to them (or inside them) survives.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn delete(&mut self, index: usize, len: usize) -> Self {
        let runs = self.seq.delete_local(index, len);
        self.local_delta(runs)
    }

    /// A cursor between the items at `index - 1` and `index` (the start
    /// for 0; clamped to the end).
    #[must_use]
    pub fn cursor_at(&self, index: usize) -> Cursor {
        let index = index.min(self.len());
        let after = index
            .checked_sub(1)
            .and_then(|i| self.seq.id_at_visible(i))
            .and_then(|id| self.dot_of(id));
        Cursor { after }
    }

    /// The index `cursor` points at now: just after the item it names (or
    /// where that item was, if deleted); 0 for the start or an item this
    /// state does not hold.
    #[must_use]
    pub fn index_of(&self, cursor: &Cursor) -> usize {
        let Some(dot) = cursor.after else { return 0 };
        let Some(agent) = self.agent(&dot.replica) else {
            return 0;
        };
        let Some(id) = Id::new(agent, dot.counter()) else {
            return 0;
        };
        match self.seq.position(id) {
            Some((before, _, visible)) => before + usize::from(visible),
            None => 0,
        }
    }

    /// Number of runs stored (integrated and pending): the size of the
    /// state's metadata.
    #[must_use]
    pub fn run_count(&self) -> usize {
        self.seq.piece_count() + self.pending.len()
    }

    /// An estimate of the heap bytes this state holds (runs, contents, index,
    /// contexts), for measuring memory per item.
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        let spilled = |spilled: bool, capacity: usize, size: usize| {
            if spilled { capacity * size } else { 0 }
        };
        self.seq.heap_bytes()
            + self.pending.heap_bytes()
            + self
                .pending
                .iter()
                .map(|p| p.content.heap_bytes())
                .sum::<usize>()
            + spilled(self.agents.spilled(), self.agents.capacity(), 16)
            + self.agent_of.heap_bytes()
    }

    /// The global dot of an id.
    fn dot_of(&self, id: Id) -> Option<Dot> {
        Dot::new(*self.agents.get(id.agent as usize)?, id.ctr.get())
    }

    /// A delta made of `pieces` (in this state's agent space) and `ctx`.
    fn delta_of(&self, pieces: Vec<Piece<T>>, ctx: CausalContext) -> Self {
        let held = self.dots_of(pieces.iter());
        self.delta_with(Runs::from_vec(pieces), ctx, held)
    }

    /// The delta of a local edit: `pieces` (in this state's agent space),
    /// their dots as its context and as its held dots. The context of one
    /// run is built directly, twice (a copy costs more).
    fn local_delta(&self, mut pieces: Runs<T>) -> Self {
        if let [r] = pieces.as_mut_slice() {
            let (replica, last) = (self.agents[r.agent as usize], r.end() - 1);
            let ctx = CausalContext::of_range(replica, r.start, last);
            let held = CausalContext::of_range(replica, r.start, last);
            if names_one_replica(r) {
                // Built here, not in `delta_with`: the contexts are not
                // moved through one more call.
                return Self::of_one_replica(replica, pieces, ctx, held);
            }
            return self.delta_with(pieces, ctx, held);
        }
        let (mut ctx, mut held) = (CausalContext::new(), CausalContext::new());
        for r in &pieces {
            let replica = self.agents[r.agent as usize];
            ctx.insert_range(replica, r.start, r.end() - 1);
            held.insert_range(replica, r.start, r.end() - 1);
        }
        self.delta_with(pieces, ctx, held)
    }

    /// A delta made of `pieces` (in this state's agent space), context
    /// `ctx` and held dots `held` (the dots of `pieces`).
    ///
    /// Design note: a local edit returns its delta on every keystroke, so
    /// the common delta is built directly, with no heap allocation beyond
    /// the runs' content: the runs, renamed in place, as the delta's
    /// pending runs (held inline up to one, see [`Runs`]), and the replica
    /// table inline when they name one replica (see [`Agents`]). That is
    /// what integration gives when every run has an origin: a delta holds
    /// no sequence to place a run against, so only a run without origins
    /// integrates, then the runs whose origins it holds
    /// ([`List::integrate_all`]); with no run of the first kind, every run
    /// stays pending. A splice's delta (the deleted runs and the new one,
    /// whose left origin is usually the last deleted element) is built so
    /// too. Only a delta with a run without origins goes through
    /// integration.
    fn delta_with(&self, mut pieces: Runs<T>, ctx: CausalContext, held: CausalContext) -> Self {
        if let Some(first) = pieces.first()
            && pieces
                .iter()
                .all(|p| p.agent == first.agent && names_one_replica(p))
        {
            let replica = self.agents[first.agent as usize];
            return Self::of_one_replica(replica, pieces, ctx, held);
        }
        let mut out = Self::new();
        out.ctx = ctx;
        out.held = held;
        let names = if pieces.len() > 1 {
            out.intern_named(&self.agents, pieces.iter())
        } else {
            None
        };
        if !pieces.is_empty() && pieces.iter().all(has_origin) {
            if let [p] = pieces.as_slice() {
                out.agents.reserve_exact(p.agents_named());
            }
            for p in &mut pieces {
                out.rename(&self.agents, names.as_ref(), p);
            }
            out.pending = Pending::from_runs(pieces);
            return out;
        }
        let pieces: Vec<Piece<T>> = pieces
            .into_iter()
            .map(|p| out.import(&self.agents, names.as_ref(), p))
            .collect();
        out.integrate_all(pieces);
        out
    }

    /// The delta of runs (`pieces`, each with an origin, in the agent
    /// space of a state where they name only `replica`), with context
    /// `ctx` and held dots `held`: `replica` is the delta's agent 0 (its
    /// replica table inline, its replica index empty).
    #[inline(always)]
    fn of_one_replica(
        replica: ReplicaId,
        mut pieces: Runs<T>,
        ctx: CausalContext,
        held: CausalContext,
    ) -> Self {
        let mut agents = Agents::new();
        agents.push(replica);
        for p in &mut pieces {
            p.remap(|_| Some(0));
        }
        Self {
            agents,
            agent_of: AgentIndex::default(),
            seq: Seq::default(),
            pending: Pending::from_runs(pieces),
            ctx,
            held,
        }
    }

    /// `piece` of a state with replica table `agents`, in this state's
    /// agent space (`names`: their agents translated, if
    /// [`List::intern_named`] made a table).
    fn import(
        &mut self,
        agents: &[ReplicaId],
        names: Option<&Names>,
        mut piece: Piece<T>,
    ) -> Piece<T> {
        self.rename(agents, names, &mut piece);
        piece
    }

    /// Renames `piece` (of a state with replica table `agents`) into this
    /// state's agent space, in place: by `names` if given (every agent the
    /// piece names is in it), else by lookups, interning. A piece and its
    /// origins mostly name one agent: it is looked up once.
    fn rename(&mut self, agents: &[ReplicaId], names: Option<&Names>, piece: &mut Piece<T>) {
        if let Some(names) = names {
            piece.remap(|agent| names.get(agent));
            return;
        }
        let mut last: Option<(u32, u32)> = None;
        piece.remap(|agent| {
            if let Some((from, to)) = last
                && from == agent
            {
                return Some(to);
            }
            let to = self.intern(*agents.get(agent as usize)?);
            last = Some((agent, to));
            Some(to)
        });
    }
}

impl<T: Clone> FromIterator<T> for List<T> {
    /// The list of `items` inserted by the nil replica id (tests, fixtures).
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut list = Self::new();
        let _ = list.insert(ReplicaId::from_u128(0), 0, iter);
        list
    }
}

/// Whether `piece` has an origin: a delta whose runs all have one holds
/// them all pending, so it is built directly ([`List::delta_with`]).
fn has_origin<T>(piece: &Piece<T>) -> bool {
    piece.left().is_some() || piece.right().is_some()
}

/// Whether a delta of `piece` is built directly with its replica as agent
/// 0: it has an origin and names one replica.
fn names_one_replica<T>(piece: &Piece<T>) -> bool {
    has_origin(piece) && piece.agents_named() == 1
}

/// A mutation of a [`List`] as data: its
/// [`laws::Mutate`](crate::laws::Mutate) operation. Indices are taken modulo
/// `len() + 1` so every operation applies to every state.
#[derive(Clone, Debug)]
pub enum ListOp<T> {
    /// [`List::insert`] at `index % (len + 1)`.
    Insert(usize, Vec<T>),
    /// [`List::delete`] of `len` items from `index % (len + 1)`.
    Delete(usize, usize),
    /// [`List::splice`] at `index % (len + 1)`: that many items replaced
    /// by these.
    Splice(usize, usize, Vec<T>),
}

#[cfg(feature = "quickcheck")]
impl<T: quickcheck::Arbitrary> quickcheck::Arbitrary for ListOp<T> {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        let index = usize::arbitrary(g);
        let kind = u8::arbitrary(g) % 6;
        let len = usize::from(u8::arbitrary(g) % 4) + 1;
        if kind < 2 {
            return Self::Delete(index, len);
        }
        let n = usize::from(u8::arbitrary(g) % 4) + 1;
        let items = (0..n).map(|_| T::arbitrary(g)).collect();
        if kind == 2 {
            Self::Splice(index, len, items)
        } else {
            Self::Insert(index, items)
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match self {
            Self::Insert(i, xs) if xs.len() > 1 => {
                Box::new(std::iter::once(Self::Insert(*i, xs[..1].to_vec())))
            }
            _ => Box::new(std::iter::empty()),
        }
    }
}

impl<T: Clone + PartialEq + Debug> crate::laws::Mutate for List<T> {
    type Op = ListOp<T>;

    fn apply(&mut self, replica: ReplicaId, op: &ListOp<T>) -> Self {
        let at = |i: &usize, len: usize| i % (len + 1);
        match op {
            ListOp::Insert(i, xs) => {
                let i = at(i, self.len());
                self.insert(replica, i, xs.iter().cloned())
            }
            ListOp::Delete(i, n) => {
                let i = at(i, self.len());
                self.delete(i, *n)
            }
            ListOp::Splice(i, n, xs) => {
                let i = at(i, self.len());
                self.splice(replica, i, *n, xs.iter().cloned())
            }
        }
    }

    fn validate(&self) -> Result<(), crdt_core::InvalidState> {
        Self::validate(self)
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[T: quickcheck::Arbitrary + PartialEq + Debug] List<T>);

#[cfg(test)]
mod tests;
