//! The counter and multi-value register workloads of the `user_shaped`
//! bench (issue 14), on both sides, shared with the `counters_profile`
//! example that counts their instructions under callgrind.

use std::hint::black_box;

use crdt_core::Lattice;
use crdt_types::{MvRegister, PnCounter};
use crdts::{CmRDT, CvRDT};

use crate::replica;

/// Replicas of the counter and register rows.
pub const REPLICAS: u128 = 16;

/// A PN-counter every one of the 16 replicas has counted on (up 3, down 1
/// each), on both sides.
#[must_use]
pub fn pn_counted_on() -> (PnCounter, crdts::PNCounter<u128>) {
    let mut ours = PnCounter::new();
    let mut theirs = crdts::PNCounter::<u128>::new();
    for r in 0..REPLICAS {
        let _ = ours.add(replica(r), 3);
        let _ = ours.add(replica(r), -1);
        theirs.apply(theirs.inc_many(replica(r).as_u128(), 3));
        theirs.apply(theirs.dec(replica(r).as_u128()));
    }
    (ours, theirs)
}

/// Step `i` of the increment row: replica `i % 16` adds -1 every third
/// step and +1 otherwise.
#[must_use]
#[inline]
pub fn pn_step(i: u64) -> (u128, i64) {
    (
        u128::from(i) % REPLICAS,
        if i.is_multiple_of(3) { -1 } else { 1 },
    )
}

/// One step of the increment row on `crdts` (an operation built and
/// applied, the way `crdts` documents it).
#[inline]
pub fn pn_step_theirs(x: &mut crdts::PNCounter<u128>, i: u64) {
    let (r, by) = pn_step(i);
    let actor = replica(r).as_u128();
    let op = if by < 0 { x.dec(actor) } else { x.inc(actor) };
    x.apply(std::hint::black_box(op));
}

/// Sixteen replicas that have gossiped: each knows every replica's counts,
/// more or less up to date (the merge row joins all sixteen).
#[must_use]
pub fn pn_gossiped() -> (Vec<PnCounter>, Vec<crdts::PNCounter<u128>>) {
    let count = |r: u128, w: u128| u64::try_from(10 + (r * 7 + w * 3) % 11).unwrap_or(1);
    let ours = (0..REPLICAS)
        .map(|r| {
            let mut x = PnCounter::new();
            for w in 0..REPLICAS {
                let _ = x.increment(replica(w), count(r, w));
                let _ = x.decrement(replica(w), count(w, r) / 2);
            }
            x
        })
        .collect();
    let theirs = (0..REPLICAS)
        .map(|r| {
            let mut x = crdts::PNCounter::new();
            for w in 0..REPLICAS {
                x.apply(x.inc_many(replica(w).as_u128(), count(r, w)));
                x.apply(x.dec_many(replica(w).as_u128(), count(w, r) / 2));
            }
            x
        })
        .collect();
    (ours, theirs)
}

/// Replica 0 writes, everyone sees it, then all sixteen write concurrently:
/// the sixteen registers (the merge row joins them).
#[must_use]
pub fn mv_concurrent() -> (Vec<MvRegister<u64>>, Vec<crdts::MVReg<u64, u128>>) {
    let mut base = MvRegister::new();
    let _ = base.write(replica(0), 0u64);
    let ours = (0..REPLICAS)
        .map(|r| {
            let mut x = base.clone();
            let _ = x.write(replica(r), 100 + r as u64);
            x
        })
        .collect();
    let mut tbase = crdts::MVReg::<u64, u128>::new();
    tbase.apply(tbase.write(0, tbase.read_ctx().derive_add_ctx(replica(0).as_u128())));
    let theirs = (0..REPLICAS)
        .map(|r| {
            let mut x = tbase.clone();
            let ctx = x.read_ctx().derive_add_ctx(replica(r).as_u128());
            x.apply(x.write(100 + r as u64, ctx));
            x
        })
        .collect();
    (ours, theirs)
}

/// Joins every state of `xs` into a bottom state (ours): the timed work of
/// the merge rows.
pub fn join_all<L: Lattice>(xs: &[L]) -> L {
    let mut acc = L::default();
    for x in xs {
        acc.join(black_box(x));
    }
    acc
}

/// Merges every state of `xs`, by value as `crdts` merges, into the first
/// (`crdts`): the timed work of the merge rows.
pub fn merge_all<T: CvRDT>(xs: Vec<T>) -> Option<T> {
    let mut all = xs.into_iter();
    let mut acc = all.next();
    if let Some(acc) = &mut acc {
        for x in all {
            acc.merge(black_box(x));
        }
    }
    acc
}
