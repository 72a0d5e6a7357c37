//! What an engine reports: [`Event`]s for the application, and why a local
//! write was refused ([`LocalWriteError`]).

use std::fmt;
use std::time::Duration;

use crdt_core::{Dot, ReplicaId};

use super::PeerId;

/// Something the application may want to know or act on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `peer` has been out of sync (unacknowledged deltas) for longer than
    /// [`crate::Config::lag_alert`].
    LagAlert {
        /// The lagging peer.
        peer: PeerId,
        /// How long it has been behind.
        behind_for: Duration,
    },
    /// `peer` stopped acknowledging for [`crate::Config::ack_timeout`] (or the buffer
    /// hit [`crate::Config::max_buffered_deltas`]); it will be caught up by digest
    /// when it answers again.
    PeerReset {
        /// The reset peer.
        peer: PeerId,
    },
    /// `peer` came back as a new incarnation (it restarted): what it had
    /// acknowledged is forgotten and it is caught up by digest.
    PeerRestarted {
        /// The restarted peer.
        peer: PeerId,
    },
    /// A payload from `peer` carried a timestamp `ahead_ms` milliseconds
    /// ahead of the local wall clock, more than [`crate::Config::max_clock_drift`]:
    /// it was not applied, and is accepted when resent within the drift.
    ClockDriftRefused {
        /// The sender.
        peer: PeerId,
        /// How far ahead of the local clock the timestamp was.
        ahead_ms: u64,
    },
    /// A payload from `peer` carried `dot` under this replica's own id,
    /// above what it had minted (a forged dot, or its own write from before
    /// a restore from a stale snapshot). It was adopted: joined, with every
    /// later write of this replica minted after it (under a fresh id if the
    /// counter was near its maximum). See [`crate::Metrics::own_dots_adopted`].
    UnmintedOwnDotAdopted {
        /// The sender.
        peer: PeerId,
        /// The highest such dot in the payload.
        dot: Dot,
    },
    /// A payload from `peer` held `dot`, which this replica holds with
    /// another content (a forged dot, or a replica id reused after a
    /// restore). The payload was joined in full, so the kernel's
    /// deterministic rule applies to that dot (as a full-state join would),
    /// and the result is shipped to every peer, `peer` included.
    DotConflict {
        /// The sender.
        peer: PeerId,
        /// The dot held with two contents.
        dot: Dot,
    },
    /// A message to `peer` is larger than [`crate::Config::max_message_bytes`]
    /// even after splitting (a single irreducible part) or coarsening (a
    /// digest); it was not sent. Raise the limit on both sides.
    MessageTooLarge {
        /// The destination.
        peer: PeerId,
        /// The size of the smallest part that did not fit.
        bytes: usize,
    },
}

/// Why [`crate::Engine::update`] or [`crate::Engine::apply_local`] refused
/// a local write.
/// Nothing of a refused write is applied or shipped.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalWriteError {
    /// The write minted `dot` under another replica id than the engine's
    /// (`engine`): typically an id captured before a restore. Write with
    /// the id the closure is given.
    ForeignDot {
        /// The offending dot.
        dot: Dot,
        /// The id this engine writes with.
        engine: ReplicaId,
    },
    /// The write carries `dot`, which this replica already holds with
    /// another payload: the same dot minted twice.
    ReusedDot {
        /// The reused dot.
        dot: Dot,
    },
}

impl fmt::Display for LocalWriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ForeignDot { dot, engine } => write!(
                f,
                "local write minted {dot:?} under another replica id than the engine's {engine:?}"
            ),
            Self::ReusedDot { dot } => {
                write!(
                    f,
                    "local write reuses {dot:?}, already held with another payload"
                )
            }
        }
    }
}

impl std::error::Error for LocalWriteError {}
