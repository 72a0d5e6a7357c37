use std::collections::BTreeSet;

use quickcheck::quickcheck;

use super::*;

fn set(xs: &[u8]) -> (IntervalSet, BTreeSet<u64>) {
    let mut s = IntervalSet::default();
    let mut r = BTreeSet::new();
    for &x in xs {
        let n = u64::from(x % 64) + 1;
        assert_eq!(s.insert(n), r.insert(n));
    }
    (s, r)
}

/// The set of `spans` and its members.
fn of_spans(spans: impl Iterator<Item = Span>) -> (IntervalSet, BTreeSet<u64>) {
    let mut set = IntervalSet::default();
    let mut members = BTreeSet::new();
    for (lo, hi) in spans {
        set.insert_span((lo, hi));
        members.extend(lo..=hi);
    }
    (set, members)
}

/// 400 spans of `skip % 5 + 1` dots, two apart.
fn many(skip: u8) -> impl Iterator<Item = Span> {
    let width = u64::from(skip % 5);
    (0..400).map(move |i| (i * (width + 2) + 1, i * (width + 2) + 1 + width))
}

/// Up to eight spans: `len % 16 + 1` dots at `at % 2_900 + 1`.
fn few(few: &[(u16, u8)]) -> impl Iterator<Item = Span> + '_ {
    few.iter().take(IN_PLACE_SPANS).map(|&(at, len)| {
        let lo = u64::from(at % 2_900) + 1;
        (lo, lo + u64::from(len % 16))
    })
}

/// A few spans against many (at least 16 times as many: the lookup
/// path) intersect, and are disjoint or not, exactly as the members
/// say, either way round.
#[test]
fn intersection_of_a_few_spans_with_many_is_exact() {
    fn prop(few_spans: Vec<(u16, u8)>, skip: u8) -> bool {
        let (many, many_members) = of_spans(many(skip));
        let (small, small_members) = of_spans(few(&few_spans));
        let both: BTreeSet<u64> = small_members.intersection(&many_members).copied().collect();
        [small.intersection(&many), many.intersection(&small)]
            .iter()
            .all(|i| i.iter().collect::<BTreeSet<u64>>() == both && i == &small.intersection(&many))
            && small.is_disjoint(&many) == both.is_empty()
            && many.is_disjoint(&small) == both.is_empty()
    }
    quickcheck(prop as fn(Vec<(u16, u8)>, u8) -> bool);
}

/// A few spans joined into many (the in-place path: a delta's dots
/// into an accumulated delta), whether the many have spare capacity or
/// none, give exactly the union of the members, in spans that neither
/// overlap nor touch; and one by one, thousands of one-dot spans into
/// a set with no spare room grow its capacity by a fraction each time
/// it fills, not by one span (a copy of the whole set per join made
/// accumulating thousands of deletions quadratic).
#[test]
fn union_of_a_few_spans_into_many_is_exact_and_grows_by_a_fraction() {
    fn prop(few_spans: Vec<(u16, u8)>, skip: u8, tight: bool) -> bool {
        let (mut set, _) = of_spans(many(skip));
        let (small, _) = of_spans(few(&few_spans));
        let (_, members) = of_spans(many(skip).chain(few(&few_spans)));
        if tight {
            set.spans.shrink_to_fit();
        }
        set.union_with(&small);
        let spans = set.spans.as_slice();
        set.iter().collect::<BTreeSet<u64>>() == members
            && spans.windows(2).all(|w| w[0].1 + 1 < w[1].0)
    }
    quickcheck(prop as fn(Vec<(u16, u8)>, u8, bool) -> bool);

    let mut set = IntervalSet::default();
    for k in 1..=4_096u64 {
        set.insert(4 * k);
    }
    set.spans.shrink_to_fit();
    let mut grown = 0;
    let mut capacity = set.spans.capacity();
    // Between the spans, from the last gap back (never past the end).
    for n in (0..4_096u64).rev().map(|k| 4 * k + 2) {
        let one = IntervalSet {
            spans: SmallVec::from_elem((n, n), 1),
        };
        set.union_with(&one);
        if set.spans.capacity() != capacity {
            grown += 1;
            capacity = set.spans.capacity();
        }
    }
    assert_eq!(set.spans.len(), 8_192);
    assert!(grown <= 64, "grew {grown} times for 4,096 spans");
    assert!(set.spans.capacity() <= 8_192 + 8_192 / 64 + 1);
}

/// Issue 11: subtracting a few local spans from a received set of many
/// visits only the received spans within the local ones' bounds; those
/// before and after are kept as they are, and the ones removed close
/// up (the budget's gap context into a state of 100k elements).
#[test]
fn subtract_of_a_narrow_set_keeps_the_spans_outside_it() {
    let mut wide = IntervalSet::default();
    for n in (1..=2_000u64).step_by(2) {
        wide.insert(n); // one-dot spans 1, 3, 5, ..., 1999
    }
    let mut narrow = IntervalSet::default();
    narrow.insert_span((100, 1_000));
    let mut got = wide.clone();
    got.subtract(&narrow);
    let want: Vec<Span> = (1..=2_000u64)
        .step_by(2)
        .filter(|n| !(100..=1_000).contains(n))
        .map(|n| (n, n))
        .collect();
    assert_eq!(got.spans.as_slice(), want.as_slice());
    assert_eq!(got, wide.difference(&narrow));
    // A narrow set that splits a span: the general difference.
    let mut one = IntervalSet::default();
    one.insert_span((1, 10));
    let mut hole = IntervalSet::default();
    hole.insert(5);
    one.subtract(&hole);
    assert_eq!(one.spans.as_slice(), &[(1, 4), (6, 10)]);
    // Nothing to subtract, or nothing within reach: unchanged.
    let mut same = wide.clone();
    same.subtract(&IntervalSet::default());
    let mut far = IntervalSet::default();
    far.insert_span((5_000, 6_000));
    same.subtract(&far);
    assert_eq!(same, wide);
}

/// A copy holds the same spans, and a single span stays inline.
#[test]
fn a_copy_is_equal_and_keeps_one_span_inline() {
    for n in 0..4u64 {
        let mut s = IntervalSet::default();
        for i in 0..n {
            s.insert(1 + 2 * i);
        }
        let copy = s.clone();
        assert_eq!(copy, s);
        assert_eq!(copy.spans_spilled(), n > 1, "{n} spans");
    }
}

fn canonical(s: &IntervalSet) -> bool {
    s.spans.iter().all(|&(lo, hi)| 1 <= lo && lo <= hi)
        && s.spans.windows(2).all(|w| w[0].1 + 1 < w[1].0)
}

quickcheck! {
    fn insert_matches_a_btreeset(xs: Vec<u8>) -> bool {
        let (s, r) = set(&xs);
        canonical(&s) && s.iter().eq(r.iter().copied()) && s.count() == r.len() as u64
    }

    fn set_algebra_matches_a_btreeset(xs: Vec<u8>, ys: Vec<u8>) -> bool {
        let (a, ra) = set(&xs);
        let (b, rb) = set(&ys);
        let mut u = a.clone();
        u.union_with(&b);
        let d = a.difference(&b);
        let i = a.intersection(&b);
        canonical(&u) && canonical(&d) && canonical(&i)
            && u.iter().eq(ra.union(&rb).copied())
            && d.iter().eq(ra.difference(&rb).copied())
            && i.iter().eq(ra.intersection(&rb).copied())
            && a.is_disjoint(&b) == ra.is_disjoint(&rb)
            && a.is_subset(&b) == ra.is_subset(&rb)
            && (1..=70).all(|n| a.contains(n) == ra.contains(&n))
            && IntervalSet::from_sorted(ra.iter().copied()) == a
    }

    fn a_few_spans_within_many_are_a_subset_as_in_a_btreeset(
        gaps: Vec<u8>,
        few: Vec<(u8, u8)>
    ) -> bool {
        // Many spans: the odd numbers up to 200, some with a gap filled;
        // a few spans (at most three) found by the binary search.
        let mut b = IntervalSet::default();
        let mut rb = BTreeSet::new();
        for n in (1..200u64).step_by(2).chain(gaps.iter().map(|&g| 2 * u64::from(g % 100))) {
            if n > 0 {
                b.insert(n);
                rb.insert(n);
            }
        }
        let mut a = IntervalSet::default();
        let mut ra = BTreeSet::new();
        for &(lo, len) in few.iter().take(3) {
            let lo = u64::from(lo % 210) + 1;
            a.insert_span((lo, lo + u64::from(len % 3)));
            ra.extend(lo..=lo + u64::from(len % 3));
        }
        a.spans.len() * 16 >= b.spans.len() || a.is_subset(&b) == ra.is_subset(&rb)
    }

    fn subtract_in_place_matches_difference(xs: Vec<u8>, ys: Vec<u8>) -> bool {
        let (a, _) = set(&xs);
        let (b, _) = set(&ys);
        let mut c = a.clone();
        c.subtract(&b);
        canonical(&c) && c == a.difference(&b)
    }

    fn union_owned_matches_union(xs: Vec<u8>, ys: Vec<u8>, spare: u8) -> bool {
        let (a, _) = set(&xs);
        let (mut b, _) = set(&ys);
        // Room or not, in place or by the general merge.
        b.spans.reserve_exact(usize::from(spare % 4));
        let mut expected = a.clone();
        expected.union_with(&b);
        let mut owned = a.clone();
        owned.union_owned(b.clone());
        let mut flipped = b;
        flipped.union_owned(a);
        owned == expected && flipped == expected && canonical(&owned) && canonical(&flipped)
    }

    fn insert_span_matches_inserting_each(xs: Vec<u8>, lo: u8, len: u8) -> bool {
        let (mut a, _) = set(&xs);
        let mut b = a.clone();
        let lo = u64::from(lo) + 1;
        let hi = lo + u64::from(len % 16);
        a.insert_span((lo, hi));
        for n in lo..=hi { b.insert(n); }
        a == b
    }
}

#[test]
fn contiguous_prefix_and_max() {
    let (s, _) = set(&[0, 1, 2, 9]);
    assert_eq!(s.contiguous(), 3);
    assert_eq!(s.max(), 10);
    assert_eq!(IntervalSet::prefix(0), IntervalSet::default());
}

#[test]
fn extreme_counters_do_not_overflow() {
    let mut s = IntervalSet::default();
    s.insert(u64::MAX);
    s.insert(u64::MAX - 1);
    assert_eq!(s.spans(), &[(u64::MAX - 1, u64::MAX)]);
    let full = IntervalSet {
        spans: SmallVec::from_elem((1, u64::MAX), 1),
    };
    assert!(full.difference(&full).is_empty());
    assert_eq!(full.difference(&s).spans(), &[(1, u64::MAX - 2)]);
    assert_eq!(full.count(), u64::MAX);
}
