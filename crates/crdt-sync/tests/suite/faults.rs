//! Regression tests for ways engines once diverged silently after a single
//! fault on an otherwise perfect network, each driven by hand: a restart
//! with a lost catch-up answer, parts of different payloads mixed, digests
//! over the limit, idle periods, slow and non-resumable splitting, invalid
//! configurations and writes under a stale replica id.

use std::time::{Duration, Instant};

use crdt_sync::{
    Config, ConfigError, Engine, Event, LocalWriteError, Message, MessageKind, PeerId, codec,
};
use crdt_types::{Lattice, OrSet, ReplicaId};

type E = Engine<OrSet<u64>>;

const TICK: Duration = Duration::from_millis(10);

fn config() -> Config {
    Config {
        sync_interval: TICK,
        ..Config::default()
    }
}

/// What a message is, for dropping some of them on purpose.
#[derive(Clone, Debug, PartialEq)]
struct Kind {
    kind: MessageKind,
    /// Payload id and part, for payloads and acks.
    id: u64,
    part: u32,
    /// The state carried, for payloads.
    state: Option<OrSet<u64>>,
}

fn kind_of(bytes: &[u8]) -> Kind {
    let e = codec::decode::<OrSet<u64>>(bytes, usize::MAX).expect("engines send valid messages");
    let kind = e.message.kind();
    let (id, part, state) = match e.message {
        Message::Delta(p) | Message::CatchUp(p) | Message::State(p) => {
            (p.id, p.part, Some(p.state))
        }
        Message::Ack { id, part } => (id, part, None),
        Message::Digest { .. } | Message::Fingerprints { .. } => (0, 0, None),
    };
    Kind {
        kind,
        id,
        part,
        state,
    }
}

/// Two engines, `a` as `PeerId(1)` and `b` as `PeerId(2)`, and a clock.
struct Pair {
    a: E,
    b: E,
    t: Instant,
    bytes: usize,
}

impl Pair {
    fn new(config: Config) -> Self {
        let t = Instant::now();
        let mut a = Engine::new(ReplicaId::from_u128(1), OrSet::new(), config.clone(), t).unwrap();
        let mut b = Engine::new(ReplicaId::from_u128(2), OrSet::new(), config, t).unwrap();
        a.add_peer(PeerId(2), t);
        b.add_peer(PeerId(1), t);
        Self { a, b, t, bytes: 0 }
    }

    /// One tick: timers, then deliver until quiet, dropping the messages
    /// `drop(from_a, kind)` picks.
    fn tick(&mut self, drop: &mut impl FnMut(bool, Kind) -> bool) {
        self.t += TICK;
        self.a.handle_timeout(self.t);
        self.b.handle_timeout(self.t);
        self.flush(drop);
    }

    fn flush(&mut self, drop: &mut impl FnMut(bool, Kind) -> bool) {
        loop {
            let mut moved = false;
            while let Some(m) = self.a.poll_transmit() {
                moved = true;
                self.bytes += m.bytes.len();
                if !drop(true, kind_of(&m.bytes)) {
                    self.b.handle_message(self.t, PeerId(1), &m.bytes).unwrap();
                }
            }
            while let Some(m) = self.b.poll_transmit() {
                moved = true;
                self.bytes += m.bytes.len();
                if !drop(false, kind_of(&m.bytes)) {
                    self.a.handle_message(self.t, PeerId(2), &m.bytes).unwrap();
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// One tick on a link where every message takes one tick: delivers
    /// what `held` kept from the last tick (unless `drop` picks it), runs
    /// the timers, and keeps what was sent for the next tick.
    fn tick_delayed(
        &mut self,
        held: &mut Vec<(bool, Vec<u8>)>,
        drop: &mut impl FnMut(bool, Kind) -> bool,
    ) {
        self.t += TICK;
        for (from_a, bytes) in std::mem::take(held) {
            if drop(from_a, kind_of(&bytes)) {
                continue;
            }
            let (to, from) = if from_a {
                (&mut self.b, PeerId(1))
            } else {
                (&mut self.a, PeerId(2))
            };
            to.handle_message(self.t, from, &bytes).unwrap();
        }
        self.a.handle_timeout(self.t);
        self.b.handle_timeout(self.t);
        while let Some(m) = self.a.poll_transmit() {
            held.push((true, m.bytes));
        }
        while let Some(m) = self.b.poll_transmit() {
            held.push((false, m.bytes));
        }
    }

    /// Perfect network for `ticks` ticks; checks at every tick that two
    /// engines reporting `is_synced()` hold equal states.
    fn run(&mut self, ticks: u32) {
        for _ in 0..ticks {
            self.tick(&mut |_, _| false);
            self.assert_synced_means_equal();
        }
    }

    fn assert_synced_means_equal(&self) {
        if self.a.is_synced() && self.b.is_synced() {
            assert_eq!(self.a.state(), self.b.state(), "both synced, states differ");
        }
    }

    fn assert_converged(&self) {
        assert_eq!(self.a.state(), self.b.state());
        assert!(
            self.a.is_synced() && self.b.is_synced(),
            "{:?}\n{:?}",
            self.a.metrics(),
            self.b.metrics()
        );
    }

    /// Replaces `b` by an engine restored from `snapshot` (with `b`'s id
    /// when `same_id`), as after a crash.
    fn restart_b(&mut self, snapshot: OrSet<u64>, same_id: bool, config: Config) {
        self.b = if same_id {
            Engine::restore_as(ReplicaId::from_u128(2), snapshot, config, self.t).unwrap()
        } else {
            Engine::restore(snapshot, config, self.t).unwrap()
        };
        self.b.add_peer(PeerId(1), self.t);
    }
}

/// Each round ships only what was written since the last one, so the
/// acknowledgement of a later interval proves nothing about an earlier one
/// that was lost: `a` must neither count `b` as holding the lost write nor
/// stop resending it, while the newer intervals still get through.
#[test]
fn a_lost_interval_followed_by_newer_ones_is_still_delivered() {
    let mut p = Pair::new(config());
    // Every message takes one tick: a round trip spans several rounds.
    let mut held = Vec::new();
    for _ in 0..30 {
        p.tick_delayed(&mut held, &mut |_, _| false);
    }
    p.assert_converged();
    p.a.update(|s, me| s.insert(me, 1)).unwrap();
    // Whatever carries 1 from `a` is lost for a while; the rest arrives.
    let mut hide_one =
        |from_a: bool, k: Kind| from_a && k.state.is_some_and(|s: OrSet<u64>| s.contains(&1));
    for x in 10..30 {
        p.a.update(|s, me| s.insert(me, x)).unwrap();
        p.tick_delayed(&mut held, &mut hide_one);
        assert!(!p.b.state().contains(&1));
        assert!(
            !p.a.is_synced(),
            "an acknowledgement of a later interval counted for the lost one"
        );
    }
    // Newer intervals were delivered without the lost one.
    assert!(p.b.state().contains(&27), "{:?}", p.b.state());
    for _ in 0..50 {
        p.tick_delayed(&mut held, &mut |_, _| false);
    }
    p.assert_converged();
    assert!(p.b.state().contains(&1));
}

fn restart_with_lost_catch_up(remove: bool, same_id: bool) {
    let mut p = Pair::new(config());
    p.run(3);
    let before = p.b.state().clone();
    p.a.update(|s, me| s.insert(me, 7)).unwrap();
    p.run(3);
    let snapshot = if remove { p.b.state().clone() } else { before };
    if remove {
        p.a.update(|s, _| s.remove(&7)).unwrap();
        p.run(3);
        assert!(!p.b.state().contains(&7));
    }
    p.assert_converged();
    p.restart_b(snapshot, same_id, config());
    // Lose every catch-up A sends while B is new (the first answers).
    let mut lost = 0;
    for _ in 0..3 {
        p.tick(&mut |from_a, k| {
            let drop = from_a && k.kind == MessageKind::CatchUp;
            lost += usize::from(drop);
            drop
        });
    }
    assert!(lost > 0, "the scenario lost a catch-up answer");
    p.run(1000); // 10 s of perfect network
    p.assert_converged();
    assert_eq!(p.b.state().contains(&7), !remove);
    assert!(p.a.metrics().peer_restarts >= 1);
}

#[test]
fn restart_from_an_old_snapshot_with_a_lost_catch_up_answer_converges() {
    restart_with_lost_catch_up(false, false);
    restart_with_lost_catch_up(false, true);
}

#[test]
fn restart_with_a_lost_catch_up_answer_still_applies_a_remove() {
    restart_with_lost_catch_up(true, false);
    restart_with_lost_catch_up(true, true);
}

/// Item 2: parts of two different payloads delivered mixed never add up to
/// an acknowledgement of either.
#[test]
fn parts_of_two_payloads_mixed_are_never_acknowledged_as_one() {
    let small = Config {
        max_message_bytes: 300,
        ..config()
    };
    let mut p = Pair::new(small);
    p.run(3);
    let big = |x: u64| x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    p.a.update(|s, me| s.insert_all(me, (0..60).map(big)))
        .unwrap();
    // Deliver only the even parts of the first split payload...
    let mut first_id = None;
    p.tick(&mut |from_a, k| {
        if from_a && k.kind == MessageKind::Delta {
            let id = *first_id.get_or_insert(k.id);
            return k.id != id || k.part % 2 == 1;
        }
        false
    });
    let first_id = first_id.expect("a split delta was sent");
    // ...then a second payload (a catch-up after B asks), only its odd parts.
    p.b.update(|s, me| s.insert(me, 1000)).unwrap();
    p.a.update(|s, me| s.insert_all(me, (100..160).map(big)))
        .unwrap();
    for _ in 0..5 {
        p.tick(&mut |from_a, k| {
            let odd = k.part % 2 == 1;
            from_a && k.kind != MessageKind::Ack && (k.id == first_id) == odd
        });
        p.assert_synced_means_equal();
        assert!(!p.a.is_synced(), "A cannot be synced: B lacks parts");
    }
    assert!(
        (0..60).any(|x| !p.b.state().contains(&big(x))),
        "B misses parts"
    );
    p.run(500);
    p.assert_converged();
    assert_eq!(p.b.state().len(), 121);
}

/// Item 3: a digest over the message limit is coarsened so it fits (and
/// catch-up completes); an irreducible part over the limit raises
/// `MessageTooLarge`.
#[test]
fn a_digest_over_the_limit_is_coarsened_and_catch_up_completes() {
    let small = Config {
        max_message_bytes: 250,
        ..config()
    };
    let mut p = Pair::new(small.clone());
    p.run(3);
    // B has seen dots of 40 replicas: its digest needs about 40 * 20 bytes.
    let mut many = OrSet::new();
    for r in 0..40u64 {
        let _ = many.insert(ReplicaId::from_u128(1000 + u128::from(r)), 1000 + r);
    }
    p.restart_b(many, false, small);
    p.a.update(|s, me| s.insert_all(me, 0..50)).unwrap();
    p.run(500);
    p.assert_converged();
    assert_eq!(p.a.state().len(), 90);
    assert!(p.b.metrics().digests_coarsened > 0, "{:?}", p.b.metrics());
    let events: Vec<Event> = std::iter::from_fn(|| p.b.poll_event()).collect();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::MessageTooLarge { .. })),
        "{events:?}"
    );
}

#[test]
fn an_irreducible_part_over_the_limit_raises_message_too_large() {
    let small = Config {
        max_message_bytes: 200,
        ..config()
    };
    let t = Instant::now();
    let mut a: Engine<OrSet<String>> =
        Engine::new(ReplicaId::from_u128(1), OrSet::new(), small, t).unwrap();
    a.add_peer(PeerId(2), t);
    while a.poll_transmit().is_some() {}
    a.update(|s, me| s.insert(me, "x".repeat(500))).unwrap();
    // Pretend B answered the opening digest exchange, then run a round.
    let digest = codec::encode(&crdt_sync::Envelope {
        from_epoch: 7,
        to_epoch: 0,
        message: Message::<OrSet<String>>::Digest {
            digest: Some(Default::default()),
            reply: false,
        },
    })
    .unwrap();
    a.handle_message(t, PeerId(2), &digest).unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(
        events.iter().any(
            |e| matches!(e, Event::MessageTooLarge { peer: PeerId(2), bytes } if *bytes > 200)
        ),
        "{events:?}"
    );
    while let Some(m) = a.poll_transmit() {
        assert!(m.bytes.len() <= 200, "nothing over the limit is sent");
    }
}

/// Item 4: a quiet period longer than the acknowledgement timeout does not
/// reset healthy peers: the next write travels as a delta.
#[test]
fn an_idle_period_does_not_reset_healthy_peers() {
    let c = Config {
        ack_timeout: Duration::from_millis(100),
        ..config()
    };
    let mut p = Pair::new(c);
    p.run(5);
    p.assert_converged();
    let catch_ups = p.a.metrics().digest_catch_ups;
    p.run(50); // 500 ms of quiet, five timeouts long
    p.a.update(|s, me| s.insert(me, 1)).unwrap();
    p.run(2);
    p.assert_converged();
    assert_eq!(p.a.metrics().peer_resets, 0, "{:?}", p.a.metrics());
    assert_eq!(
        p.b.metrics().digest_catch_ups,
        catch_ups,
        "no digest round trip"
    );
    assert!(std::iter::from_fn(|| p.a.poll_event()).all(|e| !matches!(e, Event::PeerReset { .. })));
}

/// Item 5: a split transfer resumes where it was under loss: it sends each
/// part about once, not the whole payload again for every lost part.
#[test]
fn a_split_catch_up_resumes_under_loss() {
    let run = |loss_every: u64| {
        let small = Config {
            max_message_bytes: 2000,
            ..config()
        };
        let mut p = Pair::new(small);
        let keys = (0..20_000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        p.a.update(|s, me| s.insert_all(me, keys)).unwrap();
        let mut n = 0u64;
        for _ in 0..2000 {
            p.tick(&mut |_, _| {
                n += 1;
                loss_every > 0 && n.is_multiple_of(loss_every)
            });
            p.assert_synced_means_equal();
            if p.a.state() == p.b.state() && p.a.is_synced() && p.b.is_synced() {
                break;
            }
        }
        p.assert_converged();
        assert!(p.a.metrics().split_messages > 0);
        p.bytes
    };
    let clean = run(0);
    let lossy = run(10); // every tenth message lost
    assert!(
        lossy * 10 < clean * 13,
        "10% loss cost {lossy} B against {clean} B without loss"
    );
}

/// Item 6: an invalid configuration is an error, not a hang.
#[test]
fn an_invalid_config_is_refused_by_new() {
    let t = Instant::now();
    let bad = |c: Config| Engine::new(ReplicaId::from_u128(1), OrSet::<u64>::new(), c, t).err();
    assert_eq!(
        bad(Config {
            sync_interval: Duration::ZERO,
            ..Config::default()
        }),
        Some(ConfigError::ZeroSyncInterval)
    );
    assert!(matches!(
        bad(Config {
            ack_timeout: Duration::from_millis(150),
            ..Config::default()
        }),
        Some(ConfigError::AckTimeoutTooShort { .. })
    ));
    assert_eq!(
        bad(Config {
            max_buffered_deltas: 0,
            ..Config::default()
        }),
        Some(ConfigError::ZeroBuffer)
    );
    assert_eq!(
        bad(Config {
            max_message_bytes: 64,
            ..Config::default()
        }),
        Some(ConfigError::MessageLimitTooSmall { limit: 64 })
    );
    assert!(bad(Config::default()).is_none());
}

/// Item 7: a write that mints under a stale replica id (kept across a
/// restore) is refused and changes nothing; so is a delta reusing a dot.
#[test]
fn a_write_under_a_stale_replica_id_is_refused_and_changes_nothing() {
    let t = Instant::now();
    let old = ReplicaId::from_u128(1);
    // Explicit: the default is on only in builds with debug assertions.
    let checked = Config {
        verify_local_writes: true,
        ..config()
    };
    let mut first = Engine::new(old, OrSet::new(), checked.clone(), t).unwrap();
    first.update(|s, me| s.insert(me, 1u64)).unwrap();
    let snapshot = first.into_state();
    let mut e = Engine::restore(snapshot.clone(), checked, t).unwrap();
    assert_ne!(e.replica(), old);
    let stale = e.update(|s, _| s.insert(old, 2));
    assert!(
        matches!(stale, Err(LocalWriteError::ForeignDot { dot, .. }) if dot.replica == old),
        "{stale:?}"
    );
    assert_eq!(e.state(), &snapshot, "nothing applied");
    assert!(
        e.update(|s, me| s.insert(me, 2)).is_ok(),
        "the safe path works"
    );
    assert!(e.state().contains(&2));
    // A delta made elsewhere under another id, and one reusing a dot.
    let mut elsewhere = OrSet::new();
    let foreign = elsewhere.insert(ReplicaId::from_u128(9), 3);
    assert!(matches!(
        e.apply_local(foreign),
        Err(LocalWriteError::ForeignDot { .. })
    ));
    let me = e.replica();
    let mut copy = snapshot.clone();
    let reuse = copy.insert(me, 99); // mints the dot `e` already used for 2
    assert!(matches!(
        e.apply_local(reuse),
        Err(LocalWriteError::ReusedDot { .. })
    ));
    assert!(!e.state().contains(&3) && !e.state().contains(&99));
    assert_eq!(e.metrics().local_writes_refused, 3);
}

/// Unchecked (the release default: `verify_local_writes` clones the state
/// per write), a write under a stale id is shipped as it is. Here it mints
/// the very dot the old incarnation had minted for another element, so the
/// two replicas hold one dot with two contents; digest catch-up skips a dot
/// both have seen, and the fingerprint comparison after it must find the
/// clash and settle it as a full-state join would: both end equal and in
/// sync, and the clash is reported.
#[test]
fn an_unchecked_write_under_a_stale_id_is_found_and_settled() {
    let unchecked = Config {
        verify_local_writes: false,
        ..config()
    };
    let mut p = Pair::new(unchecked.clone());
    let old = p.b.replica();
    p.b.update(|s, me| s.insert(me, 1)).unwrap();
    p.run(5);
    let snapshot = p.b.state().clone();
    p.b.update(|s, me| s.insert(me, 2)).unwrap();
    p.run(5);
    assert!(p.a.state().contains(&2));
    p.restart_b(snapshot, false, unchecked);
    p.b.update(|s, _| s.insert(old, 99)).unwrap();
    let clash = crdt_core::Dot::new(old, 2).unwrap();
    assert!(p.b.state().contains(&99), "not refused");
    let full = p.a.state().clone().joined(p.b.state());
    let mut found = Vec::new();
    for _ in 0..300 {
        p.run(1);
        for e in [&mut p.a, &mut p.b] {
            found.extend(
                std::iter::from_fn(|| e.poll_event()).filter_map(|ev| match ev {
                    Event::DotConflict { dot, .. } => Some(dot),
                    _ => None,
                }),
            );
        }
        if !found.is_empty() && p.a.is_synced() && p.b.is_synced() {
            break;
        }
    }
    p.assert_converged();
    assert!(found.contains(&clash), "{found:?}");
    // What a full-state join gives: each side has seen the dot and does not
    // hold it under the other's element, so neither element survives (the
    // misuse costs the old write too, which is why debug builds refuse it).
    let view: Vec<u64> = p.a.state().iter().copied().collect();
    assert_eq!(view, [1]);
    assert_eq!(p.a.state(), &full);
}
