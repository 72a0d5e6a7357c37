//! The sync engine under an arbitrary schedule: local writes, deliveries in
//! any order, drops, duplicates, timer ticks, snapshots and crash-restarts
//! from old snapshots. After a final fault-free exchange, all replicas are
//! equal, and no dot was ever minted twice.
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

const N: usize = 3;

struct Net {
    flights: Vec<(usize, usize, Vec<u8>)>,
}

fn config() -> Config {
    Config {
        sync_interval: Duration::from_millis(10),
        max_buffered_deltas: 16,
        ack_timeout: Duration::from_millis(200),
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

fuzz_target!(|ops: Vec<Op>| {
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
        for j in (0..N).filter(|&j| j != i) {
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
                for j in (0..N).filter(|&j| j != i) {
                    e.add_peer(PeerId(j as u64), now);
                }
                engines[i] = e;
            }
        }
        collect(&mut engines, &mut net);
        assert!(net.flights.len() < 100_000);
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
        }
        if engines.windows(2).all(|w| w[0].state() == w[1].state())
            && engines.iter().all(|e| e.is_synced())
        {
            break;
        }
    }
    for w in engines.windows(2) {
        assert_eq!(w[0].state(), w[1].state(), "replicas did not converge");
    }
    // No dot was minted twice for different elements.
    let mut all = engines[0].state().as_causal().clone();
    for s in history.iter().chain(engines.iter().map(|e| e.state())) {
        assert!(all.checked_join(s.as_causal()).is_ok(), "a dot was reused");
    }
});
