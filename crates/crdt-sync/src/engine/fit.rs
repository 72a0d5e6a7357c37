//! Making payloads and digests fit the message limit.

use crdt_core::{CausalContext, ReplicaId};

use crate::codec;
use crate::replicated::Replicated;

/// Splits `state` into encoded pieces of at most `budget` bytes each whose
/// join is `state`, by halving ([`Replicated::split`]) only the pieces that
/// do not fit: `O(n log n)` work, proportional to the bytes produced.
/// `Err(len)` when an irreducible piece of `len` bytes exceeds the budget.
pub(super) fn split_to_fit<T: Replicated>(state: T, budget: usize) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::new();
    let mut pending = vec![state];
    while let Some(piece) = pending.pop() {
        let bytes = codec::encode_body(&piece).map_err(|_| usize::MAX)?;
        if bytes.len() <= budget {
            out.push(bytes);
            continue;
        }
        match piece.split() {
            Some((left, right)) => {
                pending.push(right);
                pending.push(left);
            }
            None => return Err(bytes.len()),
        }
    }
    Ok(out)
}

/// A context that claims no more than `full` and encodes in at most
/// `budget` bytes; `None` if even the empty context does not fit.
///
/// Claiming less than was seen is always safe for a digest: the answer
/// then carries some dots the requester already has (joined idempotently),
/// never fewer than it lacks. The coarsening keeps, per replica, the first
/// `k` ranges (the contiguous prefix first) for the largest `k` that fits;
/// when one range each is still too big, it keeps the replicas with the
/// most dots.
pub(super) fn coarsen_digest(full: &CausalContext, budget: usize) -> Option<CausalContext> {
    let fits = |c: &CausalContext| codec::state_len(c) <= budget;
    if fits(full) {
        return Some(full.clone());
    }
    let ranges: Vec<(ReplicaId, u64, u64)> = full.ranges().collect();
    let first_k = |k: usize| {
        let mut out = CausalContext::new();
        let mut last: Option<(ReplicaId, usize)> = None;
        for &(r, lo, hi) in &ranges {
            let n = match last {
                Some((p, n)) if p == r => n + 1,
                _ => 1,
            };
            last = Some((r, n));
            if n <= k {
                out.insert_range(r, lo, hi);
            }
        }
        out
    };
    let most = ranges.len();
    if fits(&first_k(1)) {
        // The largest k in 1..most that fits (k = most is `full`, too big).
        return Some(first_k(largest_fitting(1, most, |k| fits(&first_k(k)))));
    }
    // One range per replica is too much: keep the replicas with the most dots.
    let prefix = first_k(1);
    let mut by_size: Vec<(u64, ReplicaId, u64, u64)> = prefix
        .ranges()
        .map(|(r, lo, hi)| (hi - lo + 1, r, lo, hi))
        .collect();
    by_size.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let top = |m: usize| {
        let mut out = CausalContext::new();
        for &(_, r, lo, hi) in &by_size[..m] {
            out.insert_range(r, lo, hi);
        }
        out
    };
    if !fits(&top(0)) {
        return None;
    }
    Some(top(largest_fitting(0, by_size.len(), |m| fits(&top(m)))))
}

/// The largest `n` in `lo..hi` with `ok(n)`, given `ok(lo)` and that `ok`
/// holds up to some point and not after.
fn largest_fitting(mut lo: usize, mut hi: usize, ok: impl Fn(usize) -> bool) -> usize {
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A context of `replicas` replicas, each with `gaps` gaps.
    fn gappy(replicas: u128, gaps: u64) -> CausalContext {
        let mut c = CausalContext::new();
        for r in 1..=replicas {
            for g in 0..=gaps {
                c.insert_range(ReplicaId::from_u128(r), 1 + g * 10, 5 + g * 10);
            }
        }
        c
    }

    #[test]
    fn a_coarsened_digest_fits_and_claims_no_more_than_was_seen() {
        for (replicas, gaps) in [(1, 200), (8, 30), (60, 0), (300, 5)] {
            let full = gappy(replicas, gaps);
            for budget in [16, 64, 250, 1000, 4000] {
                let Some(c) = coarsen_digest(&full, budget) else {
                    assert!(codec::state_len(&CausalContext::new()) > budget);
                    continue;
                };
                assert!(codec::state_len(&c) <= budget, "{replicas} {gaps} {budget}");
                assert!(c.is_subset(&full));
                if codec::state_len(&full) <= budget {
                    assert_eq!(c, full);
                } else {
                    assert!(!c.is_empty() || budget < 64, "{replicas} {gaps} {budget}");
                }
            }
        }
    }

    #[test]
    fn splitting_to_fit_gives_pieces_under_the_budget_that_join_back() {
        use crdt_core::Lattice;
        use crdt_types::OrSet;
        let mut s = OrSet::new();
        let _ = s.insert_all(ReplicaId::from_u128(1), (0..5000u64).map(|x| x * 7919));
        let pieces = split_to_fit(s.clone(), 500).expect("every element fits");
        assert!(pieces.len() > 10);
        let mut back = OrSet::new();
        for p in &pieces {
            assert!(p.len() <= 500);
            let piece: OrSet<u64> = codec::decode_body(p).expect("a piece decodes");
            back.join(&piece);
        }
        assert_eq!(back, s);
    }
}
