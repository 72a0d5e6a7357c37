//! Change notifications: [`NodeHandle::subscribe`](crate::NodeHandle::subscribe).

use tokio::sync::watch;

use crate::error::NodeError;

/// How many changes a node's state has seen since it started: the version
/// a [`Subscription`] reports.
///
/// A change is a local write whose delta was not empty, or a delta received
/// from a peer that carried something new (what
/// [`crdt_sync::Metrics::deltas_applied`] counts). Writes that changed
/// nothing, and received deltas the node already had, are not changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct ChangeCount {
    /// Local writes applied.
    pub local: u64,
    /// Received deltas applied.
    pub remote: u64,
}

impl ChangeCount {
    /// Local and remote changes together.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.local.saturating_add(self.remote)
    }
}

/// A stream of change notifications from one node, from
/// [`NodeHandle::subscribe`](crate::NodeHandle::subscribe):
/// `while let Ok(seen) = sub.changed().await { /* read the state */ }`.
///
/// Design note: a notification says *that* the state changed (and how many
/// times, local and remote), not *what* changed; the subscriber reads what
/// it needs. It is a watch of a [`ChangeCount`] (`tokio::sync::watch`): the
/// engine overwrites one value and never waits for a subscriber, so a slow
/// or stalled subscriber costs neither time nor memory, and when it comes
/// back it gets one notification with the latest count (the changes it
/// missed are coalesced, their number is in the count). The alternative, a
/// `broadcast` of one event per change, would have to either drop events
/// for a lagging subscriber (who must then re-read everything anyway) or
/// hold the engine back; and a per-change diff would cost the engine a copy
/// of every delta per subscriber.
pub struct Subscription {
    rx: watch::Receiver<ChangeCount>,
}

impl Subscription {
    pub(crate) fn new(mut rx: watch::Receiver<ChangeCount>) -> Self {
        rx.borrow_and_update();
        Self { rx }
    }

    /// Waits for a change not yet reported by this subscription and returns
    /// the count as of now (changes that came in the meantime are
    /// coalesced into it). Returns at once if one already happened.
    /// [`NodeError::Stopped`] once the node has stopped and every change
    /// has been reported.
    pub async fn changed(&mut self) -> Result<ChangeCount, NodeError> {
        self.rx.changed().await.map_err(|_| NodeError::Stopped)?;
        Ok(*self.rx.borrow_and_update())
    }

    /// The count as of now, without waiting (and without marking it seen).
    #[must_use]
    pub fn latest(&self) -> ChangeCount {
        *self.rx.borrow()
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("latest", &self.latest())
            .finish()
    }
}
