//! Real sockets on 127.0.0.1: nodes converge through a partition and heal;
//! garbage and oversized frames close only the offending connection.
//!
//! Nothing here sleeps in the hope that something has happened by then:
//! every wait is [`wait_for`] a condition, with a deadline, so a loaded
//! machine makes these tests slower, never red.

use std::fmt::Debug;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use crdt_net::{KvState, Node, NodeConfig, NodeHandle};
use crdt_sync::{Config, PeerId};
use crdt_types::ReplicaId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long anything here may take before the test fails. Only a failing
/// test waits this long.
const DEADLINE: Duration = Duration::from_secs(10);

/// How often [`wait_for`] looks again.
const POLL: Duration = Duration::from_millis(10);

/// Calls `probe` until `done` accepts what it returns, and returns that.
/// Panics naming `what`, with the last value seen, if that has not happened
/// within `within`. The one waiting loop of this file.
async fn wait_for<T, F, P>(
    within: Duration,
    what: &str,
    mut probe: P,
    mut done: impl FnMut(&T) -> bool,
) -> T
where
    T: Debug,
    F: Future<Output = T>,
    P: FnMut() -> F,
{
    let deadline = Instant::now() + within;
    let mut last = None;
    loop {
        match tokio::time::timeout_at(deadline, probe()).await {
            Ok(seen) if done(&seen) => return seen,
            Ok(seen) => last = Some(seen),
            Err(_) => {} // no answer by the deadline: fails below
        }
        match &last {
            _ if Instant::now() < deadline => {}
            Some(seen) => panic!("{what}: not within {within:?}; last seen: {seen:?}"),
            None => panic!("{what}: no answer within {within:?}"),
        }
        tokio::time::sleep(POLL).await;
    }
}

fn config(me: u64) -> NodeConfig {
    let mut c = NodeConfig::new(PeerId(me), "127.0.0.1:0".parse().unwrap());
    c.engine = Config {
        sync_interval: Duration::from_millis(20),
        ..Config::default()
    };
    c.backoff_min = Duration::from_millis(10);
    c.backoff_max = Duration::from_millis(100);
    c
}

async fn three() -> Vec<Node<KvState>> {
    let mut nodes = Vec::new();
    for i in 1..=3 {
        nodes.push(
            Node::start(config(i), ReplicaId::random(), KvState::new())
                .await
                .unwrap(),
        );
    }
    for (i, n) in nodes.iter().enumerate() {
        for (j, m) in nodes.iter().enumerate() {
            if i != j {
                n.handle().add_peer(PeerId(j as u64 + 1), m.local_addr());
            }
        }
    }
    nodes
}

/// Every node's state. Each read queues behind the updates already sent to
/// that node, so it includes the node's own writes.
async fn states(nodes: &[Node<KvState>]) -> Vec<KvState> {
    let mut states = Vec::new();
    for n in nodes {
        states.push(n.handle().read(|s| s.clone()).await);
    }
    states
}

fn all_equal(states: &[KvState]) -> bool {
    states.windows(2).all(|w| w[0] == w[1])
}

async fn converged(nodes: &[Node<KvState>]) -> bool {
    all_equal(&states(nodes).await)
}

async fn wait_until_converged(nodes: &[Node<KvState>]) {
    wait_for(
        DEADLINE,
        "nodes converge",
        || states(nodes),
        |s| all_equal(s),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_through_a_partition_and_heal() {
    let nodes = three().await;
    let h: Vec<_> = nodes.iter().map(Node::handle).collect();
    h[0].update(|s, me| s.add(me, "likes", 1));
    h[1].update(|s, me| s.add(me, "likes", 1));
    wait_until_converged(&nodes).await;

    // No wait is needed for the isolation to take effect: node 3 handles its
    // inbox in order, so its own writes below come after it has closed every
    // connection, and any frame carrying the others' writes reaches its inbox
    // after the isolation too (those writes are made after it was queued).
    h[2].isolate(true);
    // Both sides keep writing, including concurrent puts to one key.
    h[0].update(|s, me| s.put(me, "bio", "left".into(), &Default::default()));
    h[2].update(|s, me| s.put(me, "bio", "right".into(), &Default::default()));
    h[1].update(|s, me| s.set_add(me, "wishlist", "tent"));
    h[2].update(|s, me| s.add(me, "likes", 5));
    // Nodes 1 and 2 still sync: once they agree, the rounds that carried
    // their writes to each other have run, and would have reached node 3
    // too had the isolation leaked.
    wait_until_converged(&nodes[..2]).await;
    assert_eq!(
        h[0].read(|s| s.get("bio").0).await,
        ["left"],
        "node 1 has its own put and not the isolated node's"
    );
    assert_eq!(
        h[1].read(|s| s.count("likes")).await,
        2,
        "node 2 has the two +1s and not the isolated node's +5"
    );
    assert_eq!(
        h[2].read(|s| s.get("bio").0).await,
        ["right"],
        "the isolated node has its own put and not node 1's"
    );
    assert!(
        h[2].read(|s| s.members("wishlist")).await.is_empty(),
        "the isolated node must not see the majority's set add"
    );
    assert!(
        !converged(&nodes).await,
        "the isolated node must not see the others"
    );

    h[2].isolate(false);
    wait_until_converged(&nodes).await;
    let (mut bio, _) = h[1].read(|s| s.get("bio")).await;
    bio.sort();
    assert_eq!(
        bio,
        ["left", "right"],
        "concurrent puts survive as siblings"
    );
    assert_eq!(h[0].read(|s| s.count("likes")).await, 7);
    assert_eq!(h[2].read(|s| s.members("wishlist")).await, ["tent"]);
    for n in nodes {
        let _ = n.shutdown().await;
    }
}

/// Connects as `as_peer` (the handshake frame) and returns the stream.
async fn rogue(addr: SocketAddr, as_peer: PeerId) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&8u32.to_be_bytes()).await.unwrap();
    s.write_all(&as_peer.0.to_be_bytes()).await.unwrap();
    s
}

/// Whether the node closed the stream within [`DEADLINE`].
async fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    let eof = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {} // the node may have sent something first
            }
        }
    };
    tokio::time::timeout(DEADLINE, eof).await.is_ok()
}

/// Waits until the node has counted `n` rejected connections, then checks
/// it counted no more. Waiting, rather than reading the counter once the
/// socket reports the close, keeps the check independent of whether the node
/// counts a rejection before or after it closes the socket.
async fn wait_for_rejections(h: &NodeHandle<KvState>, n: u64) {
    let m = wait_for(
        DEADLINE,
        &format!("connections_rejected reaches {n}"),
        || h.metrics(),
        |m| m.connections_rejected >= n,
    )
    .await;
    assert_eq!(
        m.connections_rejected, n,
        "one rejection per offending connection: {m:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_frames_close_only_that_connection() {
    // A peer that node 1 knows but that never runs; the rogue connections
    // below speak as it. Speaking as peer 2 instead would replace peer 2's
    // live connection, whose redial could then replace the rogue before its
    // frame was read, so that nothing was rejected. Its id is below node 1's,
    // so node 1 waits for it to dial in rather than dialing it.
    let absent = PeerId(0);
    let mut small = config(1);
    small.engine.max_message_bytes = 4096;
    small.peers.push((absent, "127.0.0.1:9".parse().unwrap())); // never dialed
    let a = Node::start(small, ReplicaId::random(), KvState::new())
        .await
        .unwrap();
    let b = Node::start(config(2), ReplicaId::random(), KvState::new())
        .await
        .unwrap();
    a.handle().add_peer(PeerId(2), b.local_addr());
    b.handle().add_peer(PeerId(1), a.local_addr());
    a.handle().update(|s, me| s.add(me, "likes", 1));
    let nodes = vec![a, b];
    wait_until_converged(&nodes).await;
    let h = nodes[0].handle();
    let before = h.read(|s| s.clone()).await;
    let opened_before = wait_for(
        DEADLINE,
        "node 1 is connected to peer 2",
        || h.metrics(),
        |m| m.connected_peers == 1,
    )
    .await
    .connections_opened;

    // An unknown peer id is refused at the handshake.
    let mut stranger = rogue(h.local_addr(), PeerId(7)).await;
    assert!(
        closed_by_peer(&mut stranger).await,
        "an unknown peer is refused"
    );
    wait_for_rejections(&h, 1).await;

    // Garbage from a connection claiming to be a known peer.
    let mut g = rogue(h.local_addr(), absent).await;
    g.write_all(&5u32.to_be_bytes()).await.unwrap();
    g.write_all(b"junk!").await.unwrap();
    assert!(
        closed_by_peer(&mut g).await,
        "a garbage frame closes the connection"
    );
    wait_for_rejections(&h, 2).await;

    // A frame announcing more than the limit.
    let mut big = rogue(h.local_addr(), absent).await;
    big.write_all(&(1u32 << 20).to_be_bytes()).await.unwrap();
    assert!(
        closed_by_peer(&mut big).await,
        "an oversized frame closes the connection"
    );
    wait_for_rejections(&h, 3).await;

    // Every rogue frame has been handled by now (each was counted).
    assert_eq!(h.read(|s| s.clone()).await, before, "state untouched");
    let m = h.metrics().await;
    assert_eq!(
        m.connections_opened,
        opened_before + 2,
        "only the two rogues that passed the handshake were opened; \
         peer 2's connection was never replaced: {m:?}"
    );

    // The well-behaved peer carries on.
    nodes[1].handle().update(|s, me| s.add(me, "likes", 1));
    wait_until_converged(&nodes).await;
    assert_eq!(h.read(|s| s.count("likes")).await, 2);
    for n in nodes {
        let _ = n.shutdown().await;
    }
}
