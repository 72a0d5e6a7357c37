//! Forged messages through the public path (`Engine::handle_message`): a dot
//! under the receiver's own id it never minted (adopted, never reused), a part count of `u32::MAX`,
//! contexts of whole counter ranges, one dot forged with two contents (sets,
//! registers, lists and text). Each is refused or absorbed without harm,
//! and the honest replicas still converge.

use std::time::{Duration, Instant};

use crdt_core::{Causal, CausalContext, Dot, DotMap, DotSet};
use crdt_sync::{Config, DecodeError, Engine, Envelope, Event, Message, Payload, PeerId, codec};
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

/// Two engines of 20 elements each; B receives its own opening digest
/// forged under A's epoch, then A's real one. Returns A, B and B's real
/// opening digest (not yet delivered to A).
fn forged_digest_then_real(t: Instant) -> (E, E, Envelope<OrSet<u64>>) {
    let config = Config {
        sync_interval: Duration::from_millis(10),
        ..Config::default()
    };
    let filled = |r: u64| {
        let mut s = OrSet::new();
        let _ = s.insert_all(ReplicaId::from_u128(r.into()), (0..20).map(|x| x * 10 + r));
        Engine::new(ReplicaId::from_u128(r.into()), s, config.clone(), t).unwrap()
    };
    let (mut a, mut b): (E, E) = (filled(1), filled(2));
    a.add_peer(PeerId(2), t);
    b.add_peer(PeerId(1), t);
    let opening = |e: &mut E| {
        let m = e.poll_transmit().expect("an opening digest");
        codec::decode::<OrSet<u64>>(&m.bytes, usize::MAX).unwrap()
    };
    let (from_a, from_b) = (opening(&mut a), opening(&mut b));
    assert!(matches!(from_b.message, Message::Digest { .. }));
    let forged = Envelope {
        from_epoch: from_a.from_epoch,
        ..from_b.clone()
    };
    b.handle_message(t, PeerId(1), &codec::encode(&forged).unwrap())
        .unwrap();
    b.handle_message(t, PeerId(1), &codec::encode(&from_a).unwrap())
        .unwrap();
    (a, b, from_b)
}

/// Found by the `engine_bytes` fuzz target (a splice of two opening
/// digests): B's own digest under A's epoch, delivered to B before A's real
/// digest. B answers it with an empty catch-up and answers A's real digest
/// by resending that catch-up (still in flight), so A never gets B's dots by
/// catch-up; delta sync never ships them either. Fingerprints skipped an
/// origin one side has never seen, so the pair stayed apart (and reported
/// unsynced) forever. Now an origin only the peer has seen counts as seen
/// differently: found twice, it asks for a digest exchange that ships it.
#[test]
fn a_forged_digest_under_a_peers_epoch_cannot_keep_a_pair_apart() {
    let mut t = Instant::now();
    let (mut a, mut b, from_b) = forged_digest_then_real(t);
    a.handle_message(t, PeerId(2), &codec::encode(&from_b).unwrap())
        .unwrap();
    for _ in 0..3000 {
        sync(&mut a, &mut b, &mut t, 1);
        let synced = a.is_synced() && b.is_synced();
        assert!(!synced || a.state() == b.state(), "synced while apart");
        if synced {
            break;
        }
    }
    assert_eq!(a.state(), b.state());
    assert_eq!(a.state().len(), 40);
    assert!(a.is_synced() && b.is_synced());
}

/// The same forged digest, seen from the answer: a catch-up still in flight
/// answers a repeated digest only if the new one claims at least what the
/// one it answered claimed. Before, B answered A's real digest with the
/// empty catch-up made for the forged one, and A got B's writes only once
/// fingerprints found the difference.
#[test]
fn a_digest_that_claims_less_than_the_one_answered_gets_a_fresh_catch_up() {
    let (_a, mut b, _) = forged_digest_then_real(Instant::now());
    let answered: usize = std::iter::from_fn(|| b.poll_transmit())
        .filter_map(
            |m| match codec::decode::<OrSet<u64>>(&m.bytes, usize::MAX) {
                Ok(Envelope {
                    message: Message::CatchUp(p),
                    ..
                }) => Some(p.state.len()),
                _ => None,
            },
        )
        .max()
        .unwrap_or(0);
    assert_eq!(answered, 20, "A's real digest is answered with B's writes");
    assert_eq!(b.metrics().digest_catch_ups, 2);
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

/// Issue 11, item 2: one forged dot, two contents, one at each replica.
mod one_dot_two_values {
    use super::*;
    use crdt_core::{DotFun, Fingerprint, Lattice};
    use crdt_sync::{Event, MessageKind, Replicated};
    use crdt_types::{List, MvRegister, Text};

    const A: PeerId = PeerId(1);
    const C: PeerId = PeerId(3);

    fn forged_dot() -> Dot {
        Dot::new(ReplicaId::from_u128(0xF0), 1).unwrap()
    }

    fn engines<T: Replicated>(integrity: bool) -> (Engine<T>, Engine<T>, Instant) {
        let t = Instant::now();
        let config = Config {
            sync_interval: Duration::from_millis(10),
            ack_timeout: Duration::from_millis(200),
            integrity_interval: integrity.then(|| Duration::from_secs(30)),
            ..Config::default()
        };
        let a = Engine::new(ReplicaId::from_u128(1), T::default(), config.clone(), t).unwrap();
        let c = Engine::new(ReplicaId::from_u128(3), T::default(), config, t).unwrap();
        (a, c, t)
    }

    /// Runs `ticks` rounds of 10 ms; counts the moments both engines said
    /// they were in sync while their states differed.
    fn run<T: Replicated>(
        a: &mut Engine<T>,
        c: &mut Engine<T>,
        t: &mut Instant,
        ticks: u32,
    ) -> u32 {
        let mut lies = 0;
        for _ in 0..ticks {
            *t += Duration::from_millis(10);
            a.handle_timeout(*t);
            c.handle_timeout(*t);
            loop {
                let mut moved = false;
                while let Some(m) = a.poll_transmit() {
                    moved = true;
                    c.handle_message(*t, A, &m.bytes).unwrap();
                }
                while let Some(m) = c.poll_transmit() {
                    moved = true;
                    a.handle_message(*t, C, &m.bytes).unwrap();
                }
                if !moved {
                    break;
                }
            }
            if a.is_synced() && c.is_synced() && a.state() != c.state() {
                lies += 1;
            }
        }
        lies
    }

    /// Forged bytes: a delta carrying `state`, claiming to come from a
    /// peer's unknown incarnation (a forger does not see the epochs).
    fn forged<T: serde::Serialize>(state: T) -> Vec<u8> {
        codec::encode(&Envelope {
            from_epoch: 0,
            to_epoch: 0,
            message: Message::Delta(Payload {
                id: 77,
                part: 0,
                parts: 1,
                state,
            }),
        })
        .unwrap()
    }

    fn register(value: u64, dot: Dot) -> MvRegister<u64> {
        let mut store = DotFun::new();
        store.insert(dot, value);
        let context: CausalContext = std::iter::once(dot).collect();
        MvRegister::from_causal(Causal::from_parts(store, context).unwrap())
    }

    fn conflicts<T: Replicated>(e: &mut Engine<T>) -> Vec<Dot> {
        std::iter::from_fn(|| e.poll_event())
            .filter_map(|ev| match ev {
                Event::DotConflict { dot, .. } => Some(dot),
                _ => None,
            })
            .collect()
    }

    /// Runs `ticks` rounds during which every message between the two is
    /// lost (a partition).
    fn run_cut<T: Replicated>(a: &mut Engine<T>, c: &mut Engine<T>, t: &mut Instant, ticks: u32) {
        for _ in 0..ticks {
            *t += Duration::from_millis(10);
            a.handle_timeout(*t);
            c.handle_timeout(*t);
            while a.poll_transmit().is_some() || c.poll_transmit().is_some() {}
        }
    }

    /// The forger spoofs each honest replica to the other. Without `cut`,
    /// each forwards its version to the other (a payload from an unknown
    /// incarnation is sent back to the peer it claims to come from), and
    /// the conflict is found on join. With `cut`, the forged versions
    /// arrive during a partition long enough for each to reset the other,
    /// so the two are reconciled by digest catch-up, which skips the dot
    /// both have seen: only the fingerprint comparison finds the split.
    /// Either way they never report being in sync while different, and end
    /// at the full join.
    fn forged_each_side<T: Replicated>(
        x: T,
        y: T,
        honest: impl Fn(&mut T, ReplicaId) -> T,
        cut: bool,
    ) -> (Engine<T>, Engine<T>) {
        let (mut a, mut c, mut t) = engines::<T>(true);
        a.add_peer(C, t);
        c.add_peer(A, t);
        a.update(|s, me| honest(s, me)).unwrap();
        assert_eq!(run(&mut a, &mut c, &mut t, 20), 0);
        assert!(a.is_synced() && c.is_synced());
        let full = a.state().clone().joined(&x).joined(&y);
        a.handle_message(t, C, &forged(x)).unwrap();
        c.handle_message(t, A, &forged(y)).unwrap();
        assert_ne!(a.state(), c.state());
        assert!(
            !a.is_synced() && !c.is_synced(),
            "a payload from an unknown incarnation changed the state"
        );
        if cut {
            run_cut(&mut a, &mut c, &mut t, 100);
            assert!(a.metrics().peer_resets >= 1 && c.metrics().peer_resets >= 1);
        }
        let lies = run(&mut a, &mut c, &mut t, 200);
        assert_eq!(lies, 0, "never synced while different");
        assert_eq!(a.state(), c.state());
        assert_eq!(a.state(), &full, "delta sync reaches the full join");
        assert!(a.is_synced() && c.is_synced());
        for e in [&a, &c] {
            let m = e.metrics();
            assert!(m.dot_conflicts >= 1, "{m:?}");
            if cut {
                assert!(m.digest_catch_ups >= 1, "{m:?}");
                assert!(m.integrity_mismatches >= 1 && m.repair_bytes > 0, "{m:?}");
            }
        }
        (a, c)
    }

    fn or_set_case(cut: bool) {
        let d = forged_dot();
        let (mut a, mut c) = forged_each_side(
            forged_set(10, d),
            forged_set(20, d),
            |s, me| s.insert(me, 1),
            cut,
        );
        // The full join drops both: each side's context covers the other's entry.
        assert!(!a.state().contains(&10) && !a.state().contains(&20));
        assert!(a.state().contains(&1));
        assert!(conflicts(&mut a).contains(&d));
        assert!(conflicts(&mut c).contains(&d));
    }

    fn register_case(cut: bool) {
        let d = forged_dot();
        let (mut a, mut c) = forged_each_side(
            register(5, d),
            register(9, d),
            |_, _| MvRegister::default(),
            cut,
        );
        // The full join keeps the greater value for the one dot.
        assert_eq!(a.state().values().copied().collect::<Vec<_>>(), [9]);
        assert!(conflicts(&mut a).contains(&d) && conflicts(&mut c).contains(&d));
    }

    #[test]
    fn an_or_set_element_forged_under_one_dot_converges_to_the_full_join() {
        or_set_case(false);
    }

    #[test]
    fn a_register_value_forged_under_one_dot_converges_to_the_full_join() {
        register_case(false);
    }

    #[test]
    fn an_or_set_element_forged_across_a_partition_is_found_by_fingerprints() {
        or_set_case(true);
    }

    #[test]
    fn a_register_value_forged_across_a_partition_is_found_by_fingerprints() {
        register_case(true);
    }

    /// The forger's text: `typed` as one run from the start, then `then`
    /// inserted at `at`, all under its own id.
    fn forged_text(typed: &str, at: usize, then: &str) -> Text {
        let mut text = Text::new();
        let _ = text.insert_str(forged_dot().replica, 0, typed);
        let _ = text.insert_str(forged_dot().replica, at, then);
        text
    }

    /// Issue 15 follow-up: a text whose dots are forged with two versions.
    /// With `moved`, the third dot is typed at two places (other origins),
    /// else the first is two different characters (same origins). Either
    /// way the conflicting dot ends deleted, the rest kept.
    fn text_case(cut: bool, moved: bool) {
        let (x, y, d, kept) = if moved {
            (
                forged_text("ab", 1, "x"),
                forged_text("ab", 2, "c"),
                3,
                "ab",
            )
        } else {
            (forged_text("x", 0, ""), forged_text("y", 0, ""), 1, "")
        };
        let honest = |s: &mut Text, me| s.insert_str(me, s.len(), "hello");
        let (mut a, mut c) = forged_each_side(x, y, honest, cut);
        let shown = a.state().to_string();
        assert_eq!(shown.len(), 5 + kept.len(), "{shown}");
        assert!(shown.contains("hello") && shown.contains(kept), "{shown}");
        let d = Dot::new(forged_dot().replica, d).unwrap();
        assert!(conflicts(&mut a).contains(&d) && conflicts(&mut c).contains(&d));
    }

    #[test]
    fn a_character_forged_under_one_dot_converges_to_the_full_join() {
        text_case(false, false);
        text_case(false, true);
    }

    #[test]
    fn a_character_forged_across_a_partition_is_found_by_fingerprints() {
        text_case(true, false);
        text_case(true, true);
    }

    #[test]
    fn a_list_item_forged_across_a_partition_is_found_by_fingerprints() {
        let forge = |x: u8| List::new().insert(forged_dot().replica, 0, [x]);
        let honest = |s: &mut List<u8>, me| s.insert(me, 0, [1, 2]);
        let (a, _) = forged_each_side(forge(10), forge(20), honest, true);
        assert_eq!(a.state().to_vec(), [1, 2]);
    }

    /// Without fingerprints: a conflicting dot that travels (forwarded by a
    /// replica to its other peers) is detected on join, counted, reported,
    /// and the result shipped back, so both converge to the full join.
    #[test]
    fn a_conflict_that_travels_is_detected_on_join() {
        let (mut a, mut c, mut t) = engines::<OrSet<u64>>(false);
        a.add_peer(C, t);
        c.add_peer(A, t);
        run(&mut a, &mut c, &mut t, 5);
        let d = forged_dot();
        let forger = PeerId(9);
        let (x, y) = (forged_set(10, d), forged_set(20, d));
        let full = a.state().clone().joined(&x).joined(&y);
        a.handle_message(t, forger, &forged(x)).unwrap();
        c.handle_message(t, forger, &forged(y)).unwrap();
        // The forger never answers: its connection is dropped.
        a.remove_peer(forger);
        c.remove_peer(forger);
        let lies = run(&mut a, &mut c, &mut t, 50);
        assert_eq!(a.state(), &full);
        assert_eq!(c.state(), &full);
        assert!(a.is_synced() && c.is_synced());
        assert_eq!(lies, 0);
        assert!(a.metrics().dot_conflicts + c.metrics().dot_conflicts >= 1);
        let seen: Vec<Dot> = conflicts(&mut a)
            .into_iter()
            .chain(conflicts(&mut c))
            .collect();
        assert!(seen.contains(&d), "{seen:?}");
        assert_eq!(a.metrics().integrity_checks, 0, "fingerprints are off");
    }

    /// Two replicas that each got one version before they met: the digest
    /// catch-up skips the dot both have seen; fingerprints find it.
    #[test]
    fn a_catch_up_that_skips_a_forged_dot_is_repaired() {
        let (mut a, mut c, mut t) = engines::<OrSet<u64>>(true);
        let d = forged_dot();
        let (x, y) = (forged_set(10, d), forged_set(20, d));
        let full = x.clone().joined(&y);
        a.handle_message(t, C, &forged(x)).unwrap();
        c.handle_message(t, A, &forged(y)).unwrap();
        let lies = run(&mut a, &mut c, &mut t, 200);
        assert_eq!(lies, 0);
        assert_eq!(a.state(), &full);
        assert_eq!(c.state(), &full);
        assert!(a.is_synced() && c.is_synced());
    }

    fn prints_message(prints: Vec<Fingerprint>) -> Vec<u8> {
        codec::encode(&Envelope::<OrSet<u64>> {
            from_epoch: 0,
            to_epoch: 0,
            message: Message::Fingerprints {
                seed: 1,
                total: 2,
                prints,
                reply: true,
            },
        })
        .unwrap()
    }

    fn print(r: u128) -> Fingerprint {
        Fingerprint {
            replica: ReplicaId::from_u128(r),
            seen: u64::MAX,
            live: u64::MAX,
        }
    }

    #[test]
    fn fingerprint_messages_are_bounded_by_their_bytes() {
        let (mut a, mut c, mut t) = engines::<OrSet<u64>>(true);
        a.add_peer(C, t);
        c.add_peer(A, t);
        run(&mut a, &mut c, &mut t, 20);
        // A million replica ids: refused by length before decoding.
        let huge = prints_message((1..=1_000_000).map(print).collect());
        assert!(huge.len() > 30_000_000);
        assert!(matches!(
            a.handle_message(t, C, &huge),
            Err(DecodeError::TooLarge { .. })
        ));
        // As many as fit the limit: decoded and compared in one pass,
        // nothing joined, nothing sent but at most a reply.
        let most = prints_message((1..=28_000).map(print).collect());
        assert!(most.len() <= Config::default().max_message_bytes);
        let before = a.state().clone();
        a.handle_message(t, C, &most).unwrap();
        assert_eq!(a.state(), &before);
        // Unsorted or repeated replicas are malformed.
        let unsorted = prints_message(vec![print(2), print(1)]);
        assert!(matches!(
            a.handle_message(t, C, &unsorted),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(MessageKind::from_code(6), Some(MessageKind::Fingerprints));
        run(&mut a, &mut c, &mut t, 20);
        assert_eq!(a.state(), c.state());
        assert!(a.is_synced() && c.is_synced());
    }
}
