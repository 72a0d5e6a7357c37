//! What a node reports about itself.

use crdt_store::StoreStats;
use crdt_sync::Metrics;

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
    /// frame over the limit, and connections from peers the node does not
    /// know.
    pub connections_rejected: u64,
    /// Connections refused at the handshake, before any frame reached the
    /// engine. As the acceptor: no client certificate, one not of the
    /// cluster's CA, expired, or naming another peer than the hello claims;
    /// bytes that are not TLS; a malformed hello; a handshake not done
    /// within [`NodeConfig::read_timeout`](crate::NodeConfig::read_timeout);
    /// a connection accepted while
    /// [`NodeConfig::max_pending_handshakes`](crate::NodeConfig::max_pending_handshakes)
    /// are in progress. As the dialer: an acceptor whose certificate does not name the peer
    /// dialed (or is not of the CA), or a handshake not done within
    /// [`NodeConfig::connect_timeout`](crate::NodeConfig::connect_timeout).
    /// An acceptor that refuses this node's certificate (or its hello) does
    /// so after the dialer's side of the TLS 1.3 handshake has completed:
    /// the dialer sees a connection that opens and closes at once (counted
    /// in [`connections_opened`](Self::connections_opened) and
    /// [`connections_closed`](Self::connections_closed), and, when it reads
    /// the acceptor's TLS alert rather than a reset, in
    /// [`connections_rejected`](Self::connections_rejected)).
    /// Each refusal is also logged (`tracing`, warn) with the peer and the
    /// reason.
    pub handshakes_refused: u64,
    /// Accepted connections whose handshake is in progress now, at most
    /// [`NodeConfig::max_pending_handshakes`](crate::NodeConfig::max_pending_handshakes)
    /// (a connection accepted beyond it is refused at once).
    pub handshakes_pending: usize,
    /// Peers connected now.
    pub connected_peers: usize,
    /// Bytes of received frames not yet handled by the engine, now: frames
    /// waiting in the inbound queue and frames being read into it, each
    /// counted as its length plus 64 bytes (see
    /// [`NodeConfig::inbound_queue_bytes`](crate::NodeConfig::inbound_queue_bytes)).
    pub inbound_queued_bytes: usize,
    /// The most [`inbound_queued_bytes`](Self::inbound_queued_bytes) has
    /// been since the node started: what received input has cost in memory
    /// at its worst. Never above `inbound_queue_bytes` (or one maximal
    /// frame, if that is larger), however fast peers send.
    pub inbound_queued_bytes_max: usize,
    /// How many times a connection's reader found the inbound queue full and
    /// stopped reading until the engine caught up (backpressure at work).
    pub inbound_waits: u64,
    /// Frames to a peer dropped because its send queue was full (see
    /// [`NodeConfig::outbound_queue_bytes`](crate::NodeConfig::outbound_queue_bytes)).
    pub outbound_frames_dropped: u64,
    /// Writes dropped by [`NodeHandle::update`](crate::NodeHandle::update)
    /// because the application queue was full.
    pub updates_dropped: u64,
    /// A durable node's store ([`Node::open`](crate::Node::open)): log and
    /// snapshot sizes, appends, commits (group commit: appends per commit)
    /// and compactions. `None` for an in-memory node.
    pub store: Option<StoreStats>,
    /// Live members as SWIM sees them, this node included (0 without
    /// [`NodeConfig::membership`](crate::NodeConfig::membership)).
    pub members_alive: usize,
    /// Membership datagrams dropped because their tag did not verify under
    /// the cluster's membership key.
    pub membership_rejected: u64,
}
