//! Retransmission: what a long round trip costs. Each round ships what was
//! written since the last one; the whole unacknowledged interval goes again
//! only on a retransmission timeout derived from measured round trips (or
//! when a later interval's acknowledgement shows a gap). A resent
//! single-part payload goes under a fresh id, so its acknowledgement is an
//! exact round-trip sample. Bytes in the simulator do not depend on timing,
//! so the bounds are asserted; the figures are in `docs/measurements.md` (`cargo run
//! --release -p crdt-sync --example scenarios`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crdt_sync::sim::{SimConfig, Simulation, Topology};
use crdt_sync::{Config, Engine, Message, MessageKind, PeerId, codec};
use crdt_types::{GSet, ReplicaId};

/// Bytes and writes when four replicas in a full mesh each add one new
/// element per sync round for `rounds` rounds, every message delayed
/// `one_way`.
fn run(one_way: Duration, rounds: u32) -> (u64, u64, BTreeMap<u8, (u64, u64)>) {
    let engine = Config::default();
    let config = SimConfig {
        replicas: 4,
        topology: Topology::FullMesh,
        seed: 3,
        min_delay: one_way,
        max_delay: one_way,
        write_every: engine.sync_interval,
        write_until: engine.sync_interval * rounds,
        max_time: Duration::from_secs(120),
        engine,
        ..SimConfig::default()
    };
    let mut next = [0u64; 4];
    let r = Simulation::new(config, GSet::<u64>::new())
        .expect("a valid configuration")
        .run(|_rng, i, _me, s| {
            next[i] += 1;
            s.insert((i as u64) << 32 | next[i])
        });
    assert!(r.converged && r.states_equal, "{one_way:?}: {r:?}");
    (r.bytes, r.writes, r.by_kind)
}

/// What one more write costs once the replicas are running (the opening
/// digest exchange, a few round trips long, left out): the bytes that 100
/// more rounds of writes add, per write; printed per message kind.
fn bytes_per_write(one_way: Duration) -> f64 {
    let (b0, w0, k0) = run(one_way, 50);
    let (b1, w1, k1) = run(one_way, 150);
    for (kind, &(m1, by1)) in &k1 {
        let (m0, by0) = k0.get(kind).copied().unwrap_or_default();
        println!(
            "{one_way:?}, kind {kind}: {} messages, {} bytes in the 100 more rounds",
            m1 as i64 - m0 as i64,
            by1 as i64 - by0 as i64
        );
    }
    (b1.saturating_sub(b0)) as f64 / w1.saturating_sub(w0).max(1) as f64
}

/// Resending the whole unacknowledged interval every round made a write
/// cost in proportion to the round trip: with a one-way delay of 1 s
/// (twenty rounds per round trip) each write went out about twenty times,
/// 17x the cost at 10 ms here (2,741 bytes against 161). Shipping only what
/// is new each round brought it to about 4x (570 to 800 bytes): the opening
/// digest and catch-up were resent every two sync intervals until a round
/// trip was measured, a resent catch-up gave no sample (Karn's rule), and
/// the deltas' retries ran out before the first acknowledgement came back,
/// which started the digest exchange again. With a fresh id per resend and
/// a 1 s initial timeout a write costs about what it costs at 10 ms.
#[test]
fn the_unacknowledged_interval_is_not_resent_every_round() {
    let near = bytes_per_write(Duration::from_millis(10));
    let far = bytes_per_write(Duration::from_secs(1));
    println!("bytes per write: {near:.1} at 10 ms, {far:.1} at 1 s");
    assert!(
        far <= 1.5 * near,
        "{far:.1} bytes per write at 1 s against {near:.1} at 10 ms"
    );
}

type E = Engine<GSet<u64>>;

/// The payload id and kind of a message, if it carries a payload.
fn payload_id(bytes: &[u8]) -> Option<(MessageKind, u64)> {
    let envelope = codec::decode::<GSet<u64>>(bytes, usize::MAX).ok()?;
    let kind = envelope.message.kind();
    match envelope.message {
        Message::Delta(p) | Message::CatchUp(p) | Message::State(p) => Some((kind, p.id)),
        _ => None,
    }
}

/// A catch-up that gets no acknowledgement is resent once per initial
/// retransmission timeout (1 s), not every two sync intervals, each time
/// under a fresh id; the acknowledgement of the last transmission alone
/// completes it.
#[test]
fn a_resent_catch_up_goes_under_a_fresh_id_and_its_ack_completes_it() {
    let t0 = Instant::now();
    let config = Config::default();
    let new = |i: u128| -> E {
        Engine::new(ReplicaId::from_u128(i), GSet::new(), config.clone(), t0).unwrap()
    };
    let (mut a, mut b) = (new(1), new(2));
    a.update(|s, _| s.insert(7)).unwrap();
    a.add_peer(PeerId(2), t0);
    b.add_peer(PeerId(1), t0);
    // B's digest reaches A; nothing A sends reaches B for 3.05 s.
    let to_a: Vec<Vec<u8>> = std::iter::from_fn(|| b.poll_transmit().map(|m| m.bytes)).collect();
    for m in &to_a {
        a.handle_message(t0, PeerId(2), m).unwrap();
    }
    let mut catch_ups = Vec::new();
    let mut t = t0;
    while t < t0 + Duration::from_millis(3_050) {
        t += Duration::from_millis(50);
        a.handle_timeout(t);
        b.handle_timeout(t);
        while b.poll_transmit().is_some() {}
        while let Some(m) = a.poll_transmit() {
            if let Some((MessageKind::CatchUp, id)) = payload_id(&m.bytes) {
                catch_ups.push((id, m.bytes));
            }
        }
    }
    let ids: Vec<u64> = catch_ups.iter().map(|c| c.0).collect();
    assert!(
        (2..=4).contains(&ids.len()),
        "catch-up sent {} times in 3 s: {ids:?}",
        ids.len()
    );
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "every resend has its own id: {ids:?}"
    );
    // Only the last transmission arrives; B's acknowledgement of it
    // completes the catch-up at A.
    let (_, last) = catch_ups.last().unwrap();
    b.handle_message(t, PeerId(1), last).unwrap();
    assert!(b.state().contains(&7));
    while let Some(m) = b.poll_transmit() {
        a.handle_message(t, PeerId(2), &m.bytes).unwrap();
    }
    let lag = a.metrics().peers[&PeerId(2)];
    assert_eq!(lag.unacked_sequences, 0, "{lag:?}");
    assert!(!lag.reset, "{lag:?}");
}
