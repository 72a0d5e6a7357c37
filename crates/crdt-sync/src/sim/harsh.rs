//! Harsh seeded schedules: everything a network and its machines can do to
//! a run at once.

use std::time::Duration;

use crdt_core::{Causal, CausalContext, Dot, DotMap, DotSet, ReplicaId};
use crdt_types::{CausalCrdt, OrMap, OrSet};

use super::{Crash, Forged, Partition, Rng, SimConfig, Topology};
use crate::Config;

/// A harsh schedule drawn from `seed`: 3 to 8 replicas on any topology,
/// 30-60% loss, up to 20% duplication, delays up to 400 ms (so messages
/// reorder), up to two partitions, up to seven crashes with restarts from
/// old snapshots, message limits from 250 bytes to 1 MiB, sync intervals of
/// 20-100 ms and acknowledgement timeouts of two to six sync intervals.
/// Writes stop after two seconds; the run then has ten minutes of simulated
/// time to converge.
///
/// ```
/// use crdt_sync::sim::{Simulation, harsh};
/// use crdt_types::OrSet;
/// let config = harsh(42);
/// assert!((3..=8).contains(&config.replicas));
/// let report = Simulation::new(config, OrSet::<u64>::new())
///     .unwrap()
///     .run(|rng, _i, me, s| s.insert(me, rng.below(50)));
/// assert!(report.all_good(), "{report:?}");
/// ```
#[must_use]
pub fn harsh(seed: u64) -> SimConfig {
    let mut rng = Rng::new(seed ^ 0x005E_ED0F_4A25);
    let pick = |rng: &mut Rng, lo: u64, hi: u64| lo + rng.below(hi - lo + 1);
    let replicas = pick(&mut rng, 3, 8) as usize;
    let topology = match rng.below(4) {
        0 => Topology::FullMesh,
        1 => Topology::PartialMesh { degree: 4 },
        2 => Topology::Ring,
        _ => Topology::Tree { fanout: 2 },
    };
    let sync_interval = Duration::from_millis(pick(&mut rng, 20, 100));
    let ack_timeout = sync_interval * pick(&mut rng, 2, 6) as u32;
    let max_message_bytes = [250, 400, 1000, 4000, 64 << 10, 1 << 20][rng.below(6) as usize];
    let write_until = Duration::from_secs(2);
    let ms = |rng: &mut Rng, lo: u64, hi: u64| Duration::from_millis(pick(rng, lo, hi));
    let partitions = (0..rng.below(3))
        .map(|_| {
            let start = ms(&mut rng, 0, 2500);
            Partition {
                start,
                end: start + ms(&mut rng, 100, 1500),
                split: pick(&mut rng, 1, replicas as u64 - 1) as usize,
            }
        })
        .collect();
    let crashes = (0..rng.below(8))
        .map(|_| Crash {
            replica: rng.below(replicas as u64) as usize,
            at: ms(&mut rng, 1, 3000),
            down_for: ms(&mut rng, 1, 800),
        })
        .collect();
    let max_delay = ms(&mut rng, 1, 400);
    SimConfig {
        replicas,
        topology,
        seed,
        loss: 0.3 + rng.below(31) as f64 / 100.0,
        duplicate: rng.below(21) as f64 / 100.0,
        min_delay: Duration::from_millis(1),
        max_delay,
        partitions,
        crashes,
        write_every: ms(&mut rng, 20, 120),
        write_until,
        snapshot_every: ms(&mut rng, 100, 700),
        max_time: Duration::from_secs(600),
        engine: Config {
            sync_interval,
            ack_timeout,
            max_message_bytes,
            ..Config::default()
        },
    }
}

/// A workload for [`harsh`] runs: OR-set churn over a small key space
/// (so removes and re-adds of the same element race), with bursts of
/// several inserts in one delta through `insert_all`.
pub fn or_set_churn(rng: &mut Rng, _i: usize, me: ReplicaId, s: &mut OrSet<u64>) -> OrSet<u64> {
    match rng.below(10) {
        0..=3 => s.insert(me, rng.below(32)),
        4..=6 => s.remove(&rng.below(32)),
        7 => {
            let from = rng.below(32);
            s.insert_all(me, from..from + 1 + rng.below(12))
        }
        8 => s.retain(|x| x % 3 != rng_mod(x)),
        _ => s.insert(me, 1000 + rng.below(1000)),
    }
}

fn rng_mod(x: &u64) -> u64 {
    (x / 7) % 3
}

/// A workload for [`harsh`] runs: a map of sets with nested inserts and
/// removes and removes of whole keys (a removed key's concurrent nested
/// inserts must survive).
pub fn map_of_sets(
    rng: &mut Rng,
    _i: usize,
    me: ReplicaId,
    m: &mut OrMap<u8, OrSet<u16>>,
) -> OrMap<u8, OrSet<u16>> {
    let key = rng.below(6) as u8;
    let x = rng.below(16) as u16;
    match rng.below(10) {
        0..=4 => m.update(key, |s| s.insert(me, x)),
        5..=6 => m.update(key, |s| s.remove(&x)),
        7 => m.update(key, |s| s.insert_all(me, x..x + 4)),
        _ => m.remove(&key),
    }
}

/// The replica id the forger of [`one_dot_two_elements`] mints under.
pub const FORGER: ReplicaId = ReplicaId::from_u128(0xF0F0);

/// "One dot, two values" for an OR-set run: at `at`, replica 0 receives
/// element `x` and the last replica element `y`, both under the one dot
/// `(FORGER, 1)`. The full join holds neither (each side's context covers
/// the other's entry), so every replica must end without both.
#[must_use]
pub fn one_dot_two_elements(
    config: &SimConfig,
    at: Duration,
    x: u64,
    y: u64,
) -> Vec<Forged<OrSet<u64>>> {
    let Some(dot) = Dot::new(FORGER, 1) else {
        return Vec::new();
    };
    let set = |element: u64| {
        let mut store: DotMap<u64, DotSet> = DotMap::new();
        store.insert(element, DotSet::from(dot));
        let context: CausalContext = std::iter::once(dot).collect();
        Causal::from_parts(store, context).map(OrSet::from_causal)
    };
    let last = config.replicas.saturating_sub(1);
    [(0, x), (last, y)]
        .into_iter()
        .filter_map(|(to, element)| set(element).ok().map(|state| Forged { at, to, state }))
        .collect()
}
