//! The run of the `engine_bytes` and `engine_text` targets: live engines
//! holding a [`Workload`] state, honest writes, a lossy network and a
//! forger's bytes, then a healing phase that must bring every engine to
//! the same state (see the `engine_bytes` target's documentation).

use std::time::{Duration, Instant};

use crdt_sync::{Config, Engine, PeerId};

use crate::engine_bytes::{Input, N, Op, Workload, replica};

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

fn collect<S: Workload>(engines: &mut [Engine<S>], flights: &mut Vec<Flight>) {
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

/// Runs the schedule `input` on [`N`] engines holding `S` (see the
/// `engine_bytes` target): every call returns, and once the forger stops
/// and the network heals every live engine reports `is_synced()` and all
/// hold the same state (a panic otherwise).
pub fn run<S: Workload>(input: Input) {
    let Input {
        topology,
        prefill,
        limit,
        ops,
    } = input;
    let target = |to, from| target(topology, to, from);
    let live = live(topology);
    let mut now = Instant::now();
    let mut engines: Vec<Engine<S>> = (0..N)
        .map(|i| {
            let me = replica(i);
            let state = S::prefilled(me, i, u16::from(prefill % 48));
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
            Op::Insert { at, .. } | Op::RemoveElement { at, .. } | Op::RemoveKey { at, .. } => {
                engines[live[usize::from(at) % live.len()]]
                    .update(|s, me| s.write(me, &op))
                    .expect("honest writes are accepted");
            }
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
}
