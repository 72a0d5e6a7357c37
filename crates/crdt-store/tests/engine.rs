//! The store under a sync engine, as a node uses it: the engine restored
//! with `Engine::restore_as(opened.replica(), state)`, every local delta
//! appended before it is shipped; after a restart the replica goes on under
//! the same id, its peer accepts every message (no dot it holds is above
//! what the id minted) and both converge.

mod common;

use std::time::{Duration, Instant};

use common::TestDir;
use crdt_core::ReplicaId;
use crdt_store::{Identity, Options, Store};
use crdt_sync::{Config, Engine, PeerId};
use crdt_types::{CausalCrdt, OrSet};

type Set = OrSet<u64>;

/// Runs sync rounds until both engines report synced (every message
/// accepted), within a bounded number of rounds.
fn sync(a: &mut Engine<Set>, b: &mut Engine<Set>, now: &mut Instant) {
    for _ in 0..200 {
        *now += Duration::from_millis(50);
        a.handle_timeout(*now);
        b.handle_timeout(*now);
        while let Some(m) = a.poll_transmit() {
            b.handle_message(*now, PeerId(1), &m.bytes)
                .expect("b accepts a's message");
        }
        while let Some(m) = b.poll_transmit() {
            a.handle_message(*now, PeerId(2), &m.bytes)
                .expect("a accepts b's message");
        }
        if a.is_synced() && b.is_synced() {
            return;
        }
    }
    panic!("no convergence in 200 rounds");
}

/// A local write through the engine, appended to the store before the
/// engine may ship it (the next `poll_transmit`).
fn write(engine: &mut Engine<Set>, store: &Store<Set>, x: u64) {
    let mut delta = None;
    engine
        .update(|s, me| {
            let d = s.insert(me, x);
            delta = Some(d.clone());
            d
        })
        .unwrap();
    store.append_local(&delta.unwrap()).unwrap();
}

#[test]
fn a_restarted_replica_resumes_its_id_and_its_peer_accepts_it() {
    let dir = TestDir::new("engine");
    let path = dir.file("a.redb");
    let mut now = Instant::now();
    let (store, opened) = Store::<Set>::open(&path, Options::default()).unwrap();
    let me = opened.replica();
    let mut a = Engine::restore_as(me, opened.into_state(), Config::default(), now).unwrap();
    let mut b = Engine::new(ReplicaId::random(), Set::new(), Config::default(), now).unwrap();
    a.add_peer(PeerId(2), now);
    b.add_peer(PeerId(1), now);
    for x in 0..10 {
        write(&mut a, &store, x);
    }
    sync(&mut a, &mut b, &mut now);
    drop(a);
    store.close().unwrap();

    // Restart: same id, same state; the peer still holds dots 1..=10.
    let (store, opened) = Store::<Set>::open(&path, Options::default()).unwrap();
    assert_eq!(opened.identity(), Identity::Resumed);
    assert_eq!(opened.minted().get(&me), Some(&10));
    let mut a = Engine::restore_as(
        opened.replica(),
        opened.into_state(),
        Config::default(),
        now,
    )
    .unwrap();
    a.add_peer(PeerId(2), now);
    for x in 10..20 {
        write(&mut a, &store, x);
    }
    sync(&mut a, &mut b, &mut now);
    assert_eq!(a.state(), b.state());
    assert_eq!(b.state().len(), 20);
    // One id, twenty contiguous dots: nothing minted twice, nothing added
    // to the context by the restart.
    let context = b.state().as_causal().context();
    assert_eq!(context.replicas().len(), 1);
    assert_eq!(context.max(me), 20);
    assert!(!context.has_gaps());
}
