//! Errors of the causality kernel.

use std::error::Error;
use std::fmt;

use crate::Dot;

/// A state that breaks an invariant, typically one decoded from a peer.
///
/// Returned by `validate()` methods before a state is joined; a state that
/// fails validation must be dropped, never joined.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidState {
    /// A dot in the store that the state's causal context has not seen
    /// (invariant 2: every dot in a store is in its context).
    DotOutsideContext(Dot),
    /// The same dot appears twice in one store.
    DuplicateDot(Dot),
    /// A dot set, dot function or map entry that is empty (the canonical form
    /// leaves bottom entries out).
    EmptyEntry,
    /// Entries that must be strictly sorted are not (or repeat a key).
    Unsorted(&'static str),
    /// A count or counter that must be positive is zero.
    ZeroValue(&'static str),
    /// A type-specific invariant; the text says which.
    Other(&'static str),
}

impl fmt::Display for InvalidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DotOutsideContext(d) => write!(
                f,
                "invalid state: dot {d} is in the store but not in the causal context"
            ),
            Self::DuplicateDot(d) => write!(f, "invalid state: dot {d} appears twice in the store"),
            Self::EmptyEntry => f.write_str("invalid state: an entry holds an empty store"),
            Self::Unsorted(what) => write!(f, "invalid state: {what} are not strictly sorted"),
            Self::ZeroValue(what) => write!(f, "invalid state: {what} is zero"),
            Self::Other(what) => write!(f, "invalid state: {what}"),
        }
    }
}

impl Error for InvalidState {}

/// Two states carry the same dot with different payloads.
///
/// A dot names one event, so this only happens when a replica id was reused
/// (for example a replica restored from an old snapshot kept its id and
/// minted dots it had already used). The plain `join` still converges
/// (it resolves the clash deterministically), but the data behind one of the
/// two events is lost; `checked_join` reports the clash instead of joining.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DotReuse {
    /// The dot that carries two payloads.
    pub dot: Dot,
}

impl fmt::Display for DotReuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dot {} carries two different payloads: replica id {} was reused \
             (give each replica incarnation a fresh ReplicaId)",
            self.dot, self.dot.replica
        )
    }
}

impl Error for DotReuse {}
