//! The causal context is a set of dots: its algebra agrees with a plain
//! `BTreeSet<Dot>`, and compaction never changes membership.

use std::collections::BTreeSet;

use crdt_core::{CausalContext, Dot, Lattice, ReplicaId, VersionVector};
use quickcheck::quickcheck;

fn set(ctx: &CausalContext) -> BTreeSet<Dot> {
    ctx.iter().collect()
}

quickcheck! {
    fn difference_and_intersection_rebuild_the_set(a: CausalContext, b: CausalContext) -> bool {
        let d = a.difference(&b);
        let i = a.intersection(&b);
        d.clone().joined(&i) == a
            && d.is_disjoint(&b)
            && i.is_subset(&b) && i.is_subset(&a)
            && set(&d) == set(&a).difference(&set(&b)).copied().collect()
            && set(&i) == set(&a).intersection(&set(&b)).copied().collect()
    }

    fn join_is_set_union(a: CausalContext, b: CausalContext) -> bool {
        set(&a.clone().joined(&b)) == set(&a).union(&set(&b)).copied().collect()
    }

    /// The join that consumes its argument (moving sets in, merging the
    /// smaller of two sets into the larger) on contexts wider than the
    /// generator's: up to 16 replicas, so that more than four are missing
    /// on one side (the merge of the two entry lists), and up to 64
    /// counters, so that sets have more spans than are merged one at a time.
    fn owned_join_of_wide_contexts_is_set_union(a: Vec<(u8, u8)>, b: Vec<(u8, u8)>) -> bool {
        let wide = |xs: &[(u8, u8)]| -> CausalContext {
            xs.iter()
                .filter_map(|&(r, c)| {
                    Dot::new(ReplicaId::from_u128(u128::from(r % 16) + 1), u64::from(c % 64) + 1)
                })
                .collect()
        };
        let (a, b) = (wide(&a), wide(&b));
        let mut owned = a.clone();
        owned.join_owned(b.clone());
        let mut flipped = b.clone();
        flipped.join_owned(a.clone());
        let union: BTreeSet<Dot> = set(&a).union(&set(&b)).copied().collect();
        owned == a.clone().joined(&b) && flipped == owned && set(&owned) == union
    }

    fn compaction_never_changes_contains(dots: Vec<Dot>, probe: Vec<Dot>) -> bool {
        let mut one_by_one = CausalContext::new();
        for &d in &dots {
            one_by_one.insert(d);
        }
        let collected: CausalContext = dots.iter().copied().collect();
        let reference: BTreeSet<Dot> = dots.iter().copied().collect();
        one_by_one == collected
            && probe.iter().chain(&dots).all(|d| one_by_one.contains(*d) == reference.contains(d))
            && one_by_one.len() == reference.len() as u64
            && one_by_one.iter().eq(reference.iter().copied())
    }

    fn subset_and_disjoint_agree_with_sets(a: CausalContext, b: CausalContext) -> bool {
        a.is_subset(&b) == set(&a).is_subset(&set(&b))
            && a.is_disjoint(&b) == set(&a).is_disjoint(&set(&b))
            && a.leq(&b) == a.is_subset(&b)
    }

    fn next_dot_is_never_already_seen(a: CausalContext, r: ReplicaId) -> bool {
        let d = a.next_dot(r);
        !a.contains(d) && a.iter().filter(|x| x.replica == r).all(|x| x.counter < d.counter)
    }

    fn mint_is_next_dot_then_insert(a: CausalContext, r: ReplicaId) -> bool {
        let mut minted = a.clone();
        let d = minted.mint(r);
        let mut general = a.clone();
        let expected = general.next_dot(r);
        general.insert(expected);
        d == expected && minted == general
    }

    fn one_dot_context_is_the_collected_one(d: Dot) -> bool {
        let direct = CausalContext::from(d);
        let collected: CausalContext = std::iter::once(d).collect();
        let mut inserted = CausalContext::new();
        inserted.insert(d);
        direct == collected && direct == inserted && set(&direct) == BTreeSet::from([d])
    }

    fn version_vector_is_the_contiguous_prefix(a: CausalContext) -> bool {
        let vv = a.version_vector();
        let back = CausalContext::from(&vv);
        back.is_subset(&a)
            && a.replicas().all(|r| {
                let n = vv.get(r);
                Dot::new(r, n + 1).is_none_or(|next| !a.contains(next))
            })
            && a.has_gaps() == (back != a)
    }

    fn version_vector_order_matches_context_inclusion(a: VersionVector, b: VersionVector) -> bool {
        let (ca, cb) = (CausalContext::from(&a), CausalContext::from(&b));
        a.partial_cmp(&b) == ca.partial_cmp(&cb) && a.dominates(&b) == cb.is_subset(&ca)
    }

    fn ranges_describe_exactly_the_dots(a: CausalContext) -> bool {
        let mut rebuilt = CausalContext::new();
        for (r, lo, hi) in a.ranges() {
            rebuilt.insert_range(r, lo, hi);
        }
        rebuilt == a
    }
}

#[test]
fn a_gap_closes_into_one_range() {
    let a = ReplicaId::from_u128(1);
    let dot = |n| Dot::new(a, n).unwrap();
    let mut ctx = CausalContext::new();
    ctx.insert(dot(1));
    ctx.insert(dot(3));
    assert!(ctx.has_gaps());
    assert_eq!(ctx.ranges().count(), 2);
    ctx.insert(dot(2));
    assert!(!ctx.has_gaps());
    assert_eq!(ctx.ranges().collect::<Vec<_>>(), vec![(a, 1, 3)]);
}

#[test]
fn mint_never_repeats_a_dot() {
    let a = ReplicaId::from_u128(1);
    let mut ctx = CausalContext::new();
    ctx.insert(Dot::new(a, 7).unwrap());
    let minted: Vec<Dot> = (0..5).map(|_| ctx.mint(a)).collect();
    assert_eq!(
        minted.iter().map(|d| d.counter()).collect::<Vec<_>>(),
        [8, 9, 10, 11, 12]
    );
}
