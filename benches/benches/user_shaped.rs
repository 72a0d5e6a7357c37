//! The everyday paths on data shaped like a user's (issue 14): scrambled
//! `u64` keys from a fixed-seed mixer, 16 replicas, one element or one
//! increment at a time through the public API; this workspace against
//! `crdts` 7.3.2 in the same run.
//!
//! Run with `cargo bench -p crdt-benches --bench user_shaped` (a filter such
//! as `-- or_set` runs some of the rows).

use std::hint::black_box;

use crdt_benches::counters::{self, REPLICAS};
use crdt_benches::{replica, scrambled_keys, theirs};
use crdt_core::{HybridClock, HybridTimestamp, Lattice};
use crdt_types::{LwwRegister, OrSet};
use crdts::CvRDT;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

/// Elements of the OR-set rows.
const SET: u64 = 100_000;
/// Operations per iteration of the counter and register write rows.
const OPS: u64 = 1_000;

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Benchmarks joining every state of `ours` into a bottom state, and merging
/// every state of `theirs` (by value, as `crdts` merges, cloned outside the
/// timing) into the first of them.
fn join_all<L: Lattice, T: CvRDT + Clone>(g: &mut Group<'_>, ours: &[L], theirs: &[T]) {
    g.bench_function("ours", |b| b.iter(|| counters::join_all(ours)));
    g.bench_function("crdts", |b| {
        b.iter_batched(
            || theirs.to_vec(),
            counters::merge_all,
            BatchSize::SmallInput,
        )
    });
}

fn or_set(c: &mut Criterion) {
    let ks = scrambled_keys(SET);
    let mut g = c.benchmark_group("user/or_set_insert_100k_scrambled");
    g.sample_size(10);
    g.bench_function("ours", |b| {
        b.iter(|| {
            let mut s = OrSet::new();
            for &k in &ks {
                let _ = black_box(s.insert(replica(1), k));
            }
            s
        })
    });
    g.bench_function("crdts", |b| {
        b.iter(|| theirs::or_set(black_box(&ks), replica(1).as_u128()))
    });
    g.finish();

    let mut g = c.benchmark_group("user/or_set_remove_half_of_100k_scrambled");
    g.sample_size(10);
    let victims: Vec<u64> = ks.iter().copied().step_by(2).collect();
    let ours = crdt_benches::or_set(&ks, replica(1));
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

fn counters(c: &mut Criterion) {
    // A counter every replica has counted on; increments from each in turn.
    let mut g = c.benchmark_group("user/pn_increment_16_replicas_x1000");
    let (ours, crdts) = counters::pn_counted_on();
    g.bench_function("ours", |b| {
        b.iter_batched_ref(
            || ours.clone(),
            |x| {
                for i in 0..OPS {
                    let (r, by) = counters::pn_step(i);
                    let _ = black_box(x.add(replica(r), by));
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("crdts", |b| {
        b.iter_batched_ref(
            || crdts.clone(),
            |x| {
                for i in 0..OPS {
                    counters::pn_step_theirs(x, i);
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // Sixteen replicas that have gossiped: each knows every replica's
    // counts, more or less up to date; one joins all sixteen.
    let mut g = c.benchmark_group("user/pn_merge_16_way");
    let (ours, theirs) = counters::pn_gossiped();
    join_all(&mut g, &ours, &theirs);
    g.finish();
}

fn registers(c: &mut Criterion) {
    // Replica 0 writes, everyone sees it, then all sixteen write
    // concurrently; one joins the sixteen registers.
    let mut g = c.benchmark_group("user/mv_merge_16_concurrent");
    let (ours, theirs) = counters::mv_concurrent();
    join_all(&mut g, &ours, &theirs);
    g.finish();

    let mut g = c.benchmark_group("user/lww_write_x1000");
    g.bench_function("ours_clock", |b| {
        let mut clock = HybridClock::new(replica(1));
        b.iter(|| {
            let mut x = LwwRegister::new();
            for i in 0..OPS {
                let _ = black_box(x.write(&mut clock, i));
            }
            x
        })
    });
    g.bench_function("ours_write_at", |b| {
        b.iter(|| {
            let mut x = LwwRegister::new();
            for i in 0..OPS {
                let _ = black_box(x.write_at(replica(1), i + 1, i));
            }
            x
        })
    });
    g.bench_function("crdts", |b| {
        b.iter(|| {
            let mut x = crdts::LWWReg {
                val: 0u64,
                marker: 0u64,
            };
            for i in 0..OPS {
                x.update(black_box(i), i + 1);
            }
            x
        })
    });
    g.finish();

    // Sixteen replicas each wrote once, at scrambled times; one joins all.
    let mut g = c.benchmark_group("user/lww_merge_16_way");
    let times = scrambled_keys(16);
    let ours: Vec<LwwRegister<u64>> = (0..REPLICAS)
        .zip(&times)
        .map(|(r, &t)| {
            let wall = t % 1_000_000;
            let mut clock = HybridClock::with_time_source(replica(r), move || wall);
            let mut x = LwwRegister::new();
            let _ = x.write(&mut clock, t);
            x
        })
        .collect();
    debug_assert!(
        ours.iter()
            .all(|x| x.timestamp() > Some(HybridTimestamp::default()))
    );
    let theirs: Vec<crdts::LWWReg<u64, u64>> = times
        .iter()
        .map(|&t| crdts::LWWReg {
            val: t,
            marker: t % 1_000_000,
        })
        .collect();
    join_all(&mut g, &ours, &theirs);
    g.finish();
}

/// Outer keys of the map-of-sets row.
const TAGGED: u64 = 4_096;
/// Elements per inner set of the map-of-sets row.
const TAGS: u64 = 16;

fn map_of_sets(c: &mut Criterion) {
    // Tags on documents: an OR-map of small OR-sets, scrambled keys, one
    // element at a time and round-robin over the documents, so every inner
    // set grows one element at a time (the small-map insert path).
    let docs = scrambled_keys(TAGGED);
    let mut g = c.benchmark_group("user/or_map_of_sets_4k_x16_scrambled");
    g.sample_size(10);
    g.bench_function("ours", |b| {
        b.iter(|| crdt_benches::map_of_sets(black_box(&docs), TAGS, replica(1)))
    });
    g.bench_function("crdts", |b| {
        b.iter(|| theirs::map_of_sets(black_box(&docs), TAGS, replica(1).as_u128()))
    });
    g.finish();
}

criterion_group!(benches, or_set, counters, registers, map_of_sets);
criterion_main!(benches);
