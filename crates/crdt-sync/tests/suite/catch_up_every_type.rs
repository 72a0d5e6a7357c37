//! Catch-up by digest for every built-in type: a peer that is mostly up to
//! date gets an answer smaller than the full state, the answer brings it
//! level, and two engines open with digests, never with full states.
//!
//! `cargo test -p crdt-sync --test suite catch_up_every_type:: -- --nocapture`
//! prints the bytes of each digest, answer and full state.

use std::fmt::Debug;
use std::time::Instant;

use crdt_core::{HybridClock, Lattice, VersionVector};
use crdt_sync::{Config, Engine, Message, PeerId, Replicated, codec};
use crdt_types::{GCounter, GSet, LwwRegister, PnCounter, ReplicaId};

use crate::common::{envelope, payload, pump};

/// `ahead` answers the digest of `behind`: the answer must bring `behind`
/// level and be smaller than `ahead`'s full state. Returns the bytes of
/// (digest, answer, full state).
fn answer_is_smaller<T: Replicated>(name: &str, ahead: &T, behind: &T) -> (usize, usize, usize) {
    let digest = behind.digest().expect("every built-in type has a digest");
    let digest_bytes = codec::encode(&envelope(Message::<T>::Digest {
        digest: Some(digest.clone()),
        reply: false,
    }))
    .unwrap();
    let missing = ahead.missing_for(&digest).expect("an answer");
    let answer = codec::encode(&envelope(Message::CatchUp(payload(missing)))).unwrap();
    let full = codec::encode(&envelope(Message::State(payload(ahead.clone())))).unwrap();
    println!(
        "{name}: digest {} B, answer {} B, full state {} B",
        digest_bytes.len(),
        answer.len(),
        full.len()
    );
    let Message::CatchUp(p) = codec::decode::<T>(&answer, 1 << 24).unwrap().message else {
        panic!("{name}: not a catch-up");
    };
    let mut caught_up = behind.clone();
    caught_up.join(&p.state);
    assert_eq!(
        &caught_up,
        &ahead.clone().joined(behind),
        "{name}: not level"
    );
    assert!(
        answer.len() < full.len(),
        "{name}: answer {} B is not smaller than the full state {} B",
        answer.len(),
        full.len()
    );
    (digest_bytes.len(), answer.len(), full.len())
}

/// Two engines, one holding `ahead`, the other `behind`, meet: they must
/// converge by digest catch-up with no full-state fallback.
fn engines_catch_up_by_digest<T: Replicated>(name: &str, ahead: T, behind: T) {
    let now = Instant::now();
    let mut a = Engine::new(ReplicaId::from_u128(101), ahead, Config::default(), now).unwrap();
    let mut b = Engine::new(ReplicaId::from_u128(102), behind, Config::default(), now).unwrap();
    a.add_peer(PeerId(2), now);
    b.add_peer(PeerId(1), now);
    let _ = pump(&mut a, &mut b, now);
    assert_eq!(a.state(), b.state(), "{name}: engines differ");
    assert!(a.is_synced() && b.is_synced(), "{name}: not synced");
    for (side, e) in [("a", &a), ("b", &b)] {
        let m = e.metrics();
        assert_eq!(m.full_state_fallbacks, 0, "{name}: {side} sent full state");
        assert!(m.digest_catch_ups >= 1, "{name}: {side} answered no digest");
    }
}

fn check<T: Replicated>(name: &str, ahead: T, behind: T) {
    let (_, answer, full) = answer_is_smaller(name, &ahead, &behind);
    assert!(answer > 0 && full > 0);
    engines_catch_up_by_digest(name, ahead, behind);
}

fn replicas(n: u128) -> impl Iterator<Item = ReplicaId> {
    (1..=n).map(ReplicaId::from_u128)
}

#[test]
fn g_counter_catches_up_by_digest() {
    let mut behind = GCounter::new();
    for r in replicas(50) {
        let _ = behind.increment(r, 1000);
    }
    let mut ahead = behind.clone();
    let _ = ahead.increment(ReplicaId::from_u128(7), 5);
    check("GCounter", ahead, behind);
}

#[test]
fn pn_counter_catches_up_by_digest() {
    let mut behind = PnCounter::new();
    for r in replicas(50) {
        let _ = behind.increment(r, 1000);
        let _ = behind.decrement(r, 10);
    }
    let mut ahead = behind.clone();
    let _ = ahead.decrement(ReplicaId::from_u128(9), 3);
    check("PnCounter", ahead, behind);
}

#[test]
fn pn_counter_answer_carries_exactly_the_changed_entry() {
    let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let mut behind = PnCounter::new();
    let _ = behind.increment(a, 5);
    let _ = behind.decrement(b, 2);
    let mut ahead = behind.clone();
    let _ = ahead.decrement(a, 1);
    let missing = ahead.missing_for(&behind.digest().unwrap()).unwrap();
    assert_eq!((missing.increments(), missing.decrements()), (0, 1));
    assert!(
        behind
            .missing_for(&ahead.digest().unwrap())
            .unwrap()
            .is_bottom()
    );
}

#[test]
fn lww_register_catches_up_by_digest() {
    let text = "a long title that the peer already has, ".repeat(20);
    let mut clock = HybridClock::with_time_source(ReplicaId::from_u128(3), || 1_000);
    let mut ahead = LwwRegister::new();
    let _ = ahead.write(&mut clock, format!("{text} v1"));
    let behind = ahead.clone();
    let _ = ahead.write(&mut clock, format!("{text} v2"));
    // The newer write is the answer; the peer with it gets nothing back.
    assert!(
        ahead
            .missing_for(&ahead.digest().unwrap())
            .unwrap()
            .is_bottom()
    );
    assert_eq!(
        behind.missing_for(&ahead.digest().unwrap()).unwrap(),
        LwwRegister::new()
    );
    let (_, answer, full) = answer_is_smaller("LwwRegister (level)", &behind, &behind);
    assert!(answer * 4 < full);
    // Behind: the answer is the register itself (it is one write).
    let missing = ahead.missing_for(&behind.digest().unwrap()).unwrap();
    assert_eq!(missing, ahead);
    engines_catch_up_by_digest("LwwRegister", ahead, behind);
}

#[test]
fn lww_register_digest_orders_by_the_whole_timestamp() {
    let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let at = |wall: u64, replica| {
        let mut clock = HybridClock::with_time_source(replica, move || wall);
        LwwRegister::new().write(&mut clock, wall)
    };
    // Same wall time: the tie goes by replica id, in the digest as in the join.
    let (x, y) = (at(5, a), at(5, b));
    assert_eq!(y.missing_for(&x.digest().unwrap()).unwrap(), y);
    assert!(x.missing_for(&y.digest().unwrap()).unwrap().is_bottom());
    // A logical counter above 0 is read back too.
    let mut clock = HybridClock::with_time_source(a, || 5);
    let mut z = LwwRegister::new();
    let _ = z.write(&mut clock, 1);
    let _ = z.write(&mut clock, 2);
    assert_eq!(z.timestamp().unwrap().logical(), 1);
    let mut first = LwwRegister::new();
    let _ = first.write(&mut HybridClock::with_time_source(a, || 5), 1);
    assert_eq!(z.missing_for(&first.digest().unwrap()).unwrap(), z);
    assert!(z.missing_for(&z.digest().unwrap()).unwrap().is_bottom());
}

#[test]
fn g_set_catches_up_by_digest() {
    let mut behind = GSet::new();
    let _ = behind.insert_all((0..2000).map(|i| format!("element number {i}")));
    let mut ahead = behind.clone();
    let _ = ahead.insert("one more".to_string());
    let missing = ahead.missing_for(&behind.digest().unwrap()).unwrap();
    assert_eq!(missing.iter().collect::<Vec<_>>(), ["one more"]);
    check("GSet", ahead, behind);
}

#[test]
fn g_set_without_salt_in_the_digest_gets_everything() {
    let mut s = GSet::new();
    let _ = s.insert_all(0..10u64);
    let missing = s.missing_for(&crdt_core::CausalContext::new()).unwrap();
    assert_eq!(missing, s);
}

#[test]
fn version_vector_catches_up_by_digest() {
    let mut behind = VersionVector::new();
    for r in replicas(50) {
        let _ = behind.increment(r);
    }
    let mut ahead = behind.clone();
    let _ = ahead.increment(ReplicaId::from_u128(4));
    answer_is_smaller("VersionVector", &ahead, &behind);
}

/// Builds nothing itself: a compile-time check that every built-in type is
/// `Replicated` with a digest (the body asserts it at run time too).
fn has_digest<T: Replicated + Debug>(x: &T) -> bool {
    x.digest().is_some()
}

#[test]
fn no_built_in_type_lacks_a_digest() {
    assert!(has_digest(&GCounter::new()));
    assert!(has_digest(&PnCounter::new()));
    assert!(has_digest(&LwwRegister::<u8>::new()));
    assert!(has_digest(&GSet::<u8>::new()));
    assert!(has_digest(&crdt_types::OrSet::<u8>::new()));
    assert!(has_digest(&crdt_types::MvRegister::<u8>::new()));
    assert!(has_digest(&crdt_types::CausalCounter::new()));
    assert!(has_digest(&crdt_types::EwFlag::new()));
    assert!(has_digest(&crdt_types::DwFlag::new()));
    assert!(has_digest(
        &crdt_types::OrMap::<u8, crdt_types::OrSet<u8>>::new()
    ));
    assert!(has_digest(&VersionVector::new()));
}
