//! OR-set: this workspace's `OrSet<u64>` against `crdts` 7.3.2 `Orswot`, the
//! same workloads in the same run.
//!
//! Run with `cargo bench -p crdt-benches --bench or_set`.

use std::hint::black_box;

use crdt_benches::{SET_SIZE, keys, or_set, replica, theirs};
use crdt_core::Lattice;
use crdts::CvRDT;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn insert(c: &mut Criterion) {
    let mut g = c.benchmark_group("or_set/insert_100k");
    g.sample_size(10);
    for (name, sequential) in [("sequential", true), ("random", false)] {
        let ks = keys(SET_SIZE, sequential);
        g.bench_function(format!("ours/{name}"), |b| {
            b.iter(|| or_set(black_box(&ks), replica(1)))
        });
        g.bench_function(format!("crdts/{name}"), |b| {
            b.iter(|| theirs::or_set(black_box(&ks), replica(1).as_u128()))
        });
    }
    g.finish();
}

fn remove(c: &mut Criterion) {
    let mut g = c.benchmark_group("or_set/remove_10k_of_100k");
    g.sample_size(10);
    let ks = keys(SET_SIZE, false);
    let victims: Vec<u64> = ks.iter().copied().step_by(10).collect();
    let ours = or_set(&ks, replica(1));
    let crdts = theirs::or_set(&ks, replica(1).as_u128());
    g.bench_function("ours", |b| {
        b.iter_batched_ref(
            || ours.clone(),
            |s| {
                for k in &victims {
                    let _ = black_box(s.remove(k));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("crdts", |b| {
        b.iter_batched_ref(
            || crdts.clone(),
            |s| {
                for &k in &victims {
                    theirs::remove(s, k);
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn merge(c: &mut Criterion) {
    let mut g = c.benchmark_group("or_set/merge_diverged_100k");
    g.sample_size(10);
    // Both replicas hold the same 50k elements, then each adds 50k of its own.
    let shared = keys(SET_SIZE / 2, false);
    let mine: Vec<u64> = (0..SET_SIZE / 2).map(|i| i * 2 + 1).collect();
    let yours: Vec<u64> = (0..SET_SIZE / 2).map(|i| i * 2 + 2).collect();
    let base = or_set(&shared, replica(1));
    let mut x = base.clone();
    for &k in &mine {
        let _ = x.insert(replica(2), k);
    }
    let mut y = base;
    for &k in &yours {
        let _ = y.insert(replica(3), k);
    }
    g.bench_function("ours", |b| {
        b.iter_batched_ref(
            || x.clone(),
            |s| s.join(black_box(&y)),
            BatchSize::LargeInput,
        )
    });
    let tbase = theirs::or_set(&shared, replica(1).as_u128());
    let mut tx = tbase.clone();
    for &k in &mine {
        theirs::insert(&mut tx, replica(2).as_u128(), k);
    }
    let mut ty = tbase;
    for &k in &yours {
        theirs::insert(&mut ty, replica(3).as_u128(), k);
    }
    g.bench_function("crdts", |b| {
        b.iter_batched_ref(
            || (tx.clone(), ty.clone()),
            |(s, other)| s.merge(std::mem::take(other)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, insert, remove, merge);
criterion_main!(benches);
