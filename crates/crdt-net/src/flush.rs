//! Waiting for peers to acknowledge: what [`NodeHandle::wait_synced`]
//! and [`Node::shutdown`] wait for.
//!
//! [`NodeHandle::wait_synced`]: crate::NodeHandle::wait_synced
//! [`Node::shutdown`]: crate::Node::shutdown

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crdt_sync::{PeerId, PeerLag};

use crate::error::{NodeError, PeerBehind};

/// The calls waiting for acknowledgements, each with the sequence number
/// it waits for and the peers that have not reached it yet.
///
/// Design note: the engine numbers the delta-intervals it buffers (local
/// writes and received deltas that carried something new) and tracks, per
/// peer, the highest one acknowledged; its metrics show the difference,
/// [`crdt_sync::PeerLag::unacked_sequences`]. The driver reads the engine's
/// sequence ([`crdt_sync::Engine::sequence`]), so a peer's acknowledged
/// sequence is `sequence - unacked_sequences`. (Before the engine exposed
/// it, the driver counted the intervals itself; its change count for
/// subscribers still does, and the test
/// `the_nodes_count_of_delta_intervals_matches_the_engines` guards that the
/// two agree.) A call waits
/// for the sequence as it was when the engine took the request: everything
/// written before it, and nothing after, so a flush completes under a
/// steady stream of later writes, and a peer that left after acknowledging
/// it is not waited for. The lag is computed when the engine handles a
/// message or a timer, not when the application writes (right after a
/// write it is stale), so waiters look at it only right after those calls
/// ([`Waiters::refreshed`]). The alternative, waiting
/// until a peer shows nothing unacknowledged at all, also waited for
/// writes made after the call: it never completed while peers kept
/// writing, and it waited for peers that had left.
pub(crate) struct Waiters<R> {
    list: Vec<Waiter<R>>,
}

struct Waiter<R> {
    /// The sequence each peer must have acknowledged.
    target: u64,
    pending: BTreeSet<PeerId>,
    started: Instant,
    deadline: Instant,
    reply: R,
}

impl<R> Waiters<R> {
    pub(crate) fn new() -> Self {
        Self { list: Vec::new() }
    }

    /// Waits, until `deadline`, for each of `peers` to acknowledge the
    /// delta-intervals up to `target` (the sequence now); the caller has
    /// waited since `started` (its request may have waited in the queue).
    pub(crate) fn add(
        &mut self,
        (peers, target): (BTreeSet<PeerId>, u64),
        (started, deadline): (Instant, Instant),
        reply: R,
    ) {
        self.list.push(Waiter {
            target,
            pending: peers,
            started,
            deadline,
            reply,
        });
    }

    /// Crosses off the peers that `lag`, just refreshed by the engine at
    /// sequence `sequence`, shows as having acknowledged their waiter's
    /// target.
    pub(crate) fn refreshed(&mut self, lag: &BTreeMap<PeerId, PeerLag>, sequence: u64) {
        for w in &mut self.list {
            let behind = |l: &PeerLag| sequence.saturating_sub(l.unacked_sequences) < w.target;
            w.pending.retain(|p| lag.get(p).is_none_or(behind));
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
    fn a_waiter_settles_once_every_peer_acknowledged_its_target() {
        let t = Instant::now();
        let mut w = Waiters::new();
        // At sequence 5: peer 1 has acknowledged 5, peer 2 only 1.
        w.add(
            ([PeerId(1), PeerId(2)].into(), 5),
            (t, t + Duration::from_secs(1)),
            "a",
        );
        let mut seen = BTreeMap::from([(PeerId(1), lag(0)), (PeerId(2), lag(4))]);
        w.refreshed(&seen, 5);
        assert!(w.settle(t, &seen, |_| true).is_empty(), "peer 2 is behind");
        // Three later writes (sequence 8): peer 2 acknowledged up to 6, which
        // covers the target; peer 1 has not acknowledged the later writes,
        // but it was crossed off and they are not waited for.
        seen = BTreeMap::from([(PeerId(1), lag(3)), (PeerId(2), lag(2))]);
        w.refreshed(&seen, 8);
        let done = w.settle(t, &seen, |_| true);
        assert_eq!(done, vec![("a", Ok(()))]);
        assert!(w.next_deadline().is_none());
    }

    #[test]
    fn a_waiter_past_its_deadline_names_the_peers_behind() {
        let t = Instant::now();
        let mut w = Waiters::new();
        w.add(
            ([PeerId(3)].into(), 2),
            (t, t + Duration::from_millis(50)),
            (),
        );
        let seen = BTreeMap::from([(PeerId(3), lag(3))]);
        w.refreshed(&seen, 4);
        assert!(w.settle(t, &seen, |_| false).is_empty());
        let later = t + Duration::from_millis(50);
        let done = w.settle(later, &seen, |_| false);
        let expected = NodeError::NotSynced {
            waited: Duration::from_millis(50),
            behind: vec![PeerBehind {
                peer: PeerId(3),
                lag: Some(lag(3)),
                connected: false,
            }],
        };
        assert_eq!(done, vec![((), Err(expected))]);
    }

    #[test]
    fn a_waiter_for_no_peers_settles_at_once() {
        let t = Instant::now();
        let mut w = Waiters::new();
        w.add((BTreeSet::new(), 9), (t, t), 7);
        assert_eq!(w.settle(t, &BTreeMap::new(), |_| true), vec![(7, Ok(()))]);
    }
}
