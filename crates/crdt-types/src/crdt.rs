//! [`Crdt`]: what every replicated type of this crate (and every struct
//! that derives it) is.

use std::fmt::Debug;

use crdt_core::{Decompose, InvalidState, VersionVector};

/// A replicated type: a join-semilattice with a join decomposition and a
/// check of the invariants of a state that arrives from elsewhere.
///
/// Every type of this crate implements it, and so does every struct with
/// `#[derive(Crdt)]` (feature `derive`), whose fields must implement it. The
/// types' inherent `validate()` methods are the same check; this trait is
/// what lets generic code (and derived structs) call it.
///
/// ```
/// use crdt_types::{Crdt, OrSet, ReplicaId};
/// let mut tags = OrSet::new();
/// let _ = tags.insert(ReplicaId::from_u128(1), "rust");
/// assert!(Crdt::validate(&tags).is_ok());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a replicated type",
    label = "not a replicated type (`crdt_types::Crdt`)",
    note = "each field of a `#[derive(Crdt)]` struct must be a type of crdt-types \
            (`PnCounter`, `OrSet<T>`, `LwwRegister<T>`, `OrMap<K, V>`, ...) or a struct that \
            itself derives `Crdt`; a plain value can live in an `LwwRegister` or an `MvRegister`",
    note = "if it is one, its type parameters may lack the bounds it needs \
            (`T: Ord + Clone + Debug` for most)"
)]
pub trait Crdt: Decompose + Debug {
    /// Checks the invariants of a state received from elsewhere (decoding
    /// runs it); a state that fails must be dropped.
    fn validate(&self) -> Result<(), InvalidState>;
}

/// `Crdt` through each type's inherent `validate`.
macro_rules! crdt_via_validate {
    ($([$($g:tt)*] $ty:ty),* $(,)?) => {$(
        impl<$($g)*> Crdt for $ty {
            fn validate(&self) -> Result<(), InvalidState> {
                <$ty>::validate(self)
            }
        }
    )*};
}

crdt_via_validate! {
    [] crate::GCounter,
    [] crate::PnCounter,
    [] crate::CausalCounter,
    [] crate::EwFlag,
    [] crate::DwFlag,
    [T: Ord + Clone + Debug] crate::LwwRegister<T>,
    [T: Ord + Clone + Debug] crate::MvRegister<T>,
    [T: Ord + Clone + Debug] crate::OrSet<T>,
    [T: Ord + Clone + Debug] crate::GSet<T>,
    [K: Ord + Clone + Debug, V: crate::CausalCrdt] crate::OrMap<K, V>,
}

impl Crdt for VersionVector {
    /// Always `Ok`: decoding rejects unsorted and zero entries.
    fn validate(&self) -> Result<(), InvalidState> {
        Ok(())
    }
}

/// What the code of `#[derive(Crdt)]` calls: each field's lattice
/// operations through one bound, [`Crdt`], so that a field that is not a
/// replicated type gets the one message that says so. Not a public API.
#[doc(hidden)]
pub mod __derive {
    use super::Crdt;
    use crdt_core::InvalidState;

    pub fn join<T: Crdt>(x: &mut T, y: &T) {
        x.join(y);
    }

    pub fn join_owned<T: Crdt>(x: &mut T, y: T) {
        x.join_owned(y);
    }

    pub fn leq<T: Crdt>(x: &T, y: &T) -> bool {
        x.leq(y)
    }

    pub fn is_bottom<T: Crdt>(x: &T) -> bool {
        x.is_bottom()
    }

    pub fn decompose<T: Crdt>(x: &T) -> Vec<T> {
        x.decompose()
    }

    pub fn delta_from<T: Crdt>(x: &T, known: &T) -> T {
        x.delta_from(known)
    }

    pub fn validate<T: Crdt>(x: &T) -> Result<(), InvalidState> {
        x.validate()
    }
}
