//! Digests for every type, and for structs of replicated fields.
//!
//! A digest is what a replica sends to say "this is what I have seen; send
//! me what I lack" ([`crate::Message::Digest`]). On the wire it is always a
//! [`CausalContext`]: for a causal type it *is* the state's context; the
//! other types write their summary as one, over replica ids derived from
//! the real ones with [`tag`]:
//!
//! | type | digest |
//! |---|---|
//! | causal types (`OrSet`, `OrMap`, `MvRegister`, ...) | the causal context |
//! | `GCounter`, `VersionVector` | per replica `r`, the range `1..=count(r)` |
//! | `PnCounter` | the increments as above, the decrements under `tag(r, NEGATIVE)` |
//! | `LwwRegister` | the write's timestamp: `1..=wall_ms + 1` under `tag(r, WALL)` and `1..=logical + 1` under `tag(r, LOGICAL)`, `r` the writer |
//! | `GSet` | a random salt, and one 64-bit keyed fingerprint per element |
//! | a `#[derive(Crdt)]` struct | each field's digest, its ids tagged by the field's index ([`nest`], [`field`]) |
//!
//! Every one of them can be *coarsened* by the engine (ranges dropped so the
//! digest fits a message): a digest that claims less than was seen only
//! makes the answer larger, never incomplete.
//!
//! Design note: the digest stays a `CausalContext` rather than becoming an
//! associated type of [`crate::Replicated`]. Context: the wire format, the
//! coarsening of digests over the message limit and the engine's checks of
//! minted dots are all written against contexts, and the format-2 test
//! vectors must not change. Options: a `type Digest` per type (a new wire
//! format and a generic engine), or encoding each summary as a context over
//! derived ids. Choice: the encoding; tagging is a bijection per tag on the
//! 128-bit ids, so a composite digest splits back into its fields' digests
//! exactly, except for ids that collide by construction across fields, which
//! random 128-bit ids do with negligible probability (a peer that crafts such
//! ids can only hide its own writes from itself). A `GSet` fingerprint
//! collision (probability about `n² / 2^65` for `n` elements, and re-drawn
//! with a fresh salt on every digest) leaves one element to the next delta or
//! digest exchange.

use std::hash::Hasher;

use crdt_core::HybridTimestamp;
/// Re-exported for implementations of [`crate::Replicated`] (and the code
/// `#[derive(Crdt)]` generates with `#[crdt(sync)]`).
pub use crdt_core::{CausalContext, Dot, InvalidState, ReplicaId};
use crdt_types::{GCounter, GSet, LwwRegister, PnCounter};
use serde::Serialize;

/// The tag of a `PnCounter`'s decrements.
pub const NEGATIVE: u64 = 1;
/// The tag of an `LwwRegister` timestamp's wall-clock part.
pub const WALL: u64 = 2;
/// The tag of an `LwwRegister` timestamp's logical part.
pub const LOGICAL: u64 = 3;
/// The tag of a `GSet` digest's salt.
pub const SALT: u64 = 4;
/// The tag of a `GSet` digest's fingerprints.
pub const FINGERPRINT: u64 = 5;
/// Field `i` of a composite is tagged `FIELD + i`.
pub const FIELD: u64 = 1 << 32;

const M1: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835;
const M2: u128 = 0xc2b2_ae3d_27d4_eb4f_1656_67b1_9e37_79f9;
const M1_INV: u128 = inverse(M1);
const M2_INV: u128 = inverse(M2);

/// The inverse of an odd `m` modulo 2^128 (Newton's iteration doubles the
/// correct low bits each step: 3, 6, 12, ..., 192).
const fn inverse(m: u128) -> u128 {
    let mut y = m;
    let mut i = 0;
    while i < 7 {
        y = y.wrapping_mul(2u128.wrapping_sub(m.wrapping_mul(y)));
        i += 1;
    }
    y
}

/// A 128-bit key per tag (splitmix64 twice).
fn key(tag: u64) -> u128 {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (u128::from(mix(tag)) << 64) | u128::from(mix(!tag))
}

/// The id `replica` stands for under `tag`: a bijection of the 128-bit ids
/// for each tag (undone by [`untag`]), mixing every bit, so ids tagged
/// differently do not collide unless built to.
///
/// ```
/// use crdt_core::ReplicaId;
/// use crdt_sync::digest::{tag, untag};
/// let a = ReplicaId::from_u128(1);
/// assert_ne!(tag(a, 7), a);
/// assert_ne!(tag(a, 7), tag(a, 8));
/// assert_eq!(untag(tag(a, 7), 7), a);
/// ```
#[must_use]
pub fn tag(replica: ReplicaId, tag: u64) -> ReplicaId {
    let k = key(tag);
    let x = (replica.as_u128() ^ k).wrapping_mul(M1);
    let x = (x ^ (x >> 67)).wrapping_mul(M2);
    ReplicaId::from_u128(x ^ k.rotate_left(29))
}

/// The id that [`tag`] turned into `tagged`.
#[must_use]
pub fn untag(tagged: ReplicaId, tag: u64) -> ReplicaId {
    let k = key(tag);
    let x = (tagged.as_u128() ^ k.rotate_left(29)).wrapping_mul(M2_INV);
    let x = (x ^ (x >> 67)).wrapping_mul(M1_INV);
    ReplicaId::from_u128(x ^ k)
}

/// Adds `part` to `into` with every id tagged by `tag`.
pub fn insert_tagged(into: &mut CausalContext, part: &CausalContext, tag_with: u64) {
    insert_sorted(
        into,
        part.ranges().map(|(r, lo, hi)| (tag(r, tag_with), lo, hi)),
    );
}

/// Every range of `tagged` with its id untagged by `tag`.
#[must_use]
pub fn untagged(tagged: &CausalContext, tag_with: u64) -> CausalContext {
    let mut out = CausalContext::new();
    insert_sorted(
        &mut out,
        tagged
            .ranges()
            .map(|(r, lo, hi)| (untag(r, tag_with), lo, hi)),
    );
    out
}

/// Inserts ranges in id order, so that building a context from a peer's
/// digest of `n` ranges costs `O(n log n)` whatever order the (re)tagged
/// ids fall in (inserting them unsorted would shift the context's entries
/// once per new id: quadratic in a hostile digest of many ids).
fn insert_sorted(into: &mut CausalContext, ranges: impl Iterator<Item = (ReplicaId, u64, u64)>) {
    let mut ranges: Vec<(ReplicaId, u64, u64)> = ranges.collect();
    ranges.sort_unstable();
    for (r, lo, hi) in ranges {
        into.insert_range(r, lo, hi);
    }
}

/// Adds the digest `part` of field `index` of a composite to its digest
/// `into`.
///
/// ```
/// use crdt_core::{CausalContext, Dot, ReplicaId};
/// use crdt_sync::digest::{field, nest};
/// let a = ReplicaId::from_u128(1);
/// let (mut likes, mut tags) = (CausalContext::new(), CausalContext::new());
/// likes.insert_range(a, 1, 5);
/// tags.insert_range(a, 1, 2);
/// let mut post = CausalContext::new();
/// nest(&mut post, &likes, 0);
/// nest(&mut post, &tags, 1);
/// // Each field reads its own digest back (other fields' ids are noise
/// // that names no real replica).
/// assert_eq!(field(&post, 0).max(a), 5);
/// assert_eq!(field(&post, 1).max(a), 2);
/// ```
pub fn nest(into: &mut CausalContext, part: &CausalContext, index: u32) {
    insert_tagged(into, part, FIELD + u64::from(index));
}

/// The digest of field `index` within the composite digest `digest`: every
/// range untagged for that field. Ranges of other fields come out under ids
/// that no replica has (unless built to collide), so they change nothing in
/// an answer.
#[must_use]
pub fn field(digest: &CausalContext, index: u32) -> CausalContext {
    untagged(digest, FIELD + u64::from(index))
}

/// `dot`, a dot of field `index`, as a dot of the composite (its replica
/// tagged as [`nest`] tags it).
#[must_use]
pub fn nest_dot(dot: Dot, index: u32) -> Option<Dot> {
    Dot::new(tag(dot.replica, FIELD + u64::from(index)), dot.counter())
}

/// Whether `id`, an id of field `index`'s digest as tagged by [`nest`], is
/// one `me` writes under according to `mints_as` (the field type's
/// [`crate::Replicated::mints_as`]).
#[must_use]
pub fn field_mints_as(
    me: ReplicaId,
    id: ReplicaId,
    index: u32,
    mints_as: fn(ReplicaId, ReplicaId) -> bool,
) -> bool {
    mints_as(me, untag(id, FIELD + u64::from(index)))
}

/// The digest of a grow-only counter: `1..=count` per replica, ids tagged
/// by `tag_with` unless `None`.
pub(crate) fn counts(into: &mut CausalContext, counts: &GCounter, tag_with: Option<u64>) {
    for (r, n) in counts.iter() {
        let id = tag_with.map_or(r, |t| tag(r, t));
        into.insert_range(id, 1, n);
    }
}

/// The entries of `counts` above what `digest` says the peer has (its ids
/// tagged by `tag_with` unless `None`).
pub(crate) fn counts_missing(
    counts: &GCounter,
    digest: &CausalContext,
    tag_with: Option<u64>,
) -> GCounter {
    let mut out = GCounter::new();
    for (r, n) in counts.iter() {
        let id = tag_with.map_or(r, |t| tag(r, t));
        if digest.max(id) < n {
            let _ = out.increment(r, n);
        }
    }
    out
}

/// A G-counter's digest.
pub(crate) fn g_counter(c: &GCounter) -> CausalContext {
    let mut d = CausalContext::new();
    counts(&mut d, c, None);
    d
}

/// The entries of a G-counter its peer lacks.
pub(crate) fn g_counter_missing(c: &GCounter, digest: &CausalContext) -> GCounter {
    counts_missing(c, digest, None)
}

/// A PN-counter's digest.
pub(crate) fn pn_counter(c: &PnCounter) -> CausalContext {
    let mut d = CausalContext::new();
    counts(&mut d, c.positive(), None);
    counts(&mut d, c.negative(), Some(NEGATIVE));
    d
}

/// The entries of a PN-counter its peer lacks.
pub(crate) fn pn_counter_missing(c: &PnCounter, digest: &CausalContext) -> PnCounter {
    PnCounter::from_parts(
        counts_missing(c.positive(), digest, None),
        counts_missing(c.negative(), digest, Some(NEGATIVE)),
    )
}

/// An LWW register's digest: its timestamp.
pub(crate) fn lww<T: Ord + Clone>(r: &LwwRegister<T>) -> CausalContext {
    let mut d = CausalContext::new();
    if let Some(t) = r.timestamp() {
        d.insert_range(tag(t.replica(), WALL), 1, t.wall_ms().saturating_add(1));
        d.insert_range(tag(t.replica(), LOGICAL), 1, u64::from(t.logical()) + 1);
    }
    d
}

/// The register if its peer's timestamp (read from `digest`) is older; the
/// empty register otherwise. Two writes with one timestamp are one write (a
/// timestamp names one write of one replica, as a dot does).
pub(crate) fn lww_missing<T: Ord + Clone>(
    r: &LwwRegister<T>,
    digest: &CausalContext,
) -> LwwRegister<T> {
    let Some(mine) = r.timestamp() else {
        return LwwRegister::new();
    };
    // Every (wall, logical) pair in the digest is a candidate; an honest
    // digest has one, a coarsened one may have lost a part (then none).
    // The least candidate is the safe reading.
    let theirs = digest
        .replicas()
        .filter_map(|id| {
            let writer = untag(id, WALL);
            let logical = digest.max(tag(writer, LOGICAL));
            let wall = digest.max(id);
            (logical > 0 && wall > 0).then(|| {
                let logical = u32::try_from(logical - 1).unwrap_or(u32::MAX);
                HybridTimestamp::new(wall - 1, logical, writer)
            })
        })
        .min();
    match theirs {
        Some(t) if t >= mine => LwwRegister::new(),
        _ => r.clone(),
    }
}

/// A G-set's digest: a fresh salt and each element's fingerprint under it.
pub(crate) fn g_set<T: Ord + Clone + Serialize>(s: &GSet<T>) -> CausalContext {
    let salt = fresh_salt();
    let mut d = CausalContext::new();
    let nil = ReplicaId::from_u128(0);
    d.insert_range(tag(nil, SALT), 1, salt);
    let fp_id = tag(nil, FINGERPRINT);
    let mut fps: Vec<u64> = s.iter().map(|x| fingerprint(salt, x)).collect();
    fps.sort_unstable();
    for fp in fps {
        d.insert_range(fp_id, fp, fp);
    }
    d
}

/// The elements whose fingerprint is not in `digest` (all of them when the
/// digest has no salt).
pub(crate) fn g_set_missing<T: Ord + Clone + Serialize>(
    s: &GSet<T>,
    digest: &CausalContext,
) -> GSet<T> {
    let nil = ReplicaId::from_u128(0);
    let salt = digest.max(tag(nil, SALT));
    let fp_id = tag(nil, FINGERPRINT);
    let mut out = GSet::new();
    let lacking = s.iter().filter(|x| {
        salt == 0 || Dot::new(fp_id, fingerprint(salt, *x)).is_none_or(|dot| !digest.contains(dot))
    });
    let _ = out.insert_all(lacking.cloned());
    out
}

/// A random nonzero salt.
fn fresh_salt() -> u64 {
    (ReplicaId::random().as_u128() as u64).max(1)
}

/// The keyed 64-bit fingerprint of `x` (SipHash-2-4 of its encoding,
/// keyed by the salt), never 0.
fn fingerprint<T: Serialize>(salt: u64, x: &T) -> u64 {
    #[allow(deprecated)] // SipHasher is SipHash-2-4, a fixed algorithm with keys
    let mut h = std::hash::SipHasher::new_with_keys(salt, 0x6372_6474_2d67_7365);
    let bytes = crate::codec::encode_state(x).unwrap_or_default();
    h.write(&bytes);
    h.finish().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagging_is_a_bijection_per_tag() {
        for v in [0u128, 1, 2, u128::MAX, 0x1234_5678_9abc_def0_u128 << 40] {
            let r = ReplicaId::from_u128(v);
            for t in [0, NEGATIVE, WALL, FIELD, FIELD + 7] {
                assert_eq!(untag(tag(r, t), t), r);
                assert_ne!(tag(r, t), r);
            }
            assert_ne!(tag(r, FIELD), tag(r, FIELD + 1));
        }
    }

    #[test]
    fn a_digest_of_many_ids_untags_in_n_log_n() {
        // 200k ids, one range each: a few hundred milliseconds at most in a
        // debug build when sorted; quadratic insertion would take minutes.
        let mut hostile = CausalContext::new();
        for v in 0..200_000u128 {
            hostile.insert_range(ReplicaId::from_u128(v), 1, 1);
        }
        let t = std::time::Instant::now();
        let f = field(&hostile, 3);
        assert_eq!(f.replicas().len(), 200_000);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn small_ids_do_not_collide_across_tags() {
        let mut seen = std::collections::BTreeSet::new();
        for v in 0..64u128 {
            for t in 0..16 {
                assert!(seen.insert(tag(ReplicaId::from_u128(v), FIELD + t)));
            }
        }
    }
}
