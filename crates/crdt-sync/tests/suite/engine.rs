//! Engine behaviour beyond convergence: splitting over the size limit, peer
//! resets and lag alerts, rejected bytes, metrics.

use std::time::{Duration, Instant};

use crdt_core::{Causal, CausalContext, Dot, DotMap, DotSet};
use crdt_sync::{Config, Engine, Event, PeerId};
use crdt_types::{CausalCrdt, OrSet, ReplicaId};

type E = Engine<OrSet<u64>>;

fn pair(config: Config, now: Instant) -> (E, E) {
    let mut a = Engine::new(ReplicaId::from_u128(1), OrSet::new(), config.clone(), now).unwrap();
    let mut b = Engine::new(ReplicaId::from_u128(2), OrSet::new(), config, now).unwrap();
    a.add_peer(PeerId(2), now);
    b.add_peer(PeerId(1), now);
    (a, b)
}

/// Runs `rounds` sync rounds of 10 ms, delivering everything unless `cut`.
fn run(a: &mut E, b: &mut E, t: &mut Instant, rounds: u32, cut: bool) -> usize {
    let mut bytes = 0;
    for _ in 0..rounds {
        *t += Duration::from_millis(10);
        a.handle_timeout(*t);
        b.handle_timeout(*t);
        loop {
            let mut moved = false;
            while let Some(m) = a.poll_transmit() {
                moved = true;
                bytes += m.bytes.len();
                if !cut {
                    b.handle_message(*t, PeerId(1), &m.bytes).unwrap();
                }
            }
            while let Some(m) = b.poll_transmit() {
                moved = true;
                bytes += m.bytes.len();
                if !cut {
                    a.handle_message(*t, PeerId(2), &m.bytes).unwrap();
                }
            }
            if !moved {
                break;
            }
        }
    }
    bytes
}

fn config() -> Config {
    Config {
        sync_interval: Duration::from_millis(10),
        ..Config::default()
    }
}

#[test]
fn a_payload_over_the_size_limit_is_split_into_parts_and_still_converges() {
    let now = Instant::now();
    let (mut a, mut b) = pair(
        Config {
            max_message_bytes: 300,
            ..config()
        },
        now,
    );
    a.update(|s, me| s.insert_all(me, 0..2_000u64)).unwrap();
    let mut t = now;
    run(&mut a, &mut b, &mut t, 10, false);
    assert_eq!(a.state(), b.state());
    assert_eq!(b.state().len(), 2_000);
    assert!(a.metrics().split_messages > 0);
    assert!(a.is_synced());
}

#[test]
fn a_silent_peer_is_reset_and_caught_up_by_digest_when_it_returns() {
    let now = Instant::now();
    let config = Config {
        ack_timeout: Duration::from_millis(100),
        lag_alert: Duration::from_millis(50),
        ..config()
    };
    let (mut a, mut b) = pair(config, now);
    let mut t = now;
    run(&mut a, &mut b, &mut t, 3, false);
    for x in 0..50 {
        a.update(|s, me| s.insert(me, x)).unwrap();
    }
    run(&mut a, &mut b, &mut t, 20, true); // b is unreachable for 200 ms
    let events: Vec<Event> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(
        events.contains(&Event::PeerReset { peer: PeerId(2) }),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::LagAlert {
                peer: PeerId(2),
                ..
            }
        )),
        "{events:?}"
    );
    assert!(a.metrics().peers[&PeerId(2)].reset);
    assert_eq!(
        a.metrics().deltas_buffered,
        0,
        "a reset peer does not pin the buffer"
    );
    run(&mut a, &mut b, &mut t, 10, false);
    assert_eq!(a.state(), b.state());
    assert!(a.is_synced() && b.is_synced());
    assert!(a.metrics().digest_catch_ups > 0);
}

#[test]
fn bad_bytes_are_rejected_and_change_nothing() {
    let now = Instant::now();
    let (mut a, _) = pair(config(), now);
    a.update(|s, me| s.insert(me, 1)).unwrap();
    let before = a.state().clone();
    assert!(a.handle_message(now, PeerId(9), b"\x00garbage").is_err());
    assert!(
        a.handle_message(now, PeerId(9), &vec![0xCD; 2 << 20])
            .is_err()
    );
    assert_eq!(a.state(), &before);
    assert_eq!(a.metrics().messages_rejected, 2);
}

#[test]
fn deltas_are_not_sent_back_where_they_came_from() {
    let now = Instant::now();
    let (mut a, mut b) = pair(config(), now);
    let mut t = now;
    run(&mut a, &mut b, &mut t, 3, false);
    a.update(|s, me| s.insert_all(me, 0..1000)).unwrap();
    let first = run(&mut a, &mut b, &mut t, 5, false);
    // b received 1,000 elements from a (about 3 bytes each, packed) and
    // must not echo them back: it sends acknowledgements only.
    assert!(
        b.metrics().bytes_out < a.metrics().bytes_out / 4,
        "b sent {} B, a {} B",
        b.metrics().bytes_out,
        a.metrics().bytes_out
    );
    assert!(first > 0);
    assert_eq!(a.state(), b.state());
}

#[test]
fn concurrent_writes_are_counted() {
    let now = Instant::now();
    let (mut a, mut b) = pair(config(), now);
    let mut t = now;
    run(&mut a, &mut b, &mut t, 3, false);
    a.update(|s, me| s.insert(me, 1)).unwrap();
    b.update(|s, me| s.insert(me, 2)).unwrap();
    run(&mut a, &mut b, &mut t, 5, false);
    assert_eq!(a.state(), b.state());
    assert!(a.metrics().concurrent_deltas + b.metrics().concurrent_deltas >= 1);
    assert!(a.metrics().deltas_applied >= 1);
}

/// Classic delta sync (no redundancy stripping) once bounced every delta
/// between two replicas forever: a received delta is buffered only if it
/// inflates the state.
#[test]
fn classic_delta_mode_quiesces() {
    let now = Instant::now();
    let classic = Config {
        strip_redundant: false,
        avoid_back_propagation: false,
        ..config()
    };
    let (mut a, mut b) = pair(classic, now);
    let mut t = now;
    a.update(|s, me| s.insert(me, 1)).unwrap();
    b.update(|s, me| s.insert(me, 2)).unwrap();
    run(&mut a, &mut b, &mut t, 10, false);
    assert_eq!(a.state(), b.state());
    assert!(a.is_synced() && b.is_synced());
    let quiet = run(&mut a, &mut b, &mut t, 10, false);
    assert_eq!(quiet, 0, "nothing is sent once in sync");
}

/// A replica that adopted a forged dot at the counter's maximum and was
/// saved (by a store, say) must not resume minting under that id: its next
/// write would overflow or reuse the dot. Found while wiring `crdt-store`
/// into `crdt-net`.
#[test]
fn a_restart_as_an_id_whose_counter_is_exhausted_writes_under_a_fresh_id() {
    let now = Instant::now();
    let exhausted = ReplicaId::from_u128(2);
    let dot = Dot::new(exhausted, u64::MAX).unwrap();
    let mut store: DotMap<u64, DotSet> = DotMap::new();
    store.update(5, |s| s.insert(dot));
    let context: CausalContext = std::iter::once(dot).collect();
    let saved = OrSet::from_causal(Causal::from_parts(store, context).unwrap());

    let mut a = Engine::new(ReplicaId::from_u128(1), OrSet::new(), config(), now).unwrap();
    let mut b = Engine::restore_as(exhausted, saved, config(), now).unwrap();
    assert_ne!(
        b.replica(),
        exhausted,
        "an exhausted id is not written under"
    );
    a.add_peer(PeerId(2), now);
    b.add_peer(PeerId(1), now);
    b.update(|s, me| s.insert(me, 6)).unwrap();
    b.update(|s, me| s.insert(me, 7)).unwrap();
    let mut t = now;
    run(&mut a, &mut b, &mut t, 10, false);
    assert_eq!(a.state(), b.state());
    assert!([5, 6, 7].iter().all(|x| a.state().contains(x)));
    assert!(a.is_synced() && b.is_synced());
}
