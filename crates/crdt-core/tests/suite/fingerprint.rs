//! Fingerprints and projections: a dot forged with two contents, one copy
//! at each of two replicas, survives delta sync (`delta_for` drops the dot
//! each side has seen) but not a fingerprint comparison followed by the
//! exchange of projections, which reaches the full join.

use crate::common::{Key, Val};
use crdt_core::arbitrary::Replicas;
use crdt_core::{
    Causal, Dot, DotFun, DotMap, DotSet, DotStore, Fingerprint, InternedSerialize, Lattice,
    ReplicaId,
};
use quickcheck::quickcheck;

/// A store shape into which a forged dot can be put with one of two contents.
trait Forge: DotStore + InternedSerialize {
    fn forge(&mut self, dot: Dot, variant: u8);
}

impl Forge for DotSet {
    fn forge(&mut self, dot: Dot, _variant: u8) {
        self.insert(dot);
    }
}

impl Forge for DotFun<Val> {
    fn forge(&mut self, dot: Dot, variant: u8) {
        self.insert(dot, Val(variant));
    }
}

impl<S: Forge> Forge for DotMap<Key, S> {
    fn forge(&mut self, dot: Dot, variant: u8) {
        self.update(Key(variant), |s| s.forge(dot, variant));
    }
}

fn forged<S: Forge>(mut state: Causal<S>, dot: Dot, variant: u8) -> Causal<S> {
    let (store, ctx) = state.parts_mut();
    ctx.insert(dot);
    store.forge(dot, variant);
    state
}

/// The origins whose fingerprints say "same dots seen, different held".
fn mismatched(mine: &[Fingerprint], theirs: &[Fingerprint]) -> Vec<ReplicaId> {
    mine.iter()
        .filter(|m| {
            theirs
                .iter()
                .any(|t| t.replica == m.replica && t.seen == m.seen && t.live != m.live)
        })
        .map(|m| m.replica)
        .collect()
}

/// Delta sync both ways, then one fingerprint comparison and the exchange of
/// projections onto the mismatched origins: the result is the full join.
fn repair_reaches_the_full_join<S: Forge>(r: &Replicas<S>, counter: u8) -> bool {
    let forger = ReplicaId::from_u128(0xF0);
    let dot = Dot::new(forger, u64::from(counter) + 1).unwrap();
    let a = forged(r.states[0].clone(), dot, 1);
    let b = forged(r.states[1].clone(), dot, 2);
    let full = a.clone().joined(&b);
    // Delta sync: each gets what its context lacks; the forged dot is seen.
    let a1 = a.clone().joined(&b.delta_for(a.context()));
    let b1 = b.clone().joined(&a.delta_for(b.context()));
    let seed = u64::from(counter) * 0x9E37;
    let (fa, fb) = (a1.fingerprints(seed), b1.fingerprints(seed));
    let origins = mismatched(&fa, &fb);
    assert_eq!(
        origins,
        mismatched(&fb, &fa),
        "both sides see the same mismatch"
    );
    assert!(origins.iter().all(|o| *o == forger), "{origins:?}");
    let a2 = a1.clone().joined(&b1.project(&origins));
    let b2 = b1.clone().joined(&a1.project(&origins));
    a2 == full && b2 == full && a2.fingerprints(seed) == b2.fingerprints(seed)
}

quickcheck! {
    fn dot_set_repair_reaches_the_full_join(r: Replicas<DotSet>, c: u8) -> bool {
        repair_reaches_the_full_join(&r, c)
    }
    fn dot_fun_repair_reaches_the_full_join(r: Replicas<DotFun<Val>>, c: u8) -> bool {
        repair_reaches_the_full_join(&r, c)
    }
    fn dot_map_repair_reaches_the_full_join(r: Replicas<DotMap<Key, DotSet>>, c: u8) -> bool {
        repair_reaches_the_full_join(&r, c)
    }
    fn nested_map_repair_reaches_the_full_join(
        r: Replicas<DotMap<Key, DotMap<Key, DotFun<Val>>>>,
        c: u8
    ) -> bool {
        repair_reaches_the_full_join(&r, c)
    }

    /// Equal states have equal fingerprints; a projection is a valid state
    /// below the original.
    fn projections_are_valid_and_below(r: Replicas<DotMap<Key, DotMap<Key, DotFun<Val>>>>) -> bool {
        let x = &r.states[0];
        let origins: Vec<ReplicaId> = x.context().replicas().step_by(2).collect();
        let p = x.project(&origins);
        p.validate().is_ok()
            && p.leq(x)
            && p.context().replicas().all(|q| origins.contains(&q))
            && x.fingerprints(3) == x.clone().fingerprints(3)
    }

    /// The kernel's conflict check agrees with a brute-force search.
    fn conflict_is_found_whichever_side_is_smaller(r: Replicas<DotMap<Key, DotSet>>, c: u8) -> bool {
        let dot = Dot::new(ReplicaId::from_u128(0xF0), u64::from(c) + 1).unwrap();
        let (a, b) = (forged(r.states[0].clone(), dot, 1), forged(r.states[1].clone(), dot, 2));
        let overlap = a.context().intersection(b.context());
        a.store().conflict(b.store(), &overlap) == Some(dot)
            && b.store().conflict(a.store(), &overlap) == Some(dot)
            && r.states[0].store().conflict(r.states[1].store(), &r.states[0].context().intersection(r.states[1].context())).is_none()
    }
}

#[test]
fn delta_sync_alone_leaves_a_forged_dot_split() {
    let dot = Dot::new(ReplicaId::from_u128(0xF0), 1).unwrap();
    let a = forged(Causal::<DotMap<Key, DotSet>>::new(), dot, 1);
    let b = forged(Causal::<DotMap<Key, DotSet>>::new(), dot, 2);
    let a1 = a.clone().joined(&b.delta_for(a.context()));
    assert_eq!(a1, a, "the delta drops the dot a has seen");
    // The full join removes both entries: each side's context covers the
    // other's entry.
    assert!(a.clone().joined(&b).store().is_empty());
}

#[test]
fn a_large_map_checks_a_small_payload_without_scanning_itself() {
    // Correctness at scale of the lookup path (the timing is in `docs/measurements.md`).
    let me = ReplicaId::from_u128(1);
    let mut big: Causal<DotMap<u64, DotSet>> = Causal::new();
    for i in 0..50_000u64 {
        let dot = big.next_dot(me);
        let (store, ctx) = big.parts_mut();
        ctx.insert(dot);
        store.update(i, |s| {
            s.insert(dot);
        });
    }
    let dot = Dot::new(me, 777).unwrap(); // held under key 776
    let mut payload: Causal<DotMap<u64, DotSet>> = Causal::new();
    let (store, ctx) = payload.parts_mut();
    ctx.insert(dot);
    store.update(776, |s| {
        s.insert(dot);
    });
    let overlap = big.context().intersection(payload.context());
    assert_eq!(big.store().conflict(payload.store(), &overlap), None);
    let mut forged: Causal<DotMap<u64, DotSet>> = Causal::new();
    let (store, ctx) = forged.parts_mut();
    ctx.insert(dot);
    store.update(1_000_000, |s| {
        s.insert(dot);
    });
    assert_eq!(big.store().conflict(forged.store(), &overlap), Some(dot));
}
