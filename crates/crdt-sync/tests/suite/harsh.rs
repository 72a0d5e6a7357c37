//! Harsh seeded schedules through the simulator: 3-8 replicas, every
//! topology, 30-60% loss, duplication, delays up to 400 ms, partitions, up
//! to seven crash-restarts from old snapshots, message limits from 250 B,
//! tiny acknowledgement timeouts; OR-set churn with bursts, and maps of
//! sets with nested and whole-key removes. Every run must converge with
//! every engine reporting `is_synced()`, lose no write a live replica held,
//! invent nothing, reuse no dot, and never report two neighbours synced
//! while they differ.
//!
//! `cargo run --release -p crdt-sync --example harsh -- 5000` runs many
//! more seeds than `cargo test` has time for.

use crdt_sync::Replicated;
use crdt_sync::sim::{Rng, Simulation, harsh, map_of_sets, one_dot_two_elements, or_set_churn};
use crdt_types::{OrMap, OrSet, ReplicaId};

/// Seeds per workload here; the example runs thousands.
const SEEDS: u64 = 120;

fn survives<T: Replicated>(
    initial: T,
    mut workload: impl FnMut(&mut Rng, usize, ReplicaId, &mut T) -> T,
) {
    for seed in 1..=SEEDS {
        let report = Simulation::new(harsh(seed), initial.clone())
            .expect("harsh schedules are valid")
            .run(&mut workload);
        assert!(
            report.all_good(),
            "seed {seed}: {:?}\n{report:?}",
            harsh(seed)
        );
        assert!(report.writes > 0);
    }
}

#[test]
fn or_set_churn_survives_harsh_schedules() {
    survives(OrSet::new(), or_set_churn);
}

#[test]
fn map_of_sets_survives_harsh_schedules() {
    survives(OrMap::new(), map_of_sets);
}

/// Seeds that once never finished (every engine equal, some never
/// reporting `is_synced()` after ten minutes): on a link with ~60% loss and
/// round trips longer than the acknowledgement timeout, a split catch-up was
/// restarted from scratch by every repeated digest request and never
/// completed. A repeated request is now answered by the catch-up in flight.
#[test]
fn split_catch_ups_complete_on_slow_lossy_links() {
    for seed in [775, 902] {
        let report = Simulation::new(harsh(seed), OrSet::new())
            .expect("harsh schedules are valid")
            .run(or_set_churn);
        assert!(report.all_good(), "seed {seed}: {report:?}");
    }
}

/// A forger sends one dot as element 5000 to replica 0 and as 6000 to the
/// last replica, spoofing a neighbour of each, in the middle of harsh runs.
/// Every run still meets every property. Without crashes (a crash can
/// legitimately lose the one copy of a version before it spread, as it can
/// lose any unacknowledged write) every replica ends with the full join's
/// value: neither element.
#[test]
fn a_forger_cannot_split_harsh_runs() {
    let at = std::time::Duration::from_millis(1000);
    for seed in 1..=40 {
        for crashes in [false, true] {
            let mut config = harsh(seed);
            if !crashes {
                config.crashes.clear();
            }
            let forgery = one_dot_two_elements(&config, at, 5000, 6000);
            let mut finals = Vec::new();
            let report = Simulation::new(config.clone(), OrSet::new())
                .expect("harsh schedules are valid")
                .with_forgery(forgery)
                .run_with_final(or_set_churn, |s| finals.push(s.clone()));
            assert!(report.all_good(), "seed {seed}: {config:?}\n{report:?}");
            if !crashes {
                assert_eq!(report.forged, 2);
                assert!(
                    report.dot_conflicts + report.integrity_mismatches > 0,
                    "seed {seed}: {report:?}"
                );
                for s in &finals {
                    assert!(
                        !s.contains(&5000) && !s.contains(&6000),
                        "seed {seed}: {s:?}"
                    );
                }
            }
        }
    }
}

/// Each target gets its version during a partition long enough for the
/// two to reset each other; they are then reconciled by digest catch-up,
/// which skips the dot both have seen: only the fingerprint comparison
/// finds the split, and the repair reaches the full join.
#[test]
fn a_forger_during_a_partition_is_found_by_fingerprints() {
    let sync_interval = std::time::Duration::from_millis(100);
    let config = crdt_sync::sim::SimConfig {
        replicas: 2,
        partitions: vec![crdt_sync::sim::Partition {
            start: std::time::Duration::from_millis(2000),
            end: std::time::Duration::from_millis(4000),
            split: 1,
        }],
        engine: crdt_sync::Config {
            sync_interval,
            ack_timeout: sync_interval * 3,
            ..crdt_sync::Config::default()
        },
        ..crdt_sync::sim::SimConfig::default()
    };
    let forgery = one_dot_two_elements(&config, std::time::Duration::from_millis(2500), 5000, 6000);
    let mut finals = Vec::new();
    let report = Simulation::new(config, OrSet::new())
        .unwrap()
        .with_forgery(forgery)
        .run_with_final(or_set_churn, |s| finals.push(s.clone()));
    assert!(report.all_good(), "{report:?}");
    assert_eq!(report.forged, 2);
    assert!(report.integrity_mismatches > 0, "{report:?}");
    assert!(
        finals
            .iter()
            .all(|s| !s.contains(&5000) && !s.contains(&6000))
    );
}
