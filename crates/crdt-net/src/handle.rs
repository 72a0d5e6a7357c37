//! The application's side of a node.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crdt_core::ReplicaId;
use crdt_sync::{Engine, LocalWriteError, PeerId, Replicated};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use crate::driver::{AppInput, Control};
use crate::metrics::NetMetrics;

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
///   queue is full the write is dropped, logged and counted in
///   [`NetMetrics::updates_dropped`]. Memory stays bounded either way.
///
/// [`NodeHandle::read`] and [`NodeHandle::metrics`] wait for room like
/// `write`. [`NodeHandle::add_peer`] and [`NodeHandle::isolate`] are settings
/// rather than requests: they never wait, are never dropped, and take effect
/// before any request queued after them.
///
/// ```
/// use crdt_net::{Node, NodeConfig, WriteError};
/// use crdt_sync::{LocalWriteError, PeerId};
/// use crdt_types::{OrSet, ReplicaId};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let config = NodeConfig::new(PeerId(1), "127.0.0.1:0".parse().unwrap());
/// let node = Node::start(config, ReplicaId::from_u128(1), OrSet::<String>::new()).await?;
/// let h = node.handle(); // cheap to clone: one per task if you like
///
/// // `write` waits for room and for the engine's verdict.
/// h.write(|set, me| set.insert(me, "milk".to_string())).await.unwrap();
/// // `update` never waits (dropped and counted if the queue is full).
/// h.update(|set, me| set.insert(me, "eggs".to_string()));
/// // A read is handled after every request queued before it.
/// assert_eq!(h.read(|set| set.len()).await, 2);
///
/// // A write that mints under another replica's id is refused, and changes nothing.
/// let other = ReplicaId::from_u128(2);
/// let refused = h.write(move |set, _| set.insert(other, "forged".to_string())).await;
/// assert!(matches!(refused, Err(WriteError::Refused(LocalWriteError::ForeignDot { .. }))));
/// assert_eq!(h.read(|set| set.len()).await, 2);
/// assert_eq!(h.metrics().await.updates_dropped, 0);
///
/// let state = node.shutdown().await;
/// assert!(state.contains(&"milk".to_string()));
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct NodeHandle<T> {
    app: mpsc::Sender<AppInput<T>>,
    control: Arc<Control>,
    local_addr: SocketAddr,
    replica: ReplicaId,
}

impl<T> Clone for NodeHandle<T> {
    fn clone(&self) -> Self {
        Self {
            app: self.app.clone(),
            control: Arc::clone(&self.control),
            local_addr: self.local_addr,
            replica: self.replica,
        }
    }
}

/// Why [`NodeHandle::write`] did not apply a write.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError {
    /// The engine refused the write (nothing of it was applied or shipped).
    Refused(LocalWriteError),
    /// The node has stopped.
    Stopped,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(e) => write!(f, "write refused: {e}"),
            Self::Stopped => f.write_str("the node has stopped; the write was not applied"),
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Refused(e) => Some(e),
            Self::Stopped => None,
        }
    }
}

impl<T: Replicated + Send + 'static> NodeHandle<T> {
    pub(crate) fn new(
        app: mpsc::Sender<AppInput<T>>,
        control: Arc<Control>,
        local_addr: SocketAddr,
        replica: ReplicaId,
    ) -> Self {
        Self {
            app,
            control,
            local_addr,
            replica,
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
    /// waiting: `h.update(|set, me| set.insert(me, x))`. A write the engine
    /// refuses (see [`crdt_sync::LocalWriteError`]) changes nothing and is
    /// logged.
    ///
    /// If [`NodeConfig::app_queue`](crate::NodeConfig::app_queue) requests
    /// already wait for the engine, the write is dropped: it is logged (the
    /// 1st, 2nd, 4th, 8th... time) and counted in
    /// [`NetMetrics::updates_dropped`]. Use [`NodeHandle::write`] to wait for
    /// room instead.
    pub fn update(&self, mutate: impl FnOnce(&mut T, ReplicaId) -> T + Send + 'static) {
        let call = Box::new(move |e: &mut Engine<T>| {
            if let Err(err) = e.update(mutate) {
                eprintln!("crdt-net: local write refused: {err}");
            }
        });
        if let Err(TrySendError::Full(_)) = self.app.try_send(AppInput::Call(call)) {
            let dropped = self.control.updates_dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                eprintln!(
                    "crdt-net: write dropped, the node's request queue is full \
                     ({dropped} dropped so far); NodeHandle::write waits instead"
                );
            }
        }
    }

    /// Runs a mutator on the node's state and ships its delta, waiting for
    /// room in the request queue and then for the engine to apply it: once
    /// this returns `Ok`, reads see the write. Refused writes change nothing.
    pub async fn write(
        &self,
        mutate: impl FnOnce(&mut T, ReplicaId) -> T + Send + 'static,
    ) -> Result<(), WriteError> {
        let (tx, rx) = oneshot::channel();
        let call = Box::new(move |e: &mut Engine<T>| {
            let _ = tx.send(e.update(mutate));
        });
        self.app
            .send(AppInput::Call(call))
            .await
            .map_err(|_| WriteError::Stopped)?;
        match rx.await {
            Ok(verdict) => verdict.map_err(WriteError::Refused),
            Err(_) => Err(WriteError::Stopped),
        }
    }

    /// Reads the state (`R::default()` if the node has stopped).
    pub async fn read<R: Default + Send + 'static>(
        &self,
        f: impl FnOnce(&T) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = oneshot::channel();
        let call = Box::new(move |e: &mut Engine<T>| {
            let _ = tx.send(f(e.state()));
        });
        if self.app.send(AppInput::Call(call)).await.is_err() {
            return R::default();
        }
        rx.await.unwrap_or_default()
    }

    /// The node's metrics now.
    pub async fn metrics(&self) -> NetMetrics {
        let (tx, rx) = oneshot::channel();
        if self.app.send(AppInput::Metrics(tx)).await.is_err() {
            return NetMetrics::default();
        }
        rx.await.unwrap_or_default()
    }

    /// Adds a peer to sync with (the first address given for a peer
    /// counts).
    pub fn add_peer(&self, peer: PeerId, addr: SocketAddr) {
        self.control.add_peer(peer, addr);
    }

    /// Cuts the node off (`true`: every connection closed, none accepted or
    /// made) or reconnects it (`false`). For partition tests and demos.
    pub fn isolate(&self, isolated: bool) {
        self.control.isolate(isolated);
    }

    /// Queues a shutdown after every request already queued.
    pub(crate) async fn request_shutdown(&self) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.app.send(AppInput::Shutdown(tx)).await.ok()?;
        rx.await.ok()
    }
}
