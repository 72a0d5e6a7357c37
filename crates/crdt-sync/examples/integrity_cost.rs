//! What finding "one dot, two values" costs on large states: computing the
//! per-origin fingerprints, checking a received payload for a conflicting
//! dot (the common lookup path and the rare scan), and the bytes of a
//! fingerprint message and of a repair.
//!
//! `cargo run --release -p crdt-sync --example integrity_cost`

use std::time::{Duration, Instant};

use crdt_core::{Causal, CausalContext, Dot, DotMap, DotSet, Fingerprint, Lattice};
use crdt_sync::{Envelope, Message, Payload, Replicated, codec};
use crdt_types::{CausalCrdt, OrSet, ReplicaId};

/// The median of `runs` timings of `f`.
fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    t.sort();
    t[runs / 2]
}

fn one(x: u64, dot: Dot) -> OrSet<u64> {
    let mut store: DotMap<u64, DotSet> = DotMap::new();
    store.insert(x, DotSet::from(dot));
    let context: CausalContext = std::iter::once(dot).collect();
    OrSet::from_causal(Causal::from_parts(store, context).expect("valid"))
}

fn delta_bytes(state: OrSet<u64>) -> usize {
    codec::encode(&Envelope {
        from_epoch: 1,
        to_epoch: 2,
        message: Message::Delta(Payload {
            id: 1,
            part: 0,
            parts: 1,
            state,
        }),
    })
    .map_or(0, |b| b.len())
}

fn main() {
    println!(
        "| elements | writers | fingerprints | conflict check, lookup | conflict check, full scan | prints message | repair |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (n, writers) in [
        (100_000u64, 1u128),
        (100_000, 8),
        (1_000_000, 1),
        (1_000_000, 8),
    ] {
        let mut set = OrSet::new();
        for w in 0..writers {
            let per = n / writers as u64;
            let keys = (w as u64 * per..(w as u64 + 1) * per)
                .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let _ = set.insert_all(ReplicaId::from_u128(w + 1), keys);
        }
        let forger = ReplicaId::from_u128(0xF0F0);
        let d = Dot::new(forger, 1).expect("nonzero");
        let mut state = set.clone();
        state.join(&one(5, d));
        let prints_time = time(5, || {
            std::hint::black_box(state.fingerprints(7));
        });
        // A one-element delta of an element the state holds (lookup path).
        let held = Dot::new(ReplicaId::from_u128(1), 777).expect("nonzero");
        let key = state
            .as_causal()
            .store()
            .iter()
            .find(|(_, s)| s.contains(held))
            .map(|(k, _)| *k)
            .expect("held");
        let payload = one(key, held);
        let lookup = time(5, || {
            assert!(state.reused_dot(&payload).is_none());
        });
        // The forged other version: found under another key by a scan.
        let forged = one(6, d);
        assert_eq!(state.reused_dot(&forged), Some(d));
        // The scan's worst case: a stale add of an element removed since
        // (its dot seen, held nowhere), so every entry is visited.
        let mut trimmed = state.clone();
        let _ = trimmed.remove(&key);
        let scan = time(5, || {
            assert!(trimmed.reused_dot(&payload).is_none());
        });
        let prints: Vec<Fingerprint> = state.fingerprints(7).unwrap_or_default();
        let prints_len = codec::encode(&Envelope::<OrSet<u64>> {
            from_epoch: 1,
            to_epoch: 2,
            message: Message::Fingerprints {
                seed: 7,
                total: u64::MAX,
                prints,
                reply: true,
            },
        })
        .map_or(0, |b| b.len());
        let repair = delta_bytes(state.project(&[forger]).expect("causal"));
        println!(
            "| {n} | {writers} | {:.1} ms | {:.1} µs | {:.1} ms | {prints_len} B | {repair} B |",
            prints_time.as_secs_f64() * 1e3,
            lookup.as_secs_f64() * 1e6,
            scan.as_secs_f64() * 1e3,
        );
    }
}
