//! Waiting for peers to acknowledge: what [`NodeHandle::wait_synced`]
//! and [`Node::shutdown`] wait for.
//!
//! [`NodeHandle::wait_synced`]: crate::NodeHandle::wait_synced
//! [`Node::shutdown`]: crate::Node::shutdown

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crdt_sync::{PeerId, PeerLag};

use crate::error::{NodeError, PeerBehind};

/// The calls waiting for acknowledgements, each with the peers it still
/// waits for.
///
/// Design note: the engine's acknowledgement lag
/// ([`crdt_sync::Metrics::peers`]) is the source of truth, but it is
/// computed when the engine handles a message or a timer, not when the
/// application writes: right after a write it still shows the peers as in
/// sync. So a waiter looks only at lag refreshed after it was registered
/// ([`Waiters::refreshed`], called by the driver after
/// [`crdt_sync::Engine::handle_message`] and
/// [`crdt_sync::Engine::handle_timeout`]), which counts every write queued
/// before it. A peer whose lag shows nothing unacknowledged (and no reset)
/// then has everything written before the call, whatever comes later, so it
/// is crossed off for good. Per-call state is a set of peers, so a waiter
/// costs `O(peers)` and any number of calls may wait at once.
pub(crate) struct Waiters<R> {
    list: Vec<Waiter<R>>,
}

struct Waiter<R> {
    pending: BTreeSet<PeerId>,
    started: Instant,
    deadline: Instant,
    reply: R,
}

impl<R> Waiters<R> {
    pub(crate) fn new() -> Self {
        Self { list: Vec::new() }
    }

    /// Waits, until `deadline`, for each of `peers` to acknowledge
    /// everything written so far.
    pub(crate) fn add(
        &mut self,
        peers: BTreeSet<PeerId>,
        now: Instant,
        deadline: Instant,
        reply: R,
    ) {
        self.list.push(Waiter {
            pending: peers,
            started: now,
            deadline,
            reply,
        });
    }

    /// Crosses off the peers that `lag` (just refreshed by the engine)
    /// shows with nothing unacknowledged.
    pub(crate) fn refreshed(&mut self, lag: &BTreeMap<PeerId, PeerLag>) {
        for w in &mut self.list {
            w.pending.retain(|p| {
                !lag.get(p)
                    .is_some_and(|l| l.unacked_sequences == 0 && !l.reset)
            });
        }
    }

    /// The earliest deadline of any waiter.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.list.iter().map(|w| w.deadline).min()
    }

    /// Removes and returns the waiters that are done: `Ok` when every peer
    /// was crossed off, [`NodeError::NotSynced`] when the deadline passed
    /// first (with the lag of those behind and whether `connected` says
    /// they still are).
    pub(crate) fn settle(
        &mut self,
        now: Instant,
        lag: &BTreeMap<PeerId, PeerLag>,
        connected: impl Fn(PeerId) -> bool,
    ) -> Vec<(R, Result<(), NodeError>)> {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.list.len() {
            let w = &self.list[i];
            if !w.pending.is_empty() && now < w.deadline {
                i += 1;
                continue;
            }
            let w = self.list.swap_remove(i);
            let verdict = if w.pending.is_empty() {
                Ok(())
            } else {
                Err(NodeError::NotSynced {
                    waited: now.saturating_duration_since(w.started),
                    behind: w
                        .pending
                        .iter()
                        .map(|&peer| PeerBehind {
                            peer,
                            lag: lag.get(&peer).copied(),
                            connected: connected(peer),
                        })
                        .collect(),
                })
            };
            done.push((w.reply, verdict));
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn lag(unacked: u64) -> PeerLag {
        PeerLag {
            unacked_sequences: unacked,
            ..PeerLag::default()
        }
    }

    #[test]
    fn a_waiter_settles_once_every_peer_showed_nothing_unacknowledged() {
        let t = Instant::now();
        let mut w = Waiters::new();
        w.add(
            [PeerId(1), PeerId(2)].into(),
            t,
            t + Duration::from_secs(1),
            "a",
        );
        let mut seen = BTreeMap::from([(PeerId(1), lag(0)), (PeerId(2), lag(4))]);
        w.refreshed(&seen);
        assert!(w.settle(t, &seen, |_| true).is_empty(), "peer 2 is behind");
        // Peer 1 falls behind again (a later write): it was crossed off.
        seen = BTreeMap::from([(PeerId(1), lag(1)), (PeerId(2), lag(0))]);
        w.refreshed(&seen);
        let done = w.settle(t, &seen, |_| true);
        assert_eq!(done, vec![("a", Ok(()))]);
        assert!(w.next_deadline().is_none());
    }

    #[test]
    fn a_waiter_past_its_deadline_names_the_peers_behind() {
        let t = Instant::now();
        let mut w = Waiters::new();
        w.add([PeerId(3)].into(), t, t + Duration::from_millis(50), ());
        let mut reset = lag(0);
        reset.reset = true;
        let seen = BTreeMap::from([(PeerId(3), reset)]);
        w.refreshed(&seen);
        assert!(w.settle(t, &seen, |_| false).is_empty());
        let later = t + Duration::from_millis(50);
        let done = w.settle(later, &seen, |_| false);
        let expected = NodeError::NotSynced {
            waited: Duration::from_millis(50),
            behind: vec![PeerBehind {
                peer: PeerId(3),
                lag: Some(reset),
                connected: false,
            }],
        };
        assert_eq!(done, vec![((), Err(expected))]);
    }

    #[test]
    fn a_waiter_for_no_peers_settles_at_once() {
        let t = Instant::now();
        let mut w = Waiters::new();
        w.add(BTreeSet::new(), t, t, 7);
        assert_eq!(w.settle(t, &BTreeMap::new(), |_| true), vec![(7, Ok(()))]);
    }
}
