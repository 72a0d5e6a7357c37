//! The sync layer: wire encode/decode throughput, digest catch-up after one
//! insert into a 100k-element set (against shipping the whole state, which is
//! what `crdts` 7.3.2 offers), catch-up after a partition, and one local
//! write through an engine holding 100k elements or characters, with the
//! check of local writes off (the release default) and on, and the novel
//! part of a delta received into a 100k-character text, a digest answer
//! from one, and the join of scattered deletions into one interval.
//!
//! Run with `cargo bench -p crdt-benches --bench sync`.

use std::hint::black_box;
use std::time::Instant;

use crdt_benches::{SET_SIZE, keys, or_set, replica, scrambled_keys, theirs, typed_text};
use crdt_core::{Decompose, Lattice};
use crdt_sync::{Config, Engine, Envelope, Message, Payload, Replicated, codec};
use crdt_types::{OrSet, Text};
use crdts::CvRDT;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const LIMIT: usize = 1 << 30;

fn envelope(message: Message<OrSet<u64>>) -> Envelope<OrSet<u64>> {
    Envelope {
        from_epoch: 1,
        to_epoch: 2,
        message,
    }
}

fn whole(state: OrSet<u64>) -> Payload<OrSet<u64>> {
    Payload {
        id: 1,
        part: 0,
        parts: 1,
        state,
    }
}

fn payload(state: OrSet<u64>) -> Envelope<OrSet<u64>> {
    envelope(Message::Delta(whole(state)))
}

fn codec_throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec/or_set_10k");
    let message = payload(or_set(&keys(10_000, false), replica(1)));
    let bytes = codec::encode(&message).expect("encodes");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode", |b| b.iter(|| codec::encode(black_box(&message))));
    g.bench_function("decode_and_validate", |b| {
        b.iter(|| codec::decode::<OrSet<u64>>(black_box(&bytes), LIMIT))
    });
    g.finish();
}

fn catch_up(c: &mut Criterion) {
    let mut g = c.benchmark_group("catch_up/one_insert_into_100k");
    g.sample_size(20);
    let ks = keys(SET_SIZE, true);
    let mut a = or_set(&ks, replica(1));
    let b = a.clone();
    let _ = a.insert(replica(1), u64::MAX);
    let digest = b.digest().expect("causal types have digests");
    let answer = codec::encode(&envelope(Message::CatchUp(whole(
        a.missing_for(&digest).expect("digest answer"),
    ))))
    .expect("encodes");
    println!(
        "catch-up after one insert into {SET_SIZE}: {} bytes on the wire",
        answer.len()
    );
    g.bench_function("ours/answer_digest", |bench| {
        bench.iter(|| black_box(&a).missing_for(black_box(&digest)))
    });
    g.bench_function("ours/decode_and_apply_cold", |bench| {
        bench.iter_batched_ref(
            || b.clone(),
            |target| {
                if let Ok(Message::CatchUp(p)) =
                    codec::decode::<OrSet<u64>>(&answer, LIMIT).map(|e| e.message)
                {
                    target.join(&p.state);
                }
            },
            BatchSize::LargeInput,
        )
    });
    // The same, into a state that stays warm in cache (the catch-up is
    // idempotent, so re-applying it measures the steady-state cost).
    let mut warm = b.clone();
    g.bench_function("ours/decode_and_apply_warm", |bench| {
        bench.iter(|| {
            if let Ok(Message::CatchUp(p)) =
                codec::decode::<OrSet<u64>>(black_box(&answer), LIMIT).map(|e| e.message)
            {
                warm.join(&p.state);
            }
        })
    });
    // crdts has no catch-up deltas: a replica that missed an add merges the
    // sender's whole state.
    let mut ta = theirs::or_set(&ks, replica(1).as_u128());
    let tb = ta.clone();
    theirs::insert(&mut ta, replica(1).as_u128(), u64::MAX);
    g.bench_function("crdts/merge_full_state", |bench| {
        bench.iter_batched_ref(
            || (tb.clone(), ta.clone()),
            |(target, sent)| target.merge(std::mem::take(sent)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn partition(c: &mut Criterion) {
    let mut g = c.benchmark_group("catch_up/after_partition_100k");
    g.sample_size(10);
    // Two replicas share 100k elements, then each inserts 1000 of its own
    // and removes 100 shared ones while partitioned.
    let base = or_set(&keys(SET_SIZE, true), replica(1));
    let (mut x, mut y) = (base.clone(), base);
    for i in 0..1000u64 {
        let _ = x.insert(replica(2), SET_SIZE + 2 * i);
        let _ = y.insert(replica(3), SET_SIZE + 2 * i + 1);
    }
    for i in 0..100u64 {
        let _ = x.remove(&(i * 7));
        let _ = y.remove(&(i * 11));
    }
    let (dx, dy) = (x.digest().expect("digest"), y.digest().expect("digest"));
    let for_y = x.missing_for(&dy).expect("answer");
    let for_x = y.missing_for(&dx).expect("answer");
    let bytes = codec::encode(&payload(for_y.clone())).map_or(0, |b| b.len())
        + codec::encode(&payload(for_x.clone())).map_or(0, |b| b.len());
    let full = codec::encode(&payload(x.clone())).map_or(0, |b| b.len());
    println!("partition heal: {bytes} bytes both ways by digest, {full} bytes for one full state");
    g.bench_function("ours/digest_both_ways", |bench| {
        bench.iter_batched_ref(
            || (x.clone(), y.clone()),
            |(x, y)| {
                let for_y = x.missing_for(&y.digest().unwrap_or_default());
                let for_x = y.missing_for(&x.digest().unwrap_or_default());
                if let (Some(a), Some(b)) = (for_y, for_x) {
                    y.join(&a);
                    x.join(&b);
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// An engine over `state` with the check of local writes `checked`.
fn engine<T: Replicated>(state: T, checked: bool) -> Engine<T> {
    let config = Config {
        verify_local_writes: checked,
        ..Config::default()
    };
    Engine::new(replica(1), state, config, Instant::now()).expect("valid config")
}

/// One write through `Engine::update`: an insert into a 100k-element set,
/// a character typed at the end of a 100k-character text. With the check
/// on, the engine clones the state per write.
fn engine_write(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine_write/into_100k");
    g.sample_size(20);
    let set = or_set(&scrambled_keys(SET_SIZE), replica(1));
    let text = typed_text(SET_SIZE);
    for checked in [false, true] {
        let name = if checked { "checked" } else { "unchecked" };
        let mut e = engine(set.clone(), checked);
        let mut n = 0u64;
        // New scrambled keys (an odd multiplier is a bijection; the top bit
        // keeps them apart from the set's, but for a chance collision that
        // only makes the insert a replace).
        g.bench_function(format!("or_set_insert/{name}"), |b| {
            b.iter(|| {
                n += 1;
                let key = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | (1 << 63);
                e.update(|s, me| s.insert(me, key)).expect("own id")
            })
        });
        let mut e = engine(text.clone(), checked);
        g.bench_function(format!("text_type_at_end/{name}"), |b| {
            b.iter(|| {
                e.update(|s, me| s.insert_str(me, s.len(), "b"))
                    .expect("own id")
            })
        });
    }
    g.finish();
}

/// The novel part of a received delta (`Decompose::delta_from` against
/// the state), which the engine computes for every delta it receives: one
/// character typed, and one deleted, elsewhere, against a text of 100k
/// characters in about 14k runs.
fn novel_part(c: &mut Criterion) {
    let mut g = c.benchmark_group("novel_part/into_100k_text");
    let known = typed_text(SET_SIZE);
    let mut writer = known.clone();
    let at = writer.len() / 2;
    let typed_delta = writer.insert_str(replica(2), at, "b");
    let deleted_delta = writer.delete(at / 2, 1);
    g.bench_function("keystroke", |b| {
        b.iter(|| black_box(&typed_delta).delta_from(black_box(&known)))
    });
    g.bench_function("delete", |b| {
        b.iter(|| black_box(&deleted_delta).delta_from(black_box(&known)))
    });
    g.finish();
}

/// A digest answer (`Replicated::missing_for`, the engine's catch-up) from
/// a 100k-character text to a peer that lacks one typed character and one
/// deletion of three.
fn text_digest_answer(c: &mut Criterion) {
    let mut g = c.benchmark_group("catch_up/text_100k");
    let peer = typed_text(SET_SIZE);
    let mut ahead = peer.clone();
    let _ = ahead.insert_str(replica(2), 500, "x");
    let _ = ahead.delete(1000, 3);
    let digest = peer.digest().expect("texts have digests");
    g.bench_function("answer_digest", |b| {
        b.iter(|| black_box(&ahead).missing_for(black_box(&digest)))
    });
    g.finish();
}

/// What an engine does to ship an interval: joins its buffered deltas
/// into one. Here 2,000 and 4,096 (the default buffer bound) deltas of one
/// deleted character each, scattered over a 100k-character text (an
/// editing session offline, then a reconnect); every run of such a delta
/// stays pending. The cost should grow with the deltas, not faster.
fn text_interval(c: &mut Criterion) {
    let mut g = c.benchmark_group("interval/text_100k");
    g.sample_size(10);
    for n in [2_000, 4_096] {
        let mut text = typed_text(SET_SIZE);
        let deltas: Vec<Text> = (0..n).map(|i| text.delete(i * 20, 1)).collect();
        g.bench_function(format!("join_{n}_scattered_deletions"), |b| {
            b.iter(|| join_all(&deltas))
        });
    }
    // Typing at scattered places, every fourth keystroke a backspace: the
    // backspaces delete characters whose runs wait, pending, in the
    // interval.
    let mut text = typed_text(SET_SIZE);
    let mut at = 0;
    let deltas: Vec<Text> = (0..4_096)
        .map(|i| {
            if i % 8 == 0 {
                at = (i * 7_919) % text.len();
            }
            if i % 4 == 3 {
                at -= 1;
                text.delete(at, 1)
            } else {
                at += 1;
                text.insert_str(replica(1), at - 1, "q")
            }
        })
        .collect();
    g.bench_function("join_4096_typed_and_backspaced", |b| {
        b.iter(|| join_all(&deltas))
    });
    g.finish();
}

/// The deltas joined into one, in order.
fn join_all(deltas: &[Text]) -> Text {
    let mut interval = Text::new();
    for d in deltas {
        interval.join(d);
    }
    interval
}

criterion_group!(
    benches,
    text_interval,
    text_digest_answer,
    codec_throughput,
    catch_up,
    partition,
    engine_write,
    novel_part
);
criterion_main!(benches);
