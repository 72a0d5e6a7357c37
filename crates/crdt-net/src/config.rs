//! The settings of a node.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crdt_sync::{Config, PeerId};

use crate::membership::Membership;
use crate::tls::Transport;

/// Settings of a node. [`NodeConfig::new`] fills in the defaults.
///
/// Every queue of a node is bounded, so what a node holds follows what it
/// has handled, not what peers or the application send it:
///
/// | queue | bound | when full |
/// |---|---|---|
/// | received frames, all connections | [`inbound_queue_bytes`](Self::inbound_queue_bytes) | readers stop reading; TCP flow control slows the senders |
/// | frames to send, per peer | [`outbound_queue_bytes`](Self::outbound_queue_bytes) | frames are dropped (the engine resends what is unacknowledged) |
/// | application requests | [`app_queue`](Self::app_queue) | [`NodeHandle::write`](crate::NodeHandle::write) and reads wait; [`NodeHandle::update`](crate::NodeHandle::update) drops the write |
/// | appends waiting for their commit (durable node, [`Node::open`](crate::Node::open)) | 1024 | the engine takes no input until commits catch up: the two queues above fill and apply their own rule |
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id among its peers.
    pub me: PeerId,
    /// Where to listen (`127.0.0.1:0` lets the OS pick a port).
    pub listen: SocketAddr,
    /// How connections are made: mutual TLS ([`Transport::tls`]), whose
    /// certificate must name [`me`](Self::me), or, by an explicit opt-in,
    /// [`Transport::plain_tcp_insecure`].
    pub transport: Transport,
    /// Peers to connect to; more can be added with
    /// [`NodeHandle::add_peer`](crate::NodeHandle::add_peer).
    pub peers: Vec<(PeerId, SocketAddr)>,
    /// SWIM membership from seed addresses, and the partial mesh: the node
    /// learns the other members, dials at most
    /// [`Membership::fanout`] of them (chosen again periodically) and
    /// accepts connections from any member. `None` (the default): only
    /// [`peers`](Self::peers), each pair connected by the smaller id.
    pub membership: Option<Membership>,
    /// The sync engine's settings (sync interval, size limit, ...). Frames
    /// longer than `engine.max_message_bytes` close their connection.
    pub engine: Config,
    /// How long a TCP connect may take. Default: 2 s.
    pub connect_timeout: Duration,
    /// How long the body of a frame may take once its length arrived (and
    /// there is room for it in the inbound queue). Default: 5 s.
    pub read_timeout: Duration,
    /// How long writing one frame may take. Default: 5 s.
    pub write_timeout: Duration,
    /// First reconnect delay; doubles up to `backoff_max`, with jitter.
    /// Default: 50 ms.
    pub backoff_min: Duration,
    /// Longest reconnect delay. Default: 2 s.
    pub backoff_max: Duration,
    /// The most bytes of received frames held before the engine has handled
    /// them, over all connections together (each frame counts its length
    /// plus 64 bytes of bookkeeping; at most 4 GiB). A reader reserves room
    /// for a frame once its length has arrived, before allocating or reading
    /// the body, and waits while there is none: it stops reading, the
    /// kernel's receive buffer fills, and TCP flow control slows the sender.
    /// A frame larger than this bound is admitted alone, so the bound
    /// actually held is the larger of this and one maximal frame. Waiting
    /// readers are served in order, so a flooding peer cannot starve the
    /// others. Default: 8 MiB.
    pub inbound_queue_bytes: usize,
    /// The most bytes queued for sending to one peer (and at most 1024
    /// frames). A frame that does not fit is dropped and counted in
    /// [`NetMetrics::outbound_frames_dropped`](crate::NetMetrics::outbound_frames_dropped);
    /// the engine resends what is not acknowledged. One frame is always
    /// accepted into an empty queue, whatever its size. Default: 8 MiB.
    pub outbound_queue_bytes: usize,
    /// The most application requests (writes, reads, metrics) waiting for
    /// the engine. Default: 1024.
    pub app_queue: usize,
    /// How long [`NodeHandle::flush`](crate::NodeHandle::flush) and
    /// [`Node::shutdown`](crate::Node::shutdown) wait for the live peers to
    /// acknowledge every write. Default: 5 s.
    pub flush_timeout: Duration,
    /// The most accepted connections whose handshake (TLS and the hello)
    /// is still in progress. Each holds a task and the transport's buffers
    /// until it completes or [`read_timeout`](Self::read_timeout) passes;
    /// a connection accepted beyond this bound is closed at once, counted
    /// in [`NetMetrics::handshakes_refused`](crate::NetMetrics::handshakes_refused)
    /// and logged. Without the bound, anyone who can reach the port could
    /// hold memory in proportion to the connections they open. Default: 64.
    pub max_pending_handshakes: usize,
}

impl NodeConfig {
    /// Defaults for node `me` listening on `listen` and connecting over
    /// `transport`, with no peers yet.
    #[must_use]
    pub fn new(me: PeerId, listen: SocketAddr, transport: Transport) -> Self {
        Self {
            me,
            listen,
            transport,
            peers: Vec::new(),
            membership: None,
            engine: Config::default(),
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            inbound_queue_bytes: 8 << 20,
            outbound_queue_bytes: 8 << 20,
            app_queue: 1024,
            flush_timeout: Duration::from_secs(5),
            max_pending_handshakes: 64,
        }
    }

    /// Checks the transport's settings (the engine's are checked by
    /// [`crdt_sync::Engine::new`]): every queue must hold something, and a
    /// TLS certificate must name this node.
    pub(crate) fn validate(&self) -> io::Result<()> {
        self.transport.check(self.me)?;
        if let Some(m) = &self.membership {
            m.validate()?;
        }
        let zero = [
            ("inbound_queue_bytes", self.inbound_queue_bytes),
            ("outbound_queue_bytes", self.outbound_queue_bytes),
            ("app_queue", self.app_queue),
            ("max_pending_handshakes", self.max_pending_handshakes),
        ]
        .into_iter()
        .find(|&(_, v)| v == 0);
        match zero {
            Some((name, _)) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("NodeConfig::{name} must be above zero"),
            )),
            None => Ok(()),
        }
    }
}
