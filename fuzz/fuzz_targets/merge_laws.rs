//! Merge laws on states built from arbitrary operation sequences on three
//! replicas: join is commutative, associative and idempotent; every
//! mutation's delta satisfies `m(x) == x ⊔ m_δ(x)`; and replicas synced by
//! deltas equal replicas synced by full states, at every step.
#![no_main]

use crdt_core::Lattice;
use crdt_fuzz::merge_laws::{MAX_OPS, Op};
use crdt_types::{MvRegister, OrMap, OrSet, PnCounter, ReplicaId};
use libfuzzer_sys::fuzz_target;

/// One replica's whole state: several types, so one trace exercises them all.
#[derive(Clone, Default, PartialEq, Debug)]
struct State {
    set: OrSet<u8>,
    map: OrMap<u8, OrSet<u8>>,
    mv: MvRegister<u8>,
    counter: PnCounter,
}

impl State {
    fn join(&mut self, other: &Self) {
        self.set.join(&other.set);
        self.map.join(&other.map);
        self.mv.join(&other.mv);
        self.counter.join(&other.counter);
    }

    fn joined(mut self, other: &Self) -> Self {
        self.join(other);
        self
    }
}

/// A replica kept twice: `full` syncs by whole states, `by_delta` only ever
/// joins deltas; `log` is the set of deltas it knows (its own and received),
/// as indices into the run's one list of deltas. A set, not a list: syncing
/// the same replicas again adds nothing, so an input costs time linear in
/// its length (appending whole logs once doubled them on every sync and ran
/// the target out of memory).
#[derive(Default)]
struct Replica {
    full: State,
    by_delta: State,
    log: std::collections::BTreeSet<usize>,
}

fn replica_id(i: u8) -> ReplicaId {
    ReplicaId::from_u128(u128::from(i % 3) + 1)
}

fuzz_target!(|ops: Vec<Op>| {
    let mut rs: Vec<Replica> = (0..3).map(|_| Replica::default()).collect();
    let mut deltas: Vec<State> = Vec::new();
    for op in ops.into_iter().take(MAX_OPS) {
        let (who, delta) = match op {
            Op::Sync(from, to) => {
                let (from, to) = (usize::from(from % 3), usize::from(to % 3));
                if from != to {
                    let state = rs[from].full.clone();
                    let news: Vec<usize> = rs[from].log.difference(&rs[to].log).copied().collect();
                    let target = &mut rs[to];
                    target.full.join(&state);
                    for d in news {
                        target.by_delta.join(&deltas[d]);
                        target.log.insert(d);
                    }
                    assert_eq!(
                        target.full, target.by_delta,
                        "delta sync diverged from state sync"
                    );
                }
                continue;
            }
            Op::Insert(r, x) => (
                r,
                mutate(&mut rs, r, |s, id| State {
                    set: s.set.insert(id, x % 8),
                    ..State::default()
                }),
            ),
            Op::Remove(r, x) => (
                r,
                mutate(&mut rs, r, |s, _| State {
                    set: s.set.remove(&(x % 8)),
                    ..State::default()
                }),
            ),
            Op::Clear(r) => (
                r,
                mutate(&mut rs, r, |s, _| State {
                    set: s.set.clear(),
                    ..State::default()
                }),
            ),
            Op::MapInsert(r, k, x) => (
                r,
                mutate(&mut rs, r, |s, id| State {
                    map: s.map.update(k % 4, |v| v.insert(id, x % 4)),
                    ..State::default()
                }),
            ),
            Op::MapRemoveKey(r, k) => (
                r,
                mutate(&mut rs, r, |s, _| State {
                    map: s.map.remove(&(k % 4)),
                    ..State::default()
                }),
            ),
            Op::MvWrite(r, v) => (
                r,
                mutate(&mut rs, r, |s, id| State {
                    mv: s.mv.write(id, v),
                    ..State::default()
                }),
            ),
            Op::Count(r, n) => (
                r,
                mutate(&mut rs, r, |s, id| State {
                    counter: s.counter.add(id, i64::from(n)),
                    ..State::default()
                }),
            ),
        };
        let replica = &mut rs[usize::from(who % 3)];
        replica.by_delta.join(&delta);
        replica.log.insert(deltas.len());
        deltas.push(delta);
        assert_eq!(
            replica.full, replica.by_delta,
            "a delta differs from its mutation"
        );
    }

    let (a, b, c) = (&rs[0].full, &rs[1].full, &rs[2].full);
    assert_eq!(
        a.clone().joined(b),
        b.clone().joined(a),
        "join is not commutative"
    );
    assert_eq!(
        a.clone().joined(b).joined(c),
        a.clone().joined(&b.clone().joined(c)),
        "join is not associative"
    );
    assert_eq!(a.clone().joined(a), *a, "join is not idempotent");

    // A final full exchange leaves every replica equal.
    let all = a.clone().joined(b).joined(c);
    for r in &mut rs {
        r.full.join(&all);
        assert_eq!(r.full, all);
    }
});

/// Applies a mutation to replica `r`'s full state and checks the delta law.
fn mutate(rs: &mut [Replica], r: u8, m: impl FnOnce(&mut State, ReplicaId) -> State) -> State {
    let replica = &mut rs[usize::from(r % 3)];
    let before = replica.full.clone();
    let delta = m(&mut replica.full, replica_id(r));
    assert_eq!(before.joined(&delta), replica.full, "m(x) != x ⊔ m_δ(x)");
    delta
}
