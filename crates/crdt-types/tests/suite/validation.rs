//! States that break an invariant fail `validate()` and fail to decode;
//! valid states round-trip through bincode.

use crdt_core::{
    Causal, CausalContext, Dot, DotFun, DotMap, DotSet, InvalidState, StoreEncoding,
    with_store_encoding,
};
use crdt_types::testing::{History, Mutate, Tiny};
use crdt_types::{CausalCounter, CausalCrdt, GCounter, GSet, OrMap, OrSet, ReplicaId};
use quickcheck::QuickCheck;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, config()).expect("encodes")
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::error::DecodeError> {
    bincode::serde::decode_from_slice(bytes, config()).map(|(v, _)| v)
}

fn dot(replica: u128, counter: u64) -> Dot {
    Dot::new(ReplicaId::from_u128(replica), counter).expect("counter is not zero")
}

/// A causal state from raw parts, bypassing the checks.
fn raw<S: crdt_core::DotStore>(store: S, context: CausalContext) -> Causal<S> {
    let mut state = Causal::new();
    let (s, c) = state.parts_mut();
    *s = store;
    *c = context;
    state
}

#[test]
fn zero_counter_fails_validate() {
    let store: DotFun<i64> = std::iter::once((dot(1, 1), 0)).collect();
    let counter = CausalCounter::from_causal(raw(store, std::iter::once(dot(1, 1)).collect()));
    assert_eq!(
        counter.validate(),
        Err(InvalidState::ZeroValue("a causal counter's running total"))
    );
    assert!(decode::<CausalCounter>(&encode(&counter)).is_err());
}

#[test]
fn zero_counter_nested_in_a_map_fails_validate() {
    let inner: DotFun<i64> = std::iter::once((dot(1, 1), 0)).collect();
    let store: DotMap<u8, DotFun<i64>> = std::iter::once((7, inner)).collect();
    let map: OrMap<u8, CausalCounter> =
        OrMap::from_causal(raw(store, std::iter::once(dot(1, 1)).collect()));
    assert!(matches!(map.validate(), Err(InvalidState::ZeroValue(_))));
    assert!(decode::<OrMap<u8, CausalCounter>>(&encode(&map)).is_err());
}

#[test]
fn zero_g_counter_entry_fails_to_decode() {
    let mut counter = GCounter::new();
    let _ = counter.increment(ReplicaId::from_u128(1), 1);
    let mut bytes = encode(&counter);
    assert_eq!(bytes.last(), Some(&1)); // the count, last
    *bytes.last_mut().unwrap() = 0;
    assert!(decode::<GCounter>(&bytes).is_err());
}

#[test]
fn dot_outside_context_fails_validate() {
    let store: DotMap<u8, DotSet> = std::iter::once((3, DotSet::from(dot(1, 2)))).collect();
    let set = OrSet::from_causal(raw(store, std::iter::once(dot(1, 1)).collect()));
    assert_eq!(
        set.validate(),
        Err(InvalidState::DotOutsideContext(dot(1, 2)))
    );
    assert!(decode::<OrSet<u8>>(&encode(&set)).is_err());
}

#[test]
fn unsorted_set_keys_fail_to_decode() {
    // The packed encoding of an `OrSet<u8>`: the context, then the map's
    // header (2 entries, integer keys) and its column: the keys as deltas
    // (2, then 1 as a wrapping delta of 2^64 - 1: a 0xFF prefix and 8
    // bytes), then each dot as (replica index 0 alone, counter).
    let ctx: CausalContext = [dot(1, 1), dot(1, 2)].into_iter().collect();
    let mut column = vec![2u8];
    column.extend_from_slice(&[0xFF; 9]);
    column.extend_from_slice(&[0, 2, 0, 1]);
    assert!(decode::<OrSet<u8>>(&encode(&(ctx.clone(), (9u64, column)))).is_err());
    let sorted = (ctx.clone(), (9u64, vec![1u8, 1, 0, 1, 0, 2]));
    let set: OrSet<u8> = decode(&encode(&sorted)).expect("a sorted set decodes");
    assert_eq!(set.iter().copied().collect::<Vec<_>>(), [1, 2]);

    // The same in the previous encoding (still read for saved states):
    // the entries with each dot as (replica index, counter).
    with_store_encoding(StoreEncoding::V1, || {
        let unsorted = (
            ctx.clone(),
            vec![(2u8, vec![(0u32, 2u64)]), (1u8, vec![(0u32, 1u64)])],
        );
        assert!(decode::<OrSet<u8>>(&encode(&unsorted)).is_err());
        let sorted = (
            ctx,
            vec![(1u8, vec![(0u32, 1u64)]), (2u8, vec![(0u32, 2u64)])],
        );
        let set: OrSet<u8> = decode(&encode(&sorted)).expect("a sorted set decodes");
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), [1, 2]);
    });
}

#[test]
fn unsorted_g_set_elements_fail_to_decode() {
    assert!(decode::<GSet<u8>>(&encode(&vec![2u8, 1])).is_err());
    assert!(decode::<GSet<u8>>(&encode(&vec![1u8, 1])).is_err());
    let set: GSet<u8> = decode(&encode(&vec![1u8, 2])).expect("sorted decodes");
    assert_eq!(set.len(), 2);
}

/// Every reachable state is valid and decodes back to itself.
fn round_trips_and_validates<T: Mutate + Serialize + DeserializeOwned>() {
    QuickCheck::new().tests(100).quickcheck(
        (|h: History<T>| {
            h.states.iter().all(|x| {
                x.validate().is_ok() && decode::<T>(&encode(x)).is_ok_and(|back| back == *x)
            })
        }) as fn(History<T>) -> bool,
    );
}

for_every_type!(round_trips_and_validates);

#[test]
fn tiny_is_used_as_an_element() {
    // Keeps `Tiny` exercised as a serde element type.
    let mut s = OrSet::new();
    let _ = s.insert(ReplicaId::from_u128(1), Tiny(3));
    assert_eq!(decode::<OrSet<Tiny>>(&encode(&s)).ok(), Some(s));
}
