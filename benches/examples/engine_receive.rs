//! Two engines over the same state, one writing and the other receiving
//! each write in its own message: the receiver's time per message, end to
//! end (`Engine::handle_message`: decode, checks, the novel part, join,
//! buffering). A `Text` of 100k characters in about 14k runs with a
//! character typed per round, and an OR-set of 100k scrambled keys with a
//! new key per round.
//!
//! `cargo run --release -p crdt-benches --example engine_receive`

use std::time::{Duration, Instant};

use crdt_benches::{replica, scrambled_keys, typed_text};
use crdt_sync::{Config, Engine, PeerId, Replicated};
use crdt_types::OrSet;

/// Rounds, one write each.
const ROUNDS: u64 = 3000;

/// Runs the rounds from `state`, `write` making round `i`'s write on the
/// writer; prints the receiver's mean time per message.
fn run<T: Replicated + Clone + PartialEq>(
    name: &str,
    state: T,
    mut write: impl FnMut(&mut Engine<T>, u64),
) {
    let mut t = Instant::now();
    let config = Config {
        verify_local_writes: false,
        integrity_interval: None,
        ..Config::default()
    };
    let mut a = Engine::new(replica(1), state.clone(), config.clone(), t).expect("valid");
    let mut b = Engine::new(replica(2), state, config, t).expect("valid");
    a.add_peer(PeerId(2), t);
    b.add_peer(PeerId(1), t);
    let (mut spent, mut messages) = (Duration::ZERO, 0u32);
    for i in 0..ROUNDS {
        write(&mut a, i);
        t += Duration::from_millis(100);
        a.handle_timeout(t);
        b.handle_timeout(t);
        loop {
            let mut moved = false;
            while let Some(m) = a.poll_transmit() {
                moved = true;
                let started = Instant::now();
                b.handle_message(t, PeerId(1), &m.bytes)
                    .expect("honest bytes");
                spent += started.elapsed();
                messages += 1;
            }
            while let Some(m) = b.poll_transmit() {
                moved = true;
                a.handle_message(t, PeerId(2), &m.bytes)
                    .expect("honest bytes");
            }
            if !moved {
                break;
            }
        }
    }
    assert!(a.state() == b.state(), "{name}: converged");
    println!(
        "{name}: {messages} messages received, {:.2} µs each",
        spent.as_secs_f64() * 1e6 / f64::from(messages)
    );
}

fn main() {
    run("Text, 100k characters", typed_text(100_000), |e, i| {
        e.update(|s, me| {
            let at = s.len() / 2 + i as usize;
            s.insert_str(me, at, "b")
        })
        .expect("own id");
    });
    let mut set = OrSet::new();
    let _ = set.insert_all(replica(1), scrambled_keys(100_000));
    run("OR-set, 100k scrambled keys", set, |e, i| {
        e.update(|s, me| s.insert(me, i | 1 << 63)).expect("own id");
    });
}
