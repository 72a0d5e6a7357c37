//! Dotted version vectors: one write, and the history it overwrote.

use serde::{Deserialize, Serialize};

use crate::{Dot, ReplicaId, VersionVector};

/// A dotted version vector: the [`Dot`] of one write plus the
/// [`VersionVector`] of everything that write had seen (and so overwrote).
///
/// A plain version vector per value cannot tell two writes that a replica
/// coordinated for two clients with the same read context apart: both get the
/// same vector entry bumped, and one silently replaces the other. A `Dvv`
/// keeps the write's own event (the dot) separate from its past, so two such
/// writes have distinct dots and equal pasts, and neither descends from the
/// other: they are [`concurrent`](Dvv::concurrent).
///
/// The history of a `Dvv` is the set of dots `past ∪ {dot}`. Normally the
/// dot is not in the past (`dot.counter > past.get(dot.replica)`), and it
/// need not be contiguous with it: a coordinator mints the dot from its own
/// counter, which may be ahead of the client's context.
///
/// ```
/// use crdt_core::{Dot, Dvv, ReplicaId, VersionVector};
/// let a = ReplicaId::from_u128(1);
/// let read = VersionVector::new();
/// // Two clients read the empty context; replica `a` coordinates both puts.
/// let first = Dvv::new(Dot::new(a, 1).unwrap(), read.clone());
/// let second = Dvv::new(Dot::new(a, 2).unwrap(), read.clone());
/// assert!(first.concurrent(&second));
/// // A third client saw both and overwrites them.
/// let seen = first.to_version_vector();
/// let third = Dvv::new(Dot::new(a, 3).unwrap(), second.to_version_vector());
/// assert!(third.descends(&first) && third.descends(&second));
/// assert!(!first.descends(&third));
/// assert_eq!(seen.get(a), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dvv {
    dot: Dot,
    past: VersionVector,
}

impl Dvv {
    /// The clock of the write `dot`, which had seen (and overwrites) `past`.
    #[must_use]
    pub fn new(dot: Dot, past: VersionVector) -> Self {
        Self { dot, past }
    }

    /// The write's own event.
    #[must_use]
    pub fn dot(&self) -> Dot {
        self.dot
    }

    /// The causal past the write had seen when it was made.
    #[must_use]
    pub fn past(&self) -> &VersionVector {
        &self.past
    }

    /// Whether `dot` is in this clock's history (`past ∪ {self.dot}`).
    #[must_use]
    pub fn contains(&self, dot: Dot) -> bool {
        dot == self.dot || self.past.contains(dot)
    }

    /// Whether `self` has seen `other`: `other`'s dot and its whole past are
    /// in `self`'s history. Every clock descends from itself.
    #[must_use]
    pub fn descends(&self, other: &Dvv) -> bool {
        self.contains(other.dot)
            && other
                .past
                .iter()
                .all(|(replica, counter)| self.prefix(replica) >= counter)
    }

    /// Whether neither clock has seen the other.
    #[must_use]
    pub fn concurrent(&self, other: &Dvv) -> bool {
        !self.descends(other) && !other.descends(self)
    }

    /// The least version vector that contains this clock's history: `past`
    /// raised to the dot.
    ///
    /// When the dot is not contiguous with the past this also covers the
    /// dots in between; that is how a read context is built from a set of
    /// clocks (the coordinator knew those dots when it minted this one).
    #[must_use]
    pub fn to_version_vector(&self) -> VersionVector {
        let mut vv = self.past.clone();
        vv.observe(self.dot);
        vv
    }

    /// The length of the gap-free prefix of `replica`'s events in this
    /// clock's history.
    fn prefix(&self, replica: ReplicaId) -> u64 {
        let known = self.past.get(replica);
        if self.dot.replica == replica && known.checked_add(1) == Some(self.dot.counter()) {
            self.dot.counter()
        } else {
            known
        }
    }
}

impl From<&Dvv> for VersionVector {
    fn from(dvv: &Dvv) -> Self {
        dvv.to_version_vector()
    }
}

#[cfg(feature = "quickcheck")]
mod arbitrary {
    use quickcheck::{Arbitrary, Gen};

    use super::Dvv;
    use crate::{Dot, ReplicaId, VersionVector};

    /// A compact description of a clock: the dot's replica (1..=4), how far
    /// the dot is ahead of the past's entry for that replica, and the past.
    type Plan = (u8, u8, Vec<(u8, u8)>);

    fn build((replica, gap, past): Plan) -> Dvv {
        let id = ReplicaId::from_u128(u128::from(replica % 4) + 1);
        let past: VersionVector = past
            .into_iter()
            .filter_map(|(r, n)| {
                Dot::new(ReplicaId::from_u128(u128::from(r % 4) + 1), u64::from(n))
            })
            .collect();
        let counter = past.get(id) + 1 + u64::from(gap % 4);
        match Dot::new(id, counter) {
            Some(dot) => Dvv::new(dot, past),
            // Unreachable (counter >= 1), but no panic in generators either.
            None => Dvv::new(
                Dot {
                    replica: id,
                    counter: std::num::NonZeroU64::MIN,
                },
                past,
            ),
        }
    }

    fn plan(dvv: &Dvv) -> Plan {
        let replica = u8::try_from(dvv.dot.replica.as_u128().saturating_sub(1)).unwrap_or(0);
        let gap = dvv
            .dot
            .counter()
            .saturating_sub(dvv.past.get(dvv.dot.replica) + 1);
        let past = dvv
            .past
            .iter()
            .map(|(r, n)| {
                (
                    u8::try_from(r.as_u128().saturating_sub(1)).unwrap_or(0),
                    u8::try_from(n).unwrap_or(u8::MAX),
                )
            })
            .collect();
        (replica, u8::try_from(gap).unwrap_or(3), past)
    }

    impl Arbitrary for Dvv {
        fn arbitrary(g: &mut Gen) -> Self {
            let replica = u8::arbitrary(g);
            let gap = u8::arbitrary(g);
            let len = usize::from(u8::arbitrary(g) % 5);
            let past = (0..len)
                .map(|_| (u8::arbitrary(g), u8::arbitrary(g) % 8))
                .collect();
            build((replica, gap, past))
        }

        fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
            let me = self.clone();
            Box::new(plan(self).shrink().map(build).filter(move |d| *d != me))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: u128) -> ReplicaId {
        ReplicaId::from_u128(n)
    }

    fn dot(replica: u128, counter: u64) -> Dot {
        Dot::new(r(replica), counter).unwrap()
    }

    fn vv(entries: &[(u128, u64)]) -> VersionVector {
        entries.iter().map(|&(a, n)| dot(a, n)).collect()
    }

    #[test]
    fn same_context_writes_are_concurrent() {
        let a = Dvv::new(dot(1, 3), vv(&[(1, 2)]));
        let b = Dvv::new(dot(1, 4), vv(&[(1, 2)]));
        assert!(a.concurrent(&b));
        assert!(!a.descends(&b) && !b.descends(&a));
    }

    #[test]
    fn overwrite_descends_from_what_it_saw() {
        let a = Dvv::new(dot(1, 1), VersionVector::new());
        let b = Dvv::new(dot(2, 1), vv(&[(1, 1)]));
        assert!(b.descends(&a));
        assert!(!a.descends(&b));
        assert!(!a.concurrent(&b));
    }

    #[test]
    fn gap_between_past_and_dot_is_not_history() {
        // Dot (1, 5) over a past of (1, 2): dots (1, 3) and (1, 4) are not in
        // the history, so a clock whose past needs them is not descended.
        let a = Dvv::new(dot(1, 5), vv(&[(1, 2)]));
        assert!(a.contains(dot(1, 2)) && a.contains(dot(1, 5)));
        assert!(!a.contains(dot(1, 3)));
        let needs_four = Dvv::new(dot(2, 1), vv(&[(1, 4)]));
        assert!(!a.descends(&needs_four));
        assert_eq!(a.to_version_vector(), vv(&[(1, 5)]));
    }

    #[test]
    fn contiguous_dot_extends_the_prefix() {
        let a = Dvv::new(dot(1, 3), vv(&[(1, 2), (2, 1)]));
        let b = Dvv::new(dot(2, 1), vv(&[(1, 3)]));
        // b's past (1, 3) is covered by a's past plus its contiguous dot.
        assert!(a.contains(dot(2, 1)));
        assert!(a.descends(&b));
    }

    #[test]
    fn huge_counters_do_not_overflow() {
        let a = Dvv::new(dot(1, u64::MAX), vv(&[(1, u64::MAX)]));
        assert!(a.descends(&a));
        assert_eq!(a.to_version_vector().get(r(1)), u64::MAX);
    }

    #[test]
    fn bincode_round_trip() {
        let a = Dvv::new(dot(2, 7), vv(&[(1, 3), (2, 5)]));
        let bytes = bincode::serde::encode_to_vec(&a, bincode::config::standard()).unwrap();
        let (back, used): (Dvv, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!((back, used), (a, bytes.len()));
    }

    #[test]
    fn unsorted_past_is_rejected() {
        let raw = ((r(1), 1_u64), vec![(r(2), 1_u64), (r(1), 1_u64)]);
        let bytes = bincode::serde::encode_to_vec(&raw, bincode::config::standard()).unwrap();
        let decoded: Result<(Dvv, usize), _> =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard());
        assert!(decoded.is_err());
    }

    /// Properties over the `quickcheck` feature's generators.
    #[cfg(feature = "quickcheck")]
    mod properties {
        use quickcheck::quickcheck;

        use super::*;

        quickcheck! {
            fn descends_is_reflexive(a: Dvv) -> bool {
                a.descends(&a) && !a.concurrent(&a)
            }

            fn descends_is_transitive(a: Dvv, b: Dvv, c: Dvv) -> bool {
                !(a.descends(&b) && b.descends(&c)) || a.descends(&c)
            }

            fn descends_means_history_inclusion(a: Dvv, b: Dvv) -> bool {
                // a descends b exactly when every dot of b's history is in a's.
                let b_dots_in_a = a.contains(b.dot())
                    && b.past().dots().all(|d| {
                        (1..=d.counter()).all(|n| a.contains(Dot::new(d.replica, n).unwrap()))
                    });
                a.descends(&b) == b_dots_in_a
            }

            fn version_vector_covers_history(a: Dvv) -> bool {
                let vv = a.to_version_vector();
                vv.contains(a.dot()) && vv.dominates(a.past())
            }

            fn concurrent_is_symmetric(a: Dvv, b: Dvv) -> bool {
                a.concurrent(&b) == b.concurrent(&a)
            }
        }
    }
}
