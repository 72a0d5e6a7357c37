//! The application's side of a node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crdt_core::ReplicaId;
use crdt_sync::{Engine, PeerId, Replicated};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch};

use crate::changes::{ChangeCount, Subscription};
use crate::driver::{AppInput, Control};
use crate::error::NodeError;
use crate::metrics::NetMetrics;
use crate::node::ShutdownReport;

/// A cheap, cloneable handle to a running node.
///
/// Design note: requests from the application wait in one bounded queue
/// ([`NodeConfig::app_queue`](crate::NodeConfig::app_queue)), handled in
/// order, so a read sees every write queued before it. When the engine
/// falls behind, the application has to wait or give something up; which
/// one is its choice:
///
/// * [`NodeHandle::write`] waits for room, then for the engine to apply the
///   write, and says whether it was refused: backpressure, and nothing is
///   lost. This is the one to use when every write matters.
/// * [`NodeHandle::update`] never waits, for callers that cannot: if the
///   queue is full the write is dropped, counted in
///   [`NetMetrics::updates_dropped`], and [`NodeError::QueueFull`] says so.
///   Memory stays bounded either way.
///
/// [`NodeHandle::read`], [`NodeHandle::metrics`] and
/// [`NodeHandle::wait_synced`] wait for room like `write`.
/// [`NodeHandle::add_peer`] and [`NodeHandle::isolate`] are settings rather
/// than requests: they never wait, are never dropped, and take effect before
/// any request queued after them. Every request to a stopped node fails with
/// [`NodeError::Stopped`].
///
/// Two nodes on loopback: a write on one, [`NodeHandle::flush`] until the
/// other has acknowledged it, and the other reads it.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use crdt_net::{ClusterCa, KvState, Node, NodeConfig, NodeError, Transport};
/// use crdt_sync::PeerId;
/// use crdt_types::ReplicaId;
///
/// let ca = ClusterCa::new("docs").unwrap();
/// let local = "127.0.0.1:0".parse().unwrap();
/// let start = |id| {
///     let tls = Transport::tls(ca.issue(PeerId(id)).unwrap().identity().unwrap()).unwrap();
///     Node::start(NodeConfig::new(PeerId(id), local, tls), ReplicaId::random(), KvState::new())
/// };
/// let (a, b) = (start(1).await.unwrap(), start(2).await.unwrap());
/// let (ha, hb) = (a.handle(), b.handle());
/// ha.add_peer(PeerId(2), b.local_addr());
/// hb.add_peer(PeerId(1), a.local_addr());
/// let mut changes = hb.subscribe();
/// for _ in 0..1000 {
///     if ha.metrics().await.unwrap().connected_peers == 1 {
///         break; // connected: peer 2 is live
///     }
///     tokio::time::sleep(std::time::Duration::from_millis(10)).await;
/// }
///
/// ha.write(|kv, me| kv.add(me, "likes", 1)).await.unwrap();
/// ha.flush().await.unwrap(); // peer 2 has acknowledged the write
/// assert!(changes.changed().await.unwrap().remote >= 1);
/// assert_eq!(hb.read(|kv| kv.count("likes")).await.unwrap(), 1);
///
/// let _ = b.shutdown().await.unwrap();
/// assert_eq!(hb.read(|kv| kv.count("likes")).await, Err(NodeError::Stopped));
/// # let _ = a.shutdown().await;
/// # });
/// ```
pub struct NodeHandle<T> {
    app: mpsc::Sender<AppInput<T>>,
    control: Arc<Control>,
    changes: watch::Receiver<ChangeCount>,
    local_addr: SocketAddr,
    replica: ReplicaId,
    flush_timeout: Duration,
}

impl<T> Clone for NodeHandle<T> {
    fn clone(&self) -> Self {
        Self {
            app: self.app.clone(),
            control: Arc::clone(&self.control),
            changes: self.changes.clone(),
            local_addr: self.local_addr,
            replica: self.replica,
            flush_timeout: self.flush_timeout,
        }
    }
}

/// The longest wait honoured; longer ones are cut to this (a year), so a
/// deadline never overflows a clock.
const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

impl<T: Replicated + Send + 'static> NodeHandle<T> {
    pub(crate) fn new(
        app: mpsc::Sender<AppInput<T>>,
        control: Arc<Control>,
        changes: watch::Receiver<ChangeCount>,
        local_addr: SocketAddr,
        (replica, flush_timeout): (ReplicaId, Duration),
    ) -> Self {
        Self {
            app,
            control,
            changes,
            local_addr,
            replica,
            flush_timeout,
        }
    }

    /// The replica id this node writes with.
    #[must_use]
    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    /// The address the node listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Runs a mutator on the node's state and ships its delta, without
    /// waiting: `h.update(|set, me| set.insert(me, x))`. `Ok` means the
    /// write was queued, not that it was applied: a write the engine
    /// refuses (see [`crdt_sync::LocalWriteError`]) changes nothing and is
    /// logged, and a node stopping at the same moment may never apply it.
    /// Use [`NodeHandle::write`] to know. On a durable node
    /// ([`Node::open`](crate::Node::open)) the delta is committed to the
    /// store like a `write`'s, and leaves the node only once it is; but an
    /// update is never acknowledged, so a crash may lose it.
    ///
    /// [`NodeError::QueueFull`] if
    /// [`NodeConfig::app_queue`](crate::NodeConfig::app_queue) requests
    /// already wait for the engine: the write is dropped and counted in
    /// [`NetMetrics::updates_dropped`]. [`NodeError::Stopped`] if the node
    /// has stopped.
    pub fn update(
        &self,
        mutate: impl FnOnce(&mut T, ReplicaId) -> T + Send + 'static,
    ) -> Result<(), NodeError> {
        let write = AppInput::Write {
            mutate: Box::new(mutate),
            reply: None,
        };
        match self.app.try_send(write) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.control.updates_dropped.fetch_add(1, Ordering::Relaxed);
                Err(NodeError::QueueFull)
            }
            Err(TrySendError::Closed(_)) => Err(self.control.stopped()),
        }
    }

    /// Runs a mutator on the node's state and ships its delta, waiting for
    /// room in the request queue and then for the engine to apply it: once
    /// this returns `Ok`, reads see the write (use [`NodeHandle::flush`] to
    /// wait until peers have it too). [`NodeError::Refused`] if the engine
    /// refused it (nothing changed; the engine checks local writes when
    /// [`crdt_sync::Config::verify_local_writes`] is on, by default only in
    /// builds with debug assertions, since the check clones the state),
    /// [`NodeError::Stopped`] if the node has stopped.
    ///
    /// On a durable node ([`Node::open`](crate::Node::open)) `Ok` also means
    /// *on disk*: this returns only once the write's delta is committed to
    /// the store (fsynced, with the default
    /// [`Durability::Immediate`](crate::Durability::Immediate); see
    /// [`Durability::Relaxed`](crate::Durability::Relaxed) for what relaxing
    /// it costs), so it survives a crash; and its delta leaves the node only
    /// then. Concurrent writes share one commit. Reads may see a write a
    /// little before its `write` returns. [`NodeError::Store`] if the store
    /// failed (the node then stops).
    pub async fn write(
        &self,
        mutate: impl FnOnce(&mut T, ReplicaId) -> T + Send + 'static,
    ) -> Result<(), NodeError> {
        let (reply, rx) = oneshot::channel();
        let write = AppInput::Write {
            mutate: Box::new(mutate),
            reply: Some(reply),
        };
        self.request(write, rx).await?
    }

    /// Reads the state: `h.read(|s| s.len())`. Sees every write queued
    /// before it. [`NodeError::Stopped`] if the node has stopped.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&T) -> R + Send + 'static,
    ) -> Result<R, NodeError> {
        let (tx, rx) = oneshot::channel();
        let call = Box::new(move |e: &mut Engine<T>, _: &watch::Sender<ChangeCount>| {
            let _ = tx.send(f(e.state()));
        });
        self.request(AppInput::Call(call), rx).await
    }

    /// The node's metrics now. [`NodeError::Stopped`] if the node has
    /// stopped.
    pub async fn metrics(&self) -> Result<NetMetrics, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.request(AppInput::Metrics(tx), rx).await
    }

    /// Waits until every live peer has acknowledged everything written
    /// before this call (by any handle of this node), or `timeout` passes.
    ///
    /// A *live* peer is one with an open connection when the engine takes
    /// this request (queued behind the writes before it). Each of those is
    /// waited for until it acknowledges, even if its connection drops and
    /// comes back; peers that were not connected are not waited for (they
    /// are caught up by digest when they connect). A peer has acknowledged
    /// a write when the engine holds its acknowledgement of a delta (or
    /// catch-up) that includes it; an acknowledgement is sent once the
    /// peer has applied the delta. With no live peer this returns `Ok` at
    /// once.
    ///
    /// [`NodeError::NotSynced`] names the peers still behind at the
    /// timeout, with their lag and whether they were connected;
    /// [`NodeError::Stopped`] if the node stopped first.
    pub async fn wait_synced(&self, timeout: Duration) -> Result<(), NodeError> {
        let started = Instant::now();
        let deadline = started + timeout.min(LONGEST_WAIT);
        let (reply, rx) = oneshot::channel();
        let queued = tokio::time::timeout_at(
            deadline.into(),
            self.app.send(AppInput::Flush {
                window: (started, deadline),
                reply,
            }),
        )
        .await;
        match queued {
            Err(_) => Err(NodeError::NotSynced {
                waited: started.elapsed(),
                behind: Vec::new(),
            }),
            Ok(Err(_)) => Err(self.control.stopped()),
            Ok(Ok(())) => rx.await.unwrap_or_else(|_| Err(self.control.stopped())),
        }
    }

    /// [`NodeHandle::wait_synced`] with
    /// [`NodeConfig::flush_timeout`](crate::NodeConfig::flush_timeout).
    pub async fn flush(&self) -> Result<(), NodeError> {
        self.wait_synced(self.flush_timeout).await
    }

    /// Change notifications: the returned [`Subscription`] reports every
    /// local write and every received delta that changes the state from
    /// now on, coalesced when the subscriber is slower than the changes
    /// (see [`Subscription`]). Works on a stopped node too: it then reports
    /// [`NodeError::Stopped`].
    #[must_use]
    pub fn subscribe(&self) -> Subscription {
        Subscription::new(self.changes.clone())
    }

    /// Adds a peer to sync with, or gives a known peer a new address (a
    /// peer restarted on another port): the node stops dialing the old
    /// address and dials the new one. Of each pair of peers the one with
    /// the smaller id dials, so the address matters only on that side.
    ///
    /// A node refuses a connection from a peer it does not know yet; the
    /// dialer sees it open and close at once, and dials again after its
    /// backoff. While it is closed the peer is not live, so a flush in that
    /// window does not wait for it (see [`NodeHandle::wait_synced`]): when
    /// peering two nodes, add the dialer (the smaller id) on the accepting
    /// side first.
    pub fn add_peer(&self, peer: PeerId, addr: SocketAddr) {
        self.control.add_peer(peer, addr);
    }

    /// Cuts the node off (`true`: every connection closed, none accepted or
    /// made, and with [`NodeConfig::membership`](crate::NodeConfig::membership)
    /// every membership datagram dropped, sent or received) or reconnects
    /// it (`false`). For partition tests and demos: a partition long enough
    /// for SWIM to declare the sides down heals by itself, through
    /// announcements to members declared down.
    pub fn isolate(&self, isolated: bool) {
        self.control.isolate(isolated);
    }

    /// Queues the shutdown after every request already queued, flushing
    /// for at most the flush timeout.
    pub(crate) async fn request_shutdown(&self) -> Result<ShutdownReport<T>, NodeError> {
        let started = Instant::now();
        let window = (started, started + self.flush_timeout.min(LONGEST_WAIT));
        let (reply, rx) = oneshot::channel();
        self.request(AppInput::Shutdown { window, reply }, rx).await
    }

    /// Queues `input` (waiting for room) and waits for its answer on `rx`.
    async fn request<R>(
        &self,
        input: AppInput<T>,
        rx: oneshot::Receiver<R>,
    ) -> Result<R, NodeError> {
        self.app
            .send(input)
            .await
            .map_err(|_| self.control.stopped())?;
        rx.await.map_err(|_| self.control.stopped())
    }
}
