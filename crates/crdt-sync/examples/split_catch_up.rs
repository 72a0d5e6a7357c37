//! The cost of a catch-up that must be split: a replica holding `n`
//! scrambled `u64` elements catches up a new, empty peer over a link with
//! a message limit, with and without loss. Prints the bytes on the wire,
//! the engines' CPU time and the parts sent.
//!
//! `cargo run --release -p crdt-sync --example split_catch_up`

use std::time::{Duration, Instant};

use crdt_sync::{Config, Engine, PeerId};
use crdt_types::{OrSet, ReplicaId};

fn main() {
    println!("| elements | limit | loss | bytes | parts | parts resent | CPU | simulated time |");
    println!("|---|---|---|---|---|---|---|---|");
    for (n, limit, loss_every) in [
        (20_000u64, 64 << 10, 0u64),
        (20_000, 2000, 0),
        (20_000, 2000, 10),
        (120_000, 1 << 20, 0),
        (1_000_000, 1 << 20, 0),
    ] {
        run(n, limit, loss_every);
    }
}

fn run(n: u64, limit: usize, loss_every: u64) {
    let start = Instant::now();
    let config = Config {
        max_message_bytes: limit,
        sync_interval: Duration::from_millis(10),
        ..Config::default()
    };
    let (ra, rb) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let mut a = Engine::new(ra, OrSet::new(), config.clone(), start).expect("valid config");
    let keys = (0..n).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    a.update(|s, me| s.insert_all(me, keys)).expect("own id");
    let mut b = Engine::new(rb, OrSet::new(), config, start).expect("valid config");
    a.add_peer(PeerId(2), start);
    b.add_peer(PeerId(1), start);
    let (mut t, mut bytes, mut sent, mut cpu) = (start, 0usize, 0u64, Duration::ZERO);
    for _ in 0..100_000 {
        t += Duration::from_millis(10);
        let tick = Instant::now();
        a.handle_timeout(t);
        b.handle_timeout(t);
        loop {
            let mut moved = false;
            for a_sends in [true, false] {
                let (from, to, id) = if a_sends {
                    (&mut a, &mut b, PeerId(1))
                } else {
                    (&mut b, &mut a, PeerId(2))
                };
                while let Some(m) = from.poll_transmit() {
                    moved = true;
                    bytes += m.bytes.len();
                    sent += 1;
                    if loss_every == 0 || !sent.is_multiple_of(loss_every) {
                        let _ = to.handle_message(t, id, &m.bytes);
                    }
                }
            }
            if !moved {
                break;
            }
        }
        cpu += tick.elapsed();
        if a.state() == b.state() && a.is_synced() && b.is_synced() {
            break;
        }
    }
    assert_eq!(a.state(), b.state(), "converged");
    let loss = if loss_every == 0 {
        "0".to_string()
    } else {
        format!("1 in {loss_every}")
    };
    let m = a.metrics();
    println!(
        "| {n} | {limit} | {loss} | {bytes} | {} | {} | {:.3} s | {:?} |",
        m.split_parts,
        m.parts_resent,
        cpu.as_secs_f64(),
        t - start
    );
}
