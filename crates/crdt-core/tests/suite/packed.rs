//! The packed store encoding (`StoreEncoding::V2`, the default): states
//! round-trip through it and through the previous encoding, it is smaller,
//! and hand-made packed bytes that lie are errors, never panics or
//! allocations on their word.

use crate::common::{Flag, Mv, Nested, Set};
use crdt_core::{
    Causal, CausalContext, DotFun, DotMap, DotSet, DotStore, ReplicaId, StoreEncoding,
    with_store_encoding,
};
use quickcheck::quickcheck;

fn cfg() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ 1 << 20 }>()
}

fn encode<T: serde::Serialize>(x: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(x, cfg()).unwrap()
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::error::DecodeError> {
    bincode::serde::decode_from_slice(bytes, cfg()).and_then(|(v, n)| {
        if n == bytes.len() {
            Ok(v)
        } else {
            Err(bincode::error::DecodeError::Other("trailing bytes"))
        }
    })
}

/// Round trip of `x` in `encoding`.
fn round_trips<T>(x: &T, encoding: StoreEncoding) -> bool
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq,
{
    with_store_encoding(encoding, || {
        decode::<T>(&encode(x)).ok().as_ref() == Some(x)
    })
}

fn both<T>(x: &T) -> bool
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq,
{
    round_trips(x, StoreEncoding::V1) && round_trips(x, StoreEncoding::V2)
}

type SignedSet = Causal<DotMap<i64, DotSet>>;
type WideSet = Causal<DotMap<u64, DotSet>>;
type TextSet = Causal<DotMap<String, DotSet>>;
type TextMap = Causal<DotMap<String, DotMap<i16, DotFun<u8>>>>;

quickcheck! {
    fn every_store_shape_round_trips_in_both_encodings(
        set: Set, nested: Nested, flag: Flag, mv: Mv
    ) -> bool {
        both(&set) && both(&nested) && both(&flag) && both(&mv)
    }

    fn integer_and_generic_keys_round_trip_in_both_encodings(
        signed: SignedSet, wide: WideSet, text: TextSet, text_map: TextMap
    ) -> bool {
        both(&signed) && both(&wide) && both(&text) && both(&text_map)
    }

    /// A prefix varint is one byte longer than bincode's varint at worst
    /// (128-250), so an OR-set's packed form is never
    /// longer by more than its header and a byte per key and per dot (and
    /// far shorter for keys spread over `u64`, see below).
    fn the_packed_set_is_never_much_larger(set: WideSet) -> bool {
        let old = with_store_encoding(StoreEncoding::V1, || encode(&set));
        let new = encode(&set);
        let numbers = set.store().len() + set.store().dots().count();
        new.len() <= old.len() + 2 + numbers
    }
}

/// `n` keys scrambled over all of `u64` (splitmix64's finaliser).
fn scrambled(n: u64) -> Vec<u64> {
    (0..n)
        .map(|i| {
            let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
        .collect()
}

#[test]
fn a_set_of_scrambled_keys_encodes_in_twelve_bytes_an_element() {
    let me = ReplicaId::random();
    let mut s: WideSet = Causal::new();
    let keys = scrambled(100_000);
    for &x in &keys {
        let dot = s.next_dot(me);
        let (store, ctx) = s.parts_mut();
        ctx.insert(dot);
        store.insert(x, DotSet::from(dot));
    }
    let new = encode(&s).len();
    let old = with_store_encoding(StoreEncoding::V1, || encode(&s).len());
    // Before: a 9-byte varint key, a set length, an index and a 3-5 byte
    // counter (14.7 bytes). Packed: a 7-byte key delta, one byte of index
    // and flag, a 2-3 byte counter.
    assert!(new * 10 <= 120 * keys.len(), "{new} bytes packed");
    assert!(old * 10 >= 145 * keys.len(), "{old} bytes before");
    let big = bincode::config::standard().with_limit::<{ 1 << 24 }>();
    let back: Option<WideSet> = bincode::serde::encode_to_vec(&s, big)
        .ok()
        .and_then(|b| bincode::serde::decode_from_slice(&b, big).ok())
        .map(|(v, _)| v);
    assert!(back.as_ref() == Some(&s), "the set does not round-trip");
}

/// A hand-made packed `Causal<DotMap<u64, DotSet>>` with one replica whose
/// context is `1..=hi`: `(context, (header, column))`.
fn packed_set(hi: u64, header: u64, column: &[u8]) -> Vec<u8> {
    let r = ReplicaId::from_u128(1);
    // The context as `(gap, extra)` spans: one span `1..=hi`.
    let context: Vec<(ReplicaId, Vec<(u64, u64)>)> = vec![(r, vec![(0, hi - 1)])];
    // A byte column is length-prefixed exactly as a sequence of bytes is.
    encode(&(context, (header, column.to_vec())))
}

fn rejects(bytes: &[u8], why: &str) {
    let err = decode::<WideSet>(bytes).expect_err(why);
    assert!(!err.to_string().is_empty(), "{why}");
}

#[test]
fn hand_made_packed_states_decode_only_when_honest() {
    // {5: {(R1, 3)}}: header 1 << 2 | unsigned, key 5, head 0 (index 0,
    // one dot), counter 3.
    let good = packed_set(3, 5, &[5, 0, 3]);
    let set = decode::<WideSet>(&good).expect("an honest packed set");
    assert_eq!(set.store().len(), 1);
    assert_eq!(encode(&set), good, "the encoding is canonical");
    // Two keys, 5 and 7 (delta 2), dots 1 and 2.
    assert!(decode::<WideSet>(&packed_set(3, 9, &[5, 2, 0, 1, 0, 2])).is_ok());

    rejects(&packed_set(2, 5, &[5, 0, 3]), "a dot outside the context");
    rejects(
        &packed_set(3, 5, &[5, 2, 3]),
        "a replica index past the context",
    );
    rejects(&packed_set(3, 5, &[5, 0, 0]), "a zero counter");
    rejects(&packed_set(3, 7, &[5, 0, 3]), "header kind 3");
    let r = ReplicaId::from_u128(1);
    let context: Vec<(ReplicaId, Vec<(u64, u64)>)> = vec![(r, vec![(0, 2)])];
    assert!(decode::<WideSet>(&encode(&(context.clone(), 0u64))).is_ok());
    rejects(&encode(&(context, 2u64)), "an empty map announcing a kind");
    rejects(&packed_set(3, 5, &[5, 0, 3, 0]), "bytes left over");
    rejects(&packed_set(3, 5, &[5, 0]), "a column ending early");
    rejects(
        &packed_set(3, 5, &[5, 0, 0x83, 0]),
        "a counter not in its shortest form",
    );
    rejects(
        &packed_set(3, 9, &[5, 0, 0, 1, 0, 2]),
        "keys not strictly sorted",
    );
    rejects(
        &packed_set(3, 5, &[5, 1, 1, 1, 0, 1]),
        "a repeated dot in one set",
    );
    rejects(
        &packed_set(3, 5, &[5, 1, 0, 1]),
        "a set announcing zero further dots",
    );
    rejects(
        &packed_set(3, 5, &[5, 1, 1, 1]),
        "a set claiming one more dot than it has",
    );
    let overflow = [
        5, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
    ];
    rejects(&packed_set(3, 5, &overflow), "a counter past 64 bits");
}

type Path = Causal<DotMap<u64, DotMap<u64, DotSet>>>;

/// A hand-made packed `Path` with one replica whose context is `1..=3`:
/// the outer map's header and inline key, then `inner` as it is.
fn packed_path(header: u64, key: u64, inner: &[u8]) -> Vec<u8> {
    let r = ReplicaId::from_u128(1);
    let context: Vec<(ReplicaId, Vec<(u64, u64)>)> = vec![(r, vec![(0, 2)])];
    let mut bytes = encode(&(context, header, key));
    bytes.extend_from_slice(inner);
    bytes
}

#[test]
fn a_one_key_level_of_a_nested_map_decodes_only_when_honest() {
    // {9: {5: {(R1, 3)}}}: the outer level one generic (inline) key, header
    // 1 << 2; the inner one a packed column of length 3 (header 5, key 5,
    // one dot with counter 3).
    let inner = [5u8, 3, 5, 0, 3];
    let good = packed_path(4, 9, &inner);
    let path = decode::<Path>(&good).expect("an honest one-key path");
    assert_eq!(path.store().len(), 1);
    assert_eq!(path.store().dots().count(), 1);
    assert_eq!(encode(&path), good, "the encoding is canonical");

    let bad = |bytes: &[u8], why: &str| {
        assert!(decode::<Path>(bytes).is_err(), "{why}");
    };
    bad(&packed_path(4, 9, &[0]), "a key over an empty map");
    bad(&packed_path(4, 9, &[]), "a key with no store after it");
    bad(
        &packed_path(4, 9, &[5, 3, 5, 0, 4]),
        "a dot outside the context",
    );
    bad(
        &packed_path(4, 9, &[5, 4, 5, 0, 3, 0]),
        "bytes left in the column",
    );
    // The same key twice under a header announcing two entries.
    let mut twice = packed_path(8, 9, &inner);
    twice.extend_from_slice(&encode(&9u64));
    twice.extend_from_slice(&inner);
    bad(&twice, "keys not strictly sorted");
}

#[test]
fn a_packed_count_larger_than_its_bytes_allocates_nothing() {
    // A map of 2^60 entries, a set of 2^62 further dots: the column's
    // length refuses both before any allocation or loop.
    let huge_map = packed_set(3, (1 << 60) << 2 | 1, &[5, 0, 3]);
    rejects(&huge_map, "a map claiming 2^60 entries");
    let mut huge_set = vec![5, 1, 0xFF];
    huge_set.extend_from_slice(&(1u64 << 62).to_le_bytes());
    huge_set.extend_from_slice(&[1, 0, 2]);
    rejects(&packed_set(3, 5, &huge_set), "a set claiming 2^62 dots");
    // Generic keys (strings) with packed sets: the count is bounded by
    // the column before the keys are read.
    let r = ReplicaId::from_u128(1);
    let context: Vec<(ReplicaId, Vec<(u64, u64)>)> = vec![(r, vec![(0, 2)])];
    let bytes = encode(&(context, ((1u64 << 60) << 2, vec![0u8, 3])));
    assert!(decode::<TextSet>(&bytes).is_err());
}

#[test]
fn an_empty_state_and_an_empty_map_cost_one_byte_each() {
    let empty: WideSet = Causal::new();
    let v1 = with_store_encoding(StoreEncoding::V1, || encode(&empty));
    assert_eq!(encode(&empty), v1);
    assert_eq!(encode(&empty), encode(&(CausalContext::new(), 0u64)));
    let flag: Flag = Causal::new();
    assert_eq!(decode::<Flag>(&encode(&flag)).ok(), Some(flag));
}

#[test]
fn the_encoding_is_restored_after_a_panic() {
    let caught = std::panic::catch_unwind(|| {
        with_store_encoding(StoreEncoding::V1, || panic!("inside"));
    });
    assert!(caught.is_err());
    let set: WideSet = Causal::new();
    let mut s = set.clone();
    let dot = s.next_dot(ReplicaId::from_u128(1));
    s.parts_mut().1.insert(dot);
    s.parts_mut().0.insert(300, DotSet::from(dot));
    let packed = encode(&s);
    let old = with_store_encoding(StoreEncoding::V1, || encode(&s));
    assert_ne!(packed, old);
    assert_eq!(decode::<WideSet>(&packed).ok(), Some(s));
}
