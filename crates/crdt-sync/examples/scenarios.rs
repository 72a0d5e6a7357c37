//! Runs named scenarios through the deterministic simulator and prints what
//! each cost: the Enes et al. (ICDE 2019) comparison of synchronisation
//! modes, and fault scenarios (loss, partitions, crash-restart).
//!
//! `cargo run --release -p crdt-sync --example scenarios`

use std::time::Duration;

use crdt_sync::sim::{Crash, Partition, Report, SimConfig, Simulation, Topology};
use crdt_sync::{Config, Mode};
use crdt_types::{GSet, OrSet};

/// Each replica adds one new element per sync round (the paper's workload),
/// every message delayed between `delay.0` and `delay.1`.
fn enes(engine: Config, initial_rounds: u64, delay: (Duration, Duration)) -> Report {
    let config = SimConfig {
        replicas: 15,
        topology: Topology::PartialMesh { degree: 4 },
        seed: 7,
        min_delay: delay.0,
        max_delay: delay.1,
        write_every: engine.sync_interval,
        write_until: engine.sync_interval * initial_rounds as u32,
        max_time: Duration::from_secs(600),
        engine,
        ..SimConfig::default()
    };
    let mut next = [0u64; 15];
    Simulation::new(config, GSet::<u64>::new())
        .expect("a valid engine configuration")
        .run(|_rng, i, _me, s| {
            next[i] += 1;
            s.insert((i as u64) << 32 | next[i])
        })
}

/// The delivery delay of the Enes et al. comparison: 1 to 30 ms.
const ENES_DELAY: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(30));

/// Bytes per write of the default configuration on the Enes et al. workload
/// as the one-way delay grows (each message delayed exactly that long): a
/// resend on every round would grow with the round trip, a resend on a
/// retransmission timeout does not.
fn bytes_per_write_by_delay(rounds: u64) {
    println!("\nBytes per write by one-way delay (the workload above, default configuration).\n");
    println!("| one-way delay | bytes | writes | bytes per write | rounds to converge |");
    println!("|---|---|---|---|---|");
    for ms in [10, 100, 1_000] {
        let d = Duration::from_millis(ms);
        let r = enes(Config::default(), rounds, (d, d));
        assert!(r.converged && r.states_equal, "{ms} ms: {r:?}");
        println!(
            "| {ms} ms | {} | {} | {:.1} | {} |",
            r.bytes,
            r.writes,
            r.bytes as f64 / r.writes.max(1) as f64,
            r.rounds_to_converge
        );
    }
}

fn main() {
    let rounds = 100;
    println!("Enes et al. comparison: 15 replicas, partial mesh (4 links each), grow-only set,");
    println!("one new element per replica per round for {rounds} rounds, no loss.\n");
    println!(
        "| mode | bytes | messages | rounds to converge | vs state-based | vs classic delta |"
    );
    println!("|---|---|---|---|---|---|");
    let delta = |bp, rr| Config {
        mode: Mode::Delta,
        avoid_back_propagation: bp,
        strip_redundant: rr,
        ..Config::default()
    };
    let modes = [
        (
            "state-based",
            Config {
                mode: Mode::State,
                ..Config::default()
            },
        ),
        ("classic delta (no BP, no RR)", delta(false, false)),
        ("delta + BP", delta(true, false)),
        ("delta + RR", delta(false, true)),
        ("delta + BP + RR", delta(true, true)),
    ];
    let reports: Vec<(&str, Report)> = modes
        .into_iter()
        .map(|(name, c)| (name, enes(c, rounds, ENES_DELAY)))
        .collect();
    let state = reports[0].1.bytes as f64;
    let classic = reports[1].1.bytes as f64;
    for (name, r) in &reports {
        assert!(
            r.converged && r.states_equal,
            "{name} did not converge: {r:?}"
        );
        println!(
            "| {name} | {} | {} | {} | {:.1}x fewer | {:.1}x fewer |",
            r.bytes,
            r.messages,
            r.rounds_to_converge,
            state / r.bytes as f64,
            classic / r.bytes as f64
        );
    }

    bytes_per_write_by_delay(rounds);

    println!("\nFault scenarios: 7 replicas, add-wins set, random inserts and removes for 5 s.\n");
    println!(
        "| scenario | converged | time to converge | bytes | messages | dropped | duplicated |"
    );
    println!("|---|---|---|---|---|---|---|");
    let base = SimConfig {
        replicas: 7,
        topology: Topology::PartialMesh { degree: 4 },
        write_until: Duration::from_secs(5),
        ..SimConfig::default()
    };
    let scenarios = [
        ("clean network", base.clone()),
        (
            "20% loss, 10% duplication, 0-200 ms delay",
            SimConfig {
                loss: 0.2,
                duplicate: 0.1,
                max_delay: Duration::from_millis(200),
                ..base.clone()
            },
        ),
        (
            "partition 1 s to 4 s, then heal",
            SimConfig {
                partitions: vec![Partition {
                    start: Duration::from_secs(1),
                    end: Duration::from_secs(4),
                    split: 3,
                }],
                ..base.clone()
            },
        ),
        (
            "two crashes, restart from old snapshots",
            SimConfig {
                crashes: vec![
                    Crash {
                        replica: 2,
                        at: Duration::from_millis(1_700),
                        down_for: Duration::from_secs(1),
                    },
                    Crash {
                        replica: 5,
                        at: Duration::from_millis(3_300),
                        down_for: Duration::from_millis(500),
                    },
                ],
                snapshot_every: Duration::from_secs(1),
                ..base.clone()
            },
        ),
        (
            "ring topology, 10% loss",
            SimConfig {
                topology: Topology::Ring,
                loss: 0.1,
                ..base.clone()
            },
        ),
    ];
    for (name, config) in scenarios {
        let r = Simulation::new(config, OrSet::<u64>::new())
            .expect("a valid engine configuration")
            .run(|rng, _i, me, s| {
                let x = rng.below(200);
                if rng.chance(0.25) {
                    s.remove(&x)
                } else {
                    s.insert(me, x)
                }
            });
        println!(
            "| {name} | {} | {} ms | {} | {} | {} | {} |",
            r.converged && r.states_equal && r.no_acknowledged_write_lost,
            r.time_to_converge.as_millis(),
            r.bytes,
            r.messages,
            r.dropped,
            r.duplicated
        );
    }
}
