//! Human-readable serde formats (JSON here): states read as a person would
//! write them (element values as JSON values, replica ids as UUID strings,
//! contexts as per-replica ranges), round-trip, and are validated when
//! decoded. Binary formats keep the compact encoding (the wire-format test
//! vectors of `crdt-sync` check it byte for byte).

use crdt_types::testing::{History, Mutate};
use crdt_types::{
    CausalCounter, GCounter, HybridClock, Lattice, LwwRegister, MvRegister, OrMap, OrSet,
    PnCounter, ReplicaId,
};
use quickcheck::QuickCheck;
use serde::Serialize;
use serde::de::DeserializeOwned;

const A: &str = "00000000-0000-0000-0000-000000000001";
const B: &str = "00000000-0000-0000-0000-000000000002";

fn json<T: Serialize>(x: &T) -> String {
    serde_json::to_string(x).unwrap()
}

/// Every reachable state round-trips through JSON and decodes valid.
fn json_round_trips<T: Mutate + Serialize + DeserializeOwned>() {
    QuickCheck::new().tests(150).quickcheck(
        (|h: History<T>| {
            h.states.iter().all(|x| {
                let text = json(x);
                let back: T = serde_json::from_str(&text).unwrap();
                back == *x && crdt_types::laws::Mutate::validate(&back).is_ok()
            })
        }) as fn(History<T>) -> bool,
    );
}

for_every_type!(json_round_trips);

#[test]
fn or_set_reads_as_elements_uuids_and_ranges() {
    let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let mut s = OrSet::new();
    let _ = s.insert(a, "stove");
    let _ = s.insert(a, "kettle");
    let _ = s.insert(b, "pan");
    let _ = s.remove(&"kettle");
    assert_eq!(
        json(&s),
        format!(
            r#"{{"context":{{"{A}":[[1,2]],"{B}":[[1,1]]}},"store":[["pan",[["{B}",1]]],["stove",[["{A}",1]]]]}}"#
        )
    );
    let back: OrSet<String> = serde_json::from_str(&json(&s)).unwrap();
    assert!(back.contains(&"stove".to_string()) && !back.contains(&"kettle".to_string()));
}

#[test]
fn context_gaps_read_as_separate_ranges() {
    let a = ReplicaId::from_u128(1);
    let mut writer = OrSet::new();
    let deltas: Vec<OrSet<u8>> = (0..5u8).map(|i| writer.insert(a, i)).collect();
    // A replica that received only the first and the last insert.
    let mut partial = OrSet::new();
    partial.join(&deltas[0]);
    partial.join(&deltas[4]);
    assert_eq!(
        json(&partial),
        format!(
            r#"{{"context":{{"{A}":[[1,1],[5,5]]}},"store":[[0,[["{A}",1]]],[4,[["{A}",5]]]]}}"#
        )
    );
    let back: OrSet<u8> = serde_json::from_str(&json(&partial)).unwrap();
    assert_eq!(back, partial);
}

#[test]
fn counters_registers_and_maps_read_naturally() {
    let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let mut g = GCounter::new();
    let _ = g.increment(a, 3);
    let _ = g.increment(b, 4);
    assert_eq!(json(&g), format!(r#"{{"{A}":3,"{B}":4}}"#));

    let mut pn = PnCounter::new();
    let _ = pn.increment(a, 5);
    let _ = pn.decrement(b, 2);
    assert_eq!(json(&pn), format!(r#"{{"p":{{"{A}":5}},"n":{{"{B}":2}}}}"#));

    let mut clock = HybridClock::with_time_source(a, || 1_700_000_000_000);
    let mut name = LwwRegister::new();
    let _ = name.write(&mut clock, "Ada".to_string());
    assert_eq!(
        json(&name),
        format!(r#"[{{"wall_ms":1700000000000,"logical":0,"replica":"{A}"}},"Ada"]"#)
    );

    let mut bio = MvRegister::new();
    let _ = bio.write(a, "Hiker".to_string());
    assert_eq!(
        json(&bio),
        format!(r#"{{"context":{{"{A}":[[1,1]]}},"store":[[["{A}",1],"Hiker"]]}}"#)
    );

    let mut likes: OrMap<String, CausalCounter> = OrMap::new();
    let _ = likes.update("post-1".into(), |c| c.increment(b, 2));
    assert_eq!(
        json(&likes),
        format!(r#"{{"context":{{"{B}":[[1,1]]}},"store":[["post-1",[[["{B}",1],2]]]]}}"#)
    );
}

#[test]
fn invalid_readable_states_are_rejected() {
    let bad: [(&str, String); 7] = [
        (
            "dot outside the context",
            format!(r#"{{"context":{{"{A}":[[1,1]]}},"store":[["x",[["{A}",2]]]]}}"#),
        ),
        (
            "dot of a replica outside the context",
            format!(r#"{{"context":{{"{A}":[[1,1]]}},"store":[["x",[["{B}",1]]]]}}"#),
        ),
        (
            "adjacent ranges",
            format!(r#"{{"context":{{"{A}":[[1,2],[3,4]]}},"store":[]}}"#),
        ),
        (
            "range upside down",
            format!(r#"{{"context":{{"{A}":[[3,1]]}},"store":[]}}"#),
        ),
        (
            "counter 0",
            format!(r#"{{"context":{{"{A}":[[0,1]]}},"store":[]}}"#),
        ),
        (
            "replicas out of order",
            format!(r#"{{"context":{{"{B}":[[1,1]],"{A}":[[1,1]]}},"store":[]}}"#),
        ),
        (
            "fields out of order",
            r#"{"store":[],"context":{}}"#.to_string(),
        ),
    ];
    for (what, text) in bad {
        assert!(
            serde_json::from_str::<OrSet<String>>(&text).is_err(),
            "accepted {what}: {text}"
        );
    }
    // The same shapes, made valid, are accepted.
    let ok = format!(r#"{{"context":{{"{A}":[[1,1],[3,4]]}},"store":[["x",[["{A}",3]]]]}}"#);
    let s: OrSet<String> = serde_json::from_str(&ok).unwrap();
    assert!(s.contains(&"x".to_string()));
    // Counters: zero and unsorted entries are refused.
    assert!(serde_json::from_str::<GCounter>(&format!(r#"{{"{A}":0}}"#)).is_err());
    assert!(serde_json::from_str::<GCounter>(&format!(r#"{{"{B}":1,"{A}":1}}"#)).is_err());
    assert!(serde_json::from_str::<GCounter>(r#"{"not-a-uuid":1}"#).is_err());
}

#[test]
fn binary_encoding_is_the_compact_one() {
    let a = ReplicaId::from_u128(1);
    let mut s = OrSet::new();
    let _ = s.insert(a, 7u64);
    let bytes = bincode::serde::encode_to_vec(&s, bincode::config::standard()).unwrap();
    // context: 1 replica, 16-byte id, 1 span (gap 0, extra 0); store:
    // header 5 (1 entry, integer keys), a 3-byte column: key 7, replica
    // index 0 with no further dot, counter 1.
    let mut expected = vec![1u8];
    expected.extend_from_slice(&1u128.to_be_bytes());
    expected.extend_from_slice(&[1, 0, 0, 5, 3, 7, 0, 1]);
    assert_eq!(bytes, expected);
    let (back, _): (OrSet<u64>, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert_eq!(back, s);
}
