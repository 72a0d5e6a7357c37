//! Engines converge through the simulator whatever the network does: loss,
//! duplication, reordering, partitions that heal, crashes with restart from
//! an old snapshot; and delta sync ends where state-based sync ends.

use std::time::Duration;

use crdt_sync::sim::{Crash, Partition, Report, SimConfig, Simulation, Topology};
use crdt_sync::{Config, Mode, Replicated};
use crdt_types::{MvRegister, OrMap, OrSet, PnCounter, ReplicaId};

fn faulty(seed: u64, topology: Topology) -> SimConfig {
    SimConfig {
        replicas: 5,
        topology,
        seed,
        loss: 0.15,
        duplicate: 0.1,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(80),
        partitions: vec![Partition {
            start: Duration::from_millis(300),
            end: Duration::from_millis(1500),
            split: 2,
        }],
        crashes: vec![Crash {
            replica: 4,
            at: Duration::from_millis(900),
            down_for: Duration::from_millis(400),
        }],
        write_until: Duration::from_secs(2),
        max_time: Duration::from_secs(60),
        ..SimConfig::default()
    }
}

fn sim<T: Replicated>(config: SimConfig, initial: T) -> Simulation<T> {
    Simulation::new(config, initial).expect("a valid engine configuration")
}

fn assert_converged(report: &Report, what: &str) {
    assert!(report.converged, "{what}: did not converge: {report:?}");
    assert!(report.all_good(), "{what}: a property failed: {report:?}");
    assert!(report.writes > 0, "{what}: the workload wrote nothing");
}

/// A mixed workload on a set: mostly inserts, some removes.
fn set_workload(
    rng: &mut crdt_sync::sim::Rng,
    _i: usize,
    me: ReplicaId,
    s: &mut OrSet<u64>,
) -> OrSet<u64> {
    let x = rng.below(40);
    if rng.chance(0.3) {
        s.remove(&x)
    } else {
        s.insert(me, x)
    }
}

#[test]
fn or_set_converges_under_every_fault_on_every_topology() {
    for seed in 1..=6 {
        for topology in [
            Topology::FullMesh,
            Topology::PartialMesh { degree: 2 },
            Topology::Ring,
            Topology::Tree { fanout: 2 },
        ] {
            let what = format!("seed {seed}, {topology:?}");
            let report = sim(faulty(seed, topology), OrSet::new()).run(set_workload);
            assert_converged(&report, &what);
        }
    }
}

#[test]
fn map_of_sets_converges_with_concurrent_key_removals() {
    for seed in 1..=5 {
        let report = sim(
            faulty(seed, Topology::FullMesh),
            OrMap::<u8, OrSet<u8>>::new(),
        )
        .run(|rng, _i, me, m| {
            let k = rng.below(4) as u8;
            if rng.chance(0.2) {
                m.remove(&k)
            } else {
                let x = rng.below(8) as u8;
                m.update(k, |v| v.insert(me, x))
            }
        });
        assert_converged(&report, &format!("seed {seed}"));
    }
}

#[test]
fn counters_and_registers_converge() {
    for seed in 1..=5 {
        let report = sim(faulty(seed, Topology::Ring), PnCounter::new())
            .run(|rng, _i, me, c| c.add(me, rng.below(7) as i64 - 3));
        assert_converged(&report, &format!("counter seed {seed}"));
        let report = sim(faulty(seed, Topology::Ring), MvRegister::<u64>::new())
            .run(|rng, _i, me, r| r.write(me, rng.below(100)));
        assert_converged(&report, &format!("register seed {seed}"));
    }
}

/// The same seeded run, by deltas and by full states, ends in the same state.
fn final_state<T: Replicated + PartialEq>(
    mode: Mode,
    seed: u64,
    initial: T,
    workload: impl FnMut(&mut crdt_sync::sim::Rng, usize, ReplicaId, &mut T) -> T,
) -> (Report, T) {
    let config = SimConfig {
        replicas: 4,
        seed,
        loss: 0.1,
        duplicate: 0.1,
        engine: Config {
            mode,
            ..Config::default()
        },
        ..SimConfig::default()
    };
    let mut last = None;
    let report = sim(config, initial).run_with_final(workload, |s| last = Some(s.clone()));
    (report, last.unwrap_or_default())
}

/// A workload whose outcome does not depend on delivery timing: each
/// replica inserts fresh elements and removes some of its own earlier ones
/// (a replica always observes its own inserts).
fn timing_independent()
-> impl FnMut(&mut crdt_sync::sim::Rng, usize, ReplicaId, &mut OrSet<u64>) -> OrSet<u64> {
    let mut counters = [0u64; 16];
    move |_rng, i, me, s| {
        counters[i] += 1;
        let n = counters[i];
        let own = |k: u64| (i as u64) << 32 | k;
        if n.is_multiple_of(4) {
            s.remove(&own(n - 2))
        } else {
            s.insert(me, own(n))
        }
    }
}

#[test]
fn delta_sync_ends_where_state_sync_ends() {
    for seed in 1..=5 {
        let (a, sa) = final_state(Mode::Delta, seed, OrSet::new(), timing_independent());
        let (b, sb) = final_state(Mode::State, seed, OrSet::new(), timing_independent());
        assert_converged(&a, "delta");
        assert_converged(&b, "state");
        assert!(!sa.is_empty(), "the runs wrote something");
        assert_eq!(sa, sb, "seed {seed}");
        assert!(
            a.bytes < b.bytes,
            "deltas ship fewer bytes ({} vs {})",
            a.bytes,
            b.bytes
        );
    }
}

#[test]
fn restarted_replica_never_reuses_a_dot() {
    use crdt_types::CausalCrdt;
    use std::time::Instant;
    let now = Instant::now();
    let first = ReplicaId::from_u128(1);
    // A replica writes, saves a snapshot, writes again and ships that write,
    // then crashes and restarts from the (older) snapshot.
    let mut state = OrSet::<u64>::new();
    let _ = state.insert(first, 1);
    let snapshot = state.clone();
    let shipped = state.insert(first, 2);

    // The safe path: a fresh id per incarnation.
    let mut restored =
        crdt_sync::Engine::restore(snapshot.clone(), Config::default(), now).unwrap();
    assert_ne!(restored.replica(), first);
    restored.update(|s, me| s.insert(me, 3)).unwrap();
    let mut peer = shipped.as_causal().clone();
    assert!(peer.checked_join(restored.state().as_causal()).is_ok());

    // What the safe path prevents: the same id mints the shipped dot again.
    let mut reused = snapshot;
    let _ = reused.insert(first, 3);
    let mut peer = shipped.as_causal().clone();
    assert!(
        peer.checked_join(reused.as_causal()).is_err(),
        "dot reuse must be detectable"
    );
}

/// The Enes et al. effect at test scale: in a partial mesh, classic delta
/// sync re-ships what peers already have and costs about as much as
/// state-based sync; stripping redundant deltas removes that.
#[test]
fn both_optimisations_cut_bytes_by_an_order_of_magnitude() {
    let run = |engine: Config| {
        let config = SimConfig {
            replicas: 15,
            topology: Topology::PartialMesh { degree: 4 },
            write_every: engine.sync_interval,
            write_until: engine.sync_interval * 30,
            engine,
            ..SimConfig::default()
        };
        let mut next = [0u64; 15];
        let r = sim(config, crdt_types::GSet::<u64>::new()).run(|_rng, i, _me, s| {
            next[i] += 1;
            s.insert((i as u64) << 32 | next[i])
        });
        assert_converged(&r, "enes");
        r.bytes
    };
    let delta = |bp, rr| Config {
        avoid_back_propagation: bp,
        strip_redundant: rr,
        ..Config::default()
    };
    let state = run(Config {
        mode: Mode::State,
        ..Config::default()
    });
    let classic = run(delta(false, false));
    let both = run(delta(true, true));
    assert!(
        both * 10 < classic,
        "both {both} B vs classic delta {classic} B"
    );
    assert!(both * 10 < state, "both {both} B vs state-based {state} B");
}
