//! The engine's own thread: every input of the sync engine goes through it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crdt_core::ReplicaId;
use crdt_store::StoreError;
use crdt_sync::{Engine, LocalWriteError, Mode, PeerId, Replicated};
use tokio::runtime::Handle;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::AbortHandle;

use crate::changes::ChangeCount;
use crate::config::NodeConfig;
use crate::conn::Conn;
use crate::durable::{Durable, WriteReply};
use crate::error::NodeError;
use crate::flush::Waiters;
use crate::inbound::{Inbound, Ticket};
use crate::metrics::NetMetrics;
use crate::node::ShutdownReport;
use crate::tls::Stream;

/// The driver's side of membership: which peers it dials and accepts.
mod mesh;

use mesh::Kind;

/// How many inputs from connections (frames, opens, closes) may wait for
/// the engine; the inbound byte budget usually binds first.
pub(crate) const NET_QUEUE: usize = 1024;

/// A closure the application runs on the engine (a write or a read); a
/// write notes its change on the watch before it answers, so that a
/// subscriber has the change by the time the writer hears it is done.
pub(crate) type AppFn<T> = Box<dyn FnOnce(&mut Engine<T>, &watch::Sender<ChangeCount>) + Send>;

/// A local write: the application's mutator.
pub(crate) type WriteFn<T> = Box<dyn FnOnce(&mut T, ReplicaId) -> T + Send>;

/// What the application asks of the engine, in the order it asked.
pub(crate) enum AppInput<T> {
    Call(AppFn<T>),
    /// A local write; `reply` (none for an update) is answered once it is
    /// applied and, on a durable node, committed.
    Write {
        mutate: WriteFn<T>,
        reply: Option<WriteReply>,
    },
    Metrics(oneshot::Sender<NetMetrics>),
    /// Answer once every live peer has acknowledged everything written
    /// before this request, or at the deadline: `window` is when the caller
    /// started waiting and its deadline.
    Flush {
        window: (Instant, Instant),
        reply: oneshot::Sender<Result<(), NodeError>>,
    },
    /// Take no new requests, flush (until `deadline`), stop and hand back
    /// the state.
    Shutdown {
        window: (Instant, Instant),
        reply: ShutdownReply<T>,
    },
}

/// Where the report of a shutdown goes.
type ShutdownReply<T> = oneshot::Sender<ShutdownReport<T>>;

/// Who waits for a flush.
enum Reply<T> {
    Flush(oneshot::Sender<Result<(), NodeError>>),
    Shutdown(ShutdownReply<T>),
}

/// What connections tell the engine.
pub(crate) enum NetInput {
    /// A connection passed the handshake. The engine decides whether to
    /// keep it, and only then starts its reader, so no frame can arrive
    /// before the connection is known. `done` fires (or is dropped) when
    /// the connection ends.
    Connected {
        peer: PeerId,
        stream: Stream,
        done: Option<oneshot::Sender<()>>,
    },
    Frame {
        peer: PeerId,
        conn: u64,
        bytes: Vec<u8>,
        /// Holds the frame's room in the inbound budget until handled.
        _ticket: Ticket,
    },
    Closed {
        peer: PeerId,
        conn: u64,
        why: Option<io::Error>,
    },
}

/// What the application sets without queueing: the latest value counts,
/// so these never grow with how often they are called.
pub(crate) struct Control {
    /// Whether the node is cut off; read by the acceptor and dialers too.
    pub(crate) isolated: AtomicBool,
    /// How many times the node was isolated: each time, every connection
    /// is closed, even if it was reconnected before the engine looked.
    isolations: AtomicU64,
    /// Peers added (or given a new address) and not yet seen by the engine.
    new_peers: Mutex<BTreeMap<PeerId, SocketAddr>>,
    /// Writes [`crate::NodeHandle::update`] dropped on a full queue.
    pub(crate) updates_dropped: AtomicU64,
    /// Connections refused at the handshake, by the acceptor or a dialer.
    handshakes_refused: AtomicU64,
    /// Accepted connections whose handshake is in progress, now.
    pub(crate) handshakes_pending: AtomicUsize,
    /// Why the node stopped, if its store failed.
    failure: Mutex<Option<StoreError>>,
    /// The peers membership chose to dial, not yet seen by the engine (the
    /// latest choice counts).
    wanted: Mutex<Option<BTreeMap<PeerId, SocketAddr>>>,
    /// Members detected down, not yet seen by the engine.
    down: Mutex<BTreeSet<PeerId>>,
    /// Live members as SWIM sees them (this node included).
    pub(crate) members_alive: AtomicUsize,
    /// Membership datagrams dropped for a bad tag.
    pub(crate) membership_rejected: AtomicU64,
    /// Wakes the engine when any of the above changed.
    wake: Notify,
}

impl Control {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            isolated: AtomicBool::new(false),
            isolations: AtomicU64::new(0),
            new_peers: Mutex::new(BTreeMap::new()),
            updates_dropped: AtomicU64::new(0),
            handshakes_refused: AtomicU64::new(0),
            handshakes_pending: AtomicUsize::new(0),
            failure: Mutex::new(None),
            wanted: Mutex::new(None),
            down: Mutex::new(BTreeSet::new()),
            members_alive: AtomicUsize::new(0),
            membership_rejected: AtomicU64::new(0),
            wake: Notify::new(),
        })
    }

    pub(crate) fn add_peer(&self, peer: PeerId, addr: SocketAddr) {
        self.new_peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(peer, addr);
        self.wake.notify_one();
    }

    /// Membership chose the peers to dial.
    pub(crate) fn want(&self, peers: BTreeMap<PeerId, SocketAddr>) {
        *self.wanted.lock().unwrap_or_else(PoisonError::into_inner) = Some(peers);
        self.wake.notify_one();
    }

    /// Membership detected `peer` down.
    pub(crate) fn member_down(&self, peer: PeerId) {
        self.down
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(peer);
        self.wake.notify_one();
    }

    /// Counts and logs a connection refused at the handshake: to or from
    /// `addr`, `peer` if this node dialed it.
    pub(crate) fn refused(&self, peer: Option<PeerId>, addr: &SocketAddr, why: &dyn fmt::Display) {
        self.handshakes_refused.fetch_add(1, Ordering::SeqCst);
        tracing::warn!(peer = peer.map(|p| p.0), %addr, reason = %why, "connection refused at the handshake");
    }

    /// What a request to a stopped node fails with: the store's error if
    /// that is why it stopped, [`NodeError::Stopped`] otherwise.
    pub(crate) fn stopped(&self) -> NodeError {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .map_or(NodeError::Stopped, NodeError::Store)
    }

    fn failed(&self, e: StoreError) {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(e);
    }

    pub(crate) fn isolate(&self, on: bool) {
        self.isolated.store(on, Ordering::SeqCst);
        if on {
            self.isolations.fetch_add(1, Ordering::SeqCst);
        }
        self.wake.notify_one();
    }
}

/// The engine and the connections it owns.
pub(crate) struct Driver<T> {
    engine: Engine<T>,
    config: NodeConfig,
    /// The node's runtime, where connections and dialers run.
    rt: Handle,
    net_tx: mpsc::Sender<NetInput>,
    control: Arc<Control>,
    inbound: Arc<Inbound>,
    conns: BTreeMap<PeerId, Conn>,
    next_conn: u64,
    known: BTreeMap<PeerId, Known>,
    isolations_seen: u64,
    net: NetMetrics,
    /// Calls waiting for acknowledgements.
    waiters: Waiters<Reply<T>>,
    /// Whether a shutdown is under way (no new requests are taken).
    shutting_down: bool,
    /// What subscribers watch.
    changes: watch::Sender<ChangeCount>,
    /// The store of a durable node.
    durable: Option<Durable<T>>,
    /// Set when the store failed: the node stops at the end of the turn.
    failed: Option<StoreError>,
}

/// A peer the node syncs with.
struct Known {
    /// Where to dial it; `None` for a peer known only by its connection.
    addr: Option<SocketAddr>,
    /// The task keeping a connection to it up, if this node is the dialer.
    dialer: Option<AbortHandle>,
    /// Why the node syncs with it.
    kind: Kind,
}

/// What woke the engine.
enum Turn<T> {
    App(Option<AppInput<T>>),
    Net(NetInput),
    Control,
    Timeout,
    /// A pending append was committed (or failed).
    Committed,
}

impl<T: Replicated + Send + 'static> Driver<T> {
    pub(crate) fn new(
        (engine, durable): (Engine<T>, Option<Durable<T>>),
        config: NodeConfig,
        net_tx: mpsc::Sender<NetInput>,
        control: Arc<Control>,
        inbound: Arc<Inbound>,
        changes: watch::Sender<ChangeCount>,
    ) -> Self {
        Self {
            engine,
            config,
            rt: Handle::current(),
            net_tx,
            control,
            inbound,
            conns: BTreeMap::new(),
            next_conn: 1,
            known: BTreeMap::new(),
            isolations_seen: 0,
            net: NetMetrics::default(),
            waiters: Waiters::new(),
            shutting_down: false,
            changes,
            durable,
            failed: None,
        }
    }

    /// Runs the engine on a thread of its own until shutdown, or until
    /// every [`crate::NodeHandle`] is gone.
    ///
    /// Design note: the engine's work is proportional to what it is asked,
    /// and one message can ask a lot (an empty digest asks for the whole
    /// state). On an async worker that work would hold up every task and
    /// timer of the application's runtime. Bounding the work per turn would
    /// need the engine to be resumable inside `handle_message`; running it
    /// on a dedicated thread, with a small single-threaded runtime for its
    /// own timer, leaves the engine untouched and keeps the application's
    /// runtime free whatever the engine does. It costs one thread per node
    /// and a thread hop per message, both small next to a socket read.
    pub(crate) fn spawn(
        self,
        app_rx: mpsc::Receiver<AppInput<T>>,
        net_rx: mpsc::Receiver<NetInput>,
    ) -> io::Result<std::thread::JoinHandle<()>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        std::thread::Builder::new()
            .name(format!("crdt-net-engine-{}", self.config.me.0))
            .spawn(move || rt.block_on(self.run(app_rx, net_rx)))
    }

    async fn run(
        mut self,
        mut app_rx: mpsc::Receiver<AppInput<T>>,
        mut net_rx: mpsc::Receiver<NetInput>,
    ) {
        let control = Arc::clone(&self.control);
        let mut app_open = true;
        loop {
            let mut wake = self.engine.poll_timeout();
            if let Some(deadline) = self.waiters.next_deadline() {
                wake = wake.min(deadline);
            }
            let wake = tokio::time::Instant::from_std(wake);
            // Too many appends waiting for the disk: take no input (readers
            // and writers wait, TCP slows the peers) until commits catch up.
            let room = self.durable.as_ref().is_none_or(|d| !d.full());
            // Branches are polled in random order: a flood of frames cannot
            // starve the application or the timer.
            let turn = tokio::select! {
                input = app_rx.recv(), if app_open && room => Turn::App(input),
                Some(input) = net_rx.recv(), if room => Turn::Net(input),
                () = control.wake.notified() => Turn::Control,
                () = tokio::time::sleep_until(wake) => Turn::Timeout,
                () = committed(self.durable.as_mut()) => Turn::Committed,
            };
            let now = Instant::now();
            // Before any input: what the application set before it queued
            // its next request takes effect before that request.
            self.apply_control(now);
            self.apply_membership(now);
            match turn {
                Turn::App(None) => {
                    self.stop(); // every handle is gone
                    self.finish().await;
                    return;
                }
                Turn::App(Some(input)) => {
                    self.handle_app(input, &mut app_rx);
                    // After a shutdown request nothing more is taken: what
                    // was queued after it fails with `NodeError::Stopped`.
                    app_open = !self.shutting_down;
                }
                Turn::Net(input) => self.handle_net(input, now),
                Turn::Control | Turn::Committed => {}
                Turn::Timeout => {
                    if now >= self.engine.poll_timeout() {
                        self.engine.handle_timeout(now);
                        self.waiters
                            .refreshed(&self.engine.metrics().peers, self.sequence());
                    }
                }
            }
            self.ship();
            if self.failed.is_some() {
                // Requests queued and to come fail with the store's error.
                self.stop();
                return;
            }
            if let Some((reply, flushed)) = self.settle(now) {
                self.stop();
                if self.finish().await {
                    let _ = reply.send(ShutdownReport {
                        state: self.engine.into_state(),
                        flushed,
                    });
                }
                return;
            }
        }
    }

    fn handle_app(&mut self, input: AppInput<T>, app_rx: &mut mpsc::Receiver<AppInput<T>>) {
        match input {
            AppInput::Call(f) => f(&mut self.engine, &self.changes),
            AppInput::Write { mutate, reply } => self.write(mutate, reply),
            AppInput::Metrics(reply) => {
                let _ = reply.send(self.metrics());
            }
            AppInput::Flush { window, reply } => {
                self.waiters.add(self.live(), window, Reply::Flush(reply));
            }
            AppInput::Shutdown { window, reply } => {
                app_rx.close();
                self.shutting_down = true;
                self.waiters
                    .add(self.live(), window, Reply::Shutdown(reply));
            }
        }
    }

    /// The live peers (those with an open connection) and the sequence
    /// they must acknowledge: what a flush taken now waits for.
    fn live(&self) -> (BTreeSet<PeerId>, u64) {
        (self.conns.keys().copied().collect(), self.sequence())
    }

    /// The sequence a flush waits for. In delta mode, the engine's own
    /// ([`crdt_sync::Engine::sequence`]: local writes and received deltas it
    /// buffered). In state mode nothing is buffered or acknowledged, so
    /// only a node with no writes (local count 0) completes a flush.
    fn sequence(&self) -> u64 {
        match self.config.engine.mode {
            Mode::Delta => self.engine.sequence(),
            _ => self.changes.borrow().local,
        }
    }

    /// Answers the flushes that are done; returns the shutdown's, if it is.
    fn settle(&mut self, now: Instant) -> Option<(ShutdownReply<T>, Result<(), NodeError>)> {
        let conns = &self.conns;
        let done = self.waiters.settle(now, &self.engine.metrics().peers, |p| {
            conns.contains_key(&p)
        });
        let mut shutdown = None;
        for (reply, verdict) in done {
            match reply {
                Reply::Flush(tx) => {
                    let _ = tx.send(verdict);
                }
                Reply::Shutdown(tx) => shutdown = Some((tx, verdict)),
            }
        }
        shutdown
    }

    fn apply_control(&mut self, now: Instant) {
        let isolations = self.control.isolations.load(Ordering::SeqCst);
        if isolations != self.isolations_seen {
            self.isolations_seen = isolations;
            self.close_all();
        }
        let new_peers = std::mem::take(
            &mut *self
                .control
                .new_peers
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for (peer, addr) in new_peers {
            self.add_peer(peer, addr, now);
        }
    }

    /// Adds a peer, or moves a known one to a new address: its old dialer
    /// stops and a new one dials the new address (the connection it makes
    /// replaces the current one, if any).
    fn add_peer(&mut self, peer: PeerId, addr: SocketAddr, now: Instant) {
        if self
            .known
            .get(&peer)
            .is_some_and(|k| k.addr == Some(addr) && k.kind == Kind::Static)
        {
            return;
        }
        let dialer = (self.config.me < peer).then(|| self.dial(peer, addr));
        let known = Known {
            addr: Some(addr),
            dialer,
            kind: Kind::Static,
        };
        match self.known.insert(peer, known) {
            Some(old) => {
                if let Some(d) = old.dialer {
                    d.abort();
                }
            }
            None => self.engine.add_peer(peer, now),
        }
    }

    fn handle_net(&mut self, input: NetInput, now: Instant) {
        match input {
            NetInput::Connected { peer, stream, done } => {
                if self.control.isolated.load(Ordering::SeqCst) {
                    return; // dropped: the stream closes
                }
                if !self.admit(peer, done.is_some()) {
                    return;
                }
                let id = self.next_conn;
                self.next_conn += 1;
                let conn = Conn::start(
                    &self.rt,
                    (peer, id),
                    stream,
                    self.net_tx.clone(),
                    Arc::clone(&self.inbound),
                    &self.config,
                    done,
                );
                if let Some(old) = self.conns.insert(peer, conn) {
                    old.close();
                    self.net.connections_closed += 1;
                }
                self.net.connections_opened += 1;
                // Open with a digest exchange so whatever was missed while
                // disconnected is caught up.
                self.engine.remove_peer(peer);
                self.engine.add_peer(peer, now);
            }
            NetInput::Frame {
                peer, conn, bytes, ..
            } => {
                if self.conns.get(&peer).is_none_or(|c| c.id() != conn) {
                    return; // from a connection already replaced or closed
                }
                let applied = self.engine.metrics().deltas_applied;
                let seq = self.engine.sequence();
                // Where a received delta is applied and acknowledged: the
                // engine joins it and queues the `Ack` within this call.
                match self.engine.handle_message(now, peer, &bytes) {
                    Ok(()) => {
                        let fresh = self.engine.metrics().deltas_applied.saturating_sub(applied);
                        if fresh > 0 {
                            self.changes.send_modify(|c| c.remote += fresh);
                            // The `Ack` just queued leaves once this is
                            // committed (see `Durable`).
                            if let Some(d) = &mut self.durable
                                && let Err(e) = d.submit_received(
                                    self.engine.deltas_after(seq),
                                    self.engine.state(),
                                )
                            {
                                self.fail(e);
                            }
                        }
                        self.waiters
                            .refreshed(&self.engine.metrics().peers, self.sequence());
                    }
                    Err(e) => {
                        tracing::warn!(peer = peer.0, reason = %e, "closing the connection: bad message");
                        self.net.connections_rejected += 1;
                        self.close(peer);
                        self.closed(peer);
                    }
                }
            }
            NetInput::Closed { peer, conn, why } => {
                if self.conns.get(&peer).is_some_and(|c| c.id() == conn) {
                    if let Some(why) = why {
                        tracing::info!(peer = peer.0, reason = %why, "connection closed");
                        if why.kind() == io::ErrorKind::InvalidData {
                            self.net.connections_rejected += 1; // over the limit
                        }
                    }
                    self.close(peer);
                    self.closed(peer);
                }
            }
        }
    }

    fn metrics(&self) -> NetMetrics {
        let mut m = self.net.clone();
        m.engine = self.engine.metrics().clone();
        m.connected_peers = self.conns.len();
        m.inbound_queued_bytes = self.inbound.queued();
        m.inbound_queued_bytes_max = self.inbound.high_water();
        m.inbound_waits = self.inbound.waits();
        m.updates_dropped = self.control.updates_dropped.load(Ordering::Relaxed);
        m.handshakes_refused = self.control.handshakes_refused.load(Ordering::SeqCst);
        m.handshakes_pending = self.control.handshakes_pending.load(Ordering::SeqCst);
        m.store = self.durable.as_ref().map(Durable::stats);
        m.members_alive = self.control.members_alive.load(Ordering::Relaxed);
        m.membership_rejected = self.control.membership_rejected.load(Ordering::Relaxed);
        m
    }

    fn close(&mut self, peer: PeerId) {
        if let Some(c) = self.conns.remove(&peer) {
            c.close();
            self.net.connections_closed += 1;
        }
    }

    fn close_all(&mut self) {
        let peers: Vec<PeerId> = self.conns.keys().copied().collect();
        for p in peers {
            self.close(p);
        }
    }

    /// Closes every connection and stops dialing.
    fn stop(&mut self) {
        self.close_all();
        for d in self.known.values().filter_map(|k| k.dialer.as_ref()) {
            d.abort();
        }
    }

    /// Runs a local write; answers `reply` once it is applied and, on a
    /// durable node, committed (an update, with no reply, logs a refusal).
    fn write(&mut self, mutate: WriteFn<T>, reply: Option<WriteReply>) {
        let keep = self.durable.is_some();
        let delta = match apply(&mut self.engine, &self.changes, mutate, keep) {
            Ok(delta) => delta,
            Err(e) => {
                match reply {
                    Some(r) => {
                        let _ = r.send(Err(NodeError::Refused(e)));
                    }
                    None => tracing::warn!(reason = %e, "local write refused"),
                }
                return;
            }
        };
        match (&mut self.durable, delta) {
            (Some(d), Some(delta)) => {
                if let Err(e) = d.submit_local(&delta, reply) {
                    self.fail(e);
                }
            }
            (_, _) => {
                if let Some(r) = reply {
                    let _ = r.send(Ok(()));
                }
            }
        }
    }

    /// The store failed: nothing more leaves the node, pending writes fail,
    /// and the node stops at the end of this turn.
    fn fail(&mut self, e: StoreError) {
        tracing::error!(node = self.config.me.0, reason = %e, "the store failed, stopping");
        if let Some(d) = &mut self.durable {
            d.fail(&e);
        }
        self.control.failed(e.clone());
        self.failed.get_or_insert(e);
    }

    /// Waits for the store's pending appends and closes it; `false` (the
    /// node stops with the store's error) if that failed.
    async fn finish(&mut self) -> bool {
        let Some(d) = self.durable.take() else {
            return true;
        };
        match d.finish().await {
            Ok(()) => true,
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Hands outgoing frames to their connections: first those released by
    /// committed appends, then the engine's new ones (held if an append is
    /// still pending). A frame for a peer that is not connected, or whose
    /// queue is full, is dropped (the engine resends what is not
    /// acknowledged).
    fn ship(&mut self) {
        if let Some(d) = &mut self.durable {
            let released = d.release();
            if let Some(e) = released.failed {
                self.fail(e);
            }
            for t in released.frames {
                self.send(t);
            }
        }
        while let Some(t) = self.engine.poll_transmit() {
            if self.failed.is_some() {
                continue; // may depend on what is not on disk
            }
            let t = match &mut self.durable {
                Some(d) => d.hold(t),
                None => Some(t),
            };
            if let Some(t) = t {
                self.send(t);
            }
        }
        while let Some(event) = self.engine.poll_event() {
            tracing::info!(node = self.config.me.0, ?event, "engine event");
        }
    }

    fn send(&mut self, t: crdt_sync::Transmit) {
        if let Some(c) = self.conns.get(&t.to)
            && !c.send(t.bytes, self.config.outbound_queue_bytes)
        {
            self.net.outbound_frames_dropped += 1;
        }
    }
}

/// Resolves when the oldest pending append of a durable node is committed;
/// never on an in-memory node.
async fn committed<T: Replicated + 'static>(durable: Option<&mut Durable<T>>) {
    match durable {
        Some(d) => d.committed().await,
        None => std::future::pending().await,
    }
}

/// Runs a write on the engine and, if it changed the state (its delta was
/// not empty), tells subscribers and returns the delta if `keep` (for the
/// store); or says why the engine refused it.
fn apply<T: Replicated>(
    engine: &mut Engine<T>,
    changes: &watch::Sender<ChangeCount>,
    mutate: WriteFn<T>,
    keep: bool,
) -> Result<Option<T>, LocalWriteError> {
    let mut kept = None;
    let mut changed = false;
    engine.update(|state, me| {
        let delta = mutate(state, me);
        changed = !delta.is_bottom();
        if keep && changed {
            kept = Some(delta.clone());
        }
        delta
    })?;
    if changed {
        changes.send_modify(|c| c.local += 1);
    }
    Ok(kept)
}
