//! `KvState<V>` with an application's own value type: equal stores encode
//! to equal bytes whatever order their writes arrived in, decoding gives
//! them back, and nodes sync them.

mod common;

use crdt_core::{CausalContext, Lattice};
use crdt_net::{KvState, KvValue, Node};
use crdt_sync::{Envelope, Message, Payload, PeerId, codec};
use crdt_types::ReplicaId;
use serde::{Deserialize, Serialize};

use common::{DEADLINE, config, wait_for};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Setting {
    Theme(String),
    FontSize(u16),
    Muted { until_ms: u64 },
}

/// `state` as a whole-state message.
fn encoded<V: KvValue>(state: &KvState<V>) -> Vec<u8> {
    codec::encode(&Envelope {
        from_epoch: 1,
        to_epoch: 2,
        message: Message::State(Payload {
            id: 1,
            part: 0,
            parts: 1,
            state: state.clone(),
        }),
    })
    .unwrap()
}

#[test]
fn equal_typed_stores_encode_to_equal_bytes_and_decode_back() {
    let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let none = CausalContext::new();
    let (mut x, mut y) = (KvState::default(), KvState::default());
    let deltas = vec![
        x.put(a, "theme", Setting::Theme("dark".into()), &none),
        y.put(b, "theme", Setting::Theme("light".into()), &none),
        x.put(a, "font", Setting::FontSize(14), &none),
        y.put(b, "mute", Setting::Muted { until_ms: 99 }, &none),
        x.add(a, "opens", 3),
        y.set_add(b, "tags", "beta"),
    ];
    // One replica takes every delta in order, another in reverse.
    let mut forward = KvState::default();
    let mut backward = KvState::default();
    for d in &deltas {
        forward.join(d);
    }
    for d in deltas.iter().rev() {
        backward.join(d);
    }
    x.join(&y);
    assert_eq!(forward, backward);
    assert_eq!(forward, x);
    assert_eq!(encoded(&forward), encoded(&backward));
    assert_eq!(encoded(&forward), encoded(&x));

    let bytes = encoded(&forward);
    let back = codec::decode::<KvState<Setting>>(&bytes, bytes.len()).unwrap();
    let Message::State(p) = back.message else {
        panic!("a state message decodes as one");
    };
    assert_eq!(p.state, forward);
    let (mut theme, _) = p.state.get("theme");
    theme.sort();
    assert_eq!(
        theme,
        [
            Setting::Theme("dark".into()),
            Setting::Theme("light".into())
        ]
    );
    // Bytes that are not a store of this value type are an error, not a panic.
    let mut other = KvState::new();
    let _ = other.put(a, "theme", "x".repeat(40), &none);
    let strings = encoded(&other);
    assert!(codec::decode::<KvState<Setting>>(&strings, strings.len()).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_sync_typed_values() {
    let start = |id| {
        Node::start(
            config(id),
            ReplicaId::random(),
            KvState::<Setting>::default(),
        )
    };
    let (a, b) = (start(1).await.unwrap(), start(2).await.unwrap());
    a.handle().add_peer(PeerId(2), b.local_addr());
    b.handle().add_peer(PeerId(1), a.local_addr());
    a.handle()
        .write(|s, me| s.put(me, "font", Setting::FontSize(16), &CausalContext::new()))
        .await
        .unwrap();
    let hb = b.handle();
    let seen = wait_for(
        DEADLINE,
        "node 2 has node 1's setting",
        || async { hb.read(|s| s.get("font").0).await.unwrap() },
        |v| !v.is_empty(),
    )
    .await;
    assert_eq!(seen, [Setting::FontSize(16)]);
    let _ = a.shutdown().await;
    let _ = b.shutdown().await;
}
