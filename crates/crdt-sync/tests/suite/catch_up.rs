//! Digest catch-up: a replica that missed one insert into a 100k-element set
//! gets exactly that insert, in a few dozen bytes, whatever the set's size.

use std::time::{Duration, Instant};

use crdt_core::Lattice;
use crdt_sync::{Config, Engine, Envelope, Message, Payload, PeerId, Replicated, codec};
use crdt_types::{OrSet, ReplicaId};

const N: u64 = 100_000;

fn big_set(me: ReplicaId) -> OrSet<u64> {
    let mut s = OrSet::new();
    let _ = s.insert_all(me, 0..N);
    s
}

#[test]
fn catch_up_after_one_insert_into_100k_is_under_64_bytes() {
    let a_id = ReplicaId::random();
    let mut a = big_set(a_id);
    let mut b = a.clone();
    let _ = a.insert(a_id, 1_000_000);

    let envelope = |message| Envelope {
        from_epoch: 0x1234_5678,
        to_epoch: 0x9abc_def0,
        message,
    };
    let whole = |state| Payload {
        id: 1,
        part: 0,
        parts: 1,
        state,
    };
    let digest = envelope(Message::<OrSet<u64>>::Digest {
        digest: b.digest(),
        reply: false,
    });
    let digest_bytes = codec::encode(&digest).unwrap();
    let missing = a.missing_for(&b.digest().unwrap()).unwrap();
    let answer_bytes = codec::encode(&envelope(Message::CatchUp(whole(missing)))).unwrap();
    let full_bytes = codec::encode(&envelope(Message::State(whole(a.clone())))).unwrap();
    println!(
        "digest {} B, catch-up {} B, full state {} B",
        digest_bytes.len(),
        answer_bytes.len(),
        full_bytes.len()
    );
    assert!(
        answer_bytes.len() < 64,
        "catch-up took {} bytes",
        answer_bytes.len()
    );
    assert!(
        digest_bytes.len() < 64,
        "digest took {} bytes",
        digest_bytes.len()
    );

    let Message::CatchUp(p) = codec::decode::<OrSet<u64>>(&answer_bytes, 1 << 20)
        .unwrap()
        .message
    else {
        panic!("not a catch-up");
    };
    b.join(&p.state);
    assert_eq!(a, b);
}

#[test]
fn catch_up_carries_removals_the_peer_missed() {
    let a_id = ReplicaId::from_u128(1);
    let mut a = OrSet::new();
    let _ = a.insert_all(a_id, 0..1000u64);
    let mut b = a.clone();
    let _ = a.remove(&10);
    let _ = a.remove(&500);
    let missing = a.missing_for(&b.digest().unwrap()).unwrap();
    b.join(&missing);
    assert_eq!(a, b);
    assert!(!b.contains(&10) && !b.contains(&500));
}

#[test]
fn engines_catch_up_a_peer_that_was_away() {
    let start = Instant::now();
    let config = Config {
        sync_interval: Duration::from_millis(10),
        ..Config::default()
    };
    let (ra, rb) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let mut a = Engine::new(ra, big_set(ra), config.clone(), start).unwrap();
    // b returns with an old copy (everything but the last insert).
    let mut b = Engine::new(rb, a.state().clone(), config, start).unwrap();
    a.update(|s, me| s.insert(me, 1_000_000)).unwrap();
    a.add_peer(PeerId(2), start);
    b.add_peer(PeerId(1), start);
    let mut bytes = 0;
    let mut t = start;
    for _ in 0..20 {
        t += Duration::from_millis(10);
        a.handle_timeout(t);
        b.handle_timeout(t);
        while let Some(m) = a.poll_transmit() {
            bytes += m.bytes.len();
            b.handle_message(t, PeerId(1), &m.bytes).unwrap();
        }
        while let Some(m) = b.poll_transmit() {
            bytes += m.bytes.len();
            a.handle_message(t, PeerId(2), &m.bytes).unwrap();
        }
    }
    assert_eq!(a.state(), b.state());
    assert!(a.is_synced() && b.is_synced());
    assert!(bytes < 1000, "catching up took {bytes} bytes in all");
    assert_eq!(a.metrics().full_state_fallbacks, 0);
}
