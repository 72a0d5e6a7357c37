//! A replica node: one sync engine driven over TCP.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crdt_core::ReplicaId;
use crdt_sync::{Config, Engine, Metrics, PeerId, Replicated};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinHandle};

use crate::frame::{read_frame, write_frame};

/// Settings of a node. [`NodeConfig::new`] fills in the defaults.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id among its peers.
    pub me: PeerId,
    /// Where to listen (`127.0.0.1:0` lets the OS pick a port).
    pub listen: SocketAddr,
    /// Peers to connect to; more can be added with [`NodeHandle::add_peer`].
    pub peers: Vec<(PeerId, SocketAddr)>,
    /// The sync engine's settings (sync interval, size limit, ...). Frames
    /// longer than `engine.max_message_bytes` close their connection.
    pub engine: Config,
    /// How long a TCP connect may take. Default: 2 s.
    pub connect_timeout: Duration,
    /// How long the body of a frame may take once its length arrived.
    /// Default: 5 s.
    pub read_timeout: Duration,
    /// How long writing one frame may take. Default: 5 s.
    pub write_timeout: Duration,
    /// First reconnect delay; doubles up to `backoff_max`, with jitter.
    /// Default: 50 ms.
    pub backoff_min: Duration,
    /// Longest reconnect delay. Default: 2 s.
    pub backoff_max: Duration,
}

impl NodeConfig {
    /// Defaults for node `me` listening on `listen`, with no peers yet.
    #[must_use]
    pub fn new(me: PeerId, listen: SocketAddr) -> Self {
        Self {
            me,
            listen,
            peers: Vec::new(),
            engine: Config::default(),
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
        }
    }
}

/// The engine's metrics plus the transport's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetMetrics {
    /// The sync engine's counters.
    pub engine: Metrics,
    /// Connections established (both directions).
    pub connections_opened: u64,
    /// Connections closed, for any reason.
    pub connections_closed: u64,
    /// Connections closed because a peer sent bytes that did not decode or a
    /// frame over the limit.
    pub connections_rejected: u64,
    /// Peers connected now.
    pub connected_peers: usize,
}

type AppFn<T> = Box<dyn FnOnce(&mut Engine<T>) + Send>;

enum Input<T> {
    App(AppFn<T>),
    Connected {
        peer: PeerId,
        conn: u64,
        tx: mpsc::Sender<Vec<u8>>,
        reader: AbortHandle,
    },
    Frame {
        peer: PeerId,
        conn: u64,
        bytes: Vec<u8>,
    },
    Closed {
        peer: PeerId,
        conn: u64,
        why: Option<String>,
    },
    AddPeer(PeerId, SocketAddr),
    Isolate(bool),
    Metrics(oneshot::Sender<NetMetrics>),
    Shutdown(oneshot::Sender<T>),
}

/// A cheap, cloneable handle to a running node.
pub struct NodeHandle<T> {
    tx: mpsc::UnboundedSender<Input<T>>,
    local_addr: SocketAddr,
    replica: ReplicaId,
}

impl<T> Clone for NodeHandle<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            local_addr: self.local_addr,
            replica: self.replica,
        }
    }
}

/// A running replica: a sync engine, a listener, a dialer per peer and a
/// reader and writer per connection.
///
/// Design note: the engine is owned by one task, and everything else talks
/// to it through one channel: connection readers send it frames, the
/// application sends it closures, and it hands outgoing frames to per-peer
/// writer channels. The alternatives, a mutex around the engine or one
/// engine per connection, would either serialise I/O behind a lock or split
/// the state; with one owner the sans-IO engine runs exactly as it does in
/// the simulator, and a slow or hostile peer can only fill its own bounded
/// writer queue (frames to it are dropped when full; the engine resends).
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
/// h.update(|set, me| set.insert(me, "milk".to_string()));
/// let n = h.read(|set| set.len()).await;
/// let final_state = node.shutdown().await;
/// # let _ = (n, final_state); Ok(()) }
/// ```
pub struct Node<T> {
    handle: NodeHandle<T>,
    engine_task: JoinHandle<()>,
    acceptor: AbortHandle,
}

impl<T: Replicated + Send + Sync + 'static> Node<T> {
    /// Binds the listener and starts the node. `replica` is the id this
    /// incarnation writes with (a fresh one per start, unless the state is
    /// known to be the latest of that id).
    ///
    /// An engine configuration that [`crdt_sync::Config::validate`] refuses
    /// is an [`io::ErrorKind::InvalidInput`] error.
    pub async fn start(config: NodeConfig, replica: ReplicaId, state: T) -> io::Result<Self> {
        let engine = Engine::new(replica, state, config.engine.clone(), Instant::now())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let isolated = Arc::new(AtomicBool::new(false));
        let acceptor = tokio::spawn(accept_loop(
            listener,
            tx.clone(),
            config.clone(),
            isolated.clone(),
        ))
        .abort_handle();
        let peers = config.peers.clone();
        let task = EngineTask {
            engine,
            config,
            tx: tx.clone(),
            conns: BTreeMap::new(),
            dialers: Vec::new(),
            known: std::collections::BTreeSet::new(),
            isolated,
            net: NetMetrics::default(),
        };
        let engine_task = tokio::spawn(task.run(rx));
        let handle = NodeHandle {
            tx,
            local_addr,
            replica,
        };
        for (peer, addr) in peers {
            handle.add_peer(peer, addr);
        }
        Ok(Self {
            handle,
            engine_task,
            acceptor,
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
        self.handle.local_addr
    }

    /// Stops the node (closing every connection) and returns its state.
    pub async fn shutdown(self) -> T {
        self.acceptor.abort();
        let (tx, rx) = oneshot::channel();
        let _ = self.handle.tx.send(Input::Shutdown(tx));
        let state: Result<T, _> = rx.await;
        let _ = self.engine_task.await;
        state.unwrap_or_default()
    }
}

impl<T: Replicated + Send + 'static> NodeHandle<T> {
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

    /// Runs a mutator on the node's state and ships its delta:
    /// `h.update(|set, me| set.insert(me, x))`. A write the engine refuses
    /// (see [`crdt_sync::LocalWriteError`]) changes nothing and is logged.
    pub fn update(&self, mutate: impl FnOnce(&mut T, ReplicaId) -> T + Send + 'static) {
        let _ = self.tx.send(Input::App(Box::new(move |e: &mut Engine<T>| {
            if let Err(err) = e.update(mutate) {
                eprintln!("crdt-net: local write refused: {err}");
            }
        })));
    }

    /// Reads the state (`R::default()` if the node has stopped).
    pub async fn read<R: Default + Send + 'static>(
        &self,
        f: impl FnOnce(&T) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Input::App(Box::new(move |e: &mut Engine<T>| {
            let _ = tx.send(f(e.state()));
        })));
        rx.await.unwrap_or_default()
    }

    /// The node's metrics now.
    pub async fn metrics(&self) -> NetMetrics {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Input::Metrics(tx));
        rx.await.unwrap_or_default()
    }

    /// Adds a peer to sync with.
    pub fn add_peer(&self, peer: PeerId, addr: SocketAddr) {
        let _ = self.tx.send(Input::AddPeer(peer, addr));
    }

    /// Cuts the node off (`true`: every connection closed, none accepted or
    /// made) or reconnects it (`false`). For partition tests and demos.
    pub fn isolate(&self, isolated: bool) {
        let _ = self.tx.send(Input::Isolate(isolated));
    }
}

struct Conn {
    id: u64,
    tx: mpsc::Sender<Vec<u8>>,
    reader: AbortHandle,
}

struct EngineTask<T> {
    engine: Engine<T>,
    config: NodeConfig,
    tx: mpsc::UnboundedSender<Input<T>>,
    conns: BTreeMap<PeerId, Conn>,
    dialers: Vec<AbortHandle>,
    known: std::collections::BTreeSet<PeerId>,
    isolated: Arc<AtomicBool>,
    net: NetMetrics,
}

impl<T: Replicated + Send + 'static> EngineTask<T> {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Input<T>>) {
        loop {
            let wake = tokio::time::Instant::from_std(self.engine.poll_timeout());
            tokio::select! {
                input = rx.recv() => {
                    let Some(input) = input else { break };
                    if let Input::Shutdown(reply) = input {
                        self.close_all();
                        for d in &self.dialers {
                            d.abort();
                        }
                        let _ = reply.send(self.engine.into_state());
                        return;
                    }
                    self.handle(input);
                }
                () = tokio::time::sleep_until(wake) => {
                    self.engine.handle_timeout(Instant::now());
                }
            }
            self.flush();
        }
    }

    fn handle(&mut self, input: Input<T>) {
        let now = Instant::now();
        match input {
            Input::App(f) => f(&mut self.engine),
            Input::Connected {
                peer,
                conn,
                tx,
                reader,
            } => {
                if self.isolated.load(Ordering::SeqCst) {
                    reader.abort();
                    return;
                }
                if !self.known.contains(&peer) {
                    eprintln!(
                        "crdt-net: refusing a connection from unknown peer {}",
                        peer.0
                    );
                    reader.abort();
                    self.net.connections_rejected += 1;
                    return;
                }
                if let Some(old) = self.conns.insert(
                    peer,
                    Conn {
                        id: conn,
                        tx,
                        reader,
                    },
                ) {
                    old.reader.abort();
                    self.net.connections_closed += 1;
                }
                self.net.connections_opened += 1;
                // Open with a digest exchange so whatever was missed while
                // disconnected is caught up.
                self.engine.remove_peer(peer);
                self.engine.add_peer(peer, now);
            }
            Input::Frame { peer, conn, bytes } => {
                if self.conns.get(&peer).is_none_or(|c| c.id != conn) {
                    return; // from a connection already replaced or closed
                }
                if let Err(e) = self.engine.handle_message(now, peer, &bytes) {
                    eprintln!("crdt-net: closing connection to peer {}: {e}", peer.0);
                    self.net.connections_rejected += 1;
                    self.close(peer);
                }
            }
            Input::Closed { peer, conn, why } => {
                if self.conns.get(&peer).is_some_and(|c| c.id == conn) {
                    if let Some(why) = why {
                        eprintln!("crdt-net: connection to peer {} closed: {why}", peer.0);
                        if why.contains("exceeds the limit") {
                            self.net.connections_rejected += 1;
                        }
                    }
                    self.close(peer);
                }
            }
            Input::AddPeer(peer, addr) => {
                if !self.known.insert(peer) {
                    return;
                }
                self.engine.add_peer(peer, now);
                if self.config.me < peer {
                    let d = tokio::spawn(dial_loop(
                        peer,
                        addr,
                        self.tx.clone(),
                        self.config.clone(),
                        self.isolated.clone(),
                    ));
                    self.dialers.push(d.abort_handle());
                }
            }
            Input::Isolate(on) => {
                self.isolated.store(on, Ordering::SeqCst);
                if on {
                    self.close_all();
                }
            }
            Input::Metrics(reply) => {
                let mut m = self.net.clone();
                m.engine = self.engine.metrics().clone();
                m.connected_peers = self.conns.len();
                let _ = reply.send(m);
            }
            Input::Shutdown(_) => {}
        }
    }

    fn close(&mut self, peer: PeerId) {
        if let Some(c) = self.conns.remove(&peer) {
            c.reader.abort();
            self.net.connections_closed += 1;
        }
    }

    fn close_all(&mut self) {
        let peers: Vec<PeerId> = self.conns.keys().copied().collect();
        for p in peers {
            self.close(p);
        }
    }

    /// Hands outgoing frames to their connections; a frame for a peer that
    /// is not connected, or whose queue is full, is dropped (the engine
    /// resends what is not acknowledged).
    fn flush(&mut self) {
        while let Some(t) = self.engine.poll_transmit() {
            if let Some(c) = self.conns.get(&t.to) {
                let _ = c.tx.try_send(t.bytes);
            }
        }
        while let Some(event) = self.engine.poll_event() {
            eprintln!("crdt-net: peer {:?}: {event:?}", self.config.me.0);
        }
    }
}

/// Accepts connections; the first frame of each is the dialer's `PeerId`.
async fn accept_loop<T: Send + 'static>(
    listener: TcpListener,
    tx: mpsc::UnboundedSender<Input<T>>,
    config: NodeConfig,
    isolated: Arc<AtomicBool>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if isolated.load(Ordering::SeqCst) {
            continue; // dropped: the stream closes
        }
        let tx = tx.clone();
        let config = config.clone();
        tokio::spawn(async move {
            let mut stream = stream;
            let hello = tokio::time::timeout(
                config.read_timeout,
                read_frame(&mut stream, 8, config.read_timeout),
            )
            .await;
            let peer = match hello {
                Ok(Ok(Some(b))) if b.len() == 8 => {
                    let mut id = [0u8; 8];
                    id.copy_from_slice(&b);
                    PeerId(u64::from_be_bytes(id))
                }
                _ => {
                    eprintln!("crdt-net: dropping a connection without a valid handshake");
                    return;
                }
            };
            let (done, _) = oneshot::channel();
            connection(peer, stream, tx, config, done);
        });
    }
}

/// Dials `peer` and keeps the connection up, reconnecting with exponential
/// backoff and jitter.
async fn dial_loop<T: Send + 'static>(
    peer: PeerId,
    addr: SocketAddr,
    tx: mpsc::UnboundedSender<Input<T>>,
    config: NodeConfig,
    isolated: Arc<AtomicBool>,
) {
    let mut backoff = config.backoff_min;
    let mut jitter = Jitter::new(config.me.0 ^ peer.0.rotate_left(32));
    loop {
        if !isolated.load(Ordering::SeqCst) {
            let attempt =
                tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr)).await;
            if let Ok(Ok(mut stream)) = attempt {
                let _ = stream.set_nodelay(true);
                if write_frame(
                    &mut stream,
                    &config.me.0.to_be_bytes(),
                    config.write_timeout,
                )
                .await
                .is_ok()
                {
                    backoff = config.backoff_min;
                    let (done, closed) = oneshot::channel();
                    connection(peer, stream, tx.clone(), config.clone(), done);
                    let _ = closed.await;
                }
            }
        }
        let wait = backoff + jitter.up_to(backoff / 2);
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(config.backoff_max);
    }
}

/// Runs one established connection: a reader task feeding frames to the
/// engine and a writer task draining the peer's queue. `done` fires when the
/// reader stops.
fn connection<T: Send + 'static>(
    peer: PeerId,
    stream: TcpStream,
    tx: mpsc::UnboundedSender<Input<T>>,
    config: NodeConfig,
    done: oneshot::Sender<()>,
) {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let conn = NEXT.fetch_add(1, Ordering::Relaxed);
    let (mut read, mut write) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(1024);
    let write_timeout = config.write_timeout;
    tokio::spawn(async move {
        while let Some(bytes) = out_rx.recv().await {
            if write_frame(&mut write, &bytes, write_timeout)
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let reader_tx = tx.clone();
    let max = config.engine.max_message_bytes;
    let reader = tokio::spawn(async move {
        let why = loop {
            match read_frame(&mut read, max, config.read_timeout).await {
                Ok(Some(bytes)) => {
                    if reader_tx.send(Input::Frame { peer, conn, bytes }).is_err() {
                        break None;
                    }
                }
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        let _ = reader_tx.send(Input::Closed { peer, conn, why });
        let _ = done.send(());
    });
    let _ = tx.send(Input::Connected {
        peer,
        conn,
        tx: out_tx,
        reader: reader.abort_handle(),
    });
}

/// A tiny xorshift generator for reconnect jitter (no `rand` dependency).
struct Jitter(u64);

impl Jitter {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn up_to(&mut self, max: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let ms = max.as_millis() as u64;
        Duration::from_millis(if ms == 0 { 0 } else { self.0 % ms })
    }
}
