//! Loading and replaying the editing traces of `tests/data` (CC BY 4.0, see
//! its README). Shared by `tests/suite/traces.rs` and the `text` bench (which
//! includes this file by path), so both replay the same way.

use std::io::Read;
use std::path::Path;

use crdt_types::{Lattice, ReplicaId, Text};
use serde::Deserialize;

/// A trace file: sequential (no `parents`/`agent`) or concurrent.
#[derive(Deserialize)]
pub(crate) struct Trace {
    /// The document before the first transaction.
    #[serde(rename = "startContent", default)]
    pub(crate) start_content: String,
    /// The document after all of them.
    #[serde(rename = "endContent")]
    pub(crate) end_content: String,
    /// The transactions, in an order where parents come first.
    pub(crate) txns: Vec<Txn>,
}

/// One transaction: patches `(position, deleted, inserted)` applied in
/// order, on the merge of the `parents` transactions, by `agent`.
#[derive(Deserialize)]
pub(crate) struct Txn {
    /// Indexes of the transactions it was typed on (`[]`: the empty document).
    #[serde(default)]
    pub(crate) parents: Vec<usize>,
    /// Who typed it.
    #[serde(default)]
    pub(crate) agent: usize,
    /// `(position in code points, characters deleted, text inserted)`.
    pub(crate) patches: Vec<(usize, usize, String)>,
}

/// Reads `data/{name}.json.gz` under `crate_dir` (crates/crdt-types).
pub(crate) fn load(crate_dir: &Path, name: &str) -> Trace {
    let path = crate_dir.join("tests/data").join(format!("{name}.json.gz"));
    let file = std::fs::File::open(&path).expect("vendored trace");
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .expect("gzip json");
    serde_json::from_str(&json).expect("trace json")
}

/// Applies one patch as local edits of `me`; returns the join of its deltas.
pub(crate) fn patch(
    text: &mut Text,
    me: ReplicaId,
    (pos, del, ins): &(usize, usize, String),
) -> Text {
    // Each delta is returned straight (no `Option` around it): a 224-byte
    // value moved once less per edit.
    match (*del > 0, !ins.is_empty()) {
        // A replace is one splice, with one delta (as an editor would).
        (true, true) => text.splice(me, *pos, *del, ins),
        (true, false) => text.delete(*pos, *del),
        (false, true) => text.insert_str(me, *pos, ins),
        (false, false) => Text::default(),
    }
}

/// Replays a sequential trace as local edits of one replica (one delta per
/// patch, as an editor would make and ship).
pub(crate) fn replay(trace: &Trace) -> Text {
    let me = ReplicaId::from_u128(1);
    let mut text = Text::new();
    let _ = text.insert_str(me, 0, &trace.start_content);
    for txn in &trace.txns {
        for p in &txn.patches {
            let _ = patch(&mut text, me, p);
        }
    }
    text
}

/// Replays a concurrent trace: one replica per agent, brought to exactly
/// each transaction's parents by joining the deltas of the ancestors it
/// lacks, then every replica joins every delta it has not seen.
pub(crate) fn replay_concurrent(trace: &Trace) -> Vec<Text> {
    let agents = trace
        .txns
        .iter()
        .map(|t| t.agent)
        .max()
        .map_or(0, |m| m + 1);
    let mut replicas = vec![Text::new(); agents];
    let mut seen = vec![vec![false; trace.txns.len()]; agents];
    let mut deltas: Vec<Text> = Vec::with_capacity(trace.txns.len());
    for (i, txn) in trace.txns.iter().enumerate() {
        let me = ReplicaId::from_u128(txn.agent as u128 + 1);
        let (r, have) = (&mut replicas[txn.agent], &mut seen[txn.agent]);
        let mut stack = txn.parents.clone();
        let mut missing = Vec::new();
        while let Some(p) = stack.pop() {
            if !have[p] {
                have[p] = true;
                missing.push(p);
                stack.extend(trace.txns[p].parents.iter().copied());
            }
        }
        missing.sort_unstable();
        for p in missing {
            r.join(&deltas[p]);
        }
        let mut delta = Text::new();
        for p in &txn.patches {
            delta.join(&patch(r, me, p));
        }
        have[i] = true;
        deltas.push(delta);
    }
    for (agent, r) in replicas.iter_mut().enumerate() {
        for (i, d) in deltas.iter().enumerate() {
            if !seen[agent][i] {
                r.join(d);
            }
        }
    }
    replicas
}
