//! A replica node: one sync engine driven over TCP.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use crdt_core::ReplicaId;
use crdt_store::{Identity, Opened, Options, Store, StoreError};
use crdt_sync::{Engine, Replicated};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

use crate::changes::ChangeCount;
use crate::config::NodeConfig;
use crate::conn::accept_loop;
use crate::driver::{Control, Driver, NET_QUEUE};
use crate::durable::Durable;
use crate::error::NodeError;
use crate::handle::NodeHandle;
use crate::inbound::Inbound;
use crate::membership::Swim;

/// A running replica: a sync engine on a thread of its own, a listener, a
/// dialer per peer and a reader and writer per connection.
///
/// Design note: the engine is owned by one thread, and everything else talks
/// to it through bounded queues: connection readers send it frames, the
/// application sends it closures, and it hands outgoing frames to per-peer
/// writer queues. The alternatives, a mutex around the engine or one
/// engine per connection, would either serialise I/O behind a lock or split
/// the state; with one owner the sans-IO engine runs exactly as it does in
/// the simulator. Every queue is bounded (see [`NodeConfig`]): a peer that
/// sends faster than the engine handles is slowed down by TCP, a slow or
/// hostile receiver can only fill its own writer queue (frames to it are
/// dropped when full; the engine resends), and heavy engine work delays only
/// the engine, never the application's runtime.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use crdt_net::{ClusterCa, Node, NodeConfig, Transport};
/// use crdt_sync::PeerId;
/// use crdt_types::{OrSet, ReplicaId};
///
/// let ca = ClusterCa::new("shop")?;
/// let tls = Transport::tls(ca.issue(PeerId(1))?.identity()?)?;
/// let config = NodeConfig::new(PeerId(1), "127.0.0.1:0".parse().unwrap(), tls);
/// let node = Node::start(config, ReplicaId::random(), OrSet::<String>::new()).await?;
/// let h = node.handle();
/// h.write(|set, me| set.insert(me, "milk".to_string())).await.unwrap();
/// let n = h.read(|set| set.len()).await.unwrap();
/// let stopped = node.shutdown().await.unwrap();
/// assert_eq!(stopped.state.len(), n);
/// # Ok(()) }
/// ```
pub struct Node<T> {
    handle: NodeHandle<T>,
    engine_thread: std::thread::JoinHandle<()>,
    acceptor: AbortHandle,
    /// The membership task, if any.
    swim: Option<AbortHandle>,
    identity: Option<Identity>,
}

/// The file a durable node keeps its replica in, inside its data directory.
pub const STORE_FILE: &str = "replica.redb";

impl<T: Replicated + Send + Sync + 'static> Node<T> {
    /// Binds the listener and starts the node. `replica` is the id this
    /// incarnation writes with (a fresh one per start, unless the state is
    /// known to be the latest of that id).
    ///
    /// An engine configuration that [`crdt_sync::Config::validate`] refuses,
    /// a queue bound of zero, or a TLS certificate that does not name
    /// [`NodeConfig::me`], is an [`io::ErrorKind::InvalidInput`] error. Must be called within a tokio runtime, where the node's
    /// connections then run; the engine runs on a thread of its own.
    pub async fn start(config: NodeConfig, replica: ReplicaId, state: T) -> io::Result<Self> {
        Self::launch(config, replica, state, None).await
    }

    /// Opens (or creates) the replica kept in `data_dir` and starts a
    /// durable node on it: the node resumes the replica id, everything it
    /// minted and its state, so a restart adds nothing to any context and
    /// never mints a dot twice; a fresh id only for a new store (or a
    /// [`Durability::Relaxed`](crate::Durability::Relaxed) one that was not
    /// closed cleanly). The directory is created if missing; the store is
    /// the file [`STORE_FILE`] in it, which one node at a time may open.
    ///
    /// On a durable node an acknowledgement means *on disk*: a
    /// [`NodeHandle::write`] returns once its delta is committed, and a
    /// delta received from a peer is acknowledged to it once committed (see
    /// [`Durability`](crate::Durability) for the cost and how to relax
    /// it). The store compacts its log in the background. A store that
    /// fails to commit (a full disk) stops the node with
    /// [`NodeError::Store`]: everything acknowledged before is safe, nothing
    /// that was not leaves the node; free space and open it again.
    ///
    /// A store that cannot be opened is an error whose kind says why
    /// ([`io::ErrorKind::InvalidData`] for a damaged file,
    /// [`io::ErrorKind::ResourceBusy`] if another node has it open) and
    /// whose inner error is the [`StoreError`]; otherwise as
    /// [`Node::start`].
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use crdt_net::{ClusterCa, Identity, Node, NodeConfig, StoreOptions, Transport};
    /// use crdt_sync::PeerId;
    /// use crdt_types::OrSet;
    ///
    /// let dir = std::env::temp_dir().join(format!("crdt-net-doc-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let ca = ClusterCa::new("shop").unwrap();
    /// let tls = Transport::tls(ca.issue(PeerId(1)).unwrap().identity().unwrap()).unwrap();
    /// let config = NodeConfig::new(PeerId(1), "127.0.0.1:0".parse().unwrap(), tls);
    /// let node = Node::<OrSet<String>>::open(config.clone(), &dir, StoreOptions::default())
    ///     .await
    ///     .unwrap();
    /// assert_eq!(node.identity(), Some(Identity::New));
    /// let me = node.handle().replica();
    /// // `Ok` means committed (fsynced): it survives a crash.
    /// node.handle().write(|s, me| s.insert(me, "milk".into())).await.unwrap();
    /// node.shutdown().await.unwrap();
    ///
    /// let node = Node::<OrSet<String>>::open(config, &dir, StoreOptions::default())
    ///     .await
    ///     .unwrap();
    /// assert_eq!(node.identity(), Some(Identity::Resumed));
    /// assert_eq!(node.handle().replica(), me);
    /// assert!(node.handle().read(|s| s.contains(&"milk".into())).await.unwrap());
    /// node.shutdown().await.unwrap();
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # });
    /// ```
    pub async fn open(
        config: NodeConfig,
        data_dir: impl AsRef<Path>,
        options: Options,
    ) -> io::Result<Self> {
        let path = data_dir.as_ref().join(STORE_FILE);
        let dir = data_dir.as_ref().to_path_buf();
        let (store, opened) = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            Store::<T>::open(&path, options).map_err(store_io)
        })
        .await
        .map_err(io::Error::other)??;
        Self::open_store(config, store, opened).await
    }

    /// [`Node::open`] with a store the caller opened ([`Store::open`] on a
    /// file of its choosing, or [`Store::open_backend`] on any redb
    /// backend), and what opening it returned. `opened` must come from
    /// opening `store`.
    pub async fn open_store(
        config: NodeConfig,
        store: Store<T>,
        opened: Opened<T>,
    ) -> io::Result<Self> {
        let identity = opened.identity();
        let replica = opened.replica();
        let mut node = Self::launch(
            config,
            replica,
            opened.into_state(),
            Some(Durable::new(store)),
        )
        .await?;
        node.identity = Some(identity);
        Ok(node)
    }

    async fn launch(
        config: NodeConfig,
        replica: ReplicaId,
        state: T,
        durable: Option<Durable<T>>,
    ) -> io::Result<Self> {
        config.validate()?;
        let engine = Engine::restore_as(replica, state, config.engine.clone(), Instant::now())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let (app_tx, app_rx) = mpsc::channel(config.app_queue);
        let (net_tx, net_rx) = mpsc::channel(NET_QUEUE);
        let (changes_tx, changes_rx) = watch::channel(ChangeCount::default());
        let control = Control::new();
        let inbound = Inbound::new(config.inbound_queue_bytes);
        for &(peer, addr) in &config.peers {
            control.add_peer(peer, addr);
        }
        let driver = Driver::new(
            (engine, durable),
            config.clone(),
            net_tx.clone(),
            control.clone(),
            inbound,
            changes_tx,
        );
        let swim = match &config.membership {
            Some(m) => {
                let swim = Swim::bind(config.me, local_addr, m.clone(), control.clone()).await?;
                let tx = net_tx.clone();
                let stopped = async move { tx.closed().await };
                Some(tokio::spawn(swim.run(stopped)).abort_handle())
            }
            None => None,
        };
        let engine_thread = driver.spawn(app_rx, net_rx)?;
        let flush_timeout = config.flush_timeout;
        let acceptor = tokio::spawn(accept_loop(listener, net_tx, config, control.clone()));
        Ok(Self {
            handle: NodeHandle::new(
                app_tx,
                control,
                changes_rx,
                local_addr,
                (replica, flush_timeout),
            ),
            engine_thread,
            acceptor: acceptor.abort_handle(),
            swim,
            identity: None,
        })
    }

    /// For a durable node ([`Node::open`]), whether its replica id is new,
    /// resumed from the store, or rotated; `None` for an in-memory node.
    #[must_use]
    pub fn identity(&self) -> Option<Identity> {
        self.identity
    }

    /// A handle to talk to the node.
    #[must_use]
    pub fn handle(&self) -> NodeHandle<T> {
        self.handle.clone()
    }

    /// The address the node listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    /// Stops the node and returns its state: handles the requests queued
    /// before this call and no later ones (those fail with
    /// [`NodeError::Stopped`]), waits up to [`NodeConfig::flush_timeout`] for every live peer to
    /// acknowledge every write (as [`NodeHandle::flush`] does), then closes
    /// every connection. Whether the flush completed is in
    /// [`ShutdownReport::flushed`]; the node stops either way. A peer that
    /// stopped first without acknowledging this node's last writes counts
    /// as behind, so when a whole cluster stops, flush every node
    /// ([`NodeHandle::flush`]) while all are up, then shut them down.
    ///
    /// On a durable node, the store is closed once every pending write is
    /// committed; its state is in the store, to open again.
    ///
    /// [`NodeError::Stopped`] if the engine had already stopped (a closure
    /// passed to the handle panicked on the engine's thread);
    /// [`NodeError::Store`] if a durable node's store failed.
    pub async fn shutdown(self) -> Result<ShutdownReport<T>, NodeError> {
        let report = self.handle.request_shutdown().await;
        self.acceptor.abort();
        if let Some(s) = &self.swim {
            s.abort();
        }
        let thread = self.engine_thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        report
    }
}

/// What [`Node::shutdown`] hands back.
#[derive(Debug)]
#[non_exhaustive]
pub struct ShutdownReport<T> {
    /// The node's final state (save it to restart from it).
    pub state: T,
    /// Whether every live peer acknowledged every write before the node
    /// stopped: [`NodeError::NotSynced`] names the peers that had not
    /// within [`NodeConfig::flush_timeout`].
    pub flushed: Result<(), NodeError>,
}

/// A store that could not be opened, as an I/O error of the matching kind
/// carrying the [`StoreError`].
fn store_io(e: StoreError) -> io::Error {
    let kind = match &e {
        StoreError::Corrupt(_) | StoreError::UnsupportedFormat { .. } | StoreError::Encode(_) => {
            io::ErrorKind::InvalidData
        }
        StoreError::InUse => io::ErrorKind::ResourceBusy,
        StoreError::DiskFull => io::ErrorKind::StorageFull,
        StoreError::Io { kind, .. } => *kind,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}
