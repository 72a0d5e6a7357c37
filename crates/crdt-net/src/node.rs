//! A replica node: one sync engine driven over TCP.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use crdt_core::ReplicaId;
use crdt_sync::{Engine, Replicated};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

use crate::changes::ChangeCount;
use crate::config::NodeConfig;
use crate::conn::accept_loop;
use crate::driver::{Control, Driver, NET_QUEUE};
use crate::error::NodeError;
use crate::handle::NodeHandle;
use crate::inbound::Inbound;

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
/// use crdt_net::{Node, NodeConfig};
/// use crdt_sync::PeerId;
/// use crdt_types::{OrSet, ReplicaId};
///
/// let config = NodeConfig::new(PeerId(1), "127.0.0.1:0".parse().unwrap());
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
}

impl<T: Replicated + Send + Sync + 'static> Node<T> {
    /// Binds the listener and starts the node. `replica` is the id this
    /// incarnation writes with (a fresh one per start, unless the state is
    /// known to be the latest of that id).
    ///
    /// An engine configuration that [`crdt_sync::Config::validate`] refuses,
    /// or a queue bound of zero, is an [`io::ErrorKind::InvalidInput`]
    /// error. Must be called within a tokio runtime, where the node's
    /// connections then run; the engine runs on a thread of its own.
    pub async fn start(config: NodeConfig, replica: ReplicaId, state: T) -> io::Result<Self> {
        config.validate()?;
        let engine = Engine::new(replica, state, config.engine.clone(), Instant::now())
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
            engine,
            config.clone(),
            net_tx.clone(),
            control.clone(),
            inbound,
            changes_tx,
        );
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
        })
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
    /// [`NodeError::Stopped`] if the engine had already stopped (a closure
    /// passed to the handle panicked on the engine's thread).
    pub async fn shutdown(self) -> Result<ShutdownReport<T>, NodeError> {
        let report = self.handle.request_shutdown().await;
        self.acceptor.abort();
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
