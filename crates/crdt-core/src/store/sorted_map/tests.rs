//! Tests of [`SortedMap`]: a model check against `BTreeMap` (shape and
//! summaries checked after every operation) and the shape rules.

use std::collections::BTreeMap;

use quickcheck::quickcheck;

use super::*;

#[derive(Clone, Debug)]
enum Op {
    Insert(u16, u8),
    Remove(u16),
    Retain(u8),
    /// `upsert` to this value, keeping the entry unless it is 0.
    Upsert(u16, u8),
}

impl quickcheck::Arbitrary for Op {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        match u8::arbitrary(g) % 8 {
            0 => Op::Remove(u16::arbitrary(g) % 600),
            1 if u8::arbitrary(g) % 8 == 0 => Op::Retain(u8::arbitrary(g) % 4 + 2),
            2 => Op::Upsert(u16::arbitrary(g) % 600, u8::arbitrary(g) % 4),
            _ => Op::Insert(u16::arbitrary(g) % 600, u8::arbitrary(g)),
        }
    }
}

/// In these tests a value counts as one dot, whose counter is the value.
impl Summary for u8 {
    fn weight(&self) -> u64 {
        1
    }
    fn top(&self) -> u64 {
        u64::from(*self)
    }
    fn each_dot(&self, _: &mut impl FnMut(Dot)) {}
    fn holds(&self, _: Dot) -> bool {
        false
    }
}

impl Summary for u64 {
    fn weight(&self) -> u64 {
        1
    }
    fn top(&self) -> u64 {
        *self
    }
    fn each_dot(&self, _: &mut impl FnMut(Dot)) {}
    fn holds(&self, _: Dot) -> bool {
        false
    }
}

impl Summary for () {
    fn weight(&self) -> u64 {
        1
    }
    fn top(&self) -> u64 {
        0
    }
    fn each_dot(&self, _: &mut impl FnMut(Dot)) {}
    fn holds(&self, _: Dot) -> bool {
        false
    }
}

/// The weight is exact and every top bounds what it covers; a chunked
/// map's own top bounds its chunks' (which a flat map does not keep).
fn summaries_hold(m: &SortedMap<u16, u8>) -> bool {
    m.weight() == m.len() as u64
        && m.iter().all(|(_, v)| u64::from(*v) <= m.top())
        && m.chunks_with_tops().all(|(chunk, top)| {
            chunk.iter().all(|(_, v)| u64::from(*v) <= top)
                && (matches!(m.repr, Repr::Flat(_)) || top <= m.top())
        })
}

/// The chunk vectors of a chunked map (none for a flat one).
fn vecs<K, V>(m: &SortedMap<K, V>) -> &[Vec<(K, V)>] {
    match &m.repr {
        Repr::Flat(_) => &[],
        Repr::Chunked(c) => &c.chunks,
    }
}

fn well_formed(m: &SortedMap<u16, u8>) -> bool {
    let chunks: Vec<&[(u16, u8)]> = m.chunks().collect();
    let shape = match &m.repr {
        Repr::Flat(v) => v.len() <= CHUNK,
        Repr::Chunked(c) => {
            c.chunks.len() >= 2
                && c.len == c.chunks.iter().map(Vec::len).sum::<usize>()
                && c.firsts.len() == c.chunks.len()
                && c.chunks.iter().zip(&c.firsts).all(|(ch, f)| ch[0].0 == *f)
        }
    };
    shape
        && chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK)
        && vecs(m).iter().all(|c| c.capacity() <= CHUNK)
        && chunks
            .iter()
            .copied()
            .flatten()
            .collect::<Vec<_>>()
            .windows(2)
            .all(|w| w[0].0 < w[1].0)
}

quickcheck! {
    fn behaves_like_a_btreemap(ops: Vec<Op>, seq: u16) -> bool {
        let mut m = SortedMap::default();
        let mut r = BTreeMap::new();
        // A sequential run first, to exercise full chunks.
        for k in 0..seq % 700 {
            m.insert(k, 0);
            r.insert(k, 0);
        }
        for op in ops {
            match op {
                Op::Insert(k, v) => { if m.insert(k, v) != r.insert(k, v) { return false; } }
                Op::Remove(k) => { if m.remove(&k) != r.remove(&k) { return false; } }
                Op::Retain(n) => {
                    m.retain(|k, _| k % u16::from(n) != 0);
                    r.retain(|k, _| k % u16::from(n) != 0);
                }
                Op::Upsert(k, v) => {
                    m.upsert(k, || 0, |x| *x = v, |x| *x != 0);
                    if v == 0 { r.remove(&k); } else { r.insert(k, v); }
                }
            }
            if !well_formed(&m) || !summaries_hold(&m) { return false; }
        }
        m.iter().map(|(k, v)| (*k, *v)).eq(r.iter().map(|(k, v)| (*k, *v)))
            && m.iter().rev().map(|(k, _)| *k).eq(r.keys().rev().copied())
            && m.iter().len() == r.len()
            && (0..700).all(|k| m.get(&k) == r.get(&k))
            && SortedMap::from_iter(r.clone()) == m
    }
}

#[test]
fn sequential_inserts_fill_chunks() {
    let mut m = SortedMap::default();
    for k in 0..10 * CHUNK as u32 {
        m.insert(k, ());
    }
    assert_eq!(vecs(&m).len(), 10);
    assert!(
        vecs(&m)
            .iter()
            .all(|c| c.len() == CHUNK && c.capacity() == CHUNK)
    );
}

#[test]
fn small_maps_allocate_what_they_hold() {
    // A flat map is a boxed slice: what it holds is what it allocates.
    let flat_len = |m: &SortedMap<u64, u64>| match &m.repr {
        Repr::Flat(v) => Some(v.len()),
        Repr::Chunked(_) => None,
    };
    let mut m = SortedMap::default();
    m.insert(1u64, 0u64);
    assert_eq!(flat_len(&m), Some(1));
    m.insert(3, 0);
    m.insert(2, 0);
    assert_eq!(flat_len(&m), Some(3));
    assert_eq!(m.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 2, 3]);
    m.remove(&1);
    assert_eq!(flat_len(&m), Some(2));
    m.retain(|k, _| *k == 3);
    assert_eq!(flat_len(&m), Some(1));
    let decoded = SortedMap::from_sorted_vec(Vec::from([(1u64, 0u64), (2, 0), (3, 0)]));
    assert_eq!(flat_len(&decoded), Some(3));
    // Removing down to one chunk makes the map flat again.
    let mut big: SortedMap<u32, ()> = (0..3 * CHUNK as u32).map(|k| (k, ())).collect();
    big.retain(|k, _| *k < 10);
    assert!(matches!(big.repr, Repr::Flat(_)));
    assert_eq!(big.len(), 10);
}

/// A map is its `Repr` alone, two words on 64-bit (a flat map is a boxed
/// slice, a chunked one a box): every inner map of a nested state pays it,
/// so two more words per map took the deep nesting rows of the issue 11
/// hostile-bytes budget from 15.8x to 21.2x (over its 16x), and the third
/// word of a vector's capacity kept the shared-path leaves at 16.7x. The
/// summaries live in the chunked box.
#[test]
#[cfg(target_pointer_width = "64")]
fn a_dot_map_is_two_words() {
    assert_eq!(std::mem::size_of::<SortedMap<u64, u64>>(), 16);
    assert_eq!(
        std::mem::size_of::<crate::store::DotMap<u64, crate::store::DotSet>>(),
        16
    );
}

/// A flat map computes its summaries from its entries; one that fills
/// up and becomes chunked, then flat again, keeps them right.
#[test]
fn summaries_survive_the_change_of_shape() {
    let mut m: SortedMap<u32, u64> = SortedMap::default();
    for k in 0..=CHUNK as u32 {
        m.insert(k, u64::from(k) + 1);
        assert_eq!((m.weight(), m.top()), (u64::from(k) + 1, u64::from(k) + 1));
    }
    assert!(matches!(m.repr, Repr::Chunked(_)));
    m.modify(&3, |v| *v = 1000, |_| true);
    assert_eq!((m.weight(), m.top()), (CHUNK as u64 + 1, 1000));
    m.retain(|k, _| *k < 10);
    assert!(matches!(m.repr, Repr::Flat(_)));
    assert_eq!((m.weight(), m.top()), (10, 1000));
    m.remove(&3);
    assert_eq!((m.weight(), m.top()), (9, 10));
}

#[test]
fn from_iter_keeps_the_last_value_of_a_key() {
    let m: SortedMap<u8, u8> = [(2, 1), (1, 1), (2, 9)].into_iter().collect();
    assert_eq!(m.get(&2), Some(&9));
    assert_eq!(m.len(), 2);
}

/// `search` (probes in parallel) finds what `binary_search` finds, for
/// every key in and around maps of every size up to past a chunk.
#[test]
fn wide_search_agrees_with_binary_search() {
    for len in 0..3 * CHUNK {
        let items: Vec<u32> = (0..len as u32).map(|i| 3 * i + 1).collect();
        for key in 0..3 * len as u32 + 3 {
            assert_eq!(
                search(&items, |k| k, &key),
                items.binary_search(&key),
                "len {len}, key {key}"
            );
        }
    }
}

/// Random inserts leave at most one capacity step of room in a chunk (issue
/// 14: halves of a split at full capacity left a quarter of each chunk
/// empty, 42.4 heap bytes per element of an `OrSet<u64>` over the 40 of
/// its target).
#[test]
fn random_inserts_leave_at_most_a_step_of_room() {
    let mut m = SortedMap::default();
    let mut x = 1u64;
    for _ in 0..50 * CHUNK {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        m.insert(x >> 16, ());
    }
    assert!(vecs(&m).len() > 50);
    for c in vecs(&m) {
        assert!(
            c.capacity() - c.len() <= STEP,
            "{} of {}",
            c.len(),
            c.capacity()
        );
    }
    let (room, len): (usize, usize) = vecs(&m).iter().fold((0, 0), |(r, l), c| {
        (r + c.capacity() - c.len(), l + c.len())
    });
    assert!(room * 8 < len, "{room} empty slots for {len} entries");
}

thread_local! {
    /// How many times a [`Counted`] leaf was asked for its summary.
    static LEAF_VISITS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A leaf value that counts the visits of summary walks.
#[derive(Clone, Debug)]
struct Counted;

impl Summary for Counted {
    fn weight(&self) -> u64 {
        LEAF_VISITS.with(|c| c.set(c.get() + 1));
        1
    }
    fn top(&self) -> u64 {
        LEAF_VISITS.with(|c| c.set(c.get() + 1));
        1
    }
    fn summary(&self) -> (u64, u64) {
        LEAF_VISITS.with(|c| c.set(c.get() + 1));
        (1, 1)
    }
    fn each_dot(&self, _: &mut impl FnMut(Dot)) {}
    fn holds(&self, _: Dot) -> bool {
        false
    }
}

/// A map nested as a value, summarised as `DotMap` summarises its map.
#[derive(Clone, Debug)]
enum Level {
    Leaf(Counted),
    Map(SortedMap<u8, Level>),
}

impl Summary for Level {
    fn weight(&self) -> u64 {
        self.summary().0
    }
    fn top(&self) -> u64 {
        self.summary().1
    }
    fn summary(&self) -> (u64, u64) {
        match self {
            Level::Leaf(c) => c.summary(),
            Level::Map(m) => m.summary(),
        }
    }
    fn each_dot(&self, _: &mut impl FnMut(Dot)) {}
    fn holds(&self, _: Dot) -> bool {
        false
    }
}

/// Regression: a flat map's summary asked each value for its weight and
/// then for its top, and a nested flat map answered each by walking its own
/// values, so a path of `d` nested small maps visited its leaf `2^(d-1)`
/// times. One summary walk visits each leaf once, whatever the depth.
#[test]
fn nested_flat_maps_are_summarised_in_one_walk() {
    let mut level = Level::Leaf(Counted);
    for depth in 0..12u8 {
        let mut m = SortedMap::default();
        m.insert(depth, level);
        m.insert(depth + 100, Level::Leaf(Counted));
        level = Level::Map(m);
    }
    let Level::Map(top) = &level else {
        unreachable!("built as a map")
    };
    LEAF_VISITS.with(|c| c.set(0));
    assert_eq!(top.summary(), (13, 1));
    assert_eq!(top.weight(), 13);
    assert_eq!(
        LEAF_VISITS.with(|c| c.get()),
        2 * 13,
        "each leaf once per walk"
    );
}
