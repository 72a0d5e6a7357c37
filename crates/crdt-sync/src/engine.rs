//! The sans-IO anti-entropy engine.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crdt_core::{CausalContext, Dot, ReplicaId};

use crate::codec::{self, DecodeError};
use crate::config::{Config, ConfigError};
use crate::message::{Message, MessageKind};
use crate::metrics::Metrics;
use crate::replicated::Replicated;

mod buffer;
mod event;
mod fit;
mod inbound;
mod integrity;
mod outbound;
mod peer;
mod upkeep;

use buffer::{Buffered, Held};
pub use event::{Event, LocalWriteError};
use peer::{Peer, Sent};

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

/// A replica's anti-entropy engine: its state, its buffer of deltas and what
/// each peer has acknowledged. No sockets or threads inside, and no clock
/// reads but one of the system clock at creation (for
/// [`Config::max_clock_drift`]; see [`Engine::set_wall_clock`]); the
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
/// // Three replicas, all connected; engine `i` is peer `PeerId(i)` to the others.
/// let mut engines: Vec<Engine<OrSet<String>>> = (0..3)
///     .map(|i| Engine::new(ReplicaId::from_u128(i + 1), OrSet::new(), Config::default(), now).unwrap())
///     .collect();
/// for (i, e) in engines.iter_mut().enumerate() {
///     for j in (0..3).filter(|&j| j != i) {
///         e.add_peer(PeerId(j as u64), now);
///     }
/// }
/// engines[0].update(|s, me| s.insert(me, "apple".to_string())).unwrap();
/// engines[1].update(|s, me| s.insert(me, "pear".to_string())).unwrap();
///
/// // The caller's loop: run timers, and deliver each transmit to its
/// // destination (`to`), saying who sent it.
/// let mut t = now;
/// for _ in 0..10 {
///     t += Duration::from_millis(100);
///     for from in 0..3 {
///         engines[from].handle_timeout(t);
///         while let Some(m) = engines[from].poll_transmit() {
///             let to = m.to.0 as usize;
///             engines[to].handle_message(t, PeerId(from as u64), &m.bytes).unwrap();
///         }
///     }
/// }
/// assert!(engines.iter().all(|e| e.state() == engines[0].state() && e.is_synced()));
/// assert_eq!(engines[2].state().len(), 2);
/// ```
#[derive(Debug)]
pub struct Engine<T> {
    config: Config,
    replica: ReplicaId,
    /// This incarnation's random nonzero tag (see [`Envelope`]).
    epoch: u32,
    /// The id of the next payload sent (unique per incarnation).
    next_id: u64,
    /// The local wall clock: `(instant, ms since the Unix epoch)` read
    /// together once; later readings are derived from `now`.
    wall_anchor: (Instant, u64),
    /// Per id this replica writes under ([`Replicated::mints_as`]): the
    /// highest counter it has minted. A received dot above it is forged.
    minted: BTreeMap<ReplicaId, u64>,
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
    /// Bumped whenever the state changes (keys [`integrity::PrintCache`]).
    state_version: u64,
    print_cache: integrity::PrintCache,
}

impl<T: Replicated> Engine<T> {
    /// An engine for replica `replica` starting from `state`, or the reason
    /// `config` is refused ([`Config::validate`]).
    ///
    /// `replica` is the id this incarnation writes with (see
    /// [`Engine::replica`]); it must never have minted dots the state lacks.
    /// If the state already holds a dot of `replica` near the counter's
    /// maximum, the engine writes under a fresh random id instead.
    /// For a replica restarted from a snapshot use [`Engine::restore`].
    pub fn new(
        replica: ReplicaId,
        state: T,
        config: Config,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut minted = BTreeMap::new();
        record_minted::<T>(&mut minted, replica, state.dots().as_deref());
        // A state whose dots under `replica` reach the mint limit (an adopted
        // forged dot saved by a store, say) is never minted under again.
        let replica = if minted.get(&replica).is_some_and(|&n| n > MINT_LIMIT) {
            ReplicaId::random()
        } else {
            replica
        };
        Ok(Self {
            next_round: now + config.sync_interval,
            config,
            replica,
            epoch: fresh_epoch(),
            next_id: 1,
            wall_anchor: (now, system_wall_ms()),
            minted,
            state,
            seq: 0,
            last_local: 0,
            buffer: VecDeque::new(),
            peers: BTreeMap::new(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            metrics: Metrics::default(),
            state_version: 0,
            print_cache: integrity::PrintCache::default(),
        })
    }

    /// An engine restarted from a saved `snapshot`, writing as a fresh
    /// random replica id: a snapshot may be older than the last delta the
    /// old incarnation sent, and reusing its id could mint the same dot
    /// twice for different writes. Peers see a new incarnation and catch it
    /// up by digest.
    ///
    /// Use [`Engine::restore_as`] only when the snapshot is known to be the
    /// latest state of that id (for example written synchronously before
    /// every send), or for deterministic simulations.
    pub fn restore(snapshot: T, config: Config, now: Instant) -> Result<Self, ConfigError> {
        Self::new(ReplicaId::random(), snapshot, config, now)
    }

    /// [`Engine::restore`] with a caller-chosen replica id; the caller
    /// asserts that `replica` never minted a dot the snapshot lacks. The
    /// engine still starts a new incarnation, so peers catch it up. If the
    /// assertion is false, the newer dots of `replica` that peers send back
    /// are adopted ([`Event::UnmintedOwnDotAdopted`]) and later writes are
    /// minted after them; but a write made *before* they arrive reuses a
    /// dot, and the two values of that dot resolve by the kernel's
    /// deterministic rule, not as two writes. A durable store that records
    /// every minted dot before it is sent avoids this.
    pub fn restore_as(
        replica: ReplicaId,
        snapshot: T,
        config: Config,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        Self::new(replica, snapshot, config, now)
    }

    /// The replica id local mutations are made with (passed to the closure
    /// of [`Engine::update`]).
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

    /// How many deltas this engine has buffered for its peers so far, local
    /// writes and applied remote deltas alike (in [`crate::Mode::Delta`]; other
    /// modes buffer nothing and it stays 0). With [`Engine::deltas_after`],
    /// what a call changed: read it before, ask for what came after.
    #[must_use]
    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// The deltas buffered after sequence number `seq`, oldest first: after
    /// [`Engine::handle_message`], exactly what it applied (a received
    /// payload stripped of what this replica already held), which is what
    /// a durable store needs to append. Deltas every peer has acknowledged
    /// are dropped from the buffer, so ask right after the call. A received
    /// delta is kept encoded (see the design note of the buffer), so it is
    /// decoded here, once per call: an owned value, where a local one is
    /// borrowed.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use crdt_sync::{Config, Engine, PeerId};
    /// use crdt_types::{Lattice, OrSet, ReplicaId};
    ///
    /// let now = Instant::now();
    /// let new = |i| Engine::new(ReplicaId::from_u128(i), OrSet::new(), Config::default(), now);
    /// let (mut a, mut b) = (new(1)?, new(2)?);
    /// a.add_peer(PeerId(2), now);
    /// b.add_peer(PeerId(1), now);
    /// a.update(|s, me| s.insert(me, "pear".to_string()))?;
    ///
    /// // Everything `b` applies, as a durable store would append it.
    /// let mut applied = OrSet::new();
    /// let mut t = now;
    /// for _ in 0..10 {
    ///     t += Duration::from_millis(100);
    ///     a.handle_timeout(t);
    ///     b.handle_timeout(t);
    ///     while let Some(m) = a.poll_transmit() {
    ///         let before = b.sequence();
    ///         b.handle_message(t, PeerId(1), &m.bytes)?;
    ///         b.deltas_after(before).for_each(|d| applied.join(&d));
    ///     }
    ///     while let Some(m) = b.poll_transmit() {
    ///         a.handle_message(t, PeerId(2), &m.bytes)?;
    ///     }
    /// }
    /// assert!(applied.contains(&"pear".to_string()));
    /// assert_eq!(&applied, b.state());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deltas_after(&self, seq: u64) -> impl Iterator<Item = Cow<'_, T>> + '_ {
        let start = self.buffer.partition_point(|b| b.seq <= seq);
        self.buffer.range(start..).map(|b| b.delta.get(&self.state))
    }

    /// The peers, in order.
    pub fn peers(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.peers.keys().copied()
    }

    /// Whether this replica and every peer are known to hold the same
    /// state as far as this engine is concerned: every peer's current
    /// incarnation has received every local delta-interval, and this engine
    /// has received a complete catch-up from each of them, and (with
    /// [`Config::integrity_interval`]) fingerprints have matched since.
    /// Two engines that both report `true` hold equal states.
    #[must_use]
    pub fn is_synced(&self) -> bool {
        let checked = !self.integrity_on();
        self.peers
            .values()
            .all(|p| !p.reset && p.caught_up && p.acked >= self.seq && (checked || p.checked))
    }

    /// Adds a peer (doing nothing if known). The engine opens with a digest
    /// exchange, so a new or returning peer is caught up with exactly what
    /// it lacks.
    pub fn add_peer(&mut self, peer: PeerId, now: Instant) {
        if self.peers.contains_key(&peer) {
            return;
        }
        self.peers
            .insert(peer, Peer::new(now, self.config.ack_timeout));
        self.ask_digest(peer, now, true);
    }

    /// Forgets a peer; its acknowledgements no longer hold the buffer.
    pub fn remove_peer(&mut self, peer: PeerId) {
        self.peers.remove(&peer);
        self.metrics.peers.remove(&peer);
        self.collect_garbage();
    }

    /// Runs a mutator on the state and ships its delta. The closure gets the
    /// state and the replica id to write with:
    /// `engine.update(|s, me| s.insert(me, x))`.
    ///
    /// With [`Config::verify_local_writes`] (on by default in builds with
    /// debug assertions) a delta that mints a dot under another id, or
    /// reuses one, is refused: the state is put back as it was, nothing is
    /// shipped, and the error says why. That check clones the state per
    /// write; without it (the release default) a write costs what its
    /// mutator and its delta cost, whatever the size of the state.
    pub fn update(
        &mut self,
        mutate: impl FnOnce(&mut T, ReplicaId) -> T,
    ) -> Result<(), LocalWriteError> {
        let me = self.replica;
        if !self.config.verify_local_writes {
            let delta = mutate(&mut self.state, me);
            self.ship_local(delta);
            return Ok(());
        }
        let before = self.state.clone();
        let delta = mutate(&mut self.state, me);
        if let Err(e) = check_local(&before, &delta, me) {
            self.state = before;
            self.metrics.local_writes_refused += 1;
            return Err(e);
        }
        self.ship_local(delta);
        Ok(())
    }

    /// Joins a delta made elsewhere (for example by a mutator run on a copy)
    /// into the state and ships it. Refused, with nothing applied, if it
    /// mints a dot under another id than [`Engine::replica`] or reuses one.
    pub fn apply_local(&mut self, delta: T) -> Result<(), LocalWriteError> {
        if let Err(e) = check_local(&self.state, &delta, self.replica) {
            self.metrics.local_writes_refused += 1;
            return Err(e);
        }
        self.state.join(&delta);
        self.ship_local(delta);
        Ok(())
    }

    fn ship_local(&mut self, delta: T) {
        self.state_version += 1;
        self.note_minted(&delta);
        self.buffer_delta(delta);
        self.last_local = self.seq;
    }

    /// Records the dots `state` holds under this replica's ids as minted;
    /// past [`MINT_LIMIT`] the engine continues under a fresh id, so no
    /// counter ever saturates.
    fn note_minted(&mut self, state: &T) {
        record_minted::<T>(&mut self.minted, self.replica, state.dots().as_deref());
        if self
            .minted
            .get(&self.replica)
            .is_some_and(|&n| n > MINT_LIMIT)
        {
            self.replica = ReplicaId::random();
        }
    }

    /// A received payload carries dots under this replica's own ids above
    /// what it minted (`dot` the first): forged, or this replica's own
    /// writes from before a restore from a stale snapshot. They are adopted
    /// as if minted here: joined like any write, and every later mint comes
    /// after them, so no dot is ever reused (and a forged counter near the
    /// maximum moves the engine to a fresh id).
    ///
    /// Design note: refusing such payloads (the first answer to forged
    /// counters) left honest replicas apart for good: a forged dot of B
    /// given to A reached B again inside every delta A sent, B refused each
    /// one, and A and B never converged. Removing the dots instead would
    /// delete real writes after a stale restore. Adopting converges in both
    /// cases; a forged write under B's id is then exactly as visible as a
    /// forged write under any other id, which only authentication prevents.
    fn adopt_own_dots(&mut self, from: PeerId, dot: Dot, state: &T) {
        self.metrics.own_dots_adopted += 1;
        self.events
            .push_back(Event::UnmintedOwnDotAdopted { peer: from, dot });
        self.note_minted(state);
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
        let envelope = match codec::decode::<T>(bytes, self.config.max_message_bytes) {
            Ok(m) => m,
            Err(e) => {
                self.metrics.messages_rejected += 1;
                return Err(e);
            }
        };
        if !self.peers.contains_key(&from) {
            self.add_peer(from, now);
        }
        self.observe_epoch(from, envelope.from_epoch);
        if let Message::Delta(p) | Message::CatchUp(p) | Message::State(p) = &envelope.message
            && let Some(ahead_ms) = self.too_far_ahead(now, &p.state)
        {
            // Not an error: the sender's clock may just be fast. Nothing is
            // applied or acknowledged, so the sender resends it later.
            self.metrics.clock_drift_refused += 1;
            self.events.push_back(Event::ClockDriftRefused {
                peer: from,
                ahead_ms,
            });
            self.refresh_lag(now);
            return Ok(());
        }
        let to_me = envelope.to_epoch == self.epoch;
        let body = bytes.get(codec::HEADER_LEN..).unwrap_or_default();
        match envelope.message {
            Message::Delta(p) => {
                self.receive_payload(now, from, MessageKind::Delta, p, to_me, body)
            }
            Message::CatchUp(p) => {
                self.receive_payload(now, from, MessageKind::CatchUp, p, to_me, body);
            }
            Message::State(p) => {
                self.receive_payload(now, from, MessageKind::State, p, to_me, body)
            }
            Message::Ack { id, part } => {
                if to_me {
                    self.receive_ack(now, from, id, part);
                }
            }
            Message::Digest { digest, reply } => {
                self.answer_digest(now, from, digest);
                if reply {
                    self.ask_digest(from, now, false);
                }
            }
            Message::Fingerprints {
                seed,
                total,
                prints,
                reply,
            } => self.receive_prints(now, from, seed, total, &prints, reply),
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
        let interval = self.config.sync_interval;
        // One step to the first round after `now` (no loop over a long pause).
        let behind = now.duration_since(self.next_round).as_nanos() / interval.as_nanos().max(1);
        let skip = u32::try_from(behind + 1).unwrap_or(u32::MAX);
        self.next_round += interval
            .checked_mul(skip)
            .unwrap_or(Duration::from_secs(1 << 32));
        if self.next_round <= now {
            self.next_round = now + interval;
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

    /// Buffers a delta made here (a local write or a repair).
    fn buffer_delta(&mut self, delta: T) {
        if delta.is_bottom() {
            return;
        }
        self.buffer_held(Held::Value(delta), None);
    }

    fn buffer_held(&mut self, delta: Held<T>, origin: Option<PeerId>) {
        self.seq += 1;
        self.buffer.push_back(Buffered {
            seq: self.seq,
            delta,
            origin,
        });
        self.enforce_buffer_bound();
        self.metrics.deltas_buffered = self.buffer.len();
    }

    /// The local wall clock at `now`, in ms since the Unix epoch.
    #[must_use]
    pub fn wall_ms(&self, now: Instant) -> u64 {
        let (at, ms) = self.wall_anchor;
        let since = now.saturating_duration_since(at).as_millis();
        ms.saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
    }

    /// Sets the local wall clock: at `now` it reads `wall_ms` (ms since the
    /// Unix epoch). The engine reads the system clock once when created;
    /// call this after the system clock was corrected, or to run a
    /// simulation on a clock of its own.
    pub fn set_wall_clock(&mut self, now: Instant, wall_ms: u64) {
        self.wall_anchor = (now, wall_ms);
    }

    /// How far ahead of the local clock `state`'s latest timestamp is, if
    /// that is beyond the allowed drift.
    fn too_far_ahead(&self, now: Instant, state: &T) -> Option<u64> {
        let drift = self.config.max_clock_drift?;
        let latest = state.latest_wall_ms()?;
        let local = self.wall_ms(now);
        let allowed = u64::try_from(drift.as_millis()).unwrap_or(u64::MAX);
        (latest > local.saturating_add(allowed)).then(|| latest - local)
    }

    /// A dot of `state` under one of this replica's own ids above what it
    /// has minted there, if any.
    fn unminted_own_dot(&self, state: &T) -> Option<Dot> {
        let dots = state.dots()?;
        dots.ranges().find_map(|(r, _, hi)| {
            let mine = T::mints_as(self.replica, r) || self.minted.contains_key(&r);
            let minted = self.minted.get(&r).copied().unwrap_or(0);
            (mine && hi > minted).then(|| Dot::new(r, hi)).flatten()
        })
    }

    /// Answers a peer's digest with exactly what it lacks (or the full state
    /// for types without digests).
    ///
    /// While a catch-up to that peer is still being delivered (sent or
    /// acknowledged recently), the digest is answered by that catch-up
    /// instead: its missing parts are resent once a retransmission timeout
    /// has passed. It still covers everything the peer lacked, and starting
    /// over would never finish on a lossy link.
    fn answer_digest(&mut self, now: Instant, to: PeerId, digest: Option<CausalContext>) {
        let (sync_interval, ack_timeout) = (self.config.sync_interval, self.config.ack_timeout);
        if let Some(peer) = self.peers.get_mut(&to) {
            let stall = peer.stall_window(sync_interval, ack_timeout);
            if peer.in_flight().is_some_and(|sent| {
                covers(sent, digest.as_ref()) && now.duration_since(sent.last_progress) <= stall
            }) {
                // Parts sent less than a retransmission timeout ago may
                // still arrive.
                if let Some(parts) = peer.resend_due(now, sync_interval, &mut self.next_id) {
                    self.push_resent(to, parts);
                }
                return;
            }
        }
        match digest.as_ref().and_then(|d| self.state.missing_for(d)) {
            Some(missing) => {
                self.metrics.digest_catch_ups += 1;
                let id = self.next_id;
                self.send_payload(now, to, MessageKind::CatchUp, missing, 0);
                if let Some(sent) = self
                    .peers
                    .get_mut(&to)
                    .and_then(|p| p.sent.iter_mut().find(|s| s.id == id))
                {
                    sent.answered = digest; // kept, not copied: it may be 1 MiB
                }
            }
            None => {
                self.metrics.full_state_fallbacks += 1;
                self.send_payload(now, to, MessageKind::State, self.state.clone(), 0);
            }
        }
    }

    /// Sends this replica's digest to `peer` ("send me what I lack"); with
    /// `reply`, asks for the peer's digest back so it can be caught up too.
    fn ask_digest(&mut self, peer: PeerId, now: Instant, reply: bool) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.digest_asked = Some(now);
        }
        let budget = self
            .config
            .max_message_bytes
            .saturating_sub(codec::HEADER_LEN + 2);
        let digest = match self.state.digest() {
            Some(full) => match fit::coarsen_digest(&full, budget) {
                Some(d) => {
                    if d != full {
                        self.metrics.digests_coarsened += 1;
                    }
                    Some(d)
                }
                None => {
                    self.events.push_back(Event::MessageTooLarge {
                        peer,
                        bytes: codec::state_len(&full),
                    });
                    return;
                }
            },
            None => None,
        };
        self.send(peer, Message::Digest { digest, reply });
    }
}

/// Checks a local write against the state before it: every dot it adds to
/// the context is minted under `me`, and no dot it holds is held by
/// `before` with another payload.
fn check_local<T: Replicated>(before: &T, delta: &T, me: ReplicaId) -> Result<(), LocalWriteError> {
    if let (Some(seen), Some(added)) = (before.dots(), delta.dots()) {
        let new = added.difference(&seen);
        if let Some((replica, lo, _)) = new.ranges().find(|(r, _, _)| !T::mints_as(me, *r))
            && let Some(dot) = Dot::new(replica, lo)
        {
            return Err(LocalWriteError::ForeignDot { dot, engine: me });
        }
    }
    match before.reused_dot(delta) {
        Some(dot) => Err(LocalWriteError::ReusedDot { dot }),
        None => Ok(()),
    }
}

/// Past this many dots under one id, the engine continues under a fresh id
/// (no counter ever saturates).
const MINT_LIMIT: u64 = u64::MAX - (1 << 32);

/// Notes the highest counter per id `me` writes under, from a context.
fn record_minted<T: Replicated>(
    minted: &mut BTreeMap<ReplicaId, u64>,
    me: ReplicaId,
    context: Option<&CausalContext>,
) {
    for (r, _, hi) in context.into_iter().flat_map(CausalContext::ranges) {
        if T::mints_as(me, r) {
            let top = minted.entry(r).or_insert(0);
            *top = (*top).max(hi);
        }
    }
}

/// Whether `sent`, a payload in flight, answers a digest `digest` just
/// received: a full state answers anything; a catch-up only a digest that
/// claims at least what the one it answered claimed (a repeated request).
fn covers(sent: &Sent, digest: Option<&CausalContext>) -> bool {
    match (sent.kind, &sent.answered, digest) {
        (MessageKind::State, _, _) => true,
        (MessageKind::CatchUp, Some(answered), Some(digest)) => answered.is_subset(digest),
        _ => false,
    }
}

/// The system clock in ms since the Unix epoch (0 if it reads earlier).
fn system_wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A random nonzero incarnation tag.
fn fresh_epoch() -> u32 {
    loop {
        let v = ReplicaId::random().as_u128();
        let e = (v ^ (v >> 32) ^ (v >> 64) ^ (v >> 96)) as u32;
        if e != 0 {
            return e;
        }
    }
}
