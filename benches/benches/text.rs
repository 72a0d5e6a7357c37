//! `Text` on real editing traces (vendored in `crates/crdt-types/tests/data`,
//! CC BY 4.0): time to replay each sequential trace as local edits, time to
//! replay the concurrent one (one replica per agent, deltas joined), time to
//! load the final document from its encoding, and a table of encoded size
//! and heap bytes per character of the final text (counting allocator).
//!
//! Run with `cargo bench -p crdt-benches --bench text`.

use std::alloc::System;
use std::path::Path;
use std::time::Instant;

use crdt_types::Text;
use criterion::{Criterion, criterion_group};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[path = "../../crates/crdt-types/tests/support/traces.rs"]
mod support;

use support::{Trace, replay, replay_concurrent};

fn load(name: &str) -> Trace {
    support::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/crdt-types"),
        name,
    )
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
    println!(
        "| trace | edits | final chars | replay | runs | encoded bytes | load | heap bytes/char |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for name in ["automerge-paper", "seph-blog1"] {
        let trace = load(name);
        let edits: usize = trace.txns.iter().map(|t| t.patches.len()).sum();
        let region = Region::new(GLOBAL);
        let started = Instant::now();
        let text = replay(&trace);
        let replay_time = started.elapsed();
        let change = region.change();
        let heap = change
            .bytes_allocated
            .saturating_sub(change.bytes_deallocated);
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
