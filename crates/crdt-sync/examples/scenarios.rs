//! Runs named scenarios through the deterministic simulator and prints what
//! each cost: the Enes et al. (ICDE 2019) comparison of synchronisation
//! modes, and fault scenarios (loss, partitions, crash-restart).
//!
//! `cargo run --release -p crdt-sync --example scenarios -- [SEEDS]` (with
//! `SEEDS`, the fault scenarios are also run over seeds 1 to `SEEDS`).

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
    let mut runs = Vec::new();
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
        runs.push((ms, r));
    }
    println!("\nThe same, bytes (messages) per message kind.\n");
    println!("| one-way delay | delta | ack | digest | catch-up | state | fingerprints |");
    println!("|---|---|---|---|---|---|---|");
    for (ms, r) in &runs {
        let cells: Vec<String> = (1..=6u8)
            .map(|k| {
                let (m, b) = r.by_kind.get(&k).copied().unwrap_or_default();
                format!("{b} ({m})")
            })
            .collect();
        println!("| {ms} ms | {} |", cells.join(" | "));
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
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let mut means = Vec::new();
    for (name, config) in scenarios {
        let r = fault_run(config.clone());
        println!(
            "| {name} | {} | {} ms | {} | {} | {} | {} |",
            r.converged && r.states_equal && r.no_acknowledged_write_lost,
            r.time_to_converge.as_millis(),
            r.bytes,
            r.messages,
            r.dropped,
            r.duplicated
        );
        if seeds > 0 {
            means.push((name, seeds_summary(&config, seeds)));
        }
    }
    if !means.is_empty() {
        println!(
            "\nThe same over seeds 1 to {seeds} (one seed moves by a second between builds).\n"
        );
        println!("| scenario | all good | mean time to converge | slowest | mean bytes |");
        println!("|---|---|---|---|---|");
        for (name, (good, mean, worst, bytes)) in means {
            println!(
                "| {name} | {good}/{seeds} | {} ms | {} ms | {bytes} |",
                mean.as_millis(),
                worst.as_millis()
            );
        }
    }
}

/// One fault scenario: random inserts (and a quarter removes) of 200 keys.
fn fault_run(config: SimConfig) -> Report {
    Simulation::new(config, OrSet::<u64>::new())
        .expect("a valid engine configuration")
        .run(|rng, _i, me, s| {
            let x = rng.below(200);
            if rng.chance(0.25) {
                s.remove(&x)
            } else {
                s.insert(me, x)
            }
        })
}

/// Over seeds 1 to `seeds`: runs that met every property, the mean and the
/// slowest time to converge, the mean bytes.
fn seeds_summary(config: &SimConfig, seeds: u64) -> (u64, Duration, Duration, u64) {
    let (mut good, mut total, mut worst, mut bytes) = (0, Duration::ZERO, Duration::ZERO, 0);
    for seed in 1..=seeds {
        let r = fault_run(SimConfig {
            seed,
            ..config.clone()
        });
        good += u64::from(r.all_good());
        total += r.time_to_converge;
        worst = worst.max(r.time_to_converge);
        bytes += r.bytes;
    }
    let n = u32::try_from(seeds).unwrap_or(u32::MAX);
    (good, total / n, worst, bytes / seeds)
}
