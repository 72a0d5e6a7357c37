//! Hostile bytes into live engines: three honest engines in a full mesh hold
//! real state (a map of sets with nested removes, pre-filled) and sync over a
//! lossy, reordering network, while the input also hands them bytes claimed
//! to come from one of their peers: arbitrary bytes, honest messages with
//! bytes overwritten, spliced or truncated, and honest messages replayed to
//! the wrong engine. Every call must return (an `Err` is fine) without a
//! panic, an allocation beyond `-rss_limit_mb` or a stall beyond `-timeout`.
//!
//! Afterwards the forger stops and the network heals: with honest messages
//! only (no state joined by hand) every engine must report `is_synced()`
//! and all must hold the same state. Forged messages may legitimately add
//! writes (without authentication a forged write is indistinguishable from
//! a relayed one); they must never leave honest replicas apart.
//!
//! Run as the README says: `cargo +nightly fuzz run engine_bytes --
//! -rss_limit_mb=512 -timeout=2`.
#![no_main]

use std::time::{Duration, Instant};

use crdt_fuzz::engine_bytes::{Input, N, Op, State, replica};
use crdt_sync::{Config, Engine, PeerId};
use libfuzzer_sys::fuzz_target;

fn config(limit: u8) -> Config {
    Config {
        sync_interval: Duration::from_millis(10),
        max_buffered_deltas: 32,
        ack_timeout: Duration::from_millis(200),
        max_message_bytes: match limit % 3 {
            0 => 256,
            1 => 1024,
            _ => 1 << 20,
        },
        ..Config::default()
    }
}

/// An honest message in flight: sender, receiver, bytes.
type Flight = (usize, usize, Vec<u8>);

fn collect(engines: &mut [Engine<State>], flights: &mut Vec<Flight>) {
    for (i, e) in engines.iter_mut().enumerate() {
        while let Some(t) = e.poll_transmit() {
            flights.push((i, t.to.0 as usize, t.bytes));
        }
    }
}

/// Whether engines `i` and `j` are linked in `topology`.
fn linked(topology: u8, i: usize, j: usize) -> bool {
    i != j
        && match topology % 3 {
            0 => i < 2 && j < 2,
            1 => i.abs_diff(j) == 1,
            _ => true,
        }
}

/// The engines that take part (engine 2 sits out in the pair topology).
fn live(topology: u8) -> Vec<usize> {
    (0..N)
        .filter(|&i| (0..N).any(|j| linked(topology, i, j)))
        .collect()
}

/// A live engine picked by `to`, and one of its peers picked by `from`
/// (the forger claims a peer the engine knows: `crdt-net` refuses others
/// at the handshake).
fn target(topology: u8, to: u8, from: u8) -> (usize, PeerId) {
    let live = live(topology);
    let to = live[usize::from(to) % live.len()];
    let peers: Vec<usize> = (0..N).filter(|&j| linked(topology, to, j)).collect();
    (to, PeerId(peers[usize::from(from) % peers.len()] as u64))
}

fn pick(flights: &[Flight], k: u8) -> Option<&Vec<u8>> {
    (!flights.is_empty()).then(|| &flights[usize::from(k) % flights.len()].2)
}

fuzz_target!(|input: Input| {
    let Input {
        topology,
        prefill,
        limit,
        ops,
    } = input;
    let target = |to, from| target(topology, to, from);
    let live = live(topology);
    let mut now = Instant::now();
    let mut engines: Vec<Engine<State>> = (0..N)
        .map(|i| {
            let me = replica(i);
            let mut state = State::new();
            for x in 0..u16::from(prefill % 48) {
                let _ = state.update((x % 7) as u8, |s| s.insert(me, x * 3 + i as u16));
            }
            Engine::new(me, state, config(limit), now).expect("a valid config")
        })
        .collect();
    for (i, e) in engines.iter_mut().enumerate() {
        for j in (0..N).filter(|&j| linked(topology, i, j)) {
            e.add_peer(PeerId(j as u64), now);
        }
    }
    let mut flights: Vec<Flight> = Vec::new();
    for op in ops.into_iter().take(300) {
        match op {
            Op::Insert { at, key, x } => engines[live[usize::from(at) % live.len()]]
                .update(|s, me| s.update(key % 8, |set| set.insert(me, x % 64)))
                .expect("honest writes are accepted"),
            Op::RemoveElement { at, key, x } => engines[live[usize::from(at) % live.len()]]
                .update(|s, _| s.update(key % 8, |set| set.remove(&(x % 64))))
                .expect("honest removes are accepted"),
            Op::RemoveKey { at, key } => engines[live[usize::from(at) % live.len()]]
                .update(|s, _| s.remove(&(key % 8)))
                .expect("honest removes are accepted"),
            Op::Tick(d) => {
                now += Duration::from_millis(u64::from(d % 64) + 1);
                for e in &mut engines {
                    e.handle_timeout(now);
                }
            }
            Op::Deliver(k) if !flights.is_empty() => {
                let (from, to, bytes) = flights.remove(usize::from(k) % flights.len());
                let _ = engines[to].handle_message(now, PeerId(from as u64), &bytes);
            }
            Op::Drop(k) if !flights.is_empty() => {
                flights.remove(usize::from(k) % flights.len());
            }
            Op::Duplicate(k) if !flights.is_empty() => {
                let f = flights[usize::from(k) % flights.len()].clone();
                flights.push(f);
            }
            Op::Deliver(_) | Op::Drop(_) | Op::Duplicate(_) => {}
            Op::Raw { to, from, bytes } => {
                let (to, from) = target(to, from);
                let _ = engines[to].handle_message(now, from, &bytes);
            }
            Op::Tamper { k, to, from, edits } => {
                if let Some(bytes) = pick(&flights, k) {
                    let mut bytes = bytes.clone();
                    for (pos, byte) in edits.into_iter().take(16) {
                        if !bytes.is_empty() {
                            let i = usize::from(pos) % bytes.len();
                            bytes[i] = byte;
                        }
                    }
                    let (to, from) = target(to, from);
                    let _ = engines[to].handle_message(now, from, &bytes);
                }
            }
            Op::Splice {
                a,
                b,
                cut,
                to,
                from,
            } => {
                if let (Some(x), Some(y)) = (pick(&flights, a), pick(&flights, b)) {
                    let cut_x = usize::from(cut) % (x.len() + 1);
                    let cut_y = usize::from(cut) % (y.len() + 1);
                    let mut bytes = x[..cut_x].to_vec();
                    bytes.extend_from_slice(&y[cut_y..]);
                    let (to, from) = target(to, from);
                    let _ = engines[to].handle_message(now, from, &bytes);
                }
            }
            Op::Truncate { k, len, to } => {
                if let Some(bytes) = pick(&flights, k) {
                    let bytes = bytes[..usize::from(len) % (bytes.len() + 1)].to_vec();
                    let (to, from) = target(to, 0);
                    let _ = engines[to].handle_message(now, from, &bytes);
                }
            }
            Op::Replay { k, to, from } => {
                if let Some(bytes) = pick(&flights, k) {
                    let bytes = bytes.clone();
                    let (to, from) = target(to, from);
                    let _ = engines[to].handle_message(now, from, &bytes);
                }
            }
        }
        collect(&mut engines, &mut flights);
        assert!(flights.len() < 100_000);
    }

    // The forger stops; the network heals. Honest messages only, every one
    // delivered, timers run; a long enough ending for any periodic repair.
    for _ in 0..800 {
        now += Duration::from_millis(100);
        for e in &mut engines {
            e.handle_timeout(now);
        }
        collect(&mut engines, &mut flights);
        while !flights.is_empty() {
            let (from, to, bytes) = flights.remove(0);
            engines[to]
                .handle_message(now, PeerId(from as u64), &bytes)
                .expect("engines only send valid messages");
            collect(&mut engines, &mut flights);
        }
        let first = engines[live[0]].state();
        if live
            .iter()
            .all(|&i| engines[i].is_synced() && engines[i].state() == first)
        {
            break;
        }
    }
    for &i in &live {
        assert!(
            engines[i].is_synced(),
            "engine {i} never reports is_synced()"
        );
        assert_eq!(
            engines[i].state(),
            engines[live[0]].state(),
            "engine {i} diverged from engine {}",
            live[0]
        );
    }
});
