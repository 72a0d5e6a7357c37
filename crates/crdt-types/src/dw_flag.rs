//! `DwFlag`: a disable-wins flag.

use crdt_core::{Causal, DotSet, ReplicaId};

use crate::View;
use crate::causal::{CausalCrdt as _, causal_crdt};
use crate::ew_flag::replace_dots;

/// A disable-wins flag: it starts enabled, and a disable concurrent with an
/// enable wins.
///
/// Join: the kernel's causal join on `Causal<DotSet>`,
/// `(s, c) ⊔ (s', c') = ((s ∩ s') ∪ (s \ c') ∪ (s' \ c), c ∪ c')` — a disable
/// survives unless the other side has seen it and re-enabled the flag. The
/// flag is disabled while one disable dot is live.
///
/// Design note: the operation that wins must be the one that adds a dot, so
/// the live dots here are *disables* and the bottom state (no dot) reads as
/// enabled. Inside an [`OrMap`](crate::OrMap) this means an absent key is an
/// enabled flag; a present one is disabled.
///
/// ```
/// use crdt_types::{DwFlag, Lattice, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = DwFlag::new();
/// let off = x.disable(a);
/// let mut y = DwFlag::new();
/// y.join(&off);
/// let on = x.enable(); // concurrently with ...
/// let off_again = y.disable(b); // ... this disable, which wins
/// x.join(&off_again);
/// y.join(&on);
/// assert_eq!(x, y);
/// assert!(!x.is_enabled());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct DwFlag(Causal<DotSet>);

causal_crdt!(impl[] DwFlag => DotSet);

impl DwFlag {
    /// An enabled flag.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Disables the flag: one new dot, superseding the disables seen.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn disable(&mut self, replica: ReplicaId) -> Self {
        Self(replace_dots(&mut self.0, Some(replica)))
    }

    /// Enables the flag: removes the disables seen (a disable concurrent
    /// with this survives it).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn enable(&mut self) -> Self {
        Self(replace_dots(&mut self.0, None))
    }

    /// Whether the flag is enabled.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.view().is_enabled()
    }
}

impl View<'_, DwFlag> {
    /// Whether the flag is enabled (no disable is live).
    #[must_use]
    pub fn is_enabled(self) -> bool {
        self.store().is_empty()
    }
}

impl crate::laws::Mutate for DwFlag {
    /// `true` enables, `false` disables.
    type Op = bool;

    fn apply(&mut self, replica: ReplicaId, op: &bool) -> Self {
        if *op {
            self.enable()
        } else {
            self.disable(replica)
        }
    }

    fn validate(&self) -> Result<(), crdt_core::InvalidState> {
        Self::validate(self)
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[] DwFlag);
