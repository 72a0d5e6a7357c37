//! `arbitrary::Arbitrary` for the core causality types (feature
//! `arbitrary`), so cargo-fuzz targets can take them as input.
//!
//! Like the quickcheck generators (feature `quickcheck`), these draw from
//! small pools — replicas 1 to 4, counters 1 to 8 — so that independently
//! generated values overlap and clash often, which is where join bugs live.
//! Version vectors and contexts are built by applying an arbitrary sequence
//! of their own operations (at most [`MAX_OPS`]), so every value is one a
//! replica can reach and one input stays fast.
//!
//! ```
//! use arbitrary::{Arbitrary, Unstructured};
//! use crdt_core::{CausalContext, Dot};
//! let bytes = [7u8, 1, 200, 3, 9, 4, 4, 0, 81, 17, 2, 6];
//! let mut u = Unstructured::new(&bytes);
//! let dot = Dot::arbitrary(&mut u).unwrap();
//! assert!((1..=4).contains(&dot.replica.as_u128()) && dot.counter() <= 8);
//! let ctx = CausalContext::arbitrary(&mut u).unwrap();
//! assert!(ctx.len() <= 8 * 4);
//! ```

use std::ops::ControlFlow;

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::{CausalContext, Dot, Lattice, ReplicaId, VersionVector};

/// The most operations one generated value is built from.
pub const MAX_OPS: u32 = 32;

/// The highest counter a generated dot carries.
const MAX_COUNTER: u64 = 8;

impl<'a> Arbitrary<'a> for ReplicaId {
    /// One of the replicas 1 to 4.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(ReplicaId::from_u128(u128::from(u.int_in_range(1..=4u8)?)))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(1))
    }
}

impl<'a> Arbitrary<'a> for Dot {
    /// A dot of replica 1 to 4 with a counter from 1 to 8.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let replica = ReplicaId::arbitrary(u)?;
        let counter = u.int_in_range(1..=MAX_COUNTER)?;
        Ok(Dot::new(replica, counter).unwrap_or(Dot {
            replica,
            counter: std::num::NonZeroU64::MIN,
        }))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (2, Some(2))
    }
}

impl<'a> Arbitrary<'a> for VersionVector {
    /// Increments and observed dots of a few replicas, with the occasional
    /// join of a second vector built the same way.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut vv = VersionVector::new();
        let mut other = VersionVector::new();
        u.arbitrary_loop(None, Some(MAX_OPS), |u| {
            match u.int_in_range(0..=5u8)? {
                0..=2 => {
                    let _ = vv.increment(ReplicaId::arbitrary(u)?);
                }
                3 => vv.observe(Dot::arbitrary(u)?),
                4 => {
                    let _ = other.increment(ReplicaId::arbitrary(u)?);
                }
                _ => vv.join(&other),
            }
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(vv)
    }
}

impl<'a> Arbitrary<'a> for CausalContext {
    /// Minted dots (contiguous prefixes), received dots (gaps), received
    /// ranges, and the occasional join of a second context built the same way.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut ctx = CausalContext::new();
        let mut other = CausalContext::new();
        u.arbitrary_loop(None, Some(MAX_OPS), |u| {
            match u.int_in_range(0..=7u8)? {
                0..=2 => {
                    let _ = ctx.mint(ReplicaId::arbitrary(u)?);
                }
                3 | 4 => {
                    let _ = ctx.insert(Dot::arbitrary(u)?);
                }
                5 => {
                    let lo = u.int_in_range(1..=MAX_COUNTER)?;
                    let hi = u.int_in_range(lo..=MAX_COUNTER)?;
                    ctx.insert_range(ReplicaId::arbitrary(u)?, lo, hi);
                }
                6 => {
                    let _ = other.insert(Dot::arbitrary(u)?);
                }
                _ => ctx.join(&other),
            }
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(ctx)
    }
}

/// `len` deterministic pseudo-random bytes (xorshift) from `seed`: input
/// for `Arbitrary` in a plain `cargo test`, so the checks a fuzz target runs
/// can also run on stable over a fixed set of seeds, without a fuzzer.
///
/// ```
/// use arbitrary::{Arbitrary, Unstructured};
/// use crdt_core::fuzzing::seeded_bytes;
/// use crdt_core::{CausalContext, Lattice};
/// for seed in 0..100 {
///     let data = seeded_bytes(seed, 256);
///     let mut u = Unstructured::new(&data);
///     let (a, b) = (CausalContext::arbitrary(&mut u)?, CausalContext::arbitrary(&mut u)?);
///     assert_eq!(a.clone().joined(&b), b.joined(&a));
/// }
/// assert_eq!(seeded_bytes(7, 4), seeded_bytes(7, 4));
/// # Ok::<(), arbitrary::Error>(())
/// ```
#[must_use]
pub fn seeded_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_stay_in_the_small_pools() {
        for seed in 0..200 {
            let data = seeded_bytes(seed, 256);
            let mut u = Unstructured::new(&data);
            let vv = VersionVector::arbitrary(&mut u).unwrap();
            let ctx = CausalContext::arbitrary(&mut u).unwrap();
            assert!(
                vv.iter()
                    .all(|(r, n)| (1..=4).contains(&r.as_u128()) && n <= u64::from(2 * MAX_OPS))
            );
            assert!(ctx.iter().all(|d| (1..=4).contains(&d.replica.as_u128())));
            assert!(ctx.len() <= u64::from(4 * MAX_OPS));
        }
    }

    #[test]
    fn contexts_have_gaps_and_prefixes() {
        let (mut gaps, mut prefixes) = (0, 0);
        for seed in 0..200 {
            let data = seeded_bytes(seed, 256);
            let ctx = CausalContext::arbitrary(&mut Unstructured::new(&data)).unwrap();
            gaps += usize::from(ctx.has_gaps());
            prefixes += usize::from(!ctx.version_vector().is_empty());
        }
        assert!(
            gaps > 20 && prefixes > 20,
            "gaps {gaps}, prefixes {prefixes}"
        );
    }
}
