//! The sync engine under an arbitrary schedule: local writes, deliveries in
//! any order, drops, duplicates, timer ticks, snapshots and crash-restarts
//! from old snapshots, on a topology (two engines, a line of three, a full
//! mesh of three) and a message limit (so splitting and coarsened digests
//! happen) that the input chooses. At every step, two linked engines that
//! both report `is_synced()` hold equal states; after a final fault-free
//! exchange (messages only, no state is joined by hand) every engine reports
//! `is_synced()`, all are equal, and no dot was ever minted twice.
#![no_main]

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use crdt_core::ReplicaId;
use crdt_sync::{Config, Engine, PeerId};
use crdt_types::{CausalCrdt, OrSet};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(u8, u8),
    Remove(u8, u8),
    Tick(u8),
    Deliver(u8),
    Drop(u8),
    Duplicate(u8),
    Snapshot(u8),
    Restart(u8),
}

/// A whole input: the network's shape and limit, then the schedule.
#[derive(Arbitrary, Debug)]
struct Input {
    topology: u8,
    limit: u8,
    ops: Vec<Op>,
}

const N: usize = 3;

/// Who talks to whom: 0 = engines 0 and 1 only (engine 2 idle), 1 = a line
/// 0 - 1 - 2, otherwise a full mesh.
fn linked(topology: u8, i: usize, j: usize) -> bool {
    i != j
        && match topology % 3 {
            0 => i < 2 && j < 2,
            1 => i.abs_diff(j) == 1,
            _ => true,
        }
}

struct Net {
    flights: Vec<(usize, usize, Vec<u8>)>,
}

fn config(limit: u8) -> Config {
    Config {
        sync_interval: Duration::from_millis(10),
        max_buffered_deltas: 16,
        ack_timeout: Duration::from_millis(200),
        // From the smallest accepted limit (splits and coarsened digests are
        // everyday events there) up to the default.
        max_message_bytes: match limit % 4 {
            0 => 128,
            1 => 200,
            2 => 400,
            _ => 1 << 20,
        },
        ..Config::default()
    }
}

fn collect(engines: &mut [Engine<OrSet<u8>>], net: &mut Net) {
    for (i, e) in engines.iter_mut().enumerate() {
        while let Some(t) = e.poll_transmit() {
            net.flights.push((i, t.to.0 as usize, t.bytes));
        }
    }
}

fuzz_target!(|input: Input| {
    let Input {
        topology,
        limit,
        ops,
    } = input;
    let config = || config(limit);
    let base = Instant::now();
    let mut now = base;
    let mut next_id = 10u128;
    let mut engines: Vec<Engine<OrSet<u8>>> = (0..N)
        .map(|i| {
            Engine::new(
                ReplicaId::from_u128(i as u128 + 1),
                OrSet::new(),
                config(),
                now,
            )
            .expect("a valid config")
        })
        .collect();
    for (i, e) in engines.iter_mut().enumerate() {
        for j in (0..N).filter(|&j| linked(topology, i, j)) {
            e.add_peer(PeerId(j as u64), now);
        }
    }
    let mut snapshots: Vec<OrSet<u8>> = vec![OrSet::new(); N];
    let mut net = Net {
        flights: Vec::new(),
    };
    // Every state any replica ever had, to check that no dot carries two payloads.
    let mut history: Vec<OrSet<u8>> = Vec::new();
    for op in ops.into_iter().take(200) {
        match op {
            Op::Insert(r, x) => engines[usize::from(r) % N]
                .update(|s, me| s.insert(me, x % 8))
                .expect("writes with the given id are accepted"),
            Op::Remove(r, x) => engines[usize::from(r) % N]
                .update(|s, _| s.remove(&(x % 8)))
                .expect("removes are accepted"),
            Op::Tick(r) => {
                now += Duration::from_millis(u64::from(r % 32) + 1);
                for e in &mut engines {
                    e.handle_timeout(now);
                }
            }
            Op::Deliver(k) | Op::Duplicate(k) | Op::Drop(k) if net.flights.is_empty() => {
                let _ = k;
            }
            Op::Deliver(k) => {
                let (from, to, bytes) = net.flights.remove(usize::from(k) % net.flights.len());
                let _ = engines[to].handle_message(now, PeerId(from as u64), &bytes);
            }
            Op::Duplicate(k) => {
                let f = net.flights[usize::from(k) % net.flights.len()].clone();
                net.flights.push(f);
            }
            Op::Drop(k) => {
                net.flights.remove(usize::from(k) % net.flights.len());
            }
            Op::Snapshot(r) => {
                let i = usize::from(r) % N;
                snapshots[i] = engines[i].state().clone();
            }
            Op::Restart(r) => {
                let i = usize::from(r) % N;
                history.push(engines[i].state().clone());
                next_id += 1;
                let mut e = Engine::restore_as(
                    ReplicaId::from_u128(next_id),
                    snapshots[i].clone(),
                    config(),
                    now,
                )
                .expect("a valid config");
                for j in (0..N).filter(|&j| linked(topology, i, j)) {
                    e.add_peer(PeerId(j as u64), now);
                }
                engines[i] = e;
            }
        }
        collect(&mut engines, &mut net);
        assert!(net.flights.len() < 100_000);
        synced_means_equal(&engines, topology);
    }

    // A fault-free ending: deliver everything, run timers, repeat.
    for _ in 0..60 {
        now += Duration::from_millis(50);
        for e in &mut engines {
            e.handle_timeout(now);
        }
        collect(&mut engines, &mut net);
        while !net.flights.is_empty() {
            let (from, to, bytes) = net.flights.remove(0);
            engines[to]
                .handle_message(now, PeerId(from as u64), &bytes)
                .expect("engines only send valid messages");
            collect(&mut engines, &mut net);
            synced_means_equal(&engines, topology);
        }
        if live(&engines, topology).all(|(_, e)| e.is_synced()) {
            break;
        }
    }
    let mut linked_engines = live(&engines, topology);
    let first = linked_engines.next().map(|(_, e)| e.state().clone());
    for (i, e) in live(&engines, topology) {
        assert!(e.is_synced(), "engine {i} never reports is_synced()");
        assert_eq!(Some(e.state()), first.as_ref(), "replicas did not converge");
    }
    // No dot was minted twice for different elements.
    let engines: Vec<_> = live(&engines, topology).map(|(_, e)| e).collect();
    let mut all = engines[0].state().as_causal().clone();
    for s in history.iter().chain(engines.iter().map(|e| e.state())) {
        assert!(all.checked_join(s.as_causal()).is_ok(), "a dot was reused");
    }
});

/// The engines the topology links (engine 2 sits alone in the two-engine
/// topology and takes no part in convergence).
fn live(
    engines: &[Engine<OrSet<u8>>],
    topology: u8,
) -> impl Iterator<Item = (usize, &Engine<OrSet<u8>>)> {
    engines
        .iter()
        .enumerate()
        .filter(move |(i, _)| (0..N).any(|j| linked(topology, *i, j)))
}

/// Two linked engines that both report `is_synced()` hold equal states.
fn synced_means_equal(engines: &[Engine<OrSet<u8>>], topology: u8) {
    for i in 0..N {
        for j in (i + 1..N).filter(|&j| linked(topology, i, j)) {
            if engines[i].is_synced() && engines[j].is_synced() {
                assert_eq!(
                    engines[i].state(),
                    engines[j].state(),
                    "engines {i} and {j} both report is_synced() with different states"
                );
            }
        }
    }
}
