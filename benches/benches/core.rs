//! Benchmarks of the causality kernel: causal-context join and `contains`,
//! and the causal join of add-wins-set states at 10k and 100k dots.
//!
//! Run with `cargo bench -p crdt-benches --bench core`.

use std::hint::black_box;

use crdt_core::{Causal, CausalContext, Dot, DotMap, DotSet, Lattice, ReplicaId};
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};

type Set = Causal<DotMap<u64, DotSet>>;

fn replica(i: u128) -> ReplicaId {
    ReplicaId::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0000 + i)
}

/// A context of `n` dots over 4 replicas, skipping every `gap`-th counter
/// (so it has gaps, as a delta group's context does).
fn context(n: u64, gap: u64) -> CausalContext {
    let mut ctx = CausalContext::new();
    for r in 0..4 {
        let mut c = 0;
        let mut added = 0;
        while added < n / 4 {
            c += 1;
            if c % gap != 0 {
                if let Some(d) = Dot::new(replica(r), c) {
                    ctx.insert(d);
                }
                added += 1;
            }
        }
    }
    ctx
}

/// An add-wins set with elements `offset..offset + n`, written by `r`.
fn set(n: u64, offset: u64, r: ReplicaId) -> Set {
    let mut s = Set::new();
    for x in offset..offset + n {
        let dot = s.next_dot(r);
        let (store, ctx) = s.parts_mut();
        ctx.insert(dot);
        store.insert(x, DotSet::from(dot));
    }
    s
}

fn context_ops(c: &mut Criterion) {
    let mut g = c.benchmark_group("context");
    for &n in &[10_000u64, 100_000] {
        let a = context(n, 3);
        let b = context(n, 5);
        g.bench_with_input(BenchmarkId::new("join_gappy", n), &n, |bench, _| {
            bench.iter(|| black_box(a.clone()).joined(black_box(&b)))
        });
        let probes: Vec<Dot> = (0..1024u64)
            .filter_map(|i| Dot::new(replica(u128::from(i % 4)), 1 + (i * 7919) % (n / 2)))
            .collect();
        g.bench_with_input(
            BenchmarkId::new("contains_x1024_gappy", n),
            &n,
            |bench, _| bench.iter(|| probes.iter().filter(|d| a.contains(**d)).count()),
        );
        let dense = context(n, u64::MAX);
        g.bench_with_input(
            BenchmarkId::new("contains_x1024_contiguous", n),
            &n,
            |bench, _| bench.iter(|| probes.iter().filter(|d| dense.contains(**d)).count()),
        );
    }
    g.finish();
}

fn causal_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("causal_join");
    g.sample_size(20);
    for &n in &[10_000u64, 100_000] {
        // Two replicas that share half their elements and diverged on the rest.
        let base = set(n / 2, 0, replica(0));
        let mut x = base.clone();
        x.join(&set(n / 2, n, replica(1)));
        let mut y = base.clone();
        y.join(&set(n / 2, 2 * n, replica(2)));
        g.bench_with_input(BenchmarkId::new("full_diverged", n), &n, |bench, _| {
            bench.iter(|| black_box(x.clone()).joined(black_box(&y)))
        });
        g.bench_with_input(BenchmarkId::new("clone_only", n), &n, |bench, _| {
            bench.iter(|| black_box(x.clone()))
        });
        // One insert elsewhere, shipped as a catch-up delta.
        let mut z = x.clone();
        let dot = z.next_dot(replica(3));
        let (store, ctx) = z.parts_mut();
        ctx.insert(dot);
        store.insert(u64::MAX, DotSet::from(dot));
        let delta = z.delta_for(x.context());
        g.bench_with_input(
            BenchmarkId::new("apply_one_insert_delta", n),
            &n,
            |bench, _| {
                bench.iter_batched_ref(
                    || x.clone(),
                    |target| target.join(black_box(&delta)),
                    BatchSize::LargeInput,
                )
            },
        );
        g.bench_with_input(
            BenchmarkId::new("delta_for_one_insert", n),
            &n,
            |bench, _| bench.iter(|| black_box(&z).delta_for(black_box(x.context()))),
        );
    }
    g.finish();
}

criterion_group!(benches, context_ops, causal_join);
criterion_main!(benches);
