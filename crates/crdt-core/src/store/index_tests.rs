//! The dot index of a large map (issue 14): a remote remove joined through
//! the index gives exactly the walk's answer, with the index kept alive
//! across inserts, replacements, local removes, chunk splits and merges,
//! and no peer's counters size it.

use quickcheck::{Arbitrary, Gen, QuickCheck};

use super::sorted_map::WALK_ONLY;
use crate::{Causal, CausalContext, Decompose, Dot, DotMap, DotSet, DotStore, Lattice, ReplicaId};

/// A value of the map under test, given a new dot by an add.
trait Value: DotStore {
    fn put(&mut self, dot: Dot);
}

/// An observed-remove set: an add replaces the element's dots.
impl Value for DotSet {
    fn put(&mut self, dot: Dot) {
        *self = DotSet::from(dot);
    }
}

/// A map of sets: an add replaces one of three inner elements' dots.
impl Value for DotMap<u8, DotSet> {
    fn put(&mut self, dot: Dot) {
        self.update((dot.counter() % 3) as u8, |s| *s = DotSet::from(dot));
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Replica `r % 3` adds key `k`; through `insert` if the flag is set,
    /// else through `update`.
    Add(u8, u16, bool),
    /// A local remove of key `k`.
    Remove(u16),
    /// A remote remove of the dots these keys hold, and of one dot removed
    /// earlier (stale) if the flag is set.
    RemoteRemove(Vec<u16>, bool),
    /// A remote remove of these keys plus an add of another, in one delta.
    RemoveAndAdd(Vec<u16>, u16),
}

fn small_keys(g: &mut Gen) -> Vec<u16> {
    let n = usize::arbitrary(g) % 4 + 1;
    (0..n).map(|_| u16::arbitrary(g) % KEYS).collect()
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Self {
        let k = u16::arbitrary(g) % KEYS;
        match u8::arbitrary(g) % 8 {
            0..=2 => Op::Add(u8::arbitrary(g), k, bool::arbitrary(g)),
            3 => Op::Remove(k),
            4 => Op::RemoveAndAdd(small_keys(g), k),
            _ => Op::RemoteRemove(small_keys(g), bool::arbitrary(g)),
        }
    }
}

/// Keys are drawn from `0..KEYS` and scrambled; the first `FILL` are added
/// before the operations (a chunked map of several chunks).
const KEYS: u16 = 1200;
const FILL: u16 = 900;

fn scrambled(k: u16) -> u64 {
    u64::from(k).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn replica(r: u8) -> ReplicaId {
    ReplicaId::from_u128(u128::from(r % 3) + 1)
}

fn add<S: Value>(s: &mut Causal<DotMap<u64, S>>, r: ReplicaId, k: u16, insert: bool) {
    let dot = s.next_dot(r);
    let (store, ctx) = s.parts_mut();
    ctx.insert(dot);
    let key = scrambled(k);
    if insert {
        let mut v = store.get(&key).cloned().unwrap_or_default();
        v.put(dot);
        store.insert(key, v);
    } else {
        store.update(key, |v| v.put(dot));
    }
}

/// The remove delta of the dots held under `keys`, plus `extra`.
fn remove_delta<S: Value>(
    s: &Causal<DotMap<u64, S>>,
    keys: &[u16],
    extra: Option<Dot>,
) -> CausalContext {
    let mut ctx: CausalContext = keys
        .iter()
        .filter_map(|k| s.store().get(&scrambled(*k)))
        .flat_map(|v| v.dots().collect::<Vec<_>>())
        .collect();
    ctx.extend(extra);
    ctx
}

/// Joins `delta` into `indexed` (index allowed), into `walked` (walk
/// only) and, by value, into `owned` ([`DotStore::merge_owned`]).
fn join_all<S: Value>(
    [indexed, walked, owned]: [&mut Causal<DotMap<u64, S>>; 3],
    delta: &Causal<DotMap<u64, S>>,
) {
    indexed.join(delta);
    WALK_ONLY.set(true);
    walked.join(delta);
    WALK_ONLY.set(false);
    owned.join_owned(delta.clone());
}

/// Whether the part of `delta` that `state` lacks (what the sync engine
/// buffers before the join, [`Decompose::into_delta_from`]) is the same
/// through the index as by the walk, and the dots looked up are exactly
/// those held; also whether they were looked up (the index answered).
fn novel_part_equals_walk<S: Value>(
    state: &Causal<DotMap<u64, S>>,
    delta: &Causal<DotMap<u64, S>>,
) -> (bool, bool) {
    let looked_up = state.store().held_of(delta.context());
    let held: CausalContext = state
        .store()
        .dots()
        .filter(|d| delta.context().contains(*d))
        .collect();
    let novel = delta.clone().into_delta_from(state);
    WALK_ONLY.set(true);
    let walked = delta.clone().into_delta_from(state);
    let declined = state.store().held_of(delta.context()).is_none();
    WALK_ONLY.set(false);
    let exact = looked_up.as_ref().is_none_or(|h| *h == held);
    (novel == walked && declined && exact, looked_up.is_some())
}

/// Runs `ops` on three copies of a filled state, one joining remote removes
/// through the index, one by the walk, one by value; true if they stay
/// equal and valid, and if the novel part of each remote remove is the
/// walk's ([`novel_part_equals_walk`]).
/// Also returns whether the index was alive after some remote remove, and
/// whether it answered for some novel part.
fn indexed_equals_walk<S: Value>(ops: &[Op]) -> (bool, bool, bool) {
    let mut a: Causal<DotMap<u64, S>> = Causal::new();
    for k in 0..FILL {
        add(&mut a, replica(0), k, false);
    }
    let mut b = a.clone();
    let mut c = a.clone();
    let mut removed: Vec<Dot> = Vec::new();
    let mut seen_index = false;
    let mut looked_up = false;
    for op in ops {
        match op {
            Op::Add(r, k, insert) => {
                add(&mut a, replica(*r), *k, *insert);
                add(&mut b, replica(*r), *k, *insert);
                add(&mut c, replica(*r), *k, *insert);
            }
            Op::Remove(k) => {
                if let Some(v) = a.parts_mut().0.remove(&scrambled(*k)) {
                    removed.extend(v.dots());
                }
                b.parts_mut().0.remove(&scrambled(*k));
                c.parts_mut().0.remove(&scrambled(*k));
            }
            Op::RemoteRemove(keys, stale) => {
                let extra = removed.last().copied().filter(|_| *stale);
                let ctx = remove_delta(&a, keys, extra);
                removed.extend(ctx.iter());
                let delta = Causal::from_parts_unchecked(DotMap::new(), ctx);
                let (same, answered) = novel_part_equals_walk(&a, &delta);
                if !same {
                    return (false, seen_index, looked_up);
                }
                looked_up |= answered;
                join_all([&mut a, &mut b, &mut c], &delta);
                seen_index |= a.store().is_indexed();
            }
            Op::RemoveAndAdd(keys, k) => {
                let mut ctx = remove_delta(&a, keys, None);
                removed.extend(ctx.iter());
                let dot = a.context().next_dot(replica(2));
                ctx.insert(dot);
                let mut v = S::default();
                v.put(dot);
                let store = DotMap::singleton(scrambled(*k), v);
                let delta = Causal::from_parts_unchecked(store, ctx);
                let (same, answered) = novel_part_equals_walk(&a, &delta);
                if !same {
                    return (false, seen_index, looked_up);
                }
                looked_up |= answered;
                join_all([&mut a, &mut b, &mut c], &delta);
                seen_index |= a.store().is_indexed();
            }
        }
        if a != b || a != c || a.validate().is_err() {
            return (false, seen_index, looked_up);
        }
    }
    (true, seen_index, looked_up)
}

/// Runs [`indexed_equals_walk`] over `tests` random op sequences with
/// values of type `S`.
fn indexed_equals_walk_holds<S: Value>(tests: u64) {
    fn prop<S: Value>(ops: Vec<Op>) -> bool {
        indexed_equals_walk::<S>(&ops).0
    }
    QuickCheck::new()
        .tests(tests)
        .rng(Gen::new(120))
        .quickcheck(prop::<S> as fn(Vec<Op>) -> bool);
}

#[test]
fn indexed_remove_join_equals_the_walk_for_an_or_set() {
    indexed_equals_walk_holds::<DotSet>(60);
}

#[test]
fn indexed_remove_join_equals_the_walk_for_a_map_of_sets() {
    indexed_equals_walk_holds::<DotMap<u8, DotSet>>(40);
}

/// A fixed run through splits (adds of new keys), merges (local removes)
/// and remote removes, with the index alive throughout.
#[test]
fn the_index_stays_alive_through_splits_and_merges() {
    let mut ops = vec![Op::RemoteRemove(vec![5], false)];
    for k in FILL..KEYS {
        ops.push(Op::Add(1, k, k % 2 == 0));
        if k % 7 == 0 {
            ops.push(Op::RemoteRemove(vec![k - FILL, k], true));
        }
    }
    // Three keys in four removed: chunks shrink below a quarter and merge.
    for k in (0..FILL).filter(|k| k % 4 != 0) {
        ops.push(Op::Remove(k));
        if k % 9 == 0 {
            ops.push(Op::RemoteRemove(vec![k / 2 * 4, k * 2 % FILL], true));
        }
    }
    // The survivors, moved by the merges, removed remotely.
    for k in (0..FILL).step_by(8) {
        ops.push(Op::RemoteRemove(vec![k], false));
    }
    for values_are_sets in [true, false] {
        let (equal, indexed, looked_up) = if values_are_sets {
            indexed_equals_walk::<DotSet>(&ops)
        } else {
            indexed_equals_walk::<DotMap<u8, DotSet>>(&ops)
        };
        assert!(equal);
        assert!(indexed);
        // The novel part of a remove was found by lookups, not a walk.
        assert!(looked_up);
    }
    let mut a: Causal<DotMap<u64, DotSet>> = Causal::new();
    for k in 0..FILL {
        add(&mut a, replica(0), k, false);
    }
    let delta = Causal::from_parts_unchecked(DotMap::new(), remove_delta(&a, &[1], None));
    a.join(&delta);
    assert!(a.store().is_indexed());
    assert!(!a.store().contains_key(&scrambled(1)));
    // A clone drops the index; equality ignores it.
    let copy = a.clone();
    assert!(!copy.store().is_indexed());
    assert_eq!(copy, a);
}

/// A peer's sparse counter, (B, 2^40) next to (B, 1), never sizes the
/// index: it is not built, or dropped once such a dot arrives, and the
/// join stays the walk's.
#[test]
fn a_hostile_sparse_counter_does_not_allocate_the_index() {
    let far = Dot::new(replica(1), 1 << 40).unwrap();
    let near = Dot::new(replica(1), 1).unwrap();
    let fill = || {
        let mut a: Causal<DotMap<u64, DotSet>> = Causal::new();
        for k in 0..FILL {
            add(&mut a, replica(0), k, false);
        }
        a
    };
    // Both dots held before the first remove: never built.
    let mut a = fill();
    for (k, dot) in [(FILL, near), (FILL + 1, far)] {
        let delta = Causal::from_parts_unchecked(
            DotMap::singleton(scrambled(k), DotSet::from(dot)),
            dot.into(),
        );
        a.join(&delta);
    }
    let (mut walked, mut owned) = (a.clone(), a.clone());
    let delta = Causal::from_parts_unchecked(DotMap::new(), remove_delta(&a, &[3], None));
    join_all([&mut a, &mut walked, &mut owned], &delta);
    assert!(!a.store().is_indexed());
    assert_eq!(a, walked);
    assert_eq!(a, owned);
    // Built first, then the far dot arrives: dropped.
    let mut a = fill();
    let delta = Causal::from_parts_unchecked(
        DotMap::singleton(scrambled(FILL), DotSet::from(near)),
        near.into(),
    );
    a.join(&delta);
    let remove = Causal::from_parts_unchecked(DotMap::new(), remove_delta(&a, &[3], None));
    a.join(&remove);
    assert!(a.store().is_indexed());
    let delta = Causal::from_parts_unchecked(
        DotMap::singleton(scrambled(FILL + 1), DotSet::from(far)),
        far.into(),
    );
    a.join(&delta);
    assert!(!a.store().is_indexed());
    assert!(a.store().contains_key(&scrambled(FILL + 1)));
}
