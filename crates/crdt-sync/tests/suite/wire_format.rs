//! The wire format: round trips for every message kind, total decoding
//! (truncated, mutated, oversized or foreign bytes are errors, never panics),
//! and checked-in test vectors so an encoding change is deliberate.

use crdt_core::{CausalContext, Dot, Fingerprint, ReplicaId};
use crdt_sync::codec::{self, DecodeError};
use crdt_sync::{Envelope, Message, Payload};
use crdt_types::{OrSet, PnCounter};
use quickcheck::{Arbitrary, Gen, quickcheck};

const LIMIT: usize = 1 << 20;

fn set_of(xs: &[u8], r: u8) -> OrSet<u64> {
    let me = ReplicaId::from_u128(u128::from(r % 3) + 1);
    let mut s = OrSet::new();
    for &x in xs {
        if x % 5 == 0 {
            let _ = s.remove(&u64::from(x / 5));
        } else {
            let _ = s.insert(me, u64::from(x % 16));
        }
    }
    s
}

/// A message of every kind, built from arbitrary inputs.
#[derive(Clone, Debug)]
struct AnyMessage(Envelope<OrSet<u64>>);

impl Arbitrary for AnyMessage {
    fn arbitrary(g: &mut Gen) -> Self {
        let payload = |g: &mut Gen| {
            let parts = u32::from(u8::arbitrary(g) % 4) + 1;
            Payload {
                id: u64::arbitrary(g),
                part: u32::from(u8::arbitrary(g)) % parts,
                parts,
                state: set_of(&Vec::<u8>::arbitrary(g), u8::arbitrary(g)),
            }
        };
        let m = match u8::arbitrary(g) % 6 {
            0 => Message::Delta(payload(g)),
            1 => Message::CatchUp(payload(g)),
            2 => Message::State(payload(g)),
            3 => Message::Ack {
                id: u64::arbitrary(g),
                part: u32::arbitrary(g),
            },
            4 => Message::Digest {
                digest: bool::arbitrary(g).then(|| CausalContext::arbitrary(g)),
                reply: bool::arbitrary(g),
            },
            _ => {
                let mut prints: Vec<Fingerprint> = Vec::<(u8, u64, u64)>::arbitrary(g)
                    .into_iter()
                    .map(|(r, seen, live)| Fingerprint {
                        replica: ReplicaId::from_u128(u128::from(r)),
                        seen,
                        live,
                    })
                    .collect();
                prints.sort_by_key(|p| p.replica);
                prints.dedup_by_key(|p| p.replica);
                Message::Fingerprints {
                    seed: u64::arbitrary(g),
                    total: u64::arbitrary(g),
                    prints,
                    reply: bool::arbitrary(g),
                }
            }
        };
        Self(Envelope {
            from_epoch: u32::arbitrary(g),
            to_epoch: u32::arbitrary(g),
            message: m,
        })
    }
}

quickcheck! {
    fn every_kind_round_trips(m: AnyMessage) -> bool {
        let bytes = codec::encode(&m.0).unwrap();
        codec::decode::<OrSet<u64>>(&bytes, LIMIT).ok() == Some(m.0)
    }

    fn truncated_bytes_are_an_error(m: AnyMessage, cut: usize) -> bool {
        let bytes = codec::encode(&m.0).unwrap();
        let cut = cut % bytes.len();
        codec::decode::<OrSet<u64>>(&bytes[..cut], LIMIT).is_err()
    }

    fn mutated_bytes_never_panic_and_only_valid_states_pass(m: AnyMessage, flips: Vec<(usize, u8)>) -> bool {
        let mut bytes = codec::encode(&m.0).unwrap();
        for (pos, bits) in flips {
            let i = pos % bytes.len();
            bytes[i] ^= bits;
        }
        match codec::decode::<OrSet<u64>>(&bytes, LIMIT) {
            Ok(e) => match e.message {
                Message::Delta(p) | Message::CatchUp(p) | Message::State(p) => p.state.validate().is_ok(),
                _ => true,
            },
            Err(_) => true,
        }
    }

    fn random_bytes_never_panic(bytes: Vec<u8>) -> bool {
        let _ = codec::decode::<OrSet<u64>>(&bytes, LIMIT);
        let _ = codec::decode::<PnCounter>(&bytes, LIMIT);
        let mut framed = vec![0xCD, 0x7A, codec::VERSION];
        framed.extend_from_slice(&bytes);
        let _ = codec::decode::<OrSet<u64>>(&framed, LIMIT);
        true
    }

    fn oversized_messages_are_refused_before_decoding(m: AnyMessage) -> bool {
        let bytes = codec::encode(&m.0).unwrap();
        matches!(
            codec::decode::<OrSet<u64>>(&bytes, bytes.len() - 1),
            Err(DecodeError::TooLarge { .. })
        )
    }
}

#[test]
fn envelope_errors_are_typed() {
    let ok = codec::encode(&Envelope {
        from_epoch: 1,
        to_epoch: 2,
        message: Message::<OrSet<u64>>::Ack { id: 1, part: 0 },
    })
    .unwrap();
    let check = |bytes: &[u8], want: &str| {
        let err = codec::decode::<OrSet<u64>>(bytes, LIMIT).unwrap_err();
        assert!(
            format!("{err:?}").starts_with(want),
            "{err:?} is not {want}"
        );
        assert!(!err.to_string().is_empty());
    };
    check(&[], "Truncated");
    check(&ok[..3], "Truncated");
    check(b"GET / HTTP/1.1", "BadMagic");
    check(&[0xCD, 0x7A, 9, 2, 0, 0], "UnknownVersion");
    check(&[0xCD, 0x7A, 3, 99, 0, 0, 0, 0, 0, 0, 0, 0], "UnknownKind");
    // A message of format 2 (before the packed store encoding) is refused.
    let mut v2 = ok.clone();
    v2[2] = 2;
    check(&v2, "UnknownVersion");
    check(&ok[..11], "Truncated");
    let mut trailing = ok.clone();
    trailing.push(0);
    check(&trailing, "Malformed");
    // A state whose dot lies outside its context is rejected, not joined.
    let mut bad = vec![0xCD, 0x7A, 3, 1, 1, 0, 0, 0, 2, 0, 0, 0]; // epochs 1 and 2
    bad.extend_from_slice(&[1, 0, 1]); // id 1, part 0 of 1
    bad.push(0); // empty context
    // store {5: {(replica #0, 3)}}: header, 3 bytes of column.
    bad.extend_from_slice(&[5, 3, 5, 0, 3]);
    check(&bad, "Malformed");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The encodings of one message of each kind. If this test fails, the wire
/// format changed: bump `codec::VERSION` and update the vectors on purpose.
///
/// Reading the delta vector: `cd7a` magic, `03` version, `01` kind,
/// `05000000` the sender's epoch and `06000000` the receiver's (4 bytes
/// each, little-endian), `09` payload id, `00 01` part 0 of 1; the context:
/// `01` replica, 16 bytes of id, `01` span, `00 00` (counters 1..=1); the
/// store: `05` header (one entry, integer keys), `03` bytes of column:
/// `07` the key, `00` replica #0 of the context and no further dot, `01`
/// counter. 40 bytes for a one-element delta.
#[test]
fn test_vectors() {
    let r = ReplicaId::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
    let mut set = OrSet::new();
    let _ = set.insert(r, 7u64);
    let payload = Payload {
        id: 9,
        part: 0,
        parts: 1,
        state: set,
    };
    let digest: CausalContext = [Dot::new(r, 1).unwrap(), Dot::new(r, 3).unwrap()]
        .into_iter()
        .collect();
    let vectors: Vec<(Message<OrSet<u64>>, &str)> = vec![
        (
            Message::Delta(payload.clone()),
            "cd7a03010500000006000000090001010102030405060708090a0b0c0d0e0f100100000503070001",
        ),
        (
            Message::CatchUp(payload.clone()),
            "cd7a03040500000006000000090001010102030405060708090a0b0c0d0e0f100100000503070001",
        ),
        (
            Message::State(payload),
            "cd7a03050500000006000000090001010102030405060708090a0b0c0d0e0f100100000503070001",
        ),
        (
            Message::Ack { id: 300, part: 2 },
            "cd7a03020500000006000000fb2c0102",
        ),
        (
            Message::Digest {
                digest: Some(digest),
                reply: true,
            },
            "cd7a0303050000000600000001010102030405060708090a0b0c0d0e0f10020000010001",
        ),
    ];
    let mut changed = Vec::new();
    for (message, expected) in vectors {
        let envelope = Envelope {
            from_epoch: 5,
            to_epoch: 6,
            message,
        };
        let bytes = codec::encode(&envelope).unwrap();
        let h = hex(&bytes);
        if h != expected {
            changed.push(format!("{:?}: {h}", envelope.message.kind()));
        }
        assert_eq!(
            codec::decode::<OrSet<u64>>(&bytes, LIMIT).unwrap(),
            envelope
        );
    }
    assert!(
        changed.is_empty(),
        "the wire format changed:\n{}",
        changed.join("\n")
    );
}

/// Kind 6, added in the same format version (an older reader refuses it as
/// an unknown kind; every other kind's bytes are unchanged, see
/// [`test_vectors`]). Reading it: header with kind `06`; `09` seed, `fb2c01`
/// total 300, `01` print count, then 16 bytes of replica id, `05` seen, `fc00000001`
/// live 2^24; `01` reply.
#[test]
fn fingerprints_vector() {
    let r = ReplicaId::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
    let envelope = Envelope::<OrSet<u64>> {
        from_epoch: 5,
        to_epoch: 6,
        message: Message::Fingerprints {
            seed: 9,
            total: 300,
            prints: vec![Fingerprint {
                replica: r,
                seen: 5,
                live: 1 << 24,
            }],
            reply: true,
        },
    };
    let bytes = codec::encode(&envelope).unwrap();
    assert_eq!(
        hex(&bytes),
        "cd7a0306050000000600000009fb2c01010102030405060708090a0b0c0d0e0f1005fc0000000101"
    );
    assert_eq!(
        codec::decode::<OrSet<u64>>(&bytes, LIMIT).unwrap(),
        envelope
    );
}
