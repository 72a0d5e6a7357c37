//! `Causal::delta_for` (the answer to a digest) against the walk it
//! replaced: the counted fast path and the chunk-skipping filter of issue 14
//! must give exactly the old answer, for every state and every digest.

use crate::common::{Flag, Mv, Nested, Set};
use crdt_core::arbitrary::Replicas;
use crdt_core::{Causal, CausalContext, Dot, DotMap, DotSet, DotStore, Lattice, ReplicaId};
use quickcheck::quickcheck;

/// `delta_for` as it was before issue 14, walking the whole store: the
/// unseen live dots, and in the context the unseen dots plus the removed
/// dots the peer has seen.
fn delta_by_walk<S: DotStore>(x: &Causal<S>, peer: &CausalContext) -> Causal<S> {
    let unseen = x.context().difference(peer);
    let store = if unseen.is_empty() {
        S::default()
    } else {
        x.store().filtered(&mut |d| !peer.contains(d))
    };
    let shared = x.context().intersection(peer);
    let held: CausalContext = x.store().dots().filter(|d| shared.contains(*d)).collect();
    let removed = shared.difference(&held);
    let mut context = unseen;
    context.join(&removed);
    Causal::from_parts(store, context).expect("a delta of a valid state is valid")
}

/// The answer equals the walk's, and the store's summaries are right.
fn same_as_walk<S: DotStore>(x: &Causal<S>, peer: &CausalContext) -> bool {
    x.store().dot_count() == x.store().dots().count() as u64
        && x.store()
            .dots()
            .all(|d| d.counter() <= x.store().counter_bound())
        && x.delta_for(peer) == delta_by_walk(x, peer)
}

macro_rules! answer_props {
    ($($name:ident: $state:ty),* $(,)?) => {$(
        mod $name {
            use super::*;
            quickcheck! {
                fn answers_a_replica_of_the_same_history(r: Replicas<<$state as Store>::S>) -> bool {
                    r.states.iter().all(|peer| same_as_walk(&r.states[0], peer.context()))
                }
                fn answers_any_digest(x: $state, peer: CausalContext) -> bool {
                    same_as_walk(&x, &peer)
                        && same_as_walk(&x, x.context())
                        && same_as_walk(&x, &CausalContext::new())
                }
            }
        }
    )*};
}

trait Store {
    type S: DotStore;
}
impl<S: DotStore> Store for Causal<S> {
    type S = S;
}

answer_props! {
    flag: Flag,
    mv: Mv,
    set: Set,
    nested: Nested,
}

/// A deterministic scramble of `i` (distinct for distinct `i`).
fn scramble(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

type Big = Causal<DotMap<u64, DotSet>>;
type BigNested = Causal<DotMap<u64, DotMap<u64, DotSet>>>;

fn add(s: &mut Big, r: ReplicaId, x: u64) {
    let dot = s.next_dot(r);
    let (store, ctx) = s.parts_mut();
    ctx.insert(dot);
    store.update(x, |d| {
        d.retain(|_| false);
        d.insert(dot);
    });
}

fn add_nested(s: &mut BigNested, r: ReplicaId, x: u64, y: u64) {
    let dot = s.next_dot(r);
    let (store, ctx) = s.parts_mut();
    ctx.insert(dot);
    store.update(x, |inner| {
        inner.update(y, |d| {
            d.retain(|_| false);
            d.insert(dot);
        })
    });
}

/// Digests a peer could send while `x` grew: every earlier snapshot, the
/// empty one, `x`'s own, and `x`'s own less one old and one new dot.
fn digests<S: DotStore>(x: &Causal<S>, snapshots: &[CausalContext]) -> Vec<CausalContext> {
    let mut out = snapshots.to_vec();
    out.push(CausalContext::new());
    out.push(x.context().clone());
    for (replica, lo, hi) in x.context().ranges().take(2) {
        for n in [lo, hi] {
            out.push(
                x.context()
                    .difference(&std::iter::once(dot(replica, n)).collect()),
            );
        }
    }
    out
}

fn dot(r: ReplicaId, n: u64) -> Dot {
    Dot::new(r, n).expect("a positive counter")
}

/// Runs `steps` steps of `step` (writers `1..=writers` in turn) on a
/// fresh state, keeping a snapshot of the context every `steps / 12`
/// steps, and checks the answer to every digest (`digests`) against the
/// walk every `steps / 6` steps.
fn grow_and_check<S: DotStore>(
    writers: u64,
    steps: u64,
    mut step: impl FnMut(&mut Causal<S>, ReplicaId, u64),
) {
    let mut x = Causal::new();
    let mut snapshots = Vec::new();
    for i in 0..steps {
        step(&mut x, ReplicaId::from_u128(u128::from(i % writers) + 1), i);
        if i % (steps / 12) == 0 {
            snapshots.push(x.context().clone());
        }
        if i % (steps / 6) == steps / 6 - 1 {
            for peer in digests(&x, &snapshots) {
                assert!(same_as_walk(&x, &peer), "at step {i}, digest {peer:?}");
            }
        }
    }
}

/// Thousands of keys (a chunked map), four writers, removals and re-adds:
/// the answer to every digest along the way equals the walk's.
#[test]
fn a_large_set_answers_every_digest_as_the_walk_does() {
    grow_and_check(4, 3000, |x: &mut Big, r, i| match i % 7 {
        // Remove an older element (present or not).
        3 => {
            let _ = x.parts_mut().0.remove(&scramble(i / 3));
        }
        // Re-add an older element: its old dot is superseded.
        5 => add(x, r, scramble(i / 2)),
        _ => add(x, r, scramble(i)),
    });
    let writers: Vec<ReplicaId> = (1..=4).map(ReplicaId::from_u128).collect();
    // A removal-free set answers its own digest with bottom, and a peer one
    // dot behind with exactly that dot's element.
    let mut fresh: Big = Causal::new();
    for i in 0..2000u64 {
        add(&mut fresh, writers[(i % 4) as usize], scramble(i));
    }
    let behind = fresh.context().clone();
    add(&mut fresh, writers[0], u64::MAX);
    assert!(fresh.delta_for(fresh.context()).is_bottom());
    let answer = fresh.delta_for(&behind);
    assert_eq!(answer.store().keys().collect::<Vec<_>>(), [&u64::MAX]);
    assert_eq!(answer.context().len(), 1);
    assert!(same_as_walk(&fresh, &behind));
}

/// The same for a map of maps whose outer map is chunked.
#[test]
fn a_large_nested_map_answers_every_digest_as_the_walk_does() {
    grow_and_check(3, 2000, |x: &mut BigNested, r, i| {
        if i % 5 == 2 {
            let _ = x.parts_mut().0.remove(&(scramble(i / 4) % 400));
        } else {
            add_nested(x, r, scramble(i) % 400, i % 3);
        }
    });
}
