//! Seed inputs: the regression classes of the fault and hostile-bytes
//! issues (10 and 11) and of the fuzz-target issue (17), built as values
//! and written in each target's input format by
//! `cargo run --example write_seeds`.

use crdt_core::{Causal, CausalContext, Dot, DotFun, Fingerprint, HybridClock, Lattice};
use crdt_sync::{Envelope, Message, Payload, codec};
use crdt_types::{CausalCrdt, LwwRegister, MvRegister, OrMap, OrSet, ReplicaId, Text};
use serde::Serialize;

use crate::engine_bytes::{Input, Op, State, replica};

mod sync;
pub use sync::{Reach, sync_engine};

/// A replica id no engine of the targets uses (the forger's).
fn forger(k: u128) -> ReplicaId {
    ReplicaId::from_u128(0xF000 + k)
}

/// A message as a forger sends it: it does not know the epochs.
fn encode<T: Serialize>(message: Message<T>) -> Vec<u8> {
    codec::encode(&Envelope {
        from_epoch: 0,
        to_epoch: 0,
        message,
    })
    .expect("seed messages encode")
}

fn delta<T>(state: T, part: u32, parts: u32) -> Message<T> {
    Message::Delta(Payload {
        id: 1,
        part,
        parts,
        state,
    })
}

/// Counter ranges: (replica, lo, hi).
type Ranges = Vec<(ReplicaId, u64, u64)>;

/// A context holding `ranges`.
fn context(ranges: &[(ReplicaId, u64, u64)]) -> CausalContext {
    let mut context = CausalContext::new();
    for &(r, lo, hi) in ranges {
        context.insert_range(r, lo, hi);
    }
    context
}

/// A causal type whose context already covers `r`'s counters up to
/// `u64::MAX - 1`: its next mint under `r` is the saturated dot.
fn near_saturation<T: CausalCrdt>(r: ReplicaId) -> T
where
    T::Store: Default,
{
    let context = context(&[(r, 1, u64::MAX - 1)]);
    T::from_causal(Causal::from_parts(T::Store::default(), context).expect("a bare context"))
}

/// A removal: nothing live, `ranges` seen.
fn removal<T: CausalCrdt>(ranges: &[(ReplicaId, u64, u64)]) -> T
where
    T::Store: Default,
{
    T::from_causal(
        Causal::from_parts(T::Store::default(), context(ranges)).expect("a bare context"),
    )
}

/// Contexts of one range `1..=2^20`, `1..=2^24`, and two whole ranges.
fn huge_ranges() -> [(&'static str, Ranges); 3] {
    [
        ("range-2-20", vec![(forger(1), 1, 1 << 20)]),
        ("range-2-24", vec![(forger(1), 1, 1 << 24)]),
        (
            "range-two-full",
            vec![(forger(1), 1, u64::MAX), (forger(2), 1, u64::MAX)],
        ),
    ]
}

/// A digest of `n` replicas that saw a range each (about 20 bytes each:
/// over a 256-byte limit from 13 on), covering the engines' ids too.
fn wide_digest(n: u128) -> CausalContext {
    let mut ranges: Vec<_> = (0..3).map(|i| (replica(i), 1, 1000)).collect();
    ranges.extend((1..=n).map(|k| (forger(k), 1, 1000 + k as u64)));
    context(&ranges)
}

fn prints<T>(replicas: &[ReplicaId]) -> Message<T> {
    Message::Fingerprints {
        seed: 1,
        total: 2,
        prints: replicas
            .iter()
            .map(|&replica| Fingerprint {
                replica,
                seen: u64::MAX,
                live: u64::MAX,
            })
            .collect(),
        reply: true,
    }
}

/// The `decode_messages` input for `bytes` decoded as type `which % 8`
/// (the target prepends the magic and version for `which < 0x80`).
fn framed(which: u8, bytes: Vec<u8>) -> Vec<u8> {
    let header = [codec::MAGIC[0], codec::MAGIC[1], codec::VERSION];
    assert_eq!(bytes[..3], header, "a version-2 message");
    let mut out = vec![which];
    out.extend_from_slice(&bytes[3..]);
    out
}

/// Seeds of `decode_messages`: (class, bytes). Type selectors: 0 `OrSet<u64>`,
/// 1 `MvRegister<u64>`, 2 `OrMap<u8, OrSet<u8>>`, 7 `LwwRegister<u64>`,
/// `0x43` `Text`.
#[must_use]
pub fn decode_messages() -> Vec<(String, Vec<u8>)> {
    type Set = OrSet<u64>;
    type Map = OrMap<u8, OrSet<u8>>;
    let b = replica(1);
    let mut seeds = vec![
        ("saturated-dot".to_owned(), {
            let d = near_saturation::<Set>(b).insert(b, 7);
            framed(0, encode(delta(d, 0, 1)))
        }),
        ("saturated-dot-map".to_owned(), {
            let d = near_saturation::<Map>(b).update(3, |s| s.insert(b, 7));
            framed(2, encode(delta(d, 0, 1)))
        }),
        ("parts-max".to_owned(), {
            let d = Set::new().insert(forger(1), 3);
            framed(0, encode(delta(d, 0, u32::MAX)))
        }),
        ("parts-max-catch-up".to_owned(), {
            let d = Set::new().insert(forger(1), 3);
            framed(
                0,
                encode(Message::CatchUp(Payload {
                    id: 9,
                    part: u32::MAX - 1,
                    parts: u32::MAX,
                    state: d,
                })),
            )
        }),
        ("lww-max-wall-time".to_owned(), {
            let mut clock = HybridClock::with_time_source(forger(1), || u64::MAX);
            let d = LwwRegister::new().write(&mut clock, 666u64);
            framed(7, encode(delta(d, 0, 1)))
        }),
        ("fingerprints".to_owned(), {
            let m = prints::<Set>(&[replica(0), replica(1), forger(1)]);
            framed(0, encode(m))
        }),
        ("digest-over-limit".to_owned(), {
            let m = Message::<Set>::Digest {
                digest: Some(wide_digest(40)),
                reply: true,
            };
            framed(0, encode(m))
        }),
    ];
    for (value, name) in [(5u64, "x"), (9, "y")] {
        let dot = Dot::new(forger(1), 1).expect("a nonzero counter");
        let mut store = DotFun::new();
        store.insert(dot, value);
        let context: CausalContext = std::iter::once(dot).collect();
        let d = MvRegister::from_causal(Causal::from_parts(store, context).expect("valid"));
        seeds.push((
            format!("one-dot-two-values-{name}"),
            framed(1, encode(delta(d, 0, 1))),
        ));
    }
    // A text typed by two replicas, concurrently at one place, with
    // tombstones and a run still waiting for its origin: decoding places
    // the runs and must refuse any other order.
    seeds.push(("text-concurrent".to_owned(), {
        let (x, y) = (replica(1), replica(2));
        let mut a = Text::new();
        let base = a.insert_str(x, 0, "hello world");
        let mut b = Text::new();
        b.join(&base);
        let from_a = a.insert_str(x, 5, ",");
        let from_b = b.insert_str(y, 5, " there");
        let _ = a.delete(0, 1);
        a.join(&from_b);
        b.join(&from_a);
        let late = b.insert_str(y, 2, "LL");
        let mut state = a.clone();
        state.join(&late.joined(&b.delete(7, 2)));
        framed(0x43, encode(delta(state, 0, 1)))
    }));
    for (name, ranges) in huge_ranges() {
        let set: Set = removal(&ranges);
        seeds.push((name.to_owned(), framed(0, encode(delta(set, 0, 1)))));
        let map: Map = removal(&ranges);
        seeds.push((format!("{name}-map"), framed(2, encode(delta(map, 0, 1)))));
    }
    seeds
}

/// Two rounds of timers and deliveries: the engines meet and sync.
fn warm_up() -> Vec<Op> {
    let mut ops = Vec::new();
    for _ in 0..3 {
        ops.push(Op::Tick(20));
        ops.extend((0..8).map(Op::Deliver));
    }
    ops
}

fn raw<T: Serialize>(to: u8, from: u8, message: Message<T>) -> Op {
    Op::Raw {
        to,
        from,
        bytes: encode(message),
    }
}

/// A schedule: warm up, `forge`, then honest `after` (the target's healing
/// phase follows).
fn input(topology: u8, limit: u8, forge: Vec<Op>, after: Vec<Op>) -> Input {
    let mut ops = warm_up();
    ops.extend(forge);
    ops.extend(after);
    Input {
        topology,
        prefill: 5,
        limit,
        ops,
    }
}

/// Seeds of `engine_bytes`: (class, input). Topologies: 0 pair, 1 line,
/// 2 mesh; limits: 0 = 256 bytes, 1 = 1 KiB, 2 = 1 MiB. `to` and `from`
/// index the live engines and the target's peers.
#[must_use]
pub fn engine_bytes() -> Vec<(String, Input)> {
    let b = replica(1);
    let saturated = near_saturation::<State>(b).update(3, |s| s.insert(b, 7));
    assert_eq!(saturated.as_causal().context().max(b), u64::MAX);
    let writes_of_b = vec![
        Op::Insert {
            at: 1,
            key: 1,
            x: 5,
        },
        Op::Insert {
            at: 1,
            key: 2,
            x: 6,
        },
        Op::Tick(20),
        Op::Deliver(0),
        Op::Deliver(0),
    ];
    let one_dot = |x: u16| State::new().update(5, |s| s.insert(forger(1), x));
    // Forged writes under distinct ids (no dot with two values).
    let write_of = |k: u128, x: u16| State::new().update(5, |s| s.insert(forger(k), x));
    let mut seeds = vec![
        (
            "saturated-dot",
            input(
                0,
                2,
                vec![raw(1, 0, delta(saturated.clone(), 0, 1))],
                writes_of_b.clone(),
            ),
        ),
        (
            "saturated-dot-relayed",
            input(
                0,
                2,
                vec![raw(0, 0, delta(saturated, 0, 1))],
                writes_of_b.clone(),
            ),
        ),
        (
            "parts-max",
            input(
                0,
                2,
                vec![
                    raw(1, 0, delta(write_of(2, 9), 0, u32::MAX)),
                    raw(
                        0,
                        0,
                        Message::CatchUp(Payload {
                            id: 9,
                            part: 0,
                            parts: u32::MAX,
                            state: write_of(3, 11),
                        }),
                    ),
                ],
                writes_of_b.clone(),
            ),
        ),
        (
            "one-dot-two-values",
            input(
                2,
                2,
                vec![
                    raw(0, 0, delta(one_dot(10), 0, 1)),
                    raw(2, 0, delta(one_dot(20), 0, 1)),
                ],
                vec![],
            ),
        ),
        (
            "one-dot-two-values-pair",
            input(
                0,
                2,
                vec![
                    raw(0, 0, delta(one_dot(10), 0, 1)),
                    raw(1, 0, delta(one_dot(20), 0, 1)),
                ],
                vec![],
            ),
        ),
        (
            "one-dot-two-values-line-cut",
            input(
                1,
                2,
                vec![
                    raw(0, 0, delta(one_dot(10), 0, 1)),
                    raw(2, 0, delta(one_dot(20), 0, 1)),
                ],
                (0..8)
                    .flat_map(|_| std::iter::once(Op::Tick(63)).chain((0..12).map(|_| Op::Drop(0))))
                    .collect(),
            ),
        ),
        (
            "fingerprints",
            input(
                0,
                2,
                vec![
                    raw(1, 0, prints::<State>(&[replica(0), replica(1), forger(1)])),
                    raw(0, 0, prints::<State>(&[replica(1), replica(0)])),
                ],
                writes_of_b.clone(),
            ),
        ),
    ];
    for (limit, name) in [(0, "digest-over-limit"), (1, "digest-wide")] {
        let digest = Message::<State>::Digest {
            digest: Some(wide_digest(40)),
            reply: true,
        };
        seeds.push((
            name,
            input(0, limit, vec![raw(1, 0, digest)], writes_of_b.clone()),
        ));
    }
    // Enough writes of B in the same interval as the forged context that
    // forwarding it needs more than 256 bytes: the interval is split.
    let many_writes: Vec<Op> = (0..64)
        .map(|x| Op::Insert {
            at: 1,
            key: x,
            x: u16::from(x) + 10,
        })
        .chain([Op::Tick(20), Op::Deliver(0), Op::Deliver(0)])
        .collect();
    for (name, ranges) in huge_ranges() {
        let removal: State = removal(&ranges);
        seeds.push((
            name,
            input(
                2,
                0,
                vec![raw(1, 0, delta(removal, 0, 1))],
                many_writes.clone(),
            ),
        ));
    }
    seeds
        .into_iter()
        .map(|(name, input)| (name.to_owned(), input))
        .collect()
}

/// Seeds of `engine_text`: (class, input), as for `engine_bytes`: honest
/// typing on every engine, then with a forged run sent as two different
/// texts under one dot, a run under an honest engine's own id at a counter
/// it never minted, and deletions of runs the engines never saw.
#[must_use]
pub fn engine_text() -> Vec<(String, Input)> {
    let typing: Vec<Op> = (0..24u8)
        .map(|k| match k % 3 {
            0 => Op::Insert {
                at: k,
                key: k.wrapping_mul(7),
                x: u16::from(k),
            },
            1 => Op::RemoveElement {
                at: k,
                key: k.wrapping_mul(5),
                x: u16::from(k),
            },
            _ => Op::RemoveKey { at: k, key: k },
        })
        .chain([Op::Tick(20), Op::Deliver(0), Op::Deliver(1), Op::Deliver(2)])
        .collect();
    let one_dot = |s: &str| Text::new().insert_str(forger(1), 0, s);
    let b = replica(1);
    let mut far = Text::new();
    let _ = far.insert_str(b, 0, &"z".repeat(1000));
    let unminted = far.insert_str(b, 1000, "!");
    let mut gone = Text::new();
    let _ = gone.insert_str(forger(2), 0, "abcdefgh");
    let deletions = gone.delete(2, 4);
    let seeds = [
        ("typing", input(2, 2, vec![], typing.clone())),
        (
            "one-dot-two-texts",
            input(
                2,
                2,
                vec![
                    raw(0, 0, delta(one_dot("x"), 0, 1)),
                    raw(2, 0, delta(one_dot("y"), 0, 1)),
                ],
                typing.clone(),
            ),
        ),
        (
            "unminted-own-dot",
            input(0, 2, vec![raw(0, 0, delta(unminted, 0, 1))], typing.clone()),
        ),
        (
            "pending-deletions",
            input(1, 1, vec![raw(1, 0, delta(deletions, 0, 1))], typing),
        ),
    ];
    seeds
        .into_iter()
        .map(|(name, input)| (name.to_owned(), input))
        .collect()
}

/// Seeds of `merge_laws`: (class, operations). `repeated-syncs` is the
/// input class that ran the target out of memory while a sync appended the
/// sender's whole delta log to the receiver's: a few writes on two
/// replicas, then syncs back and forth between them to the end (each sync
/// doubled the logs then; now it adds nothing).
#[must_use]
pub fn merge_laws() -> Vec<(String, Vec<crate::merge_laws::Op>)> {
    use crate::merge_laws::{MAX_OPS, Op};
    let mut ops = vec![
        Op::Insert(0, 1),
        Op::MapInsert(1, 2, 3),
        Op::MvWrite(0, 4),
        Op::Count(1, -5),
    ];
    while ops.len() < MAX_OPS {
        ops.extend([Op::Sync(0, 1), Op::Sync(1, 0)]);
    }
    vec![("repeated-syncs".to_owned(), ops)]
}
