//! The "costs that grow with the state" of issue 14, measured at 100k and
//! 1M elements of an OR-set with scrambled `u64` keys (16 writers): a
//! digest answer when the peer lacks one element and when it lacks nothing
//! (`Replicated::missing_for`), the same answer from a state that has
//! removed one element the peer has seen (its answer names the removed dot:
//! still a walk of the store), and the join of a remote remove delta of one
//! element (into a state that has joined one before, so its dot index is
//! built; also with a clone of the state made between runs, which leaves
//! the caches cold; and the first join into a fresh clone, which builds
//! the index); the part of that delta the state lacks, which the sync
//! engine computes before the join; and the whole receive of the delta's
//! message by an engine. Fastest of 10 runs, wall time.
//!
//! `cargo run --release -p crdt-sync --example scale`

use std::hint::black_box;
use std::time::{Duration, Instant};

use crdt_core::{Decompose, Lattice};
use crdt_sync::{Config, Engine, PeerId, Replicated};
use crdt_types::{OrSet, ReplicaId};

/// The fastest of 10 runs of `f` on a fresh `setup()` (neither the setup
/// nor dropping what `f` returns is timed).
fn fastest<S, R>(mut setup: impl FnMut() -> S, mut f: impl FnMut(S) -> R) -> Duration {
    (0..10)
        .map(|_| {
            let s = setup();
            let t = Instant::now();
            let r = black_box(f(s));
            let elapsed = t.elapsed();
            drop(r); // outside the measured time
            elapsed
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    for n in [100_000u64, 1_000_000] {
        let writer = |i: u64| ReplicaId::from_u128(u128::from(i % 16) + 1);
        let key = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut behind = OrSet::new();
        for i in 0..n {
            let _ = behind.insert(writer(i), key(i));
        }
        let mut ahead = behind.clone();
        let _ = ahead.insert(writer(0), u64::MAX);
        let digest = behind.digest().unwrap_or_default();
        let own = ahead.digest().unwrap_or_default();
        let one = fastest(|| (), |()| ahead.missing_for(&digest));
        let none = fastest(|| (), |()| ahead.missing_for(&own));
        let mut removed = ahead.clone();
        let _ = removed.remove(&key(n / 3));
        let after_remove = fastest(|| (), |()| removed.missing_for(&own));
        let remove = behind.clone().remove(&key(n / 2));
        // A fresh clone has no dot index: its first remove builds it.
        let first = fastest(
            || behind.clone(),
            |mut s| {
                s.join(&remove);
                s
            },
        );
        // Then each run joins the remove of another element into the
        // same state, whose index is alive.
        let mut warm = behind.clone();
        warm.join(&remove);
        let mut deltas: Vec<_> = (1..=40)
            .map(|i| behind.clone().remove(&key(n / 2 + i)))
            .collect();
        let join = fastest(|| deltas.pop().unwrap_or_default(), |d| warm.join(&d));
        // The same with a clone of the whole state made between runs, which
        // leaves the caches cold.
        let cold = fastest(
            || {
                black_box(behind.clone());
                deltas.pop().unwrap_or_default()
            },
            |d| warm.join(&d),
        );
        // What the engine computes before that join: the part of the
        // received remove the state has not seen (with the default
        // `Config::strip_redundant`), which names the dots it still holds.
        let novel = fastest(
            || deltas.pop().unwrap_or_default(),
            |d| d.into_delta_from(&warm),
        );
        let engine = through_engine(warm, deltas);
        println!(
            "{n} elements: answer a digest missing one element {one:?}, missing none {none:?}, \
             missing a removal {after_remove:?}; join a remote remove {join:?} \
             (cold caches {cold:?}; the first after a clone, which builds the dot index: \
             {first:?}); its novel part, as the engine strips it before the join {novel:?}; \
             the whole receive of its message by an engine {engine:?}"
        );
    }
}

/// A remote remove received by an engine holding `state` (its dot index
/// built), end to end: the fastest `Engine::handle_message` of the rounds
/// in which a synced peer holding the same state ships one of `deltas`
/// (decode, checks, the novel part, the join, buffering). Fingerprint
/// comparisons are off, so that no round includes one.
fn through_engine(state: OrSet<u64>, deltas: Vec<OrSet<u64>>) -> Duration {
    let config = Config {
        integrity_interval: None,
        ..Config::default()
    };
    let mut now = Instant::now();
    let peer = state.clone();
    let engine = |id: u128, s| Engine::new(ReplicaId::from_u128(id), s, config.clone(), now);
    let (Ok(mut a), Ok(mut b)) = (engine(0xA, state), engine(0xB, peer)) else {
        panic!("the default config is valid");
    };
    a.add_peer(PeerId(1), now);
    b.add_peer(PeerId(0), now);
    // One round: B's messages to A (timed, summed), then A's back to B.
    let round = |a: &mut Engine<OrSet<u64>>, b: &mut Engine<OrSet<u64>>, now: Instant| {
        let mut took = Duration::ZERO;
        a.handle_timeout(now);
        b.handle_timeout(now);
        while let Some(m) = b.poll_transmit() {
            let t = Instant::now();
            a.handle_message(now, PeerId(1), &m.bytes)
                .expect("an honest message");
            took += t.elapsed();
        }
        while let Some(m) = a.poll_transmit() {
            b.handle_message(now, PeerId(0), &m.bytes)
                .expect("an honest message");
        }
        took
    };
    for _ in 0..100 {
        if a.is_synced() && b.is_synced() {
            break;
        }
        now += config.sync_interval;
        round(&mut a, &mut b, now);
    }
    assert!(
        a.is_synced() && b.is_synced(),
        "the two engines did not sync"
    );
    deltas
        .into_iter()
        .map(|d| {
            b.apply_local(d).expect("a remove mints nothing");
            now += config.sync_interval;
            let took = round(&mut a, &mut b, now);
            // The acknowledgement goes back before the next remove.
            now += config.sync_interval;
            round(&mut a, &mut b, now);
            took
        })
        .min()
        .unwrap_or_default()
}
