//! [`Replicated`] for the sequence types `List<T>` and `Text`: digests are
//! their causal contexts, a catch-up is exactly the runs a peer lacks, and a
//! dot held with two versions is found ([`List::reused_dot`]) and repaired
//! through fingerprints and projections ([`List::fingerprints`],
//! [`List::project`]) as for the kernel's causal types.

use std::fmt::Debug;

use crdt_core::{CausalContext, Dot, Fingerprint, InvalidState, ReplicaId};
use crdt_types::{List, Text};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Replicated;

impl<T> Replicated for List<T>
where
    T: Clone + PartialEq + Debug + Serialize + DeserializeOwned,
{
    fn validate(&self) -> Result<(), InvalidState> {
        List::validate(self)
    }

    /// Nothing: `List`'s `Deserialize` refuses a state that fails
    /// [`List::validate`] (it places the runs and checks the rest), so a
    /// second check would look every run up again (a seventh of the
    /// decoding of 25k runs).
    fn validate_decoded(&self) -> Result<(), InvalidState> {
        Ok(())
    }

    /// Contexts disjoint: `into_delta_from` returns `self`.
    fn unseen_by(&self, known: &Self) -> bool {
        self.context().is_disjoint(known.context())
    }

    fn digest(&self) -> Option<CausalContext> {
        Some(self.context().clone())
    }

    /// The runs with dots the peer has not seen, and the deletions of dots
    /// it has (as context): [`List::delta_for`].
    fn missing_for(&self, digest: &CausalContext) -> Option<Self> {
        Some(self.delta_for(digest))
    }

    fn reused_dot(&self, other: &Self) -> Option<Dot> {
        List::reused_dot(self, other)
    }

    fn fingerprints(&self, seed: u64) -> Option<Vec<Fingerprint>> {
        Some(List::fingerprints(self, seed))
    }

    fn project(&self, origins: &[ReplicaId]) -> Option<Self> {
        Some(List::project(self, origins))
    }
}

impl Replicated for Text {
    fn validate(&self) -> Result<(), InvalidState> {
        Text::validate(self)
    }

    /// Nothing: as for [`List`], decoding has checked it.
    fn validate_decoded(&self) -> Result<(), InvalidState> {
        Ok(())
    }

    /// Contexts disjoint: `into_delta_from` returns `self`.
    fn unseen_by(&self, known: &Self) -> bool {
        self.context().is_disjoint(known.context())
    }

    fn digest(&self) -> Option<CausalContext> {
        Some(self.context().clone())
    }

    fn missing_for(&self, digest: &CausalContext) -> Option<Self> {
        Some(Text::from(self.as_list().delta_for(digest)))
    }

    fn reused_dot(&self, other: &Self) -> Option<Dot> {
        self.as_list().reused_dot(other.as_list())
    }

    fn fingerprints(&self, seed: u64) -> Option<Vec<Fingerprint>> {
        Some(self.as_list().fingerprints(seed))
    }

    fn project(&self, origins: &[ReplicaId]) -> Option<Self> {
        Some(Text::from(self.as_list().project(origins)))
    }
}

#[cfg(test)]
mod tests {
    use crdt_core::Lattice;
    use crdt_types::{ReplicaId, Text};

    use crate::Replicated;

    #[test]
    fn a_catch_up_is_what_the_peer_lacks_deletions_included() {
        let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
        let mut ahead = Text::new();
        let _ = ahead.insert_str(a, 0, "hello world");
        let mut behind = ahead.clone();
        let _ = behind.insert_str(b, 0, "> ");
        let _ = ahead.delete(0, 6);
        let _ = ahead.insert_str(a, 5, "!");
        let answer = ahead.missing_for(&behind.digest().unwrap()).unwrap();
        // The new run only: no content the peer already has.
        assert_eq!(answer.as_list().run_count(), 1);
        behind.join(&answer);
        assert_eq!(behind.to_string(), "> world!");
        assert!(Replicated::validate(&behind).is_ok());
    }
}
