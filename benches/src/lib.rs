//! Shared workload builders for the criterion benches, and the README's
//! example run as a doctest (so the README cannot drift from the code).
//!
//! Every workload exists twice, once on this workspace's types and once on
//! `crdts` 7.3.2, so that each benchmark row has a ratio measured in the
//! same run on the same machine.

use crdt_core::ReplicaId;
use crdt_types::{OrMap, OrSet, Text};

pub mod counters;

#[doc = include_str!("../../README.md")]
pub mod readme {}

/// Set sizes used by the OR-set benchmarks.
pub const SET_SIZE: u64 = 100_000;

/// `n` distinct keys: `0..n` when `sequential`, else a fixed pseudo-random
/// permutation-like spread over all of `u64`.
#[must_use]
pub fn keys(n: u64, sequential: bool) -> Vec<u64> {
    if sequential {
        (0..n).collect()
    } else {
        (0..n)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect()
    }
}

/// A text of `n` characters typed by replica 1, at the end but for one
/// character in 20 typed at a pseudo-random place (a fixed-seed LCG):
/// about 14k runs at 100k characters, a document shaped by editing rather
/// than one paste.
#[must_use]
pub fn typed_text(n: u64) -> Text {
    let mut text = Text::new();
    let mut x = 7u64;
    for i in 0..n {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let at = if i % 20 == 0 {
            (x >> 33) as usize % (text.len() + 1)
        } else {
            text.len()
        };
        let _ = text.insert_str(replica(1), at, "a");
    }
    text
}

/// `n` distinct keys scrambled over all of `u64` by a fixed-seed mixer
/// (`splitmix64`'s finaliser, a bijection, on `seed + i`): keys shaped like a
/// user's hashed ids, with no order the benchmark could exploit.
#[must_use]
pub fn scrambled_keys(n: u64) -> Vec<u64> {
    const SEED: u64 = 0x5eed_1234_abcd_0042;
    (0..n)
        .map(|i| {
            let mut z = SEED.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
        .collect()
}

/// A replica id for benchmark replica number `i` (stable across runs).
#[must_use]
pub fn replica(i: u128) -> ReplicaId {
    ReplicaId::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0000 + i)
}

/// An OR-set holding `keys`, all inserted by replica `r`.
#[must_use]
pub fn or_set(keys: &[u64], r: ReplicaId) -> OrSet<u64> {
    let mut s = OrSet::new();
    for &k in keys {
        let _ = s.insert(r, k);
    }
    s
}

/// An OR-map of OR-sets: `tags` elements (`doc ^ tag`) under each of
/// `docs`, inserted by replica `r` one at a time, round-robin over the
/// documents (so every inner set grows one element at a time).
#[must_use]
pub fn map_of_sets(docs: &[u64], tags: u64, r: ReplicaId) -> OrMap<u64, OrSet<u64>> {
    let mut m = OrMap::new();
    for t in 0..tags {
        for &d in docs {
            let _ = m.update(d, |s: &mut OrSet<u64>| s.insert(r, d ^ t));
        }
    }
    m
}

/// The `crdts` 7.3.2 counterparts of the workloads.
pub mod theirs {
    use crdts::{CmRDT, Orswot};

    /// An `Orswot` holding `keys`, added one operation at a time by `actor`.
    #[must_use]
    pub fn or_set(keys: &[u64], actor: u128) -> Orswot<u64, u128> {
        let mut s = Orswot::new();
        for &k in keys {
            insert(&mut s, actor, k);
        }
        s
    }

    /// One add, the way `crdts` documents it (derive the context, apply).
    pub fn insert(s: &mut Orswot<u64, u128>, actor: u128, k: u64) {
        let op = s.add(k, s.read_ctx().derive_add_ctx(actor));
        s.apply(op);
    }

    /// An OR-map of `Orswot`s: `tags` elements (`doc ^ tag`) under each of
    /// `docs`, added round-robin over the documents by `actor`.
    #[must_use]
    pub fn map_of_sets(
        docs: &[u64],
        tags: u64,
        actor: u128,
    ) -> crdts::Map<u64, Orswot<u64, u128>, u128> {
        let mut m = crdts::Map::new();
        for t in 0..tags {
            for &d in docs {
                let ctx = m.read_ctx().derive_add_ctx(actor);
                let op = m.update(d, ctx, |s: &Orswot<u64, u128>, ctx| s.add(d ^ t, ctx));
                m.apply(op);
            }
        }
        m
    }

    /// One remove, the way `crdts` documents it.
    pub fn remove(s: &mut Orswot<u64, u128>, k: u64) {
        let op = s.rm(k, s.contains(&k).derive_rm_ctx());
        s.apply(op);
    }
}
