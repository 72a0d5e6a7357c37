//! What an engine knows about one peer, and the payloads it sent there.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::message::MessageKind;

/// How many recent single-part payloads a peer's acknowledgements are
/// matched against (older ones are forgotten; their content is resent).
const SENT_HISTORY: usize = 16;

/// What the engine knows about one peer.
#[derive(Debug)]
pub(super) struct Peer {
    /// The peer's incarnation, as last seen in its messages (0: unknown).
    pub(super) epoch: u32,
    /// The highest local sequence the peer has received in full (in its
    /// current incarnation).
    pub(super) acked: u64,
    /// The peer must be caught up by digest (or full state) before deltas:
    /// it is new, restarted, or stopped acknowledging.
    pub(super) reset: bool,
    /// This engine has received a complete catch-up from the peer's current
    /// incarnation, answering a digest of this engine's incarnation.
    pub(super) caught_up: bool,
    /// The last time the peer acknowledged anything.
    pub(super) last_ack: Instant,
    /// Since when the peer has had something unacknowledged.
    pub(super) behind_since: Option<Instant>,
    /// Whether a lag alert was raised for the current lag.
    pub(super) alerted: bool,
    /// When the engine last asked this peer for a digest exchange.
    pub(super) digest_asked: Option<Instant>,
    /// Rounds the current interval was re-sent without an acknowledgement.
    pub(super) resends: u32,
    /// The newest local sequence already shipped in a delta-interval.
    pub(super) shipped: u64,
    /// Payloads sent and not yet acknowledged in full, oldest first.
    pub(super) sent: VecDeque<Sent>,
    /// The catch-up being received from the peer.
    pub(super) incoming: Option<Incoming>,
    /// Smoothed round-trip time, from acknowledgements of payloads sent once.
    pub(super) srtt: Option<Duration>,
}

/// A payload sent to a peer.
#[derive(Debug)]
pub(super) struct Sent {
    /// The payload id.
    pub(super) id: u64,
    /// The local sequence the payload brings the peer up to.
    pub(super) seq: u64,
    /// Per part: the encoded message while unacknowledged, kept for resending
    /// when the payload was split; `None` once acknowledged (or, for a
    /// single part, never kept: a lost one is rebuilt).
    pub(super) parts: Vec<Option<Vec<u8>>>,
    /// Parts not yet acknowledged.
    pub(super) remaining: usize,
    /// When it was first sent, and last (re)sent.
    pub(super) first_sent: Instant,
    pub(super) last_sent: Instant,
    /// When an acknowledgement of it last arrived.
    pub(super) last_progress: Instant,
    /// Whether any part was sent more than once (no RTT sample then).
    pub(super) resent: bool,
    /// Delta, catch-up or state.
    pub(super) kind: MessageKind,
}

impl Sent {
    /// Whether this is a split payload that still has parts to deliver.
    pub(super) fn is_split_in_flight(&self) -> bool {
        self.parts.len() > 1 && self.remaining > 0
    }
}

/// Parts of a catch-up received from a peer (bounded by what arrived: one
/// entry per part actually received).
#[derive(Debug)]
pub(super) struct Incoming {
    pub(super) id: u64,
    pub(super) parts: u32,
    pub(super) got: BTreeSet<u32>,
    pub(super) last: Instant,
}

impl Peer {
    pub(super) fn new(now: Instant) -> Self {
        Self {
            epoch: 0,
            acked: 0,
            reset: true,
            caught_up: false,
            last_ack: now,
            behind_since: None,
            alerted: false,
            digest_asked: None,
            resends: 0,
            shipped: 0,
            sent: VecDeque::new(),
            incoming: None,
            srtt: None,
        }
    }

    /// The peer restarted as incarnation `epoch`: nothing it acknowledged
    /// before can be trusted, and it must catch this engine up again.
    pub(super) fn restarted(&mut self, epoch: u32) {
        self.epoch = epoch;
        self.acked = 0;
        self.shipped = 0;
        self.reset = true;
        self.caught_up = false;
        self.digest_asked = None;
        self.resends = 0;
        self.sent.clear();
        self.incoming = None;
    }

    /// How long to wait for an acknowledgement before resending: twice the
    /// smoothed round trip, at least one sync interval, at most half the
    /// acknowledgement timeout.
    pub(super) fn rto(&self, sync_interval: Duration, ack_timeout: Duration) -> Duration {
        let base = self.srtt.map_or(sync_interval * 2, |s| s * 2);
        base.max(sync_interval)
            .min((ack_timeout / 2).max(sync_interval))
    }

    /// Records a payload sent; forgets the oldest single-part ones past the
    /// history bound, and any older split payload of the same kind (the new
    /// one supersedes it).
    pub(super) fn record(&mut self, sent: Sent) {
        if sent.parts.len() > 1 {
            let kind = sent.kind;
            self.sent
                .retain(|s| !(s.is_split_in_flight() && s.kind == kind));
        }
        self.sent.push_back(sent);
        while self.sent.iter().filter(|s| s.parts.len() == 1).count() > SENT_HISTORY {
            if let Some(i) = self.sent.iter().position(|s| s.parts.len() == 1) {
                self.sent.remove(i);
            }
        }
    }

    /// The split payload still being delivered, if any.
    pub(super) fn split_in_flight(&mut self) -> Option<&mut Sent> {
        self.sent.iter_mut().find(|s| s.is_split_in_flight())
    }

    /// Takes an RTT sample.
    pub(super) fn sample_rtt(&mut self, rtt: Duration) {
        self.srtt = Some(match self.srtt {
            Some(s) => (s * 7 + rtt) / 8,
            None => rtt,
        });
    }

    /// Notes part `part` of catch-up `id` (of `parts`) as received; returns
    /// whether the whole catch-up has now arrived.
    pub(super) fn receive_catch_up_part(
        &mut self,
        id: u64,
        part: u32,
        parts: u32,
        now: Instant,
    ) -> bool {
        if parts <= 1 {
            self.incoming = None;
            return true;
        }
        let fresh = !matches!(&self.incoming, Some(i) if i.id == id && i.parts == parts);
        if fresh {
            if self.incoming.as_ref().is_some_and(|i| i.id > id) {
                return false; // a part of an older catch-up than the one in progress
            }
            self.incoming = Some(Incoming {
                id,
                parts,
                got: BTreeSet::new(),
                last: now,
            });
        }
        let Some(incoming) = self.incoming.as_mut() else {
            return false;
        };
        incoming.got.insert(part);
        incoming.last = now;
        if incoming.got.len() == parts as usize {
            self.incoming = None;
            true
        } else {
            false
        }
    }
}
