//! The encoding of `List<T>`: a replica table, maximal runs in document
//! order (tombstone runs without content), pending runs, and the context.
//! Human-readable formats (JSON) get one record per run; binary formats get
//! the runs packed into bytes and the content as one sequence (see
//! [`super::packed`]). Decoding rebuilds the index and validates.

use crdt_core::{CausalContext, ReplicaId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::content::Content;
use super::pending::Pending;
use super::piece::{Id, Piece, coalesce};
use super::{List, Runs};

/// One run on the wire: agent index into the replica table, first counter
/// as a difference from the end of the run before it, length, origins as
/// `(agent, counter - start)`, content (`None`: deleted). The differences
/// are small, so binary formats write them in one or two bytes.
#[derive(Serialize, Deserialize)]
pub(super) struct WireRun<T> {
    agent: u32,
    start: i64,
    len: u32,
    left: Option<(u32, i64)>,
    right: Option<(u32, i64)>,
    content: Option<Vec<T>>,
}

/// `a - b` as a signed difference (wrapping: decoding undoes it exactly).
pub(super) fn diff(a: u64, b: u64) -> i64 {
    a.wrapping_sub(b) as i64
}

/// `base + d` for a difference made by [`diff`]; `None` on overflow.
pub(super) fn undiff(base: u64, d: i64) -> Option<u64> {
    base.checked_add_signed(d)
}

#[derive(Serialize, Deserialize)]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: Deserialize<'de>"))]
struct Wire<T> {
    /// Sorted, no repeats.
    replicas: Vec<ReplicaId>,
    runs: Vec<WireRun<T>>,
    pending: Vec<WireRun<T>>,
    context: CausalContext,
}

impl<T: Clone> List<T> {
    /// The sorted replica table and each agent's rank in it.
    pub(super) fn ranked(&self) -> (Vec<ReplicaId>, Vec<u32>) {
        let mut replicas: Vec<ReplicaId> = self.agents().to_vec();
        replicas.sort_unstable();
        let rank: Vec<u32> = self
            .agents()
            .iter()
            .map(|r| u32::try_from(replicas.binary_search(r).unwrap_or(0)).unwrap_or(0))
            .collect();
        (replicas, rank)
    }

    /// The integrated runs, maximal, in document order.
    pub(super) fn runs(&self) -> Vec<Piece<T>> {
        coalesce(self.seq.pieces().cloned().collect())
    }
}

/// `pieces` as wire runs, agents written as their `rank`.
pub(super) fn wire_runs<T>(pieces: Vec<Piece<T>>, rank: &[u32]) -> Vec<WireRun<T>> {
    let mut prev_end = 0u64;
    pieces
        .into_iter()
        .map(|p| {
            let id = |id: Option<Id>| {
                id.map(|id| (rank[id.agent as usize], diff(id.ctr.get(), p.start)))
            };
            let run = WireRun {
                agent: rank[p.agent as usize],
                start: diff(p.start, prev_end),
                len: p.len,
                left: id(p.left()),
                right: id(p.right()),
                content: p.content.into_option(),
            };
            prev_end = p.start + u64::from(p.len);
            run
        })
        .collect()
}

impl<T: Clone + Serialize> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return super::packed::Packed::of(self).serialize(serializer);
        }
        let (replicas, rank) = self.ranked();
        Wire {
            runs: wire_runs(self.runs(), &rank),
            pending: wire_runs(self.pending_sorted(), &rank),
            replicas,
            context: self.ctx.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de, T: Clone + PartialEq + Deserialize<'de>> Deserialize<'de> for List<T> {
    /// Rejects malformed runs and states that fail [`List::validate`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        if !deserializer.is_human_readable() {
            let packed = super::packed::Packed::<T>::deserialize(deserializer)?;
            return packed.into_list().map_err(D::Error::custom);
        }
        let wire = Wire::<T>::deserialize(deserializer)?;
        List::from_wire(wire).map_err(D::Error::custom)
    }
}

impl<T: Clone + PartialEq> List<T> {
    /// An empty state whose replica table is `replicas` (which must be
    /// strictly sorted).
    pub(super) fn with_replicas(replicas: &[ReplicaId]) -> Result<Self, String> {
        if !replicas.windows(2).all(|w| w[0] < w[1]) {
            return Err("list replicas are not strictly sorted".into());
        }
        let mut out = Self::new();
        out.set_sorted_replicas(replicas);
        Ok(out)
    }

    fn from_wire(wire: Wire<T>) -> Result<Self, String> {
        let n = wire.replicas.len();
        let out = Self::with_replicas(&wire.replicas)?;
        let mut prev_end = 0u64;
        let runs = (wire.runs.into_iter())
            .map(|w| from_wire_run(w, &mut prev_end, n))
            .collect::<Result<Vec<_>, _>>()?;
        let mut prev_end = 0u64;
        let pending = (wire.pending.into_iter())
            .map(|w| from_wire_run(w, &mut prev_end, n))
            .collect::<Result<Vec<_>, _>>()?;
        let given: Vec<_> = id_stream(runs.iter()).collect();
        out.finish(runs, pending, wire.context, given.into_iter())
    }

    /// `out` (its replica table filled) with `runs` integrated (they must
    /// come in the order their origins give: `given`, the ids of `runs` as
    /// [`id_stream`] lists them), `pending` waiting and `context`,
    /// validated.
    pub(super) fn finish(
        self,
        runs: Vec<Piece<T>>,
        pending: Vec<Piece<T>>,
        context: CausalContext,
        given: impl Iterator<Item = (u32, u64, u64)>,
    ) -> Result<Self, String> {
        let mut out = self;
        // Placed as Fugue places them, not in the order given: a forged
        // order would be adopted by a replica that had none of these runs
        // and kept forever (a join of two orders of the same runs changes
        // neither), the replicas in sync and different. The order given
        // must be the one the origins give.
        let held = out
            .held_once(|| runs.iter().chain(&pending))
            .map_err(|e| e.to_string())?;
        out.integrate_all(runs);
        if !out.pending.is_empty() || !id_stream(out.seq.pieces()).eq(given) {
            return Err("list runs are not in the order their origins give".into());
        }
        out.pending = Pending::from_runs(Runs::from_vec(pending));
        // The same runs, placed: their dots are the ones counted above,
        // each held once. Of the rest of `validate`, only what placing
        // did not check is left: the context must cover those dots, and
        // the runs given as pending must wait. The integrated runs' origins
        // are there (a run is placed only once both are), and no run given
        // as integrated is left pending (checked above). Counting the held
        // dots again and looking up every origin again took a fifth of the
        // decode of a long text.
        out.held = held;
        out.ctx = context;
        out.covers(&out.held)
            .and_then(|()| out.pending_wait())
            .map_err(|e| e.to_string())?;
        debug_assert_eq!(out.validate(), Ok(()), "placing checked the rest");
        Ok(out)
    }
}

/// A wire run of a state with `n` replicas as a piece; `prev_end` is the
/// end of the run before (the base of the run's start), updated.
pub(super) fn from_wire_run<T>(
    w: WireRun<T>,
    prev_end: &mut u64,
    n: usize,
) -> Result<Piece<T>, String> {
    let id = |o: Option<(u32, i64)>, start: u64| -> Result<Option<Id>, String> {
        match o {
            None => Ok(None),
            Some((a, d)) if (a as usize) < n => undiff(start, d)
                .and_then(|c| Id::new(a, c))
                .map(Some)
                .ok_or_else(|| "list origin has counter 0 or out of range".to_owned()),
            Some(_) => Err("list origin names an unknown replica".into()),
        }
    };
    let start = undiff(*prev_end, w.start).unwrap_or(0);
    let ok = (w.agent as usize) < n
        && start >= 1
        && w.len >= 1
        && start.checked_add(u64::from(w.len)).is_some()
        && w.content.as_ref().is_none_or(|c| c.len() == w.len as usize);
    if !ok {
        return Err("malformed list run".into());
    }
    *prev_end = start + u64::from(w.len);
    Ok(Piece::new(
        w.agent,
        w.len,
        start,
        id(w.left, start)?,
        id(w.right, start)?,
        Content::of_option(w.content),
    ))
}

/// The element ids of `pieces` in order, as maximal stretches of
/// consecutive counters of one agent (two orders of the same elements
/// give the same stream only if they are the same order, however the
/// elements are cut into runs).
fn id_stream<'a, T: 'a>(
    pieces: impl Iterator<Item = &'a Piece<T>>,
) -> impl Iterator<Item = (u32, u64, u64)> {
    stretches(pieces.map(|p| (p.agent, p.start, p.end())))
}

/// Runs of ids `(agent, start, end)` as maximal stretches: each run that
/// goes on where the one before it ends, for the same agent, joins it.
pub(super) fn stretches(
    runs: impl Iterator<Item = (u32, u64, u64)>,
) -> impl Iterator<Item = (u32, u64, u64)> {
    let mut runs = runs.peekable();
    std::iter::from_fn(move || {
        let (agent, start, mut end) = runs.next()?;
        while let Some((_, _, e)) = runs.next_if(|&(a, s, _)| a == agent && s == end) {
            end = e;
        }
        Some((agent, start, end))
    })
}

#[cfg(test)]
mod tests {
    use crdt_core::{Lattice, ReplicaId};

    use super::super::piece::Piece;
    use super::super::seq::Seq;
    use crate::List;

    /// Two runs typed concurrently at the start of empty documents: in the
    /// order Fugue gives, and swapped (a forged state, built by hand).
    fn both_orders() -> (List<char>, List<char>) {
        let da = List::new().insert(ReplicaId::from_u128(1), 0, ['a']);
        let db = List::new().insert(ReplicaId::from_u128(2), 0, ['b']);
        let mut fugue = da;
        fugue.join(&db);
        let mut forged = fugue.clone();
        let mut swapped: Vec<Piece<char>> = forged.seq.pieces().cloned().collect();
        swapped.reverse();
        forged.seq = Seq::default();
        forged.seq.push_all(swapped);
        (fugue, forged)
    }

    /// A state whose runs are not in the order their origins give was
    /// decoded and kept: a replica holding none of them adopted it, and no
    /// join mended it (the same runs, the same context), so two replicas in
    /// sync showed different documents forever. Both encodings now refuse
    /// it, and the honest order still decodes.
    #[test]
    fn a_state_whose_runs_are_out_of_fugue_order_is_refused() {
        let (fugue, forged) = both_orders();
        assert_eq!(
            (fugue.to_vec(), forged.to_vec()),
            (vec!['a', 'b'], vec!['b', 'a'])
        );
        let mut fresh = List::new();
        fresh.join(&forged);
        let (mut x, mut y) = (fresh.clone(), fugue.clone());
        x.join(&fugue);
        y.join(&fresh);
        assert_eq!(x.context(), y.context());
        assert_ne!(x.to_vec(), y.to_vec(), "the harm a forged order did");
        let config = bincode::config::standard();
        for (state, honest) in [(&fugue, true), (&forged, false)] {
            let bytes = bincode::serde::encode_to_vec(state, config).expect("encodes");
            let back = bincode::serde::decode_from_slice::<List<char>, _>(&bytes, config);
            assert_eq!(back.is_ok(), honest, "{back:?}");
            let json = serde_json::to_string(state).expect("encodes");
            let back = serde_json::from_str::<List<char>>(&json);
            assert_eq!(back.is_ok(), honest, "{back:?}");
            if let Err(e) = back {
                assert!(e.to_string().contains("order their origins give"), "{e}");
            }
        }
    }
}
