//! What an engine knows about one peer, and the payloads it sent there.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crdt_core::{CausalContext, ReplicaId};

use crate::message::MessageKind;

/// How many recent single-part payloads a peer's acknowledgements are
/// matched against (older ones are forgotten; their content is resent on
/// the retransmission timeout). Each round with news sends one, so this
/// covers a round trip of 64 rounds (6.4 s at the default sync interval).
const SENT_HISTORY: usize = 64;

/// How many later transmissions of a single-part payload are remembered
/// (an acknowledgement of an older one is ignored, as one of a forgotten
/// payload is: the payload stays in flight and a later transmission's
/// acknowledgement completes it).
const TRANSMISSIONS: usize = 16;

/// The retransmission timeout before any round trip was measured (RFC 6298
/// uses 1 s too), at most half the configured acknowledgement timeout (a
/// short one says the links are fast, and under heavy loss a short timer
/// converges sooner): the opening digest exchange and catch-up are not
/// resent many times over on a slow link while the first sample is awaited.
const INITIAL_RTO: Duration = Duration::from_secs(1);

// Design note: no exponential backoff. RFC 6298 doubles the timeout on
// every expiry because on the Internet a lost packet means congestion. A
// sync round sends one small message per peer, and the losses this engine
// meets (lossy radio, dropped datagrams) do not go away by sending less
// often. Measured under the harsh schedules and the 20% loss scenario,
// doubling (capped at 4x, reset by acknowledgements or RTT samples, before
// or after the first sample) made convergence slower every time: links
// that wait for a catch-up get no acknowledgements and, by Karn's rule, no
// RTT sample from a resent catch-up, so their timeouts grew while the loss
// was random. This was the cause of the slower convergence of the first
// RFC 6298 attempt. The timeout follows the measured round trip instead
// (`2 * srtt`, at least one sync interval), and a lost interval is resent
// as soon as the acknowledgement of a later one shows the gap.
//
// Design note (2026-12-04, issue 14): at a one-way delay of 1 s the opening
// cost most of the bytes. Before the first sample the timeout was two sync
// intervals (200 ms), so each catch-up went out about ten times per round
// trip, every resend went under the same id (no sample, by Karn's rule),
// digests were asked again every 400 ms, and the first deltas ran out of
// retries before their first acknowledgement could come back, which
// started the digest exchange over. Now a resent single-part payload goes
// under a fresh id ([`Sent::transmissions`]), so its acknowledgement names
// the transmission and is an exact sample; the timeout before the first
// sample is [`INITIAL_RTO`] (at most half the acknowledgement timeout: the
// harsh schedules, with timeouts of two to six sync intervals, had 186 runs
// over 30 s of 600 with an uncapped 1 s against 11 before); and a
// digest is asked again after one timeout, not two. Tried and dropped: an
// upper-bound sample (acknowledgement time minus first send) from a resent
// payload: under loss it inflated the timeout of links still waiting for a
// catch-up (20% loss scenario: 3.3 s mean over 20 seeds against 2.5 s).

/// What the engine knows about one peer.
#[derive(Debug)]
pub(super) struct Peer {
    /// The peer's incarnation, as last seen in its messages (0: unknown).
    pub(super) epoch: u32,
    /// The highest local sequence the peer has received in full (in its
    /// current incarnation).
    pub(super) acked: u64,
    /// The peer must be caught up by digest (or full state) before deltas:
    /// it is new or restarted, so `acked` says nothing.
    pub(super) reset: bool,
    /// The peer stopped acknowledging (or fell too far behind): its `acked`
    /// no longer holds the buffer. It gets intervals again while the buffer
    /// still reaches back to `acked`, a catch-up otherwise.
    pub(super) unpinned: bool,
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
    /// Intervals `(base, seq]` the peer acknowledged that do not continue
    /// `acked` (one before them was lost): `acked` moves past them once the
    /// gap is filled. At most [`SENT_HISTORY`], each from a payload sent.
    pub(super) delivered: Vec<(u64, u64)>,
    /// When the retransmission timer started: set when something is shipped
    /// while nothing is outstanding, restarted when an acknowledgement
    /// advances `acked` with more still outstanding, and cleared when
    /// `acked` reaches `shipped`.
    pub(super) timer: Option<Instant>,
    /// An acknowledgement arrived for an interval sent after the timer
    /// started, while one before it is missing: resend `(acked, seq]` now
    /// rather than after the timeout (the interval before was most likely
    /// lost; if it was only late, the resend costs one message).
    pub(super) gap: bool,
    /// Payloads sent and not yet acknowledged in full, oldest first.
    pub(super) sent: VecDeque<Sent>,
    /// The catch-up being received from the peer.
    pub(super) incoming: Option<Incoming>,
    /// Smoothed round-trip time, from acknowledgements that name the
    /// transmission they answer (see [`Sent::transmissions`]).
    pub(super) srtt: Option<Duration>,
    /// The retransmission timeout while [`Peer::srtt`] is unknown:
    /// [`INITIAL_RTO`], at most half the configured acknowledgement timeout.
    pub(super) initial_rto: Duration,
    /// Fingerprints have matched since the last catch-up from this peer
    /// (and since the last payload not addressed to this incarnation that
    /// changed the state). See [`crate::Config::integrity_interval`].
    pub(super) checked: bool,
    /// When fingerprints were last sent to this peer.
    pub(super) prints_sent: Option<Instant>,
    /// Mismatches seen at the last comparison, origin to `(mine, theirs)`
    /// hashes: a mismatch is repaired when the next comparison finds it
    /// unchanged (one still in flight settles in between and costs nothing).
    /// Keyed by origin, so a comparison costs `O(log n)` per print received.
    pub(super) suspects: BTreeMap<ReplicaId, (u64, u64)>,
    /// Where the next part of the fingerprint list sent to this peer starts.
    pub(super) print_cursor: usize,
}

/// A payload sent to a peer.
#[derive(Debug)]
pub(super) struct Sent {
    /// The payload id.
    pub(super) id: u64,
    /// The local sequence the payload brings the peer up to, if the peer
    /// holds everything up to `base`.
    pub(super) seq: u64,
    /// The local sequence the payload builds on: a delta-interval carries
    /// `(base, seq]`; a catch-up or the whole state everything (0); a
    /// repair projection nothing of the buffer (`seq`).
    pub(super) base: u64,
    /// Per part: the encoded body (the state) while unacknowledged, kept for
    /// resending (catch-ups, and deltas that were split); `None` once
    /// acknowledged, or never kept for a single-part delta (a lost one is
    /// rebuilt with whatever is new). A resend frames it again, with the
    /// peer's incarnation as known then.
    pub(super) parts: Vec<Option<Vec<u8>>>,
    /// The later transmissions of a single-part payload, each under a fresh
    /// id, with when it was sent (at most [`TRANSMISSIONS`], newest last):
    /// an acknowledgement names the transmission it answers, so it is an
    /// exact RTT sample even for a resent payload (no Karn ambiguity). The
    /// parts of a split payload keep the payload's id (the receiver puts
    /// them together by id), so a resent split payload gives no sample.
    pub(super) transmissions: VecDeque<(u64, Instant)>,
    /// Parts not yet acknowledged.
    pub(super) remaining: usize,
    /// When it was first sent, and last (re)sent.
    pub(super) first_sent: Instant,
    pub(super) last_sent: Instant,
    /// When an acknowledgement of it last arrived.
    pub(super) last_progress: Instant,
    /// Whether any part of a split payload was sent more than once (no RTT
    /// sample then: Karn's rule).
    pub(super) resent: bool,
    /// Delta, catch-up or state.
    pub(super) kind: MessageKind,
    /// For a catch-up, the digest it answers: a later digest from the same
    /// peer is answered by this one, still in flight, only if it claims at
    /// least as much (otherwise this one may lack what the peer now asks
    /// for, e.g. after a forged digest).
    pub(super) answered: Option<CausalContext>,
}

/// A part to (re)send: `(id, part, parts)` and the encoded body.
pub(super) type Part = ((u64, u32, u32), Vec<u8>);

impl Sent {
    /// The parts still unacknowledged, to send again now. A single-part
    /// payload goes under a fresh id taken from `next_id`; the parts of a
    /// split one under the payload's id.
    pub(super) fn resend(&mut self, now: Instant, next_id: &mut u64) -> Vec<Part> {
        self.last_sent = now;
        let parts = u32::try_from(self.parts.len()).unwrap_or(u32::MAX);
        if parts == 1 {
            let id = *next_id;
            *next_id += 1;
            if self.transmissions.len() >= TRANSMISSIONS {
                self.transmissions.pop_front();
            }
            self.transmissions.push_back((id, now));
            return self.parts[0]
                .iter()
                .map(|body| ((id, 0, 1), body.clone()))
                .collect();
        }
        self.resent = true;
        let id = self.id;
        (0..parts)
            .zip(&self.parts)
            .filter_map(|(i, body)| Some(((id, i, parts), body.clone()?)))
            .collect()
    }

    /// When the transmission `id` of this payload was sent, if it is one.
    pub(super) fn sent_at(&self, id: u64) -> Option<Instant> {
        if id == self.id {
            return Some(self.first_sent);
        }
        self.transmissions
            .iter()
            .find_map(|&(t, at)| (t == id).then_some(at))
    }

    /// Whether this payload is kept for resending and still has parts to
    /// deliver.
    pub(super) fn is_in_flight(&self) -> bool {
        self.parts.iter().any(Option::is_some)
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
    /// A peer just added; half of `ack_timeout` caps the timeout before the first
    /// round-trip sample (see [`Peer::rto`]).
    pub(super) fn new(now: Instant, ack_timeout: Duration) -> Self {
        Self {
            initial_rto: INITIAL_RTO.min(ack_timeout / 2),
            epoch: 0,
            acked: 0,
            reset: true,
            unpinned: false,
            caught_up: false,
            last_ack: now,
            behind_since: None,
            alerted: false,
            digest_asked: None,
            resends: 0,
            shipped: 0,
            delivered: Vec::new(),
            timer: None,
            gap: false,
            sent: VecDeque::new(),
            incoming: None,
            srtt: None,
            checked: false,
            prints_sent: None,
            suspects: BTreeMap::new(),
            print_cursor: 0,
        }
    }

    /// The peer restarted as incarnation `epoch`: nothing it acknowledged
    /// before can be trusted, and it must catch this engine up again.
    pub(super) fn restarted(&mut self, epoch: u32) {
        self.epoch = epoch;
        self.acked = 0;
        self.shipped = 0;
        self.delivered.clear();
        self.timer = None;
        self.gap = false;
        self.reset = true;
        self.unpinned = false;
        self.caught_up = false;
        self.digest_asked = None;
        self.resends = 0;
        self.sent.clear();
        self.incoming = None;
        self.unchecked();
    }

    /// The states must be compared again before they count as in sync.
    pub(super) fn unchecked(&mut self) {
        self.checked = false;
        self.prints_sent = None;
        self.suspects.clear();
    }

    /// How long to wait for an acknowledgement before resending: twice the
    /// smoothed round trip ([`Peer::initial_rto`], or two sync intervals if longer,
    /// before the first sample), at least one sync interval, at most a
    /// minute.
    pub(super) fn rto(&self, sync_interval: Duration) -> Duration {
        let base = self
            .srtt
            .map_or(self.initial_rto.max(sync_interval * 2), |s| s * 2);
        base.max(sync_interval).min(Duration::from_secs(60))
    }

    /// Whether the whole unacknowledged interval is to be sent again now:
    /// a retransmission timeout has passed since [`Peer::timer`] started
    /// (or no timer runs though something is unacknowledged), or a later
    /// interval's acknowledgement showed a gap.
    pub(super) fn retransmit_due(&self, now: Instant, sync_interval: Duration, news: bool) -> bool {
        self.gap
            || self
                .timer
                .map_or(!news, |t| now.duration_since(t) >= self.rto(sync_interval))
    }

    /// Notes a retransmission of the unacknowledged interval: the timer
    /// restarts.
    pub(super) fn retransmitted(&mut self, now: Instant) {
        self.timer = Some(now);
        self.gap = false;
    }

    /// The missing parts of the kept payload in flight, to send again now if
    /// a retransmission timeout has passed since they were last sent.
    pub(super) fn resend_due(
        &mut self,
        now: Instant,
        sync_interval: Duration,
        next_id: &mut u64,
    ) -> Option<(MessageKind, Vec<Part>)> {
        let wait = self.rto(sync_interval);
        let sent = self.in_flight()?;
        (now.duration_since(sent.last_sent) >= wait).then(|| (sent.kind, sent.resend(now, next_id)))
    }

    /// The peer has received the interval `(base, seq]` in full. `acked`
    /// advances only if the interval continues it (the peer then holds
    /// everything up to `seq`), through any intervals delivered earlier that
    /// now continue it; otherwise the interval is kept until the gap before
    /// it is filled. An acknowledgement never lets `acked` skip an interval
    /// that was lost. Returns whether the interval continued `acked`.
    /// `sent_at` is when the interval was first sent.
    pub(super) fn deliver(&mut self, base: u64, seq: u64, sent_at: Instant, now: Instant) -> bool {
        if base > self.acked {
            if self.timer.is_some_and(|t| sent_at > t) {
                self.gap = true;
            }
            if self.delivered.len() >= SENT_HISTORY {
                self.delivered.remove(0);
            }
            self.delivered.push((base, seq));
            return false;
        }
        if seq <= self.acked {
            return true;
        }
        self.acked = seq;
        while let Some(i) = self
            .delivered
            .iter()
            .position(|&(b, s)| b <= self.acked && s > self.acked)
        {
            self.acked = self.delivered[i].1;
        }
        let acked = self.acked;
        self.delivered.retain(|&(_, s)| s > acked);
        self.shipped = self.shipped.max(acked);
        self.timer = (acked < self.shipped).then_some(now);
        self.gap = false;
        true
    }

    /// How long a split transfer may go without any acknowledgement before
    /// it is abandoned and started over: the acknowledgement timeout, or
    /// four retransmission timeouts on a slow link.
    pub(super) fn stall_window(&self, sync_interval: Duration, ack_timeout: Duration) -> Duration {
        ack_timeout.max(self.rto(sync_interval) * 4)
    }

    /// How long to wait after asking for a digest exchange (or after the last
    /// part of a catch-up arrived) before asking again: one retransmission
    /// timeout, at least four sync intervals.
    pub(super) fn ask_again_after(&self, sync_interval: Duration) -> Duration {
        (sync_interval * 4).max(self.rto(sync_interval))
    }

    /// Records a payload sent; forgets the oldest delivered-or-rebuildable
    /// ones past the history bound, and any older kept payload of the same
    /// kind (the new one supersedes it).
    pub(super) fn record(&mut self, sent: Sent) {
        if sent.is_in_flight() {
            let kind = sent.kind;
            self.sent.retain(|s| !(s.is_in_flight() && s.kind == kind));
        }
        self.sent.push_back(sent);
        while self.sent.iter().filter(|s| !s.is_in_flight()).count() > SENT_HISTORY {
            if let Some(i) = self.sent.iter().position(|s| !s.is_in_flight()) {
                self.sent.remove(i);
            }
        }
    }

    /// The kept payload still being delivered, if any.
    pub(super) fn in_flight(&mut self) -> Option<&mut Sent> {
        self.sent.iter_mut().find(|s| s.is_in_flight())
    }

    /// Takes an RTT sample (from a transmission the acknowledgement names).
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
