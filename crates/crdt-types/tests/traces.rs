//! Real editing traces (tests/data, CC BY 4.0, see its README): the
//! sequential ones replayed as local edits on one replica, the concurrent one
//! with one replica per agent brought to each transaction's parents by
//! joining deltas; every replica must end at `endContent` exactly.

use std::io::Read;
use std::time::Instant;

use crdt_types::{Lattice, ReplicaId, Text};
use serde::Deserialize;

#[derive(Deserialize)]
struct Trace {
    #[serde(rename = "startContent", default)]
    start_content: String,
    #[serde(rename = "endContent")]
    end_content: String,
    txns: Vec<Txn>,
}

#[derive(Deserialize)]
struct Txn {
    #[serde(default)]
    parents: Vec<usize>,
    #[serde(default)]
    agent: usize,
    patches: Vec<(usize, usize, String)>,
}

fn load(name: &str) -> Trace {
    let path = format!("{}/tests/data/{name}.json.gz", env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::File::open(&path).expect("vendored trace");
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .expect("gzip json");
    serde_json::from_str(&json).expect("trace json")
}

/// Applies one patch as local edits; returns the deltas.
fn patch(text: &mut Text, me: ReplicaId, (pos, del, ins): &(usize, usize, String)) -> Vec<Text> {
    let mut deltas = Vec::new();
    if *del > 0 {
        deltas.push(text.delete(*pos, *del));
    }
    if !ins.is_empty() {
        deltas.push(text.insert_str(me, *pos, ins));
    }
    deltas
}

fn replay_sequential(name: &str) {
    let trace = load(name);
    let me = ReplicaId::from_u128(1);
    let started = Instant::now();
    let mut text = Text::new();
    let _ = text.insert_str(me, 0, &trace.start_content);
    let mut edits = 0usize;
    for txn in &trace.txns {
        for p in &txn.patches {
            let _ = patch(&mut text, me, p);
            edits += 1;
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(text.to_string(), trace.end_content);
    let bytes = bincode::serde::encode_to_vec(&text, bincode::config::standard()).expect("encodes");
    let (back, _): (Text, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).expect("decodes");
    assert_eq!(back, text);
    eprintln!(
        "{name}: {edits} edits replayed in {elapsed:?}; {} chars, {} runs, encoded {} bytes, ~{:.1} heap bytes/char",
        text.len(),
        text.as_list().run_count(),
        bytes.len(),
        text.as_list().heap_bytes() as f64 / text.len().max(1) as f64
    );
}

#[test]
fn automerge_paper_replays_to_its_end_content() {
    replay_sequential("automerge-paper");
}

#[test]
fn seph_blog1_replays_to_its_end_content() {
    replay_sequential("seph-blog1");
}

#[test]
fn friendsforever_replicas_all_end_at_its_end_content() {
    let trace = load("friendsforever");
    let started = Instant::now();
    let agents = trace.txns.iter().map(|t| t.agent).max().map_or(0, |m| m + 1);
    let mut replicas: Vec<Text> = vec![Text::new(); agents];
    // Per txn: its delta, and the txns it (transitively) includes, as a
    // version: per agent, how many of that agent's txns.
    let mut deltas: Vec<Text> = Vec::with_capacity(trace.txns.len());
    let mut seen: Vec<Vec<bool>> = vec![Vec::new(); agents];
    for (i, txn) in trace.txns.iter().enumerate() {
        let me = ReplicaId::from_u128(txn.agent as u128 + 1);
        let r = &mut replicas[txn.agent];
        // Bring the replica to exactly the parents: join every ancestor
        // delta it lacks (walk the parents' history).
        let mut stack: Vec<usize> = txn.parents.clone();
        let have = &mut seen[txn.agent];
        have.resize(trace.txns.len(), false);
        let mut missing = Vec::new();
        while let Some(p) = stack.pop() {
            if have[p] {
                continue;
            }
            have[p] = true;
            missing.push(p);
            stack.extend(trace.txns[p].parents.iter().copied());
        }
        missing.sort_unstable();
        for p in missing {
            r.join(&deltas[p]);
        }
        let mut delta = Text::new();
        for p in &txn.patches {
            for d in patch(r, me, p) {
                delta.join(&d);
            }
        }
        have[i] = true;
        deltas.push(delta);
    }
    for (agent, r) in replicas.iter_mut().enumerate() {
        for (i, d) in deltas.iter().enumerate() {
            if !seen[agent].get(i).copied().unwrap_or(false) {
                r.join(d);
            }
        }
        assert_eq!(r.to_string(), trace.end_content, "replica of agent {agent}");
    }
    assert!(replicas.windows(2).all(|w| w[0] == w[1]));
    eprintln!(
        "friendsforever: {} txns, {} agents, replayed in {:?}; {} runs",
        trace.txns.len(),
        agents,
        started.elapsed(),
        replicas[0].as_list().run_count()
    );
}
