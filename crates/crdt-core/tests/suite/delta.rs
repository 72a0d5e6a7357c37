//! Deltas computed by the kernel: `delta_for` (digest catch-up),
//! `delta_from` and `decompose` (join decomposition).

use crate::common::{Flag, Mv, Nested, Set};
use crdt_core::arbitrary::Replicas;
use crdt_core::{
    Causal, CausalContext, Decompose, Dot, DotMap, DotSet, DotStore, Lattice, ReplicaId,
};
use quickcheck::quickcheck;

/// `peer ⊔ x.delta_for(peer.context) == peer ⊔ x`, for states of one history.
fn catch_up_is_exact<S: DotStore>(r: &Replicas<S>) -> bool {
    let (x, peer) = (&r.states[0], &r.states[1]);
    let delta = x.delta_for(peer.context());
    peer.clone().joined(&delta) == peer.clone().joined(x)
        && delta.leq(x)
        && delta.context().is_subset(x.context())
        && delta.store().dots().all(|d| !peer.context().contains(d))
}

/// Decomposition joins back to the original and no part is redundant.
fn decomposition_is_irredundant<S: DotStore>(x: &Causal<S>) -> bool {
    let parts = x.decompose();
    let mut all = Causal::new();
    for p in &parts {
        all.join(p);
    }
    let irredundant = (0..parts.len()).all(|skip| {
        let mut rest = Causal::new();
        for (i, p) in parts.iter().enumerate() {
            if i != skip {
                rest.join(p);
            }
        }
        !parts[skip].leq(&rest)
    });
    all == *x && irredundant && parts.iter().all(|p| p.validate().is_ok())
}

/// `split` cuts a state into two valid, strictly smaller halves that join
/// back to it; only irreducible states (at most one dot) are not split.
fn split_halves_join_back<S: DotStore>(x: &Causal<S>) -> bool {
    match x.split() {
        None => x.context().len() <= 1,
        Some((left, right)) => {
            left.validate().is_ok()
                && right.validate().is_ok()
                && left.context().len() < x.context().len()
                && right.context().len() < x.context().len()
                && left.context().is_disjoint(right.context())
                && left.clone().joined(&right) == *x
                && right.joined(&left) == *x
        }
    }
}

/// `known ⊔ x.delta_from(known) == known ⊔ x`, and it agrees with the join of
/// the irreducibles of `x` not below `known`.
fn delta_from_is_the_unknown_part<S: DotStore>(r: &Replicas<S>) -> bool {
    let (x, known) = (&r.states[0], &r.states[1]);
    let fresh = x.delta_from(known);
    let mut reference = Causal::new();
    for p in x.decompose() {
        if !p.leq(known) {
            reference.join(&p);
        }
    }
    known.clone().joined(&fresh) == known.clone().joined(x)
        && fresh == reference
        && x.clone().into_delta_from(known) == fresh
        && x.clone().into_delta_from(&Causal::new()) == *x
}

macro_rules! delta_props {
    ($($name:ident: $store:ty),* $(,)?) => {$(
        mod $name {
            use super::*;
            quickcheck! {
                fn catch_up_gives_exactly_what_the_peer_lacks(r: Replicas<$store>) -> bool {
                    catch_up_is_exact(&r)
                }
                fn decompositions_join_back_and_are_irredundant(x: Causal<$store>) -> bool {
                    decomposition_is_irredundant(&x)
                }
                fn split_halves_are_valid_smaller_and_join_back(x: Causal<$store>) -> bool {
                    split_halves_join_back(&x)
                }
                fn delta_from_strips_only_known_parts(r: Replicas<$store>) -> bool {
                    delta_from_is_the_unknown_part(&r)
                }
                fn checked_join_equals_join_within_one_history(r: Replicas<$store>) -> bool {
                    let (a, b) = (&r.states[0], &r.states[2]);
                    let mut checked = a.clone();
                    checked.checked_join(b).is_ok() && checked == a.clone().joined(b)
                }
            }
        }
    )*};
}

type SetStore = <Set as StoreOf>::Store;
type FlagStore = <Flag as StoreOf>::Store;
type MvStore = <Mv as StoreOf>::Store;
type NestedStore = <Nested as StoreOf>::Store;

trait StoreOf {
    type Store;
}
impl<S> StoreOf for Causal<S> {
    type Store = S;
}

delta_props! {
    dot_set: FlagStore,
    dot_fun: MvStore,
    dot_map: SetStore,
    nested_map: NestedStore,
}

fn add(s: &mut Causal<DotMap<u64, DotSet>>, r: ReplicaId, x: u64) {
    let dot = s.next_dot(r);
    let (store, ctx) = s.parts_mut();
    ctx.insert(dot);
    store.update(x, |d| {
        d.insert(dot);
    });
}

#[test]
fn removal_reaches_a_peer_that_still_holds_the_element() {
    let a = ReplicaId::from_u128(1);
    let mut x = Causal::new();
    add(&mut x, a, 7);
    add(&mut x, a, 8);
    let peer = x.clone();
    x.parts_mut().0.remove(&7); // x removes 7; the peer still holds it
    let delta = x.delta_for(peer.context());
    assert!(delta.store().is_empty(), "nothing new to add");
    let healed = peer.clone().joined(&delta);
    assert!(!healed.store().contains_key(&7));
    assert!(healed.store().contains_key(&8));
    assert_eq!(healed, peer.joined(&x));
}

#[test]
fn catch_up_after_one_insert_is_just_that_insert() {
    let a = ReplicaId::from_u128(1);
    let mut x = Causal::new();
    for i in 0..1000 {
        add(&mut x, a, i);
    }
    let peer = x.clone();
    add(&mut x, a, 5000);
    let delta = x.delta_for(peer.context());
    assert_eq!(delta.store().len(), 1);
    assert_eq!(delta.context().len(), 1);
    assert_eq!(peer.joined(&delta), x);
}

#[test]
fn checked_join_reports_a_reused_dot() {
    let a = ReplicaId::from_u128(1);
    let mut x: Causal<DotMap<u64, DotSet>> = Causal::new();
    let mut y = x.clone();
    add(&mut x, a, 1);
    add(&mut y, a, 2); // the same dot (a, 1) minted again for another element
    let before = x.clone();
    let err = x.checked_join(&y).unwrap_err();
    assert_eq!(err.dot, Dot::new(a, 1).unwrap());
    assert_eq!(x, before, "a failed checked join changes nothing");
    assert!(err.to_string().contains("reused"));
}

#[test]
fn checked_join_reports_a_dot_with_two_values() {
    let a = ReplicaId::from_u128(1);
    let write = |v: u8| {
        let mut s: Causal<crdt_core::DotFun<u8>> = Causal::new();
        let dot = s.next_dot(a);
        let (store, ctx) = s.parts_mut();
        store.insert(dot, v);
        ctx.insert(dot);
        s
    };
    let mut x = write(1);
    assert!(x.checked_join(&write(2)).is_err());
    assert!(x.checked_join(&write(1)).is_ok());
    // The plain join still converges, deterministically.
    assert_eq!(write(1).joined(&write(2)), write(2).joined(&write(1)));
}

#[test]
fn small_delta_into_large_map_joins_without_losing_anything() {
    let a = ReplicaId::from_u128(1);
    let b = ReplicaId::from_u128(2);
    let mut big = Causal::new();
    for i in 0..10_000 {
        add(&mut big, a, i);
    }
    let mut other = big.clone();
    add(&mut other, b, 3); // re-add of an existing element by b
    other.parts_mut().0.remove(&9); // and a remove
    let delta = other.delta_for(big.context());
    let mut joined = big.clone();
    joined.join(&delta);
    assert_eq!(joined, big.joined(&other));
    assert!(!joined.store().contains_key(&9));
    assert_eq!(joined.store().get(&3).map(|d| d.len()), Some(2));
    let _ = CausalContext::new();
}
