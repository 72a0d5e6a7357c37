//! Forged messages through the public path (`Engine::handle_message`): a dot
//! under the receiver's own id it never minted (adopted, never reused), a part count of `u32::MAX`,
//! contexts of whole counter ranges. Each is refused or absorbed without
//! harm, and the honest replicas still converge.

use std::time::{Duration, Instant};

use crdt_core::{Causal, CausalContext, Dot, DotMap, DotSet};
use crdt_sync::{Config, Engine, Envelope, Event, Message, Payload, PeerId, codec};
use crdt_types::{CausalCrdt, OrSet, ReplicaId};

type E = Engine<OrSet<u64>>;

fn pair() -> (E, E, Instant) {
    let t = Instant::now();
    let config = Config {
        sync_interval: Duration::from_millis(10),
        ..Config::default()
    };
    let mut a = Engine::new(ReplicaId::from_u128(1), OrSet::new(), config.clone(), t).unwrap();
    let mut b = Engine::new(ReplicaId::from_u128(2), OrSet::new(), config, t).unwrap();
    a.add_peer(PeerId(2), t);
    b.add_peer(PeerId(1), t);
    (a, b, t)
}

fn sync(a: &mut E, b: &mut E, t: &mut Instant, ticks: u32) {
    for _ in 0..ticks {
        *t += Duration::from_millis(10);
        a.handle_timeout(*t);
        b.handle_timeout(*t);
        loop {
            let mut moved = false;
            while let Some(m) = a.poll_transmit() {
                moved = true;
                b.handle_message(*t, PeerId(1), &m.bytes).unwrap();
            }
            while let Some(m) = b.poll_transmit() {
                moved = true;
                a.handle_message(*t, PeerId(2), &m.bytes).unwrap();
            }
            if !moved {
                break;
            }
        }
    }
}

/// A set holding element `x` at `dot` (and nothing else in its context).
fn forged_set(x: u64, dot: Dot) -> OrSet<u64> {
    let mut store: DotMap<u64, DotSet> = DotMap::new();
    store.update(x, |s| s.insert(dot));
    let context: CausalContext = std::iter::once(dot).collect();
    OrSet::from_causal(Causal::from_parts(store, context).unwrap())
}

fn delta_bytes(state: OrSet<u64>, parts: u32) -> Vec<u8> {
    codec::encode(&Envelope {
        from_epoch: 99,
        to_epoch: 0,
        message: Message::Delta(Payload {
            id: 1,
            part: 0,
            parts,
            state,
        }),
    })
    .unwrap()
}

#[test]
fn a_forged_dot_under_the_receivers_own_id_is_adopted_and_never_reused() {
    let (mut a, mut b, mut t) = pair();
    sync(&mut a, &mut b, &mut t, 3);
    let before = b.replica();
    let forged = Dot::new(b.replica(), u64::MAX).unwrap();
    b.handle_message(t, PeerId(1), &delta_bytes(forged_set(5, forged), 1))
        .unwrap();
    assert_eq!(b.metrics().own_dots_adopted, 1);
    assert!(std::iter::from_fn(|| b.poll_event()).any(|e| matches!(
        e,
        Event::UnmintedOwnDotAdopted { peer: PeerId(1), dot } if dot == forged
    )));
    // The counter is exhausted: B continues under a fresh id, and its later
    // writes are neither discarded as seen nor lost at the next exchange.
    assert_ne!(
        b.replica(),
        before,
        "a saturated id is not minted under again"
    );
    b.update(|s, me| s.insert(me, 1)).unwrap();
    b.update(|s, me| s.insert(me, 2)).unwrap();
    sync(&mut a, &mut b, &mut t, 10);
    assert_eq!(a.state(), b.state());
    assert!([1, 2, 5].iter().all(|x| a.state().contains(x)));
    assert!(a.is_synced() && b.is_synced());
}

/// Found by the `engine_bytes` fuzz target's reasoning: a forged dot of B
/// handed to A comes back to B inside A's deltas. When B refused such
/// payloads, A and B never converged; now B adopts the dot and both agree.
#[test]
fn a_forged_dot_of_a_replica_relayed_back_to_it_still_converges() {
    for counter in [1_000, u64::MAX] {
        let (mut a, mut b, mut t) = pair();
        a.update(|s, me| s.insert(me, 10)).unwrap();
        b.update(|s, me| s.insert(me, 20)).unwrap();
        sync(&mut a, &mut b, &mut t, 3);
        let forged = Dot::new(b.replica(), counter).unwrap();
        // A believes it came from B (the only peer A has).
        a.handle_message(t, PeerId(2), &delta_bytes(forged_set(7, forged), 1))
            .unwrap();
        assert!(a.state().contains(&7));
        sync(&mut a, &mut b, &mut t, 20);
        assert_eq!(a.state(), b.state(), "counter {counter}");
        assert!(a.is_synced() && b.is_synced(), "counter {counter}");
        assert_eq!(b.metrics().own_dots_adopted, 1, "counter {counter}");
        // B's next write is new everywhere: no dot is reused.
        b.update(|s, me| s.insert(me, 30)).unwrap();
        sync(&mut a, &mut b, &mut t, 10);
        assert!(a.state().contains(&30), "counter {counter}");
        assert_eq!(a.state(), b.state());
        let joined = a.state().as_causal().clone();
        assert!(joined.clone().checked_join(b.state().as_causal()).is_ok());
    }
}

#[test]
fn a_part_count_of_u32_max_allocates_nothing_and_changes_nothing_else() {
    let (mut a, mut b, mut t) = pair();
    sync(&mut a, &mut b, &mut t, 3);
    let dot = Dot::new(ReplicaId::from_u128(7), 1).unwrap();
    let bytes = delta_bytes(forged_set(3, dot), u32::MAX);
    assert!(bytes.len() < 64, "a {}-byte message", bytes.len());
    // Before wire format 2 this allocated `vec![false; parts]`: 4 GiB.
    b.handle_message(t, PeerId(1), &bytes).unwrap();
    assert!(b.state().contains(&3), "a part is joinable on its own");
    sync(&mut a, &mut b, &mut t, 10);
    assert_eq!(a.state(), b.state());
}

#[test]
fn contexts_of_whole_counter_ranges_neither_overflow_nor_expand() {
    let mut context = CausalContext::new();
    for r in [7u128, 8] {
        context.insert_range(ReplicaId::from_u128(r), 1, u64::MAX);
    }
    assert_eq!(context.len(), u64::MAX, "the count saturates");
    let removal: OrSet<u64> =
        OrSet::from_causal(Causal::from_parts(DotMap::new(), context).unwrap());
    let (left, right) = removal.as_causal().split().expect("two ranges split");
    assert!(left.context().ranges().count() + right.context().ranges().count() <= 3);
    let (mut a, mut b, mut t) = pair();
    b.handle_message(t, PeerId(1), &delta_bytes(removal, 1))
        .unwrap();
    a.update(|s, me| s.insert(me, 1)).unwrap();
    sync(&mut a, &mut b, &mut t, 10);
    assert_eq!(a.state(), b.state());
    assert!(a.state().contains(&1));
}

mod clocks {
    use super::*;
    use crdt_core::{HybridClock, Lattice};
    use crdt_sync::Event;
    use crdt_types::LwwRegister;

    type R = Engine<LwwRegister<u64>>;

    fn pair_of_registers(t: Instant) -> (R, R) {
        let config = Config {
            sync_interval: Duration::from_millis(10),
            ..Config::default()
        };
        let mut a = Engine::new(
            ReplicaId::from_u128(1),
            LwwRegister::new(),
            config.clone(),
            t,
        )
        .unwrap();
        let mut b = Engine::new(ReplicaId::from_u128(2), LwwRegister::new(), config, t).unwrap();
        a.add_peer(PeerId(2), t);
        b.add_peer(PeerId(1), t);
        (a, b)
    }

    fn run(a: &mut R, b: &mut R, t: &mut Instant, ticks: u32) {
        for _ in 0..ticks {
            *t += Duration::from_millis(10);
            a.handle_timeout(*t);
            b.handle_timeout(*t);
            loop {
                let mut moved = false;
                while let Some(m) = a.poll_transmit() {
                    moved = true;
                    b.handle_message(*t, PeerId(1), &m.bytes).unwrap();
                }
                while let Some(m) = b.poll_transmit() {
                    moved = true;
                    a.handle_message(*t, PeerId(2), &m.bytes).unwrap();
                }
                if !moved {
                    break;
                }
            }
        }
    }

    /// A register written by a clock that reads `wall_ms`.
    fn written_at(wall_ms: u64, replica: u128, value: u64) -> LwwRegister<u64> {
        let mut clock =
            HybridClock::with_time_source(ReplicaId::from_u128(replica), move || wall_ms);
        LwwRegister::new().write(&mut clock, value)
    }

    #[test]
    fn a_timestamp_at_the_maximum_is_refused_and_never_pins_a_register() {
        let mut t = Instant::now();
        let (mut a, mut b) = pair_of_registers(t);
        run(&mut a, &mut b, &mut t, 3);
        let forged = codec::encode(&Envelope {
            from_epoch: 99,
            to_epoch: 0,
            message: Message::Delta(Payload {
                id: 1,
                part: 0,
                parts: 1,
                state: written_at(u64::MAX, 9, 666),
            }),
        })
        .unwrap();
        a.handle_message(t, PeerId(2), &forged).unwrap();
        assert_eq!(a.state().value(), None, "not applied");
        assert_eq!(a.metrics().clock_drift_refused, 1);
        let events: Vec<Event> = std::iter::from_fn(|| a.poll_event()).collect();
        assert!(
            events.iter().any(|e| matches!(
                e,
                Event::ClockDriftRefused {
                    peer: PeerId(2),
                    ..
                }
            )),
            "{events:?}"
        );
        // A write made now wins everywhere.
        let now_ms = a.wall_ms(t);
        let mine = written_at(now_ms, 1, 7);
        a.update(|s, _| {
            s.join(&mine);
            mine.clone()
        })
        .unwrap();
        run(&mut a, &mut b, &mut t, 10);
        assert_eq!(b.state().value(), Some(&7));
        assert_eq!(a.state(), b.state());
        assert!(a.is_synced() && b.is_synced());
    }

    #[test]
    fn a_fast_clock_is_accepted_once_within_the_drift() {
        let mut t = Instant::now();
        let (mut a, mut b) = pair_of_registers(t);
        run(&mut a, &mut b, &mut t, 3);
        // B's clock runs 90 s ahead; A allows 60 s.
        let ahead = written_at(a.wall_ms(t) + 90_000, 2, 5);
        b.update(|s, _| {
            s.join(&ahead);
            ahead.clone()
        })
        .unwrap();
        run(&mut a, &mut b, &mut t, 50);
        assert_eq!(a.state().value(), None, "refused while 90 s ahead");
        assert!(a.metrics().clock_drift_refused > 0);
        assert!(!b.is_synced());
        // Half a minute later (on A's wall clock) it is within the drift.
        let later = a.wall_ms(t) + 31_000;
        a.set_wall_clock(t, later);
        run(&mut a, &mut b, &mut t, 1000);
        assert_eq!(a.state().value(), Some(&5));
        assert!(a.is_synced() && b.is_synced());
    }
}
