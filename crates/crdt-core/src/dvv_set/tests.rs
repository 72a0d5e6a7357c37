//! Tests of [`DvvSet`].

use quickcheck::{Arbitrary, Gen, quickcheck};

use super::*;

fn r(n: u128) -> ReplicaId {
    ReplicaId::from_u128(n)
}

fn vv(entries: &[(u128, u64)]) -> VersionVector {
    entries
        .iter()
        .filter_map(|&(a, n)| Dot::new(r(a), n))
        .collect()
}

fn sorted<T: Clone + Ord>(s: &DvvSet<T>) -> Vec<T> {
    let mut v: Vec<T> = s.values().cloned().collect();
    v.sort();
    v
}

/// Every value with its dot (`None` for anonymous values), sorted.
fn dotted<T: Clone + Ord>(s: &DvvSet<T>) -> Vec<(Option<Dot>, T)> {
    let mut out: Vec<(Option<Dot>, T)> = s
        .entries
        .iter()
        .flat_map(|e| {
            e.values
                .iter()
                .zip((0..=e.counter).rev())
                .map(move |(v, c)| (Dot::new(e.replica, c), v.clone()))
        })
        .chain(s.anonymous.iter().map(|v| (None, v.clone())))
        .collect();
    out.sort();
    out
}

/// A distributed trace: four nodes (node `i` coordinates replica
/// `i + 1`), each step `(kind, node, arg)` is a read, a put with one of
/// the contexts read so far, or a sync from node `arg`.
#[derive(Clone, Debug)]
struct Trace(Vec<(u8, u8, u8)>);

impl Arbitrary for Trace {
    fn arbitrary(g: &mut Gen) -> Self {
        Trace(Arbitrary::arbitrary(g))
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(self.0.shrink().map(Trace))
    }
}

/// What a trace did: the final node states and every put.
struct Run {
    nodes: Vec<DvvSet<u32>>,
    /// `(dot, value, read context)` of every put.
    puts: Vec<(Dot, u32, VersionVector)>,
}

impl Trace {
    fn run(&self) -> Run {
        let mut nodes = vec![DvvSet::new(); 4];
        let mut reads = vec![VersionVector::new()];
        let mut puts = Vec::new();
        for (step, &(kind, node, arg)) in self.0.iter().enumerate() {
            let node = usize::from(node % 4);
            match kind % 4 {
                0 => reads.push(nodes[node].context()),
                1 | 2 => {
                    let context = reads[usize::from(arg) % reads.len()].clone();
                    let value = u32::try_from(step).unwrap();
                    let replica = r(u128::try_from(node).unwrap() + 1);
                    let dot = nodes[node].update(&context, replica, value);
                    puts.push((dot, value, context));
                }
                _ => {
                    let from = nodes[usize::from(arg % 4)].clone();
                    nodes[node].sync(&from);
                }
            }
        }
        Run { nodes, puts }
    }
}

// ---- traces of puts, reads and syncs -------------------------------

quickcheck! {
    fn trace_keeps_exactly_the_unseen_puts(trace: Trace) -> bool {
        let Run { nodes, puts } = trace.run();
        let all = nodes.iter().fold(DvvSet::new(), |acc, n| acc.joined(n));
        let mut expected: Vec<(Option<Dot>, u32)> = puts
            .iter()
            .filter(|(dot, _, _)| !puts.iter().any(|(_, _, ctx)| ctx.contains(*dot)))
            .map(|(dot, value, _)| (Some(*dot), *value))
            .collect();
        expected.sort();
        dotted(&all) == expected
    }

    fn trace_converges_in_any_sync_order(trace: Trace) -> bool {
        let Run { nodes, .. } = trace.run();
        let forward = nodes.iter().fold(DvvSet::new(), |acc, n| acc.joined(n));
        let backward = nodes.iter().rev().fold(DvvSet::new(), |acc, n| acc.joined(n));
        let pairwise = nodes[3]
            .clone()
            .joined(&nodes[1])
            .joined(&nodes[2].clone().joined(&nodes[0]));
        forward == backward && forward == pairwise
    }

    fn metadata_has_one_entry_per_replica(trace: Trace) -> bool {
        let Run { nodes, .. } = trace.run();
        nodes.iter().all(|n| {
            n.validate().is_ok()
                && n.entries.len() <= 4
                && n.entries.windows(2).all(|w| w[0].replica < w[1].replica)
        })
    }
}

/// Properties over the `quickcheck` feature's generators.
#[cfg(feature = "quickcheck")]
mod properties {
    use quickcheck::quickcheck;

    use super::*;

    /// A small arbitrary context over replicas 1..=4.
    #[derive(Clone, Debug)]
    struct Ctx(VersionVector);

    impl Arbitrary for Ctx {
        fn arbitrary(g: &mut Gen) -> Self {
            let pairs: Vec<(u8, u8)> = Arbitrary::arbitrary(g);
            Ctx(pairs
                .into_iter()
                .filter_map(|(a, n)| Dot::new(r(u128::from(a % 4) + 1), u64::from(n % 6)))
                .collect())
        }

        fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
            let dots: Vec<Dot> = self.0.dots().collect();
            Box::new((0..dots.len()).map(move |i| {
                Ctx(dots
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, d)| *d)
                    .collect())
            }))
        }
    }

    quickcheck! {
        fn join_is_commutative(a: DvvSet<u8>, b: DvvSet<u8>) -> bool {
            a.clone().joined(&b) == b.joined(&a)
        }

        fn join_is_associative(a: DvvSet<u8>, b: DvvSet<u8>, c: DvvSet<u8>) -> bool {
            a.clone().joined(&b).joined(&c) == a.joined(&b.joined(&c))
        }

        fn join_is_idempotent(a: DvvSet<u8>) -> bool {
            a.clone().joined(&a) == a
        }

        fn bottom_is_the_identity(a: DvvSet<u8>) -> bool {
            DvvSet::new().joined(&a) == a && a.clone().joined(&DvvSet::new()) == a
        }

        fn leq_iff_join_is_the_other(a: DvvSet<u8>, b: DvvSet<u8>) -> bool {
            let ab = a.clone().joined(&b);
            a.leq(&b) == (ab == b) && a.leq(&ab) && b.leq(&ab)
        }

        fn join_keeps_sets_valid(a: DvvSet<u8>, b: DvvSet<u8>) -> bool {
            a.validate().is_ok() && a.joined(&b).validate().is_ok()
        }

        fn update_inflates(a: DvvSet<u8>, ctx: Ctx, who: u8, value: u8) -> bool {
            let mut after = a.clone();
            let _ = after.update(&ctx.0, r(u128::from(who % 4) + 1), value);
            a.leq(&after) && !after.leq(&a) && after.validate().is_ok()
        }

        fn put_removes_exactly_the_covered_siblings(
            a: DvvSet<u8>,
            ctx: Ctx,
            who: u8,
            value: u8
        ) -> bool {
            let ctx = ctx.0;
            let drops_anonymous = a.context().leq(&ctx);
            let mut after = a.clone();
            let dot = after.update(&ctx, r(u128::from(who % 4) + 1), value);
            let mut expected: Vec<(Option<Dot>, u8)> = dotted(&a)
                .into_iter()
                .filter(|(d, _)| match d {
                    Some(d) => !ctx.contains(*d),
                    None => !drops_anonymous,
                })
                .collect();
            expected.push((Some(dot), value));
            expected.sort();
            dotted(&after) == expected
                && !a.context().contains(dot)
                && !ctx.contains(dot)
        }

        fn concurrent_update_is_never_lost(a: DvvSet<u8>, who: u8, x: u8, y: u8) -> bool {
            // Two clients read the same context; both puts survive, here and
            // on a replica that syncs them in the other order.
            let read = a.context();
            let (p, q) = (r(u128::from(who % 4) + 1), r(u128::from(who.wrapping_add(1) % 4) + 1));
            let mut one = a.clone();
            let dx = one.update(&read, p, x);
            let mut two = a.clone();
            let dy = two.update(&read, q, y);
            let mut both = one.clone();
            let _ = both.update(&read, p, y);
            let synced = two.clone().joined(&one);
            let has = |s: &DvvSet<u8>, d: Dot| dotted(s).iter().any(|(e, _)| *e == Some(d));
            has(&synced, dx) && has(&synced, dy) && both.len() == 2 && sorted(&both) == {
                let mut v = vec![x, y];
                v.sort();
                v
            }
        }

        fn bincode_round_trip(a: DvvSet<u8>) -> bool {
            let bytes = bincode::serde::encode_to_vec(&a, bincode::config::standard()).unwrap();
            let decoded: (DvvSet<u8>, usize) =
                bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
            decoded == (a, bytes.len())
        }
    }
}

#[test]
fn many_siblings_share_one_entry() {
    let mut s = DvvSet::new();
    let read = VersionVector::new();
    for v in 0..100_u32 {
        let _ = s.update(&read, r(1), v);
    }
    assert_eq!(s.len(), 100);
    assert_eq!(s.entries.len(), 1);
    assert_eq!(s.context(), vv(&[(1, 100)]));
    // Newest first within the replica.
    assert_eq!(s.values().next(), Some(&99));
}

#[test]
fn put_with_full_context_replaces_all_siblings() {
    let mut s = DvvSet::new();
    let _ = s.update(&VersionVector::new(), r(1), "a");
    let _ = s.update(&VersionVector::new(), r(2), "b");
    let ctx = s.context();
    let dot = s.update(&ctx, r(2), "c");
    assert_eq!(sorted(&s), ["c"]);
    assert_eq!(dot, Dot::new(r(2), 2).unwrap());
}

#[test]
fn context_ahead_of_the_coordinator_raises_its_counter() {
    let mut s: DvvSet<u8> = DvvSet::new();
    let dot = s.update(&vv(&[(1, 7), (3, 2)]), r(1), 9);
    assert_eq!(dot, Dot::new(r(1), 8).unwrap());
    assert_eq!(s.context(), vv(&[(1, 8), (3, 2)]));
    assert_eq!(s.len(), 1);
    assert!(s.validate().is_ok());
}

#[test]
fn reconcile_supersedes_every_sibling() {
    let mut a = DvvSet::new();
    let _ = a.update(&VersionVector::new(), r(1), 1_u8);
    let mut b = DvvSet::new();
    let _ = b.update(&VersionVector::new(), r(2), 2_u8);
    a.sync(&b);
    let stale = a.clone();
    let _ = a.reconcile(r(3), |vs| vs.into_iter().sum());
    assert_eq!(sorted(&a), [3]);
    assert_eq!(a.clone().joined(&stale), a);
    assert_eq!(b.joined(&a), a);
}

#[test]
fn anonymous_value_is_replaced_by_a_put_that_read_it() {
    let mut s = DvvSet::from_value("imported");
    let read = s.context();
    assert_eq!(sorted(&s), ["imported"]);
    let _ = s.update(&read, r(1), "edited");
    assert_eq!(sorted(&s), ["edited"]);
}

#[test]
fn anonymous_value_survives_a_put_with_an_older_context() {
    let mut s = DvvSet::new();
    let _ = s.update(&VersionVector::new(), r(1), "x");
    s.sync(&DvvSet {
        entries: s.entries.clone(),
        anonymous: vec!["anon"],
    });
    let _ = s.update(&VersionVector::new(), r(1), "y");
    assert_eq!(sorted(&s), ["anon", "x", "y"]);
}

#[test]
fn anonymous_values_sync_associatively() {
    // The triple for which Riak's union-on-concurrent sync is not
    // associative: here both groupings agree.
    let mut h1 = DvvSet::new();
    let _ = h1.update(&VersionVector::new(), r(1), 10_u8);
    let mut h2 = DvvSet::new();
    let _ = h2.update(&VersionVector::new(), r(2), 20_u8);
    let a = DvvSet {
        entries: h1.entries.clone(),
        anonymous: vec![1],
    };
    let b = h2.clone();
    let c = h1.joined(&h2);
    let left = a.clone().joined(&b).joined(&c);
    let right = a.joined(&b.joined(&c));
    assert_eq!(left, right);
    assert_eq!(sorted(&left), [10, 20]);
}

#[test]
fn conflicting_values_for_one_dot_converge_to_the_greater() {
    let mut a = DvvSet::new();
    let _ = a.update(&VersionVector::new(), r(1), 1_u8);
    let mut b = DvvSet::new();
    let _ = b.update(&VersionVector::new(), r(1), 2_u8);
    assert_eq!(a.clone().joined(&b), b.clone().joined(&a));
    assert_eq!(sorted(&a.joined(&b)), [2]);
}

#[test]
fn saturated_counter_does_not_panic() {
    let mut s: DvvSet<u8> = DvvSet::new();
    let max = vv(&[(1, u64::MAX)]);
    let dot = s.update(&max, r(1), 1);
    assert_eq!(dot, Dot::new(r(1), u64::MAX).unwrap());
    let again = s.update(&max, r(1), 2);
    assert_eq!(again, dot);
    assert_eq!(sorted(&s), [2]);
    assert!(s.validate().is_ok());
}

#[test]
fn empty_with_history_is_not_bottom() {
    let mut s = DvvSet::new();
    let _ = s.update(&VersionVector::new(), r(1), 1_u8);
    let ctx = s.context();
    let mut t = s.clone();
    let _ = t.update(&ctx, r(1), 2);
    let _ = t.reconcile(r(1), |_| 3);
    assert!(!t.is_empty());
    let mut u: DvvSet<u8> = DvvSet::new();
    u.sync(&DvvSet {
        entries: context_entries(&ctx),
        anonymous: Vec::new(),
    });
    assert!(u.is_empty() && !u.is_bottom());
    assert!(DvvSet::<u8>::new().is_bottom());
}

// ---- wire format --------------------------------------------------

type RawEntry = (ReplicaId, u64, Vec<u8>);

fn decode(entries: Vec<RawEntry>, anonymous: Vec<u8>) -> Result<DvvSet<u8>, String> {
    let bytes =
        bincode::serde::encode_to_vec((entries, anonymous), bincode::config::standard()).unwrap();
    bincode::serde::decode_from_slice(&bytes, bincode::config::standard())
        .map(|(s, _)| s)
        .map_err(|e| e.to_string())
}

#[test]
fn hand_made_canonical_encoding_decodes() {
    let s = decode(vec![(r(1), 2, vec![7, 8]), (r(3), 1, vec![])], vec![1, 4]).unwrap();
    assert_eq!(s.context(), vv(&[(1, 2), (3, 1)]));
    assert_eq!(s.values().copied().collect::<Vec<_>>(), [7, 8, 1, 4]);
}

#[test]
fn non_canonical_encodings_are_rejected() {
    let cases: [(Vec<RawEntry>, Vec<u8>, &str); 6] = [
        (vec![(r(2), 1, vec![]), (r(1), 1, vec![])], vec![], "sorted"),
        (vec![(r(1), 1, vec![]), (r(1), 2, vec![])], vec![], "sorted"),
        (vec![(r(1), 0, vec![])], vec![], "counter 0"),
        (
            vec![(r(1), 1, vec![1, 2])],
            vec![],
            "2 values but only 1 puts",
        ),
        (vec![], vec![2, 1], "sorted"),
        (vec![], vec![1, 1], "sorted"),
    ];
    for (entries, anonymous, why) in cases {
        let err = decode(entries.clone(), anonymous.clone()).unwrap_err();
        assert!(err.contains(why), "{entries:?} {anonymous:?}: {err}");
    }
}

#[test]
fn validate_names_each_defect() {
    let entry = |a, counter, values: Vec<u8>| Entry {
        replica: r(a),
        counter,
        values,
    };
    let set = |entries, anonymous| DvvSet { entries, anonymous };
    assert_eq!(
        set(vec![entry(2, 1, vec![]), entry(1, 1, vec![])], vec![]).validate(),
        Err(InvalidDvvSet::UnsortedReplicas {
            before: r(2),
            after: r(1)
        })
    );
    assert_eq!(
        set(vec![entry(1, 1, vec![]), entry(1, 1, vec![])], vec![]).validate(),
        Err(InvalidDvvSet::DuplicateReplica(r(1)))
    );
    assert_eq!(
        set(vec![entry(1, 0, vec![])], vec![]).validate(),
        Err(InvalidDvvSet::ZeroCounter(r(1)))
    );
    let too_many = set(vec![entry(1, 1, vec![1, 2])], vec![]).validate();
    assert_eq!(
        too_many,
        Err(InvalidDvvSet::TooManyValues {
            replica: r(1),
            counter: 1,
            values: 2
        })
    );
    assert_eq!(
        too_many.unwrap_err().to_string(),
        "DVV set entry for replica R1 holds 2 values but only 1 puts"
    );
    assert_eq!(
        set(vec![], vec![3, 3]).validate(),
        Err(InvalidDvvSet::UnsortedAnonymous)
    );
}
