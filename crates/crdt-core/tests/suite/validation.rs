//! States from a peer are checked: bad encodings and broken invariants are
//! errors, never panics, never accepted.

use crate::common::{Nested, Set};
use crdt_core::{
    Causal, CausalContext, Dot, DotMap, DotSet, InvalidState, ReplicaId, StoreEncoding,
    VersionVector, with_store_encoding,
};
use quickcheck::quickcheck;

fn cfg() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ 1 << 20 }>()
}

fn encode<T: serde::Serialize>(x: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(x, cfg()).unwrap()
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::error::DecodeError> {
    bincode::serde::decode_from_slice(bytes, cfg()).map(|(v, _)| v)
}

quickcheck! {
    fn states_round_trip(x: Nested, y: Set, c: CausalContext, v: VersionVector) -> bool {
        decode::<Nested>(&encode(&x)).ok() == Some(x)
            && decode::<Set>(&encode(&y)).ok() == Some(y)
            && decode::<CausalContext>(&encode(&c)).ok() == Some(c)
            && decode::<VersionVector>(&encode(&v)).ok() == Some(v)
    }

    fn equal_states_encode_to_equal_bytes(a: Set, b: Set) -> bool {
        // Built in two different orders, the same lattice element.
        let ab = crdt_core::Lattice::joined(a.clone(), &b);
        let ba = crdt_core::Lattice::joined(b, &a);
        encode(&ab) == encode(&ba)
    }

    fn mutated_bytes_never_panic_and_decode_only_valid_states(x: Nested, flips: Vec<(u16, u8)>) -> bool {
        let mut bytes = encode(&x);
        for (pos, bits) in flips {
            if !bytes.is_empty() {
                let i = usize::from(pos) % bytes.len();
                bytes[i] ^= bits;
            }
        }
        match decode::<Nested>(&bytes) {
            Ok(state) => state.validate().is_ok(),
            Err(_) => true,
        }
    }

    fn truncated_bytes_are_an_error(x: Set, cut: usize) -> bool {
        let bytes = encode(&x);
        let cut = cut % bytes.len().max(1);
        cut == bytes.len() || decode::<Set>(&bytes[..cut]).is_err() || bytes.len() <= 1
    }
}

fn set_with(
    store: DotMap<u64, DotSet>,
    ctx: CausalContext,
) -> Result<Causal<DotMap<u64, DotSet>>, InvalidState> {
    Causal::from_parts(store, ctx)
}

#[test]
fn dot_outside_context_fails_validate() {
    let d = Dot::new(ReplicaId::from_u128(1), 3).unwrap();
    let mut store = DotMap::new();
    store.insert(5, DotSet::from(d));
    assert_eq!(
        set_with(store.clone(), CausalContext::new()).unwrap_err(),
        InvalidState::DotOutsideContext(d)
    );
    let ctx: CausalContext = [d].into_iter().collect();
    assert!(set_with(store, ctx).is_ok());
}

#[test]
fn the_same_dot_under_two_keys_fails_validate() {
    let d = Dot::new(ReplicaId::from_u128(1), 1).unwrap();
    let mut store = DotMap::new();
    store.insert(1, DotSet::from(d));
    store.insert(2, DotSet::from(d));
    let ctx: CausalContext = [d].into_iter().collect();
    assert_eq!(
        set_with(store, ctx).unwrap_err(),
        InvalidState::DuplicateDot(d)
    );
}

/// Contexts holding `counters` of replica 1, and the same with every
/// counter from 1,000 to 2^50 added: validation marks dots met out of order
/// in a bitmap of a narrow context and sorts them under a wide one; both
/// must give the same verdict.
fn narrow_and_wide(counters: &[u64]) -> [CausalContext; 2] {
    let r = ReplicaId::from_u128(1);
    let narrow: CausalContext = counters.iter().map(|&c| Dot::new(r, c).unwrap()).collect();
    let mut wide = narrow.clone();
    wide.insert_range(r, 1_000, 1 << 50);
    [narrow, wide]
}

fn keyed(dots: &[(u64, u64)]) -> DotMap<u64, DotSet> {
    let r = ReplicaId::from_u128(1);
    let mut store = DotMap::new();
    for &(k, c) in dots {
        store.insert(k, DotSet::from(Dot::new(r, c).unwrap()));
    }
    store
}

#[test]
fn validate_finds_a_repeated_dot_among_dots_out_of_order() {
    // Keys do not follow dots: 5, 1, 5 (the repeat after the disorder).
    let store = keyed(&[(1, 5), (2, 1), (3, 5)]);
    let d = Dot::new(ReplicaId::from_u128(1), 5).unwrap();
    for ctx in narrow_and_wide(&[1, 5]) {
        assert_eq!(
            set_with(store.clone(), ctx).unwrap_err(),
            InvalidState::DuplicateDot(d)
        );
    }
    // The repeat of a dot of the increasing prefix: 1, 5, 1.
    let store = keyed(&[(1, 1), (2, 5), (3, 1)]);
    let d = Dot::new(ReplicaId::from_u128(1), 1).unwrap();
    for ctx in narrow_and_wide(&[1, 5]) {
        assert_eq!(
            set_with(store.clone(), ctx).unwrap_err(),
            InvalidState::DuplicateDot(d)
        );
    }
}

#[test]
fn validate_finds_a_dot_outside_the_context_among_dots_out_of_order() {
    // 5, 3, 2: the 2 is out of order and not in the context.
    let store = keyed(&[(1, 5), (2, 3), (3, 2)]);
    let d = Dot::new(ReplicaId::from_u128(1), 2).unwrap();
    for ctx in narrow_and_wide(&[1, 3, 5]) {
        assert_eq!(
            set_with(store.clone(), ctx).unwrap_err(),
            InvalidState::DotOutsideContext(d)
        );
    }
}

#[test]
fn validate_accepts_distinct_dots_out_of_order() {
    let store = keyed(&[(1, 5), (2, 1), (3, 3), (4, 2)]);
    for ctx in narrow_and_wide(&[1, 2, 3, 5]) {
        assert!(set_with(store.clone(), ctx).is_ok());
    }
}

/// A store of one-dot sets under keys out of dot order: `(key, replica,
/// counter)` bytes, the key bytes ordering the entries; the dots in the
/// order of the entries. Counters reach the ranges [`three_shapes`] adds:
/// below 64 only the dots themselves, then the one-dot ranges from 10,000
/// (every other counter), then the wide range from 1,000.
fn store_of(entries: &[(u8, u8, u8)]) -> (DotMap<u64, DotSet>, Vec<Dot>) {
    let mut store = DotMap::new();
    let mut dots = Vec::new();
    for (i, &(k, r, c)) in entries.iter().enumerate() {
        let counter = match c {
            0..64 => u64::from(c),
            64..128 => 10_000 + u64::from(c - 64),
            _ => 1_000 + u64::from(c),
        };
        let Some(dot) = Dot::new(ReplicaId::from_u128(u128::from(r % 3) + 1), counter) else {
            continue;
        };
        store.insert((u64::from(k) << 32) | i as u64, DotSet::from(dot));
        dots.push(dot);
    }
    (store, dots)
}

/// A context of `dots` but the one at `left_out` (if any), in three
/// shapes, each taking another path of validation for dots out of order:
/// as is (a bitmap), with every counter from 1,000 to 2^50 of each replica
/// (too many dots for a bitmap: sorted), and with 2,000 one-dot ranges of
/// replica 1 from 10,000 (too many ranges for a bitmap: sorted).
fn three_shapes(dots: &[Dot], left_out: usize) -> [CausalContext; 3] {
    let narrow: CausalContext = dots
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != left_out)
        .map(|(_, &d)| d)
        .collect();
    let mut wide = narrow.clone();
    for r in 1..=3 {
        wide.insert_range(ReplicaId::from_u128(r), 1_000, 1 << 50);
    }
    let mut gaps = narrow.clone();
    for i in 0..2_000 {
        gaps.insert_range(ReplicaId::from_u128(1), 10_000 + 2 * i, 10_000 + 2 * i);
    }
    [narrow, wide, gaps]
}

quickcheck! {
    /// Whatever path validation takes for dots out of order, it rejects
    /// exactly the stores with a dot outside the context or a dot held
    /// twice (the simple definition), and the dot it names has the fault
    /// it names.
    fn validation_of_dots_out_of_order_matches_the_simple_definition(
        entries: Vec<(u8, u8, u8)>,
        left_out: u8
    ) -> bool {
        let (store, dots) = store_of(&entries);
        let mut sorted = dots.clone();
        sorted.sort_unstable();
        let repeated = sorted.windows(2).any(|w| w[0] == w[1]);
        three_shapes(&dots, usize::from(left_out)).into_iter().all(|ctx| {
            let outside = dots.iter().any(|&d| !ctx.contains(d));
            match set_with(store.clone(), ctx.clone()) {
                Ok(_) => !outside && !repeated,
                Err(InvalidState::DotOutsideContext(d)) => dots.contains(&d) && !ctx.contains(d),
                Err(InvalidState::DuplicateDot(d)) => sorted.windows(2).any(|w| w == [d, d]),
                Err(_) => false,
            }
        })
    }
}

/// The hand-made encodings below are of the previous store encoding
/// (`StoreEncoding::V1`, still read for states saved in format 1); the
/// packed encoding has its own in `packed.rs`.
fn v1(f: impl FnOnce()) {
    with_store_encoding(StoreEncoding::V1, f);
}

#[test]
fn decoding_rejects_a_dot_outside_its_context() {
    v1(decoding_rejects_a_dot_outside_its_context_v1);
}

fn decoding_rejects_a_dot_outside_its_context_v1() {
    // Hand-made encodings of `(context, store)`, dots as (replica index, counter).
    type Raw = (
        Vec<(ReplicaId, Vec<(u64, u64)>)>,
        Vec<(u64, Vec<(u32, u64)>)>,
    );
    let r = ReplicaId::from_u128(1);
    // Store {5: {(R1, 3)}}, context {(R1, 3)}: valid.
    let good: Raw = (vec![(r, vec![(2, 0)])], vec![(5, vec![(0, 3)])]);
    assert!(decode::<Causal<DotMap<u64, DotSet>>>(&encode(&good)).is_ok());
    // Context {(R1, 1)} does not hold (R1, 3).
    let outside: Raw = (vec![(r, vec![(0, 0)])], vec![(5, vec![(0, 3)])]);
    let err = decode::<Causal<DotMap<u64, DotSet>>>(&encode(&outside)).unwrap_err();
    assert!(
        err.to_string().contains("not in the causal context"),
        "{err}"
    );
    // A replica index past the context's replicas.
    let no_replica: Raw = (vec![(r, vec![(2, 0)])], vec![(5, vec![(1, 3)])]);
    assert!(decode::<Causal<DotMap<u64, DotSet>>>(&encode(&no_replica)).is_err());
    // An empty context cannot hold any dot.
    let empty: Raw = (vec![], vec![(5, vec![(0, 3)])]);
    assert!(decode::<Causal<DotMap<u64, DotSet>>>(&encode(&empty)).is_err());
}

#[test]
fn decoding_rejects_unsorted_or_repeated_entries() {
    v1(decoding_rejects_unsorted_or_repeated_entries_v1);
}

fn decoding_rejects_unsorted_or_repeated_entries_v1() {
    let r1 = ReplicaId::from_u128(1);
    let r2 = ReplicaId::from_u128(2);
    let d = |r, n| Dot::new(r, n).unwrap();
    // Version vector with replicas out of order.
    let vv = vec![(r2, 1u64), (r1, 1u64)];
    assert!(decode::<VersionVector>(&encode(&vv)).is_err());
    // Zero counter.
    assert!(decode::<VersionVector>(&encode(&vec![(r1, 0u64)])).is_err());
    // Dot set with a repeated dot.
    assert!(decode::<DotSet>(&encode(&vec![d(r1, 1), d(r1, 1)])).is_err());
    // Map keys out of order.
    let map = vec![(2u64, vec![d(r1, 1)]), (1u64, vec![d(r1, 2)])];
    assert!(decode::<DotMap<u64, DotSet>>(&encode(&map)).is_err());
    // Context: an empty replica entry, adjacent spans, overflowing span.
    assert!(decode::<CausalContext>(&encode(&vec![(r1, Vec::<(u64, u64)>::new())])).is_err());
    assert!(decode::<CausalContext>(&encode(&vec![(r1, vec![(0u64, 1u64), (0, 1)])])).is_err());
    assert!(decode::<CausalContext>(&encode(&vec![(r1, vec![(u64::MAX, 1u64)])])).is_err());
    // A map entry holding an empty dot set.
    #[derive(serde::Serialize)]
    struct Raw {
        store: Vec<(u64, Vec<Dot>)>,
        context: CausalContext,
    }
    let raw = Raw {
        store: vec![(1, vec![])],
        context: CausalContext::new(),
    };
    assert!(decode::<Causal<DotMap<u64, DotSet>>>(&encode(&raw)).is_err());
}

#[test]
fn a_lying_length_prefix_does_not_allocate() {
    // A sequence claiming u64::MAX entries followed by nothing.
    let mut bytes = vec![253];
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(decode::<DotMap<u64, DotSet>>(&bytes).is_err());
    v1(|| assert!(decode::<DotMap<u64, DotSet>>(&bytes).is_err()));
    assert!(decode::<CausalContext>(&bytes).is_err());
    assert!(decode::<VersionVector>(&bytes).is_err());
}

#[test]
fn dots_in_a_state_cost_no_replica_ids() {
    let r = ReplicaId::random();
    let mut s: Causal<DotMap<u64, DotSet>> = Causal::new();
    for x in 0..200u64 {
        let dot = s.next_dot(r);
        let (store, ctx) = s.parts_mut();
        ctx.insert(dot);
        store.insert(x, DotSet::from(dot));
    }
    // Per element: key delta (1) + replica index and flag (1) + counter (1-2).
    let bytes = encode(&s).len();
    assert!(bytes < 200 * 4, "{bytes} bytes");
}

#[test]
fn a_contiguous_context_encodes_in_a_few_bytes() {
    let mut ctx = CausalContext::new();
    ctx.insert_range(ReplicaId::from_u128(1), 1, 100_000);
    // 1 (len) + 16 (id) + 1 (len) + 1 (gap) + 5 (extra: a 32-bit varint) = 24
    assert!(encode(&ctx).len() <= 24, "{}", encode(&ctx).len());
}
