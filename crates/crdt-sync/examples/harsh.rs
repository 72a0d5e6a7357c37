//! Runs harsh seeded schedules (see `crdt_sync::sim::harsh`) for two
//! workloads and reports every property failure with its seed. The OR-set
//! runs also have a forger send one dot as two different elements to two
//! replicas (`crdt_sync::sim::one_dot_two_elements`).
//!
//! `cargo run --release -p crdt-sync --example harsh -- [SEEDS] [FIRST]`
//! (default 1000 seeds per workload from seed 1).

use std::time::Instant;

use std::time::Duration;

use crdt_sync::sim::{Report, Simulation, harsh, map_of_sets, one_dot_two_elements, or_set_churn};
use crdt_types::{OrMap, OrSet};

fn main() {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let first: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let mut failures = 0;
    for workload in ["or_set_churn", "map_of_sets"] {
        let start = Instant::now();
        let (mut bytes, mut writes, mut worst) = (0u64, 0u64, Duration::ZERO);
        let (mut conflicts, mut mismatches) = (0u64, 0u64);
        for seed in first..first + seeds {
            let config = harsh(seed);
            let report: Report = match workload {
                "or_set_churn" => {
                    let forgery =
                        one_dot_two_elements(&config, Duration::from_millis(1000), 5000, 6000);
                    Simulation::new(config, OrSet::new())
                        .expect("harsh schedules are valid")
                        .with_forgery(forgery)
                        .run(or_set_churn)
                }
                _ => Simulation::new(config, OrMap::new())
                    .expect("harsh schedules are valid")
                    .run(map_of_sets),
            };
            bytes += report.bytes;
            conflicts += report.dot_conflicts;
            mismatches += report.integrity_mismatches;
            writes += report.writes;
            worst = worst.max(report.time_to_converge);
            if report.time_to_converge > Duration::from_secs(30) {
                println!(
                    "slow {workload} seed {seed}: {:?} after the last fault",
                    report.time_to_converge
                );
            }
            if !report.all_good() {
                failures += 1;
                println!(
                    "FAIL {workload} seed {seed}: {:?}\n  {report:?}",
                    harsh(seed)
                );
            }
        }
        println!(
            "{workload}: {seeds} seeds from {first}, {writes} writes, {bytes} bytes, \
             slowest convergence {worst:?} after the last fault, {conflicts} dot conflicts, \
             {mismatches} fingerprint mismatches, {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    println!("{failures} failed");
    if failures > 0 {
        std::process::exit(1);
    }
}
