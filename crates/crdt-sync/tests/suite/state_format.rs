//! Bare states (`codec::encode_state` / `codec::decode_state`): round trips,
//! total decoding (truncated, mutated, oversized, foreign or invalid bytes are
//! errors, never panics) and a checked-in test vector.

use crdt_core::ReplicaId;
use crdt_sync::codec::{self, DecodeError};
use crdt_sync::{Envelope, Message};
use crdt_types::{GCounter, OrSet};
use quickcheck::quickcheck;

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

quickcheck! {
    fn states_round_trip(xs: Vec<u8>, r: u8) -> bool {
        let s = set_of(&xs, r);
        let bytes = codec::encode_state(&s).unwrap();
        codec::decode_state::<OrSet<u64>>(&bytes, LIMIT).ok() == Some(s)
    }

    fn truncated_states_are_an_error(xs: Vec<u8>, r: u8, cut: usize) -> bool {
        let bytes = codec::encode_state(&set_of(&xs, r)).unwrap();
        let cut = cut % bytes.len();
        codec::decode_state::<OrSet<u64>>(&bytes[..cut], LIMIT).is_err()
    }

    fn mutated_states_never_panic_and_only_valid_states_pass(
        xs: Vec<u8>,
        r: u8,
        flips: Vec<(usize, u8)>
    ) -> bool {
        let mut bytes = codec::encode_state(&set_of(&xs, r)).unwrap();
        for (pos, bits) in flips {
            let i = pos % bytes.len();
            bytes[i] ^= bits;
        }
        match codec::decode_state::<OrSet<u64>>(&bytes, LIMIT) {
            Ok(s) => s.validate().is_ok(),
            Err(_) => true,
        }
    }

    fn random_bytes_never_panic(bytes: Vec<u8>) -> bool {
        let mut framed = vec![0xCD, 0x7A, codec::STATE_MARK, codec::STATE_VERSION];
        framed.extend_from_slice(&bytes);
        let _ = codec::decode_state::<OrSet<u64>>(&framed, LIMIT);
        let _ = codec::decode_state::<GCounter>(&framed, LIMIT);
        codec::decode_state::<OrSet<u64>>(&bytes, LIMIT).is_err() || bytes.starts_with(&framed[..4])
    }

    fn oversized_states_are_refused_before_decoding(xs: Vec<u8>, r: u8) -> bool {
        let bytes = codec::encode_state(&set_of(&xs, r)).unwrap();
        matches!(
            codec::decode_state::<OrSet<u64>>(&bytes, bytes.len() - 1),
            Err(DecodeError::TooLarge { .. })
        )
    }
}

#[test]
fn state_errors_are_typed() {
    let check = |bytes: &[u8], want: &str| {
        let err = codec::decode_state::<OrSet<u64>>(bytes, LIMIT).unwrap_err();
        assert!(
            format!("{err:?}").starts_with(want),
            "{err:?} is not {want}"
        );
        assert!(!err.to_string().is_empty());
    };
    check(&[], "Truncated");
    check(&[0xCD, 0x7A, codec::STATE_MARK], "Truncated");
    check(b"GET / HTTP/1.1", "BadMagic");
    check(
        &[0xCD, 0x7A, codec::STATE_MARK, 9, 0],
        "UnknownStateVersion",
    );
    // A message is not a state, even one that carries a state.
    let message = codec::encode(&Envelope {
        from_epoch: 1,
        to_epoch: 2,
        message: Message::<OrSet<u64>>::Ack { id: 1, part: 0 },
    })
    .unwrap();
    check(&message, "NotAState");
    let mut trailing = codec::encode_state(&OrSet::<u64>::new()).unwrap();
    trailing.push(0);
    check(&trailing, "Malformed");
    // A state whose dot lies outside its context is rejected.
    let mut bad = vec![0xCD, 0x7A, codec::STATE_MARK, codec::STATE_VERSION];
    bad.push(0); // empty context
    // store {5: {(replica #0, 3)}}: header 1 << 2 | integer keys, a
    // column of 3 bytes: key 5, replica #0 alone, counter 3.
    bad.extend_from_slice(&[5, 3, 5, 0, 3]);
    check(&bad, "Malformed");
    // The same in format 1, which is still read.
    let mut bad = vec![0xCD, 0x7A, codec::STATE_MARK, 1, 0];
    bad.extend_from_slice(&[1, 5, 1, 0, 3]);
    check(&bad, "Malformed");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The encoding of a one-element set. If this test fails, the state format
/// changed: bump `codec::STATE_VERSION` and update the vector on purpose
/// (stored snapshots and logs of older builds must stay readable: keep a
/// vector of every version still read, as below for version 1).
///
/// Reading it: `cd7a` magic, `53` state mark, `02` state version; the
/// context: `01` replica, 16 bytes of id, `01` span, `00 00` (counters
/// 1..=1); the store: `05` header (one entry, integer keys), `03` bytes of
/// column: `07` the key, `00` replica #0 of the context and no further dot,
/// `01` counter.
#[test]
fn state_test_vector() {
    let r = ReplicaId::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
    let mut set = OrSet::new();
    let _ = set.insert(r, 7u64);
    let bytes = codec::encode_state(&set).unwrap();
    assert_eq!(
        hex(&bytes),
        "cd7a5302010102030405060708090a0b0c0d0e0f100100000503070001"
    );
    assert_eq!(
        codec::decode_state::<OrSet<u64>>(&bytes, LIMIT).unwrap(),
        set
    );
}

/// A state saved in format 1 (by builds before the packed store encoding)
/// still decodes, to the same set: the store's layout was `01` entry, `07`
/// element, `01` dot, `00` replica #0, `01` counter.
#[test]
fn a_state_saved_in_format_1_still_decodes() {
    let r = ReplicaId::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
    let mut set = OrSet::new();
    let _ = set.insert(r, 7u64);
    let v1 = unhex("cd7a5301010102030405060708090a0b0c0d0e0f100100000107010001");
    assert_eq!(codec::decode_state::<OrSet<u64>>(&v1, LIMIT).unwrap(), set);
    // Format 1 read as format 2 is an error, not another state.
    let mut as_v2 = v1.clone();
    as_v2[3] = codec::STATE_VERSION;
    assert!(codec::decode_state::<OrSet<u64>>(&as_v2, LIMIT).is_err());
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
