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
    /// table `agents`) name and this state lacks, before the pieces are
    /// renamed one by one: inserted one at a time into the sorted index,
    /// in the pieces' order (document order, not the replicas'), each
    /// moved half the index (25k replicas' runs joined into a text: 0.5 s
    /// of moving it). A table of [`AgentIndex::SMALL`] replicas or fewer
    /// adds as many inserts at most: nothing is done for it (most joins).
    pub(super) fn intern_named<'a>(
        &mut self,
        agents: &[ReplicaId],
        pieces: impl Iterator<Item = &'a Piece<T>>,
    ) where
        T: 'a,
    {
        if agents.len() <= AgentIndex::SMALL {
            return;
        }
        let mut last = None;
        let mut fresh: Vec<ReplicaId> = Vec::new();
        for a in pieces.flat_map(Piece::agents) {
            if last == Some(a) {
                continue;
            }
            last = Some(a);
            if let Some(r) = agents.get(a as usize)
                && self.agent(r).is_none()
            {
                fresh.push(*r);
            }
        }
        if fresh.is_empty() {
            // Nothing new (most joins): the index is not rebuilt.
            return;
        }
        fresh.sort_unstable();
        fresh.dedup();
        let from = self.agents.len();
        self.agents.extend(fresh);
        self.agent_of.grew_sorted(&self.agents, from);
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
