//! What can go wrong when an application asks a node for something.

use std::fmt;
use std::time::Duration;

use crdt_store::StoreError;
use crdt_sync::{LocalWriteError, PeerId, PeerLag};

/// Why a request to a node ([`NodeHandle`](crate::NodeHandle)) failed.
///
/// One enum for every request, so that `?` works across them; each method
/// says which variants it can return.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeError {
    /// The node has stopped ([`Node::shutdown`](crate::Node::shutdown) was
    /// called, or the node was dropped): nothing was read or written.
    Stopped,
    /// [`NodeHandle::update`](crate::NodeHandle::update) only: the request
    /// queue was full, so the write was dropped (and counted in
    /// [`NetMetrics::updates_dropped`](crate::NetMetrics::updates_dropped)).
    QueueFull,
    /// [`NodeHandle::write`](crate::NodeHandle::write) only: the engine
    /// refused the write; nothing of it was applied or shipped.
    Refused(LocalWriteError),
    /// A durable node only ([`Node::open`](crate::Node::open)): its store
    /// failed to commit (a full disk, an I/O error). The write that failed
    /// was not acknowledged, and nothing that depended on it left the node;
    /// everything acknowledged before it is on disk. The node has stopped:
    /// this request and every later one (shutdown included) return this
    /// error. Free space (or fix the disk), then open the node again from
    /// the same data directory: it resumes from what was committed.
    Store(StoreError),
    /// [`NodeHandle::wait_synced`](crate::NodeHandle::wait_synced) and
    /// [`NodeHandle::flush`](crate::NodeHandle::flush) only: within
    /// `waited`, not every live peer acknowledged everything written before
    /// the call. `behind` lists those that had not; it is empty if the
    /// request never reached the engine in time (its request queue stayed
    /// full).
    NotSynced {
        /// How long the call waited.
        waited: Duration,
        /// The peers that were behind when the time was up.
        behind: Vec<PeerBehind>,
    },
}

/// A live peer that had not acknowledged everything when a
/// [`NodeHandle::wait_synced`](crate::NodeHandle::wait_synced) timed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerBehind {
    /// The peer.
    pub peer: PeerId,
    /// Its acknowledgement lag as the engine last saw it; `None` if it
    /// reconnected so recently that the engine has not looked yet.
    pub lag: Option<PeerLag>,
    /// Whether it was still connected when the time was up.
    pub connected: bool,
}

impl fmt::Display for PeerBehind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer {}", self.peer.0)?;
        let mut why = Vec::new();
        if let Some(lag) = self.lag {
            why.push(format!(
                "{} delta-intervals unacknowledged",
                lag.unacked_sequences
            ));
            if lag.reset {
                why.push("waiting for a catch-up".to_string());
            }
        }
        if !self.connected {
            why.push("disconnected".to_string());
        }
        if !why.is_empty() {
            write!(f, " ({})", why.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stopped => f.write_str(
                "the node has stopped (Node::shutdown was called or the node was dropped); \
                 nothing was read or written: start a new node",
            ),
            Self::QueueFull => f.write_str(
                "the write was dropped: the node's request queue is full \
                 (NodeHandle::write waits for room instead)",
            ),
            Self::Refused(e) => write!(f, "write refused: {e}"),
            Self::Store(e) => write!(f, "the node's store failed and the node stopped: {e}"),
            Self::NotSynced { waited, behind } if behind.is_empty() => write!(
                f,
                "not synced within {waited:?}: the node's request queue stayed full, \
                 so the engine never looked"
            ),
            Self::NotSynced { waited, behind } => {
                write!(f, "not every live peer acknowledged within {waited:?}: ")?;
                for (i, p) in behind.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{p}")?;
                }
                f.write_str(" behind")
            }
        }
    }
}

impl std::error::Error for NodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Refused(e) => Some(e),
            Self::Store(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_synced_names_the_peers_behind_and_why() {
        let e = NodeError::NotSynced {
            waited: Duration::from_millis(200),
            behind: vec![
                PeerBehind {
                    peer: PeerId(2),
                    lag: Some(PeerLag {
                        unacked_sequences: 3,
                        ..PeerLag::default()
                    }),
                    connected: false,
                },
                PeerBehind {
                    peer: PeerId(5),
                    lag: None,
                    connected: true,
                },
            ],
        };
        assert_eq!(
            e.to_string(),
            "not every live peer acknowledged within 200ms: peer 2 \
             (3 delta-intervals unacknowledged, disconnected), peer 5 behind"
        );
        assert!(NodeError::Stopped.to_string().contains("stopped"));
    }
}
