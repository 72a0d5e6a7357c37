//! The sans-IO anti-entropy engine.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crdt_core::ReplicaId;

use crate::codec::{self, DecodeError};
use crate::config::{Config, Mode};
use crate::message::{Message, Payload};
use crate::metrics::{Metrics, PeerLag};
use crate::replicated::Replicated;

/// A peer, as the caller names it (an index into its peer list, a node id).
/// Stable across restarts of that peer: a restarted peer keeps its `PeerId`
/// and gets a new incarnation (see [`Engine::restore`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u64);

/// Bytes the caller must deliver to a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The destination.
    pub to: PeerId,
    /// The encoded message.
    pub bytes: Vec<u8>,
}

/// Something the application may want to know or act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `peer` has been out of sync (unacknowledged deltas) for longer than
    /// [`Config::lag_alert`].
    LagAlert {
        /// The lagging peer.
        peer: PeerId,
        /// How long it has been behind.
        behind_for: Duration,
    },
    /// `peer` stopped acknowledging for [`Config::ack_timeout`] (or the buffer
    /// hit [`Config::max_buffered_deltas`]); it will be caught up by digest
    /// when it answers again.
    PeerReset {
        /// The reset peer.
        peer: PeerId,
    },
    /// A single part of a message to `peer` is larger than
    /// [`Config::max_message_bytes`] even after splitting; it was not sent.
    /// Raise the limit on both sides.
    MessageTooLarge {
        /// The destination.
        peer: PeerId,
        /// The size of the smallest part that did not fit.
        bytes: usize,
    },
}

/// One buffered delta-interval.
#[derive(Debug)]
struct Buffered<T> {
    seq: u64,
    delta: T,
    /// The peer it came from; `None` for a local mutation.
    origin: Option<PeerId>,
}

/// What the engine knows about one peer.
#[derive(Debug)]
struct Peer {
    /// The highest local sequence the peer acknowledged (this incarnation).
    acked: u64,
    /// The last time the peer acknowledged anything.
    last_ack: Instant,
    /// Since when the peer has had something unacknowledged.
    behind_since: Option<Instant>,
    /// Rounds the current interval was re-sent without an acknowledgement.
    resends: u32,
    /// The peer must be caught up by digest (or full state) before deltas.
    reset: bool,
    /// When the engine last asked this peer for its digest.
    digest_asked: Option<Instant>,
    /// Parts received of the peer's current payload: (epoch, seq, which).
    incoming: Option<(u32, u64, Vec<bool>)>,
    /// Whether a lag alert was raised for the current lag.
    alerted: bool,
}

impl Peer {
    fn new(now: Instant) -> Self {
        Self {
            acked: 0,
            last_ack: now,
            behind_since: None,
            resends: 0,
            reset: true,
            digest_asked: None,
            incoming: None,
            alerted: false,
        }
    }
}

/// A replica's anti-entropy engine: its state, its buffer of deltas and what
/// each peer has acknowledged. No sockets, threads or clocks inside; the
/// caller passes `now`, delivers what [`Engine::poll_transmit`] returns,
/// feeds what arrives to [`Engine::handle_message`], and calls
/// [`Engine::handle_timeout`] at [`Engine::poll_timeout`].
///
/// The protocol is delta-interval anti-entropy (Almeida, Shoker, Baquero,
/// "Delta State Replicated Data Types", 2018) with the two optimisations of
/// Enes et al. (ICDE 2019): deltas are not sent back to where they came from,
/// and a received delta is stripped of what the replica already had before it
/// is buffered. A peer whose acknowledgements do not continue the buffer
/// (new, restarted, reset) is caught up by digest: it sends its causal
/// context and gets exactly what it lacks.
///
/// ```
/// use std::time::{Duration, Instant};
/// use crdt_sync::{Config, Engine, PeerId};
/// use crdt_types::{OrSet, ReplicaId};
///
/// let now = Instant::now();
/// let (ra, rb) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut a = Engine::new(ra, OrSet::new(), Config::default(), now);
/// let mut b = Engine::new(rb, OrSet::new(), Config::default(), now);
/// a.add_peer(PeerId(2), now);
/// b.add_peer(PeerId(1), now);
/// a.update(|s| s.insert(ra, "apple".to_string()));
/// b.update(|s| s.insert(rb, "pear".to_string()));
///
/// // The caller's loop: deliver what each engine transmits, run timers.
/// let mut t = now;
/// for _ in 0..10 {
///     t += Duration::from_millis(100);
///     a.handle_timeout(t);
///     b.handle_timeout(t);
///     while let Some(m) = a.poll_transmit() { b.handle_message(t, PeerId(1), &m.bytes).unwrap(); }
///     while let Some(m) = b.poll_transmit() { a.handle_message(t, PeerId(2), &m.bytes).unwrap(); }
/// }
/// assert_eq!(a.state(), b.state());
/// assert_eq!(a.state().len(), 2);
/// ```
#[derive(Debug)]
pub struct Engine<T> {
    config: Config,
    replica: ReplicaId,
    epoch: u32,
    state: T,
    seq: u64,
    /// Sequence of the newest local (not received) delta.
    last_local: u64,
    buffer: VecDeque<Buffered<T>>,
    peers: BTreeMap<PeerId, Peer>,
    outbox: VecDeque<Transmit>,
    events: VecDeque<Event>,
    next_round: Instant,
    metrics: Metrics,
}

impl<T: Replicated> Engine<T> {
    /// An engine for replica `replica` starting from `state`.
    ///
    /// `replica` is the id this incarnation writes with (see
    /// [`Engine::replica`]); it must never have minted dots before. For a
    /// replica restarted from a snapshot use [`Engine::restore`].
    pub fn new(replica: ReplicaId, state: T, config: Config, now: Instant) -> Self {
        let metrics = Metrics::default();
        Self {
            next_round: now + config.sync_interval,
            config,
            replica,
            epoch: epoch_of(replica),
            state,
            seq: 0,
            last_local: 0,
            buffer: VecDeque::new(),
            peers: BTreeMap::new(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            metrics,
        }
    }

    /// An engine restarted from a saved `snapshot`, writing as a fresh
    /// random replica id: a snapshot may be older than the last delta the
    /// old incarnation sent, and reusing its id could mint the same dot
    /// twice for different writes. Peers catch it up by digest.
    ///
    /// Use [`Engine::restore_as`] only when the snapshot is known to be the
    /// latest state of that id (for example written synchronously before
    /// every send), or for deterministic simulations.
    pub fn restore(snapshot: T, config: Config, now: Instant) -> Self {
        Self::new(ReplicaId::random(), snapshot, config, now)
    }

    /// [`Engine::restore`] with a caller-chosen replica id; the caller
    /// asserts that `replica` never minted a dot the snapshot lacks.
    pub fn restore_as(replica: ReplicaId, snapshot: T, config: Config, now: Instant) -> Self {
        Self::new(replica, snapshot, config, now)
    }

    /// The replica id local mutations must be made with.
    #[must_use]
    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> &T {
        &self.state
    }

    /// The state, for saving a snapshot or dropping the engine.
    #[must_use]
    pub fn into_state(self) -> T {
        self.state
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What the engine has done so far, with per-peer lag as of the last
    /// call that took `now`.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The peers, in order.
    pub fn peers(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.peers.keys().copied()
    }

    /// Whether every peer has acknowledged every local delta-interval.
    #[must_use]
    pub fn is_synced(&self) -> bool {
        self.peers.values().all(|p| !p.reset && p.acked >= self.seq)
    }

    /// Adds a peer (doing nothing if known). The engine opens with a digest
    /// exchange, so a new or returning peer is caught up with exactly what
    /// it lacks.
    pub fn add_peer(&mut self, peer: PeerId, now: Instant) {
        if self.peers.contains_key(&peer) {
            return;
        }
        self.peers.insert(peer, Peer::new(now));
        self.ask_digest(peer, now);
    }

    /// Forgets a peer; its acknowledgements no longer hold the buffer.
    pub fn remove_peer(&mut self, peer: PeerId) {
        self.peers.remove(&peer);
        self.metrics.peers.remove(&peer);
        self.collect_garbage();
    }

    /// Runs a mutator on the state and ships its delta:
    /// `engine.update(|s| s.insert(me, x))`.
    pub fn update(&mut self, mutate: impl FnOnce(&mut T) -> T) {
        let delta = mutate(&mut self.state);
        self.buffer_delta(delta, None);
        self.last_local = self.seq;
    }

    /// Joins a delta made elsewhere (for example by a mutator run on a copy)
    /// into the state and ships it.
    pub fn apply_local(&mut self, delta: T) {
        self.state.join(&delta);
        self.buffer_delta(delta, None);
        self.last_local = self.seq;
    }

    /// Takes in bytes that arrived from `from`. Bad bytes are an error and
    /// change nothing; the caller may drop that connection.
    ///
    /// A well-formed message from a `from` the engine does not know adds it
    /// as a peer (so a restarted or new peer is caught up). `PeerId`s are the
    /// caller's: authenticate connections before handing their bytes here,
    /// as `crdt-net` does by refusing unknown peers at the handshake.
    pub fn handle_message(
        &mut self,
        now: Instant,
        from: PeerId,
        bytes: &[u8],
    ) -> Result<(), DecodeError> {
        self.metrics.messages_in += 1;
        self.metrics.bytes_in += bytes.len() as u64;
        let message = match codec::decode::<T>(bytes, self.config.max_message_bytes) {
            Ok(m) => m,
            Err(e) => {
                self.metrics.messages_rejected += 1;
                return Err(e);
            }
        };
        if !self.peers.contains_key(&from) {
            self.add_peer(from, now);
        }
        let body_len = bytes.len().saturating_sub(codec::HEADER_LEN);
        match message {
            Message::Delta(p) | Message::CatchUp(p) | Message::State(p) => {
                self.receive_payload(from, p, body_len);
            }
            Message::Ack { epoch, seq } => self.receive_ack(now, from, epoch, seq),
            Message::Digest { digest, reply } => {
                self.answer_digest(from, digest.as_ref());
                if reply {
                    let digest = self.state.digest();
                    self.send(
                        from,
                        &Message::Digest {
                            digest,
                            reply: false,
                        },
                    );
                }
            }
        }
        self.refresh_lag(now);
        Ok(())
    }

    /// Runs what is due at `now`: a sync round, acknowledgement timeouts,
    /// lag alerts.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_round {
            return;
        }
        while self.next_round <= now {
            self.next_round += self.config.sync_interval;
        }
        self.check_timeouts(now);
        let peers: Vec<PeerId> = self.peers.keys().copied().collect();
        for peer in peers {
            self.sync_peer(peer, now);
        }
        self.refresh_lag(now);
    }

    /// The next message to deliver, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    /// When to call [`Engine::handle_timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Instant {
        self.next_round
    }

    /// The next event for the application, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn buffer_delta(&mut self, delta: T, origin: Option<PeerId>) {
        if delta.is_bottom() {
            return;
        }
        self.seq += 1;
        self.buffer.push_back(Buffered {
            seq: self.seq,
            delta,
            origin,
        });
        self.enforce_buffer_bound();
        self.metrics.deltas_buffered = self.buffer.len();
    }

    fn receive_payload(&mut self, from: PeerId, p: Payload<T>, body_len: usize) {
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        // Track parts: the payload is acknowledged once all have arrived.
        let complete = if p.parts <= 1 {
            peer.incoming = None;
            true
        } else {
            let fresh = !matches!(&peer.incoming, Some((e, s, seen)) if *e == p.epoch && *s == p.seq && seen.len() == p.parts as usize);
            if fresh {
                peer.incoming = Some((p.epoch, p.seq, vec![false; p.parts as usize]));
            }
            match &mut peer.incoming {
                Some((_, _, seen)) => {
                    if let Some(slot) = seen.get_mut(p.part as usize) {
                        *slot = true;
                    }
                    seen.iter().all(|&x| x)
                }
                None => false,
            }
        };
        let concurrent = self.last_local > peer.acked;
        let fresh = if self.config.strip_redundant {
            p.state.delta_from(&self.state)
        } else {
            p.state
        };
        if fresh.is_bottom() {
            self.metrics.redundant_bytes_stripped += body_len as u64;
        } else {
            if self.config.strip_redundant {
                let kept = codec::state_len(&fresh);
                self.metrics.redundant_bytes_stripped +=
                    body_len.saturating_sub(kept.saturating_add(8)) as u64;
            }
            self.metrics.deltas_applied += 1;
            if concurrent {
                self.metrics.concurrent_deltas += 1;
            }
            self.state.join(&fresh);
            if self.config.mode == Mode::Delta {
                self.buffer_delta(fresh, Some(from));
            }
        }
        if complete && self.config.mode == Mode::Delta {
            self.send(
                from,
                &Message::Ack {
                    epoch: p.epoch,
                    seq: p.seq,
                },
            );
        }
    }

    fn receive_ack(&mut self, now: Instant, from: PeerId, epoch: u32, seq: u64) {
        let own_epoch = self.epoch;
        let current = self.seq;
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        if epoch != own_epoch || seq > current {
            return; // an acknowledgement for an earlier incarnation of this engine
        }
        peer.last_ack = now;
        if seq > peer.acked || peer.reset {
            peer.acked = peer.acked.max(seq);
            peer.resends = 0;
            peer.reset = false;
            peer.digest_asked = None;
        }
        self.collect_garbage();
    }

    /// Answers a peer's digest with exactly what it lacks (or the full state
    /// for types without digests).
    fn answer_digest(&mut self, to: PeerId, digest: Option<&crdt_core::CausalContext>) {
        let missing = digest.and_then(|d| self.state.missing_for(d));
        let payload = |state| Payload {
            epoch: self.epoch,
            seq: self.seq,
            part: 0,
            parts: 1,
            state,
        };
        match missing {
            Some(m) => {
                self.metrics.digest_catch_ups += 1;
                let p = payload(m);
                self.send_payload(to, p, Message::CatchUp);
            }
            None => {
                self.metrics.full_state_fallbacks += 1;
                let p = payload(self.state.clone());
                self.send_payload(to, p, Message::State);
            }
        }
    }

    fn ask_digest(&mut self, peer: PeerId, now: Instant) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.digest_asked = Some(now);
        }
        let digest = self.state.digest();
        self.send(
            peer,
            &Message::Digest {
                digest,
                reply: true,
            },
        );
    }

    fn sync_peer(&mut self, id: PeerId, now: Instant) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        if self.config.mode == Mode::State {
            let p = Payload {
                epoch: self.epoch,
                seq: self.seq,
                part: 0,
                parts: 1,
                state: self.state.clone(),
            };
            self.send_payload(id, p, Message::State);
            return;
        }
        let low = self.buffer.front().map_or(self.seq + 1, |b| b.seq);
        let needs_catch_up = peer.reset || peer.acked + 1 < low;
        if needs_catch_up {
            let waited = peer
                .digest_asked
                .is_none_or(|t| now.duration_since(t) >= self.config.sync_interval * 4);
            if waited {
                self.ask_digest(id, now);
            }
            return;
        }
        if peer.acked >= self.seq {
            return;
        }
        let acked = peer.acked;
        let mut delta = T::default();
        for b in self.buffer.iter().filter(|b| b.seq > acked) {
            if self.config.avoid_back_propagation && b.origin == Some(id) {
                continue;
            }
            delta.join(&b.delta);
        }
        let seq = self.seq;
        if delta.is_bottom() {
            // Everything unacknowledged came from this peer: it has it.
            if let Some(p) = self.peers.get_mut(&id) {
                p.acked = seq;
            }
            self.collect_garbage();
            return;
        }
        let retries = self.config.retries;
        let give_up = self.peers.get_mut(&id).is_some_and(|p| {
            p.resends += 1;
            if p.resends > retries {
                p.resends = 0;
                true
            } else {
                false
            }
        });
        if give_up {
            // Deltas keep getting lost or the peer lost state: also ask for
            // its digest, which repairs either case.
            self.ask_digest(id, now);
        }
        let p = Payload {
            epoch: self.epoch,
            seq,
            part: 0,
            parts: 1,
            state: delta,
        };
        self.send_payload(id, p, Message::Delta);
    }

    /// Sends a payload, split into parts when it exceeds the size limit.
    fn send_payload(&mut self, to: PeerId, p: Payload<T>, wrap: fn(Payload<T>) -> Message<T>) {
        let limit = self.config.max_message_bytes;
        let (epoch, seq) = (p.epoch, p.seq);
        let message = wrap(p);
        let bytes = match codec::encode(&message) {
            Ok(b) => b,
            Err(_) => return,
        };
        if bytes.len() <= limit {
            self.push(to, bytes);
            return;
        }
        let state = match message {
            Message::Delta(p) | Message::CatchUp(p) | Message::State(p) => p.state,
            _ => return,
        };
        self.metrics.split_messages += 1;
        // Pack irreducible parts greedily under the limit.
        let budget = limit.saturating_sub(codec::HEADER_LEN + 32).max(1);
        let mut chunks: Vec<T> = Vec::new();
        let mut current = T::default();
        let mut current_len = 0usize;
        for part in state.decompose() {
            let len = codec::state_len(&part);
            if current_len > 0 && current_len + len > budget {
                chunks.push(std::mem::take(&mut current));
                current_len = 0;
            }
            current.join_owned(part);
            current_len += len;
        }
        if !current.is_bottom() {
            chunks.push(current);
        }
        let parts = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
        let mut encoded = Vec::with_capacity(chunks.len());
        for (i, chunk) in chunks.into_iter().enumerate() {
            let m = wrap(Payload {
                epoch,
                seq,
                part: u32::try_from(i).unwrap_or(u32::MAX),
                parts,
                state: chunk,
            });
            match codec::encode(&m) {
                Ok(b) if b.len() <= limit => encoded.push(b),
                Ok(b) => {
                    self.events.push_back(Event::MessageTooLarge {
                        peer: to,
                        bytes: b.len(),
                    });
                    return;
                }
                Err(_) => return,
            }
        }
        for b in encoded {
            self.push(to, b);
        }
    }

    fn send(&mut self, to: PeerId, message: &Message<T>) {
        if let Ok(bytes) = codec::encode(message) {
            self.push(to, bytes);
        }
    }

    fn push(&mut self, to: PeerId, bytes: Vec<u8>) {
        self.metrics.messages_out += 1;
        self.metrics.bytes_out += bytes.len() as u64;
        self.outbox.push_back(Transmit { to, bytes });
    }

    fn check_timeouts(&mut self, now: Instant) {
        let seq = self.seq;
        let timeout = self.config.ack_timeout;
        let mut reset = Vec::new();
        for (id, p) in &mut self.peers {
            if !p.reset && p.acked < seq && now.duration_since(p.last_ack) > timeout {
                p.reset = true;
                reset.push(*id);
            }
        }
        for id in reset {
            self.metrics.peer_resets += 1;
            self.events.push_back(Event::PeerReset { peer: id });
        }
        self.collect_garbage();
    }

    /// Drops deltas every (non-reset) peer has acknowledged.
    fn collect_garbage(&mut self) {
        let floor = self
            .peers
            .values()
            .filter(|p| !p.reset)
            .map(|p| p.acked)
            .min()
            .unwrap_or(self.seq);
        while self.buffer.front().is_some_and(|b| b.seq <= floor) {
            self.buffer.pop_front();
        }
        self.metrics.deltas_buffered = self.buffer.len();
    }

    /// Keeps the buffer under its bound by resetting the peers furthest
    /// behind.
    fn enforce_buffer_bound(&mut self) {
        while self.buffer.len() > self.config.max_buffered_deltas {
            let laggard = self
                .peers
                .iter()
                .filter(|(_, p)| !p.reset)
                .min_by_key(|(_, p)| p.acked)
                .map(|(id, _)| *id);
            match laggard {
                Some(id) => {
                    if let Some(p) = self.peers.get_mut(&id) {
                        p.reset = true;
                    }
                    self.metrics.peer_resets += 1;
                    self.events.push_back(Event::PeerReset { peer: id });
                    self.collect_garbage();
                }
                None => {
                    self.buffer.pop_front();
                }
            }
        }
    }

    fn refresh_lag(&mut self, now: Instant) {
        let seq = self.seq;
        let alert_after = self.config.lag_alert;
        for (id, p) in &mut self.peers {
            let behind = p.reset || p.acked < seq;
            if behind {
                let since = *p.behind_since.get_or_insert(now);
                let behind_for = now.duration_since(since);
                if behind_for > alert_after && !p.alerted {
                    p.alerted = true;
                    self.events.push_back(Event::LagAlert {
                        peer: *id,
                        behind_for,
                    });
                }
            } else {
                p.behind_since = None;
                p.alerted = false;
            }
            self.metrics.peers.insert(
                *id,
                PeerLag {
                    unacked_sequences: seq.saturating_sub(p.acked),
                    unacked_for: p
                        .behind_since
                        .map_or(Duration::ZERO, |t| now.duration_since(t)),
                    reset: p.reset,
                },
            );
        }
    }
}

/// The incarnation tag of an engine: part of its replica id.
fn epoch_of(replica: ReplicaId) -> u32 {
    let v = replica.as_u128();
    (v ^ (v >> 32) ^ (v >> 64) ^ (v >> 96)) as u32
}
