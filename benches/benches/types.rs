//! Counters and registers: this workspace against `crdts` 7.3.2, the same
//! workloads in the same run.
//!
//! Run with `cargo bench -p crdt-benches --bench types`.

use std::hint::black_box;

use crdt_benches::replica;
use crdt_core::{HybridClock, Lattice};
use crdt_types::{GCounter, LwwRegister, MvRegister, PnCounter};
use crdts::{CmRDT, CvRDT};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const OPS: u64 = 1_000;

/// Benchmarks joining every state of `ours` into a bottom state, and merging
/// every state of `theirs` (by value, as `crdts` merges) into a new one.
fn join_all<L: Lattice, T: CvRDT + Default + Clone>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    ours: &[L],
    theirs: &[T],
) {
    g.bench_function("ours", |b| {
        b.iter(|| {
            let mut acc = L::default();
            for x in ours {
                acc.join(black_box(x));
            }
            acc
        })
    });
    g.bench_function("crdts", |b| {
        b.iter_batched(
            || theirs.to_vec(),
            |all| {
                let mut acc = T::default();
                for x in all {
                    acc.merge(black_box(x));
                }
                acc
            },
            BatchSize::SmallInput,
        )
    });
}

fn counters(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter/increment_x1000");
    g.bench_function("ours_g", |b| {
        b.iter(|| {
            let mut x = GCounter::new();
            for _ in 0..OPS {
                let _ = black_box(x.increment(replica(1), 1));
            }
            x
        })
    });
    g.bench_function("crdts_g", |b| {
        b.iter(|| {
            let mut x = crdts::GCounter::<u128>::new();
            for _ in 0..OPS {
                let op = x.inc(replica(1).as_u128());
                x.apply(black_box(op));
            }
            x
        })
    });
    g.bench_function("ours_pn", |b| {
        b.iter(|| {
            let mut x = PnCounter::new();
            for i in 0..OPS {
                let _ = black_box(x.add(replica(1), if i % 3 == 0 { -1 } else { 1 }));
            }
            x
        })
    });
    g.bench_function("crdts_pn", |b| {
        b.iter(|| {
            let mut x = crdts::PNCounter::<u128>::new();
            for i in 0..OPS {
                let op = if i % 3 == 0 {
                    x.dec(replica(1).as_u128())
                } else {
                    x.inc(replica(1).as_u128())
                };
                x.apply(black_box(op));
            }
            x
        })
    });
    g.finish();

    // Sixteen replicas each counted on their own; one joins all of them.
    let mut g = c.benchmark_group("counter/merge_16_way");
    let ours: Vec<PnCounter> = (0..16u128)
        .map(|r| {
            let mut x = PnCounter::new();
            let _ = x.add(replica(r), 5);
            let _ = x.add(replica(r), -2);
            x
        })
        .collect();
    let theirs: Vec<crdts::PNCounter<u128>> = (0..16u128)
        .map(|r| {
            let mut x = crdts::PNCounter::new();
            x.apply(x.inc_many(replica(r).as_u128(), 5));
            x.apply(x.dec_many(replica(r).as_u128(), 2));
            x
        })
        .collect();
    join_all(&mut g, &ours, &theirs);
    g.finish();
}

fn registers(c: &mut Criterion) {
    let mut g = c.benchmark_group("mv_register/write_x1000");
    g.bench_function("ours", |b| {
        b.iter(|| {
            let mut x = MvRegister::new();
            for i in 0..OPS {
                let _ = black_box(x.write(replica(1), i));
            }
            x
        })
    });
    g.bench_function("crdts", |b| {
        b.iter(|| {
            let mut x = crdts::MVReg::<u64, u128>::new();
            for i in 0..OPS {
                let op = x.write(i, x.read_ctx().derive_add_ctx(replica(1).as_u128()));
                x.apply(black_box(op));
            }
            x
        })
    });
    g.finish();

    // Eight replicas write concurrently; one joins the eight siblings.
    let mut g = c.benchmark_group("mv_register/merge_8_concurrent");
    let ours: Vec<MvRegister<u64>> = (0..8u128)
        .map(|r| {
            let mut x = MvRegister::new();
            let _ = x.write(replica(r), r as u64);
            x
        })
        .collect();
    let theirs: Vec<crdts::MVReg<u64, u128>> = (0..8u128)
        .map(|r| {
            let mut x = crdts::MVReg::new();
            x.apply(x.write(r as u64, x.read_ctx().derive_add_ctx(replica(r).as_u128())));
            x
        })
        .collect();
    join_all(&mut g, &ours, &theirs);
    g.finish();

    let mut g = c.benchmark_group("lww_register/write_x1000");
    g.bench_function("ours", |b| {
        let mut clock = HybridClock::new(replica(1));
        b.iter(|| {
            let mut x = LwwRegister::new();
            for i in 0..OPS {
                let _ = black_box(x.write(&mut clock, i));
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

    let mut g = c.benchmark_group("lww_register/merge");
    let mut ca = HybridClock::new(replica(1));
    let mut cb = HybridClock::new(replica(2));
    let (mut a, mut bb) = (LwwRegister::new(), LwwRegister::new());
    let _ = a.write(&mut ca, 1u64);
    let _ = bb.write(&mut cb, 2u64);
    g.bench_function("ours", |b| {
        b.iter(|| black_box(a.clone()).joined(black_box(&bb)))
    });
    let ta = crdts::LWWReg {
        val: 1u64,
        marker: 10u64,
    };
    let tb = crdts::LWWReg {
        val: 2u64,
        marker: 11u64,
    };
    g.bench_function("crdts", |b| {
        b.iter(|| {
            let mut x = black_box(ta.clone());
            x.merge(black_box(tb.clone()));
            x
        })
    });
    g.finish();
}

criterion_group!(benches, counters, registers);
criterion_main!(benches);
