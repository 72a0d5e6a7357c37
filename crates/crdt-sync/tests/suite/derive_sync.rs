//! A `#[derive(Crdt)] #[crdt(sync)]` struct through the engine: engines
//! exchange digests, not full states, and converge; the composite digest
//! answers exactly what a peer lacks; local writes pass the engine's
//! minting checks.

use std::time::Instant;

use crdt_core::{HybridClock, Lattice};
use crdt_sync::{Config, Engine, LocalWriteError, Message, PeerId, Replicated, codec};
use crdt_types::{
    CausalCounter, Crdt, GSet, LwwRegister, MvRegister, OrMap, OrSet, PnCounter, ReplicaId,
};
use serde::{Deserialize, Serialize};

use crate::common::{envelope, payload, pump};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Crdt)]
#[crdt(sync)]
struct Stats {
    views: OrMap<String, CausalCounter>,
    seen_by: GSet<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Crdt)]
#[crdt(sync)]
struct Post {
    likes: PnCounter,
    tags: OrSet<String>,
    title: LwwRegister<String>,
    comments: OrMap<u32, MvRegister<String>>,
    stats: Stats,
}

/// A generic derived struct: the bounds are the user's (what the fields
/// need, and serde for `Replicated`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Crdt)]
#[crdt(sync)]
#[serde(bound = "")] // the where clause below says it all
struct Labelled<T>
where
    T: Ord + Clone + std::fmt::Debug + Default + Serialize + serde::de::DeserializeOwned,
{
    labels: OrSet<T>,
    owner: LwwRegister<T>,
}

/// The bytes of a full-state message carrying `state`.
fn full_state_bytes(state: &Post) -> Vec<u8> {
    codec::encode(&envelope(Message::State(payload(state.clone())))).unwrap()
}

/// A post with `n` tags and comments, written by `me`.
fn big_post(me: ReplicaId, n: u32) -> Post {
    let mut p = Post::default();
    let mut clock = HybridClock::with_time_source(me, || 1_000);
    let _ = p.update_title(|t| t.write(&mut clock, "Hello".to_string()));
    let _ = p.update_likes(|c| c.increment(me, 10));
    for i in 0..n {
        let _ = p.update_tags(|t| t.insert(me, format!("tag-{i}")));
        let _ = p.update_comments(|c| c.update(i, |r| r.write(me, format!("comment {i}"))));
        let _ = p.update_stats(|s| s.update_seen_by(|g| g.insert(format!("user-{i}"))));
    }
    p
}

#[test]
fn derived_struct_catches_up_by_digest_not_full_state() {
    let (ra, rb) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let shared = big_post(ra, 300);
    let mut ahead = shared.clone();
    let _ = ahead.update_likes(|c| c.increment(ra, 1));
    let _ = ahead.update_tags(|t| t.remove(&"tag-7".to_string()));
    let _ =
        ahead.update_stats(|s| s.update_views(|v| v.update("home".into(), |c| c.increment(ra, 3))));
    let full_len = full_state_bytes(&ahead).len();

    let now = Instant::now();
    let mut a = Engine::new(ra, ahead.clone(), Config::default(), now).unwrap();
    let mut b = Engine::new(rb, shared, Config::default(), now).unwrap();
    a.add_peer(PeerId(2), now);
    b.add_peer(PeerId(1), now);
    let t = pump(&mut a, &mut b, now);
    assert_eq!(a.state(), b.state());
    assert!(!b.state().tags.contains(&"tag-7".to_string()));
    assert!(a.is_synced() && b.is_synced());
    for e in [&a, &b] {
        let m = e.metrics();
        assert_eq!(m.full_state_fallbacks, 0, "a full state was sent");
        assert!(m.digest_catch_ups >= 1);
    }
    // Everything both sides sent, both digests included, is less than the
    // two full states a full-state catch-up sends. (The digest of a G-set
    // of short strings is about as big as the set: a 64-bit fingerprint per
    // element; the other fields' digests are a few bytes per replica.)
    let sent = a.metrics().bytes_out + b.metrics().bytes_out;
    println!("derived Post: engines sent {sent} B in all; full state {full_len} B");
    assert!(
        sent < 2 * full_len as u64,
        "sent {sent} B, full {full_len} B"
    );

    // Later writes go by delta, and the engines stay level.
    b.update(|p, me| p.update_tags(|t| t.insert(me, "late".into())))
        .unwrap();
    let _ = pump(&mut a, &mut b, t);
    assert!(a.state().tags.contains(&"late".to_string()));
    assert_eq!(a.state(), b.state());
}

#[test]
fn composite_digest_answers_exactly_what_is_missing() {
    let (ra, rb) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let behind = big_post(ra, 50);
    let mut ahead = behind.clone();
    let mut clock = HybridClock::with_time_source(rb, || 2_000);
    let d1 = ahead.update_title(|t| t.write(&mut clock, "Retitled".into()));
    let d2 = ahead.update_likes(|c| c.decrement(rb, 2));
    let d3 = ahead.update_stats(|s| s.update_seen_by(|g| g.insert("new reader".into())));
    let answer = ahead.missing_for(&behind.digest().unwrap()).unwrap();
    // The answer is the three writes and nothing else.
    assert_eq!(answer, d1.joined(&d2).joined(&d3));
    let mut caught_up = behind.clone();
    caught_up.join(&answer);
    assert_eq!(caught_up, ahead);
    // Level peers answer each other with bottom.
    assert!(
        ahead
            .missing_for(&ahead.digest().unwrap())
            .unwrap()
            .is_bottom()
    );
}

#[test]
fn composite_answer_is_smaller_than_the_full_state() {
    let ra = ReplicaId::from_u128(1);
    let behind = big_post(ra, 200);
    let mut ahead = behind.clone();
    let _ = ahead.update_tags(|t| t.insert(ra, "one more".into()));
    let digest = behind.digest().unwrap();
    let digest_len = codec::encode(&envelope(Message::<Post>::Digest {
        digest: Some(digest.clone()),
        reply: false,
    }))
    .unwrap()
    .len();
    let answer = ahead.missing_for(&digest).unwrap();
    let answer_len = codec::encode(&envelope(Message::CatchUp(payload(answer))))
        .unwrap()
        .len();
    let full_len = full_state_bytes(&ahead).len();
    println!("derived Post: digest {digest_len} B, answer {answer_len} B, full state {full_len} B");
    assert!(answer_len * 20 < full_len);
}

#[test]
fn local_writes_of_a_derived_struct_pass_the_minting_checks() {
    let now = Instant::now();
    let me = ReplicaId::from_u128(5);
    let checked = Config {
        verify_local_writes: true,
        ..Config::default()
    };
    let mut e = Engine::new(me, Post::default(), checked, now).unwrap();
    e.update(|p, me| p.update_tags(|t| t.insert(me, "mine".into())))
        .unwrap();
    e.update(|p, me| {
        p.update_stats(|s| s.update_views(|v| v.update("x".into(), |c| c.increment(me, 1))))
    })
    .unwrap();
    // A write under another replica's id is refused.
    let other = ReplicaId::from_u128(6);
    let err = e
        .update(|p, _| p.update_tags(|t| t.insert(other, "forged".into())))
        .unwrap_err();
    assert!(matches!(err, LocalWriteError::ForeignDot { .. }), "{err:?}");
    assert!(!e.state().tags.contains(&"forged".to_string()));
    assert!(<Post as Replicated>::mints_as(
        me,
        crdt_sync::digest::tag(me, crdt_sync::digest::FIELD + 1)
    ));
    assert!(!<Post as Replicated>::mints_as(
        me,
        crdt_sync::digest::tag(other, crdt_sync::digest::FIELD + 1)
    ));
}

#[test]
fn derived_struct_splits_to_fit_small_messages() {
    let ra = ReplicaId::from_u128(1);
    let post = big_post(ra, 200);
    let (l, r) = post.split().unwrap();
    assert_eq!(l.clone().joined(&r), post);
    let config = Config {
        max_message_bytes: 2_000,
        ..Config::default()
    };
    let now = Instant::now();
    let mut a = Engine::new(ra, post, config.clone(), now).unwrap();
    let mut b = Engine::new(ReplicaId::from_u128(2), Post::default(), config, now).unwrap();
    a.add_peer(PeerId(2), now);
    b.add_peer(PeerId(1), now);
    let _ = pump(&mut a, &mut b, now);
    assert_eq!(a.state(), b.state());
    assert!(a.metrics().split_messages >= 1);
}

#[test]
fn generic_derived_struct_syncs() {
    let now = Instant::now();
    let (ra, rb) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let mut x: Labelled<u64> = Labelled::default();
    let _ = x.update_labels(|s| s.insert_all(ra, 0..100));
    let mut a = Engine::new(ra, x, Config::default(), now).unwrap();
    let mut b = Engine::new(rb, Labelled::default(), Config::default(), now).unwrap();
    a.add_peer(PeerId(2), now);
    b.add_peer(PeerId(1), now);
    b.update(|s, me| {
        let mut clock = HybridClock::with_time_source(me, || 9);
        s.update_owner(|o| o.write(&mut clock, 42))
    })
    .unwrap();
    let _ = pump(&mut a, &mut b, now);
    assert_eq!(a.state(), b.state());
    assert_eq!(a.state().owner.value(), Some(&42));
    assert_eq!(a.metrics().full_state_fallbacks, 0);
}

#[test]
fn a_decoded_derived_struct_is_validated() {
    // A post whose tags store holds a dot outside its context: each
    // field's decoding rejects it, so the struct's does too.
    let ra = ReplicaId::from_u128(1);
    let post = big_post(ra, 3);
    assert!(Crdt::validate(&post).is_ok());
    let mut bytes = full_state_bytes(&post);
    let decode = |b: &[u8]| match codec::decode::<Post>(b, 1 << 20).map(|e| e.message) {
        Ok(Message::State(p)) => Ok(p.state),
        Ok(other) => panic!("not a state: {other:?}"),
        Err(e) => Err(e),
    };
    assert_eq!(decode(&bytes).unwrap(), post);
    // Flip every byte of the body in turn: whatever decodes is valid.
    let mut rejected = 0;
    for i in codec::HEADER_LEN..bytes.len() {
        bytes[i] ^= 0x5a;
        match decode(&bytes) {
            Ok(p) => assert!(Crdt::validate(&p).is_ok()),
            Err(_) => rejected += 1,
        }
        bytes[i] ^= 0x5a;
    }
    assert!(rejected > 0);
}
