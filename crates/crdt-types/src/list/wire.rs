//! The encoding of `List<T>`: a replica table, maximal runs in document
//! order (tombstone runs without content), pending runs, and the context.
//! Human-readable formats (JSON) get one record per run; binary formats get
//! the runs packed into bytes and the content as one sequence (see
//! [`super::packed`]). Decoding rebuilds the index and validates.

use crdt_core::{CausalContext, ReplicaId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::content::Content;
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
        for r in replicas {
            let _ = out.intern(*r);
        }
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
        out.finish(runs, pending, wire.context)
    }

    /// `out` (its replica table filled) with `runs` integrated in this
    /// order, `pending` waiting and `context`, validated.
    pub(super) fn finish(
        self,
        runs: Vec<Piece<T>>,
        pending: Vec<Piece<T>>,
        context: CausalContext,
    ) -> Result<Self, String> {
        let mut out = self;
        out.seq.push_all(runs);
        out.pending = Runs::from_vec(pending);
        out.held = out.dots_of(out.seq.pieces().chain(&out.pending));
        out.ctx = context;
        out.validate().map_err(|e| e.to_string())?;
        out.check_order().map_err(str::to_owned)?;
        Ok(out)
    }

    /// Every integrated run lies between its origins (left origin before,
    /// right origin after). The finer Fugue order among concurrent runs is
    /// trusted, not re-derived.
    fn check_order(&self) -> Result<(), &'static str> {
        let mut raw = 0usize;
        for p in self.seq.pieces() {
            let pos = |id: Option<Id>| id.and_then(|id| self.seq.position(id)).map(|(_, r, _)| r);
            if let Some(l) = pos(p.left())
                && l >= raw
            {
                return Err("a list run is before its left origin");
            }
            if let Some(r) = pos(p.right())
                && r < raw + p.len as usize
            {
                return Err("a list run is after its right origin");
            }
            raw += p.len as usize;
        }
        Ok(())
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
