//! `Text` on real editing traces (vendored in `crates/crdt-types/tests/data`,
//! CC BY 4.0): time to replay each sequential trace as local edits, time to
//! replay the concurrent one (one replica per agent, deltas joined), time to
//! load the final document from its encoding, and a table of encoded size
//! and heap bytes per character of the final text (counting allocator).
//!
//! Run with `cargo bench -p crdt-benches --bench text`.

use std::alloc::System;
use std::io::Read;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use crdt_types::{Lattice, ReplicaId, Text};
use serde::Deserialize;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

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
    let path = format!(
        "{}/../crates/crdt-types/tests/data/{name}.json.gz",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut json = String::new();
    let file = std::fs::File::open(&path).expect("vendored trace");
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .expect("gzip json");
    serde_json::from_str(&json).expect("trace json")
}

/// Replays a sequential trace as local edits of one replica (one delta per
/// patch, as an editor would produce and ship).
fn replay(trace: &Trace) -> Text {
    let me = ReplicaId::from_u128(1);
    let mut text = Text::new();
    let _ = text.insert_str(me, 0, &trace.start_content);
    for txn in &trace.txns {
        for (pos, del, ins) in &txn.patches {
            if *del > 0 {
                let _ = text.delete(*pos, *del);
            }
            if !ins.is_empty() {
                let _ = text.insert_str(me, *pos, ins);
            }
        }
    }
    text
}

/// Replays a concurrent trace: one replica per agent, brought to each
/// transaction's parents by joining the deltas it lacks.
fn replay_concurrent(trace: &Trace) -> Vec<Text> {
    let agents = trace.txns.iter().map(|t| t.agent).max().map_or(0, |m| m + 1);
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
        for (pos, del, ins) in &txn.patches {
            if *del > 0 {
                delta.join(&r.delete(*pos, *del));
            }
            if !ins.is_empty() {
                delta.join(&r.insert_str(me, *pos, ins));
            }
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

fn encode(text: &Text) -> Vec<u8> {
    bincode::serde::encode_to_vec(text, bincode::config::standard()).expect("encodes")
}

fn decode(bytes: &[u8]) -> Text {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .expect("decodes")
        .0
}

/// The figures table: one timed replay, encoded size, load time, heap.
fn report() {
    println!("| trace | edits | final chars | replay | runs | encoded bytes | load | heap bytes/char |");
    println!("|---|---|---|---|---|---|---|---|");
    for name in ["automerge-paper", "seph-blog1"] {
        let trace = load(name);
        let edits: usize = trace.txns.iter().map(|t| t.patches.len()).sum();
        let region = Region::new(GLOBAL);
        let started = Instant::now();
        let text = replay(&trace);
        let replay_time = started.elapsed();
        let change = region.change();
        let heap = change.bytes_allocated.saturating_sub(change.bytes_deallocated);
        assert_eq!(text.to_string(), trace.end_content);
        let bytes = encode(&text);
        let started = Instant::now();
        let back = decode(&bytes);
        let load_time = started.elapsed();
        assert_eq!(back, text);
        println!(
            "| {name} | {edits} | {} | {:.1} ms | {} | {} | {:.2} ms | {:.1} |",
            text.len(),
            replay_time.as_secs_f64() * 1e3,
            text.as_list().run_count(),
            bytes.len(),
            load_time.as_secs_f64() * 1e3,
            heap as f64 / text.len() as f64,
        );
    }
    let trace = load("friendsforever");
    let started = Instant::now();
    let replicas = replay_concurrent(&trace);
    let elapsed = started.elapsed();
    assert!(replicas.iter().all(|r| r.to_string() == trace.end_content));
    println!(
        "| friendsforever (concurrent, {} agents) | {} txns | {} | {:.1} ms | {} | {} | | |",
        replicas.len(),
        trace.txns.len(),
        replicas[0].len(),
        elapsed.as_secs_f64() * 1e3,
        replicas[0].as_list().run_count(),
        encode(&replicas[0]).len(),
    );
}

fn traces(c: &mut Criterion) {
    let mut group = c.benchmark_group("text");
    group.sample_size(10);
    for name in ["automerge-paper", "seph-blog1"] {
        let trace = load(name);
        group.bench_function(format!("replay {name}"), |b| b.iter(|| replay(&trace)));
        let bytes = encode(&replay(&trace));
        group.bench_function(format!("load {name}"), |b| b.iter(|| decode(&bytes)));
    }
    let trace = load("friendsforever");
    group.bench_function("replay friendsforever (concurrent)", |b| {
        b.iter(|| replay_concurrent(&trace));
    });
    group.finish();
}

criterion_group!(benches, traces);

fn main() {
    report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
