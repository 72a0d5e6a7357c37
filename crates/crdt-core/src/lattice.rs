//! The lattice traits every replicated state implements.

/// A join-semilattice: a state with a least upper bound.
///
/// `join` must be commutative, associative and idempotent, and `Default`
/// must be the bottom element (`Self::default().join(x) == x`). Mutators of a
/// replicated type only ever move a state upwards in this order, which is why
/// replicas that exchange states (or deltas) in any order, any number of
/// times, end equal once they have joined the same ones. (Intermediate
/// states are another matter: see "Delivery order" in `crdt-types`.)
///
/// Two joins are offered: [`Lattice::join`] borrows the other state and
/// clones only what it needs; [`Lattice::join_owned`] consumes it, so types
/// can move payloads instead of cloning them.
///
/// ```
/// use crdt_core::{Lattice, ReplicaId, VersionVector};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = VersionVector::new();
/// let _ = x.increment(a);
/// let mut y = VersionVector::new();
/// let _ = y.increment(b);
/// let xy = x.clone().joined(&y);
/// assert_eq!(xy, y.clone().joined(&x));
/// assert!(x.leq(&xy) && y.leq(&xy));
/// ```
pub trait Lattice: Default + Clone + PartialEq {
    /// `self := self ⊔ other`.
    fn join(&mut self, other: &Self);

    /// `self := self ⊔ other`, consuming `other` (avoids clones where a type
    /// can move its payload).
    fn join_owned(&mut self, other: Self) {
        self.join(&other);
    }

    /// `self ⊔ other` as a new value.
    #[must_use]
    fn joined(mut self, other: &Self) -> Self {
        self.join(other);
        self
    }

    /// `self ≤ other` in the lattice order, that is `self ⊔ other == other`.
    ///
    /// The default computes exactly that; types override it with a cheaper
    /// test that gives the same answer.
    #[must_use]
    fn leq(&self, other: &Self) -> bool {
        other.clone().joined(self) == *other
    }

    /// Whether this is the bottom element (the `Default`).
    #[must_use]
    fn is_bottom(&self) -> bool {
        *self == Self::default()
    }
}

/// Join decomposition: a state as the join of smaller states.
///
/// [`Decompose::decompose`] returns an *irredundant join decomposition*: a
/// set of join-irreducible states whose join is `self`, none of which is
/// below the join of the others. The sync layer uses
/// [`Decompose::delta_from`] to strip from a received delta the parts a
/// replica already has (Enes et al., "Efficient Synchronization of
/// State-based CRDTs", ICDE 2019).
///
/// ```
/// use crdt_core::{Decompose, Lattice, ReplicaId, VersionVector};
/// let a = ReplicaId::from_u128(1);
/// let mut known = VersionVector::new();
/// let _ = known.increment(a);
/// let mut x = known.clone();
/// let _ = x.increment(ReplicaId::from_u128(2));
/// let fresh = x.delta_from(&known);
/// assert_eq!(known.clone().joined(&fresh), x.clone().joined(&known));
/// assert!(!fresh.leq(&known));
/// ```
pub trait Decompose: Lattice {
    /// The irredundant join decomposition of `self` (empty for bottom).
    #[must_use]
    fn decompose(&self) -> Vec<Self>;

    /// The join of the parts of `self` that are not below `known`:
    /// `known ⊔ self.delta_from(known) == known ⊔ self`, and nothing in the
    /// result is already in `known`.
    ///
    /// The default joins the irreducibles of [`Decompose::decompose`] that are
    /// not `leq(known)`; types override it with a direct computation.
    #[must_use]
    fn delta_from(&self, known: &Self) -> Self {
        let mut out = Self::default();
        for part in self.decompose() {
            if !part.leq(known) {
                out.join_owned(part);
            }
        }
        out
    }

    /// [`Decompose::delta_from`] of a state that is no longer needed (a
    /// received payload): types override it to reuse `self` when nothing
    /// in it is known, so stripping costs no copy.
    #[must_use]
    fn into_delta_from(self, known: &Self) -> Self {
        self.delta_from(known)
    }
}

/// The partial order answer from the two `leq` tests: equal, before, after,
/// or concurrent (`None`).
pub(crate) fn order_from_leq(le: bool, ge: bool) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    match (le, ge) {
        (true, true) => Some(Ordering::Equal),
        (true, false) => Some(Ordering::Less),
        (false, true) => Some(Ordering::Greater),
        (false, false) => None,
    }
}
