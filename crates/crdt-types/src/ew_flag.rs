//! `EwFlag`: an enable-wins flag.

use crdt_core::{Causal, CausalContext, DotSet, ReplicaId};

use crate::causal::{assemble, causal_crdt};
use crate::{CausalCrdt, View};

/// An enable-wins flag: it starts disabled, and an enable concurrent with a
/// disable wins.
///
/// Join: the kernel's causal join on `Causal<DotSet>`,
/// `(s, c) ⊔ (s', c') = ((s ∩ s') ∪ (s \ c') ∪ (s' \ c), c ∪ c')` — an enable
/// survives unless the other side has seen it and disabled it. The flag is
/// enabled while one enable dot is live.
///
/// ```
/// use crdt_types::{EwFlag, Lattice, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = EwFlag::new();
/// let on = x.enable(a);
/// let mut y = EwFlag::new();
/// y.join(&on);
/// let off = x.disable(); // concurrently with ...
/// let on_again = y.enable(b); // ... this enable, which wins
/// x.join(&on_again);
/// y.join(&off);
/// assert_eq!(x, y);
/// assert!(x.is_enabled());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct EwFlag(Causal<DotSet>);

causal_crdt!(impl[] EwFlag => DotSet);

impl EwFlag {
    /// A disabled flag.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Enables the flag: one new dot, superseding the enables seen.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn enable(&mut self, replica: ReplicaId) -> Self {
        Self(replace_dots(&mut self.0, Some(replica)))
    }

    /// Disables the flag: removes the enables seen (an enable concurrent
    /// with this survives it).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn disable(&mut self) -> Self {
        Self(replace_dots(&mut self.0, None))
    }

    /// Whether the flag is enabled.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.view().is_enabled()
    }
}

impl View<'_, EwFlag> {
    /// Whether the flag is enabled.
    #[must_use]
    pub fn is_enabled(self) -> bool {
        !self.store().is_empty()
    }
}

/// The one mutation of both flags: drop the live dots seen and, if
/// `replica` is given, put one fresh dot of it in their place. The delta
/// holds the fresh dot, and the dropped ones in its context.
pub(crate) fn replace_dots(
    state: &mut Causal<DotSet>,
    replica: Option<ReplicaId>,
) -> Causal<DotSet> {
    let fresh = replica.map(|r| state.next_dot(r));
    let (store, ctx) = state.parts_mut();
    let mut seen: CausalContext = store.iter().collect();
    let mut delta = DotSet::new();
    *store = DotSet::new();
    if let Some(dot) = fresh {
        ctx.insert(dot);
        seen.insert(dot);
        store.insert(dot);
        delta.insert(dot);
    }
    assemble(delta, seen)
}

impl crate::laws::Mutate for EwFlag {
    /// `true` enables, `false` disables.
    type Op = bool;

    fn apply(&mut self, replica: ReplicaId, op: &bool) -> Self {
        if *op {
            self.enable(replica)
        } else {
            self.disable()
        }
    }

    fn validate(&self) -> Result<(), crdt_core::InvalidState> {
        Self::validate(self)
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[] EwFlag);
