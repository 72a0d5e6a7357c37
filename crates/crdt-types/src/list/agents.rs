//! The replica table of a state: agent index <-> replica id.

use crdt_core::ReplicaId;

use super::List;
use super::piece::Piece;

/// Replica id -> agent index, sorted by id, kept only past
/// [`AgentIndex::SMALL`] replicas: below that a scan of the replica table
/// is faster, and a delta (one or two replicas) allocates nothing for it.
#[derive(Clone, Debug, Default)]
pub(super) struct AgentIndex(Vec<(ReplicaId, u32)>);

impl AgentIndex {
    /// Up to this many replicas, lookups scan the replica table.
    const SMALL: usize = 8;

    /// The agent index of `replica` in `agents` (the replica table this
    /// index belongs to).
    fn get(&self, agents: &[ReplicaId], replica: &ReplicaId) -> Option<u32> {
        if agents.len() <= Self::SMALL {
            let i = agents.iter().position(|r| r == replica)?;
            return u32::try_from(i).ok();
        }
        let i = self.0.binary_search_by(|(r, _)| r.cmp(replica)).ok()?;
        Some(self.0[i].1)
    }

    /// Notes that `agents` just grew by one replica.
    fn grew(&mut self, agents: &[ReplicaId]) {
        if !self.built(agents) {
            return;
        }
        let a = u32::try_from(agents.len() - 1).unwrap_or(u32::MAX);
        let r = agents[agents.len() - 1];
        if let Err(i) = self.0.binary_search_by(|(x, _)| x.cmp(&r)) {
            self.0.insert(i, (r, a));
        }
    }

    /// Notes that `agents` just grew by the replicas from index `from` on,
    /// which are in increasing order: they are merged in, in one pass.
    fn grew_sorted(&mut self, agents: &[ReplicaId], from: usize) {
        if !self.built(agents) {
            return;
        }
        let old = std::mem::take(&mut self.0);
        let mut fresh = (0u32..)
            .zip(agents)
            .skip(from)
            .map(|(a, r)| (*r, a))
            .peekable();
        let mut out = Vec::with_capacity(agents.len());
        for entry in old {
            while let Some(f) = fresh.next_if(|f| f.0 < entry.0) {
                out.push(f);
            }
            out.push(entry);
        }
        out.extend(fresh);
        self.0 = out;
    }

    /// Whether the index is kept for `agents` and was built before they
    /// grew (so the new replicas are still to be added); builds it whole
    /// when the table just passed [`AgentIndex::SMALL`].
    fn built(&mut self, agents: &[ReplicaId]) -> bool {
        if agents.len() <= Self::SMALL {
            return false;
        }
        if self.0.is_empty() {
            self.0 = (0u32..).zip(agents).map(|(a, r)| (*r, a)).collect();
            self.0.sort_unstable();
            return false;
        }
        true
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<(ReplicaId, u32)>()
    }

    /// The index of `agents`, which are strictly sorted: the table itself
    /// with the agent indices, no sort.
    fn of_sorted(agents: &[ReplicaId]) -> Self {
        if agents.len() <= Self::SMALL {
            return Self::default();
        }
        Self((0u32..).zip(agents).map(|(a, r)| (*r, a)).collect())
    }
}

impl<T: Clone> List<T> {
    /// The agent index of `replica`, interning it.
    pub(super) fn intern(&mut self, replica: ReplicaId) -> u32 {
        if let Some(a) = self.agent(&replica) {
            return a;
        }
        let a = u32::try_from(self.agents.len()).unwrap_or(u32::MAX);
        self.agents.push(replica);
        self.agent_of.grew(&self.agents);
        a
    }

    /// Sets the replica table of this empty state to `replicas`, which
    /// are strictly sorted (a decoded state's): built in one pass, not
    /// interned one by one (a lookup and an insert each: a tenth of the
    /// decoding of 25k replicas' runs).
    pub(super) fn set_sorted_replicas(&mut self, replicas: &[ReplicaId]) {
        debug_assert!(self.agents.is_empty() && replicas.is_sorted());
        self.agents = replicas.iter().copied().collect();
        self.agent_of = AgentIndex::of_sorted(&self.agents);
    }

    /// The agent index of `replica`, if it is in the table.
    pub(super) fn agent(&self, replica: &ReplicaId) -> Option<u32> {
        self.agent_of.get(&self.agents, replica)
    }

    /// Interns at once the replicas that `pieces` (of a state with replica
    /// table `agents`) name and this state lacks, merged into the sorted
    /// index in one pass (interned one at a time, in document order, each
    /// moved half the index: 25k replicas' runs joined into a text spent
    /// 0.5 s moving it), and returns their agent numbers translated to
    /// ours, for [`List::rename`]: each agent of theirs is looked up once,
    /// not once per piece and origin naming it (10M of the 82M
    /// instructions of that join). A table of [`AgentIndex::SMALL`]
    /// replicas or fewer (most joins) gets none: a scan of it is as cheap,
    /// and nothing is interned ahead.
    pub(super) fn intern_named<'a>(
        &mut self,
        agents: &[ReplicaId],
        pieces: impl Iterator<Item = &'a Piece<T>>,
    ) -> Option<Names>
    where
        T: 'a,
    {
        if agents.len() <= AgentIndex::SMALL {
            return None;
        }
        // One slot per replica of theirs: as many bytes as a quarter of
        // their table, which a decoded state's bytes paid for.
        let mut names = Names(vec![Names::UNKNOWN; agents.len()]);
        let mut any_fresh = false;
        for a in pieces.flat_map(Piece::agents) {
            let Some(slot) = names.0.get_mut(a as usize) else {
                continue;
            };
            if *slot != Names::UNKNOWN {
                continue;
            }
            // Marked when new here: given a number below, in their order.
            *slot = self.agent(&agents[a as usize]).unwrap_or(Names::FRESH);
            any_fresh |= *slot == Names::FRESH;
        }
        if !any_fresh {
            // Nothing new (most joins): the index is not rebuilt.
            return Some(names);
        }
        // Their new agents in their table's order, which is the replicas'
        // for a decoded state (no sort: a tenth of this function for 25k
        // new replicas); a local state's table is in arrival order.
        let mut fresh: Vec<u32> = (0u32..)
            .zip(&names.0)
            .filter_map(|(a, &slot)| (slot == Names::FRESH).then_some(a))
            .collect();
        let replica = |a: u32| agents[a as usize];
        if !fresh.is_sorted_by_key(|&a| replica(a)) {
            fresh.sort_unstable_by_key(|&a| replica(a));
        }
        let from = self.agents.len();
        self.agents.reserve(fresh.len());
        for a in fresh {
            let r = replica(a);
            // Two of their agents naming one replica (a table with a
            // repeat) share one of ours; a replica of ours before `from`
            // is never `r` (it was not found).
            if self.agents.last() != Some(&r) {
                self.agents.push(r);
            }
            names.0[a as usize] = u32::try_from(self.agents.len() - 1).unwrap_or(u32::MAX);
        }
        self.agent_of.grew_sorted(&self.agents, from);
        Some(names)
    }
}

/// Another state's agent numbers translated to this state's (see
/// [`List::intern_named`]).
pub(super) struct Names(Vec<u32>);

impl Names {
    /// The slot of an agent no piece named (or not yet looked up).
    const UNKNOWN: u32 = u32::MAX;
    /// The slot of a replica being interned.
    const FRESH: u32 = u32::MAX - 1;

    /// Our agent number for their agent `a`, if a piece named it.
    #[inline]
    pub(super) fn get(&self, a: u32) -> Option<u32> {
        self.0.get(a as usize).copied().filter(|&t| t < Self::FRESH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replicas interned one by one or many at once, in any order, across
    /// the size where the index starts: each is found at its place in the
    /// table, and the index stays sorted.
    #[test]
    fn replicas_interned_one_by_one_or_at_once_are_all_found() {
        fn prop(steps: Vec<(bool, Vec<u8>)>) -> bool {
            let mut index = AgentIndex::default();
            let mut agents: Vec<ReplicaId> = Vec::new();
            for (at_once, ids) in steps {
                let known = |agents: &[ReplicaId], index: &AgentIndex, r: &ReplicaId| {
                    index.get(agents, r).is_some()
                };
                let fresh: Vec<ReplicaId> = ids
                    .iter()
                    .map(|&i| ReplicaId::from_u128(u128::from(i)))
                    .collect();
                if at_once {
                    let mut add: Vec<ReplicaId> = (fresh.iter())
                        .filter(|r| !known(&agents, &index, r))
                        .copied()
                        .collect();
                    add.sort_unstable();
                    add.dedup();
                    let from = agents.len();
                    agents.extend(add);
                    index.grew_sorted(&agents, from);
                } else {
                    for r in fresh {
                        if !known(&agents, &index, &r) {
                            agents.push(r);
                            index.grew(&agents);
                        }
                    }
                }
            }
            let sorted = index.0.windows(2).all(|w| w[0].0 < w[1].0);
            let found = (0u32..)
                .zip(&agents)
                .all(|(a, r)| index.get(&agents, r) == Some(a));
            let indexed = agents.len() <= AgentIndex::SMALL || index.0.len() == agents.len();
            sorted && found && indexed
        }
        quickcheck::quickcheck(prop as fn(Vec<(bool, Vec<u8>)>) -> bool);
    }

    /// Pieces of another state renamed by the translation that
    /// `intern_named` returns name the replicas they named there (agents
    /// past that state's table: no origin, agent 0), exactly as renaming
    /// by lookups does, on both sides of the size where a translation is
    /// made; every replica interned is in the table once, and found.
    #[test]
    fn pieces_renamed_by_the_translation_name_the_replicas_they_named() {
        use super::super::content::Content;
        use super::super::piece::Id;
        fn prop(n: u8, ours: Vec<u8>, named: Vec<(u8, u8, u8)>) -> bool {
            let n = u128::from(n % 40);
            // Theirs: replicas 1, 4, 7, ... (a decoded state's order), or
            // the reverse (a local state's is its arrival order); ours:
            // any small numbers, so that some are shared.
            let mut agents: Vec<ReplicaId> =
                (0..n).map(|i| ReplicaId::from_u128(3 * i + 1)).collect();
            if n % 2 == 1 {
                agents.reverse();
            }
            let mut x: List<u8> = List::new();
            for o in ours {
                let _ = x.intern(ReplicaId::from_u128(u128::from(o)));
            }
            let agent = |a: u8| u32::from(a % 44);
            let pieces: Vec<Piece<u8>> = (named.iter())
                .map(|&(a, l, r)| {
                    let (left, right) = (Id::new(agent(l), 2), Id::new(agent(r), 3));
                    Piece::new(agent(a), 1, 1, left, right, Content::Dead)
                })
                .collect();
            let mut looked_up = x.clone();
            let names = x.intern_named(&agents, pieces.iter());
            if names.is_some() != (agents.len() > AgentIndex::SMALL) {
                return false;
            }
            let replica = |table: &[ReplicaId], a: u32| table.get(a as usize).copied();
            pieces.iter().all(|p| {
                let (mut by_names, mut by_lookups) = (p.clone(), p.clone());
                x.rename(&agents, names.as_ref(), &mut by_names);
                looked_up.rename(&agents, None, &mut by_lookups);
                let theirs =
                    [p.left(), p.right()].map(|o| o.and_then(|o| replica(&agents, o.agent)));
                let named = |q: &Piece<u8>, table: &[ReplicaId]| {
                    [q.left(), q.right()].map(|o| o.and_then(|o| replica(table, o.agent)))
                };
                let piece_agent = |q: &Piece<u8>, table: &[ReplicaId]| {
                    replica(&agents, p.agent).map(|_| replica(table, q.agent))
                };
                named(&by_names, &x.agents) == theirs
                    && named(&by_lookups, &looked_up.agents) == theirs
                    && piece_agent(&by_names, &x.agents) == replica(&agents, p.agent).map(Some)
                    && piece_agent(&by_lookups, &looked_up.agents)
                        == replica(&agents, p.agent).map(Some)
                    && (replica(&agents, p.agent).is_some() || by_names.agent == 0)
            }) && (0u32..).zip(&x.agents).all(|(a, r)| x.agent(r) == Some(a))
        }
        quickcheck::quickcheck(prop as fn(u8, Vec<u8>, Vec<(u8, u8, u8)>) -> bool);
    }

    /// A decoded state's sorted replica table, set at once, finds each
    /// replica, and so do replicas interned after it (below, between and
    /// above the others), on both sides of the size where the index
    /// starts.
    #[test]
    fn a_sorted_table_set_at_once_then_grown_finds_every_replica() {
        for n in [0u128, 3, 8, 9, 40] {
            let sorted: Vec<ReplicaId> = (1..=n).map(|i| ReplicaId::from_u128(10 * i)).collect();
            let mut x: List<u8> = List::new();
            x.set_sorted_replicas(&sorted);
            for extra in [5u128, 15, 10 * n + 5] {
                let _ = x.intern(ReplicaId::from_u128(extra));
            }
            assert!(
                (0u32..).zip(&x.agents).all(|(a, r)| x.agent(r) == Some(a)),
                "{n}"
            );
            assert_eq!(x.agent(&ReplicaId::from_u128(7)), None);
        }
    }
}
