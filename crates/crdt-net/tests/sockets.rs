//! Real sockets on 127.0.0.1: nodes converge through a partition and heal;
//! garbage and oversized frames close only the offending connection.

use std::time::Duration;

use crdt_net::{KvState, Node, NodeConfig};
use crdt_sync::{Config, PeerId};
use crdt_types::ReplicaId;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

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

async fn converged(nodes: &[Node<KvState>]) -> bool {
    let mut states = Vec::new();
    for n in nodes {
        states.push(n.handle().read(|s| s.clone()).await);
    }
    states.windows(2).all(|w| w[0] == w[1])
}

async fn wait_until_converged(nodes: &[Node<KvState>]) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !converged(nodes).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("nodes converge within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_through_a_partition_and_heal() {
    let nodes = three().await;
    let h: Vec<_> = nodes.iter().map(Node::handle).collect();
    h[0].update(|s, me| s.add(me, "likes", 1));
    h[1].update(|s, me| s.add(me, "likes", 1));
    wait_until_converged(&nodes).await;

    h[2].isolate(true);
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Both sides keep writing, including concurrent puts to one key.
    h[0].update(|s, me| s.put(me, "bio", "left".into(), &Default::default()));
    h[2].update(|s, me| s.put(me, "bio", "right".into(), &Default::default()));
    h[1].update(|s, me| s.set_add(me, "wishlist", "tent"));
    h[2].update(|s, me| s.add(me, "likes", 5));
    tokio::time::sleep(Duration::from_millis(200)).await;
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
async fn rogue(addr: std::net::SocketAddr, as_peer: u64) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&8u32.to_be_bytes()).await.unwrap();
    s.write_all(&as_peer.to_be_bytes()).await.unwrap();
    s
}

/// Whether the node closed the stream within two seconds.
async fn closed_by_peer(s: &mut TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 64];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // the node may have sent something first
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_frames_close_only_that_connection() {
    let mut small = config(1);
    small.engine.max_message_bytes = 4096;
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
    let before = nodes[0].handle().read(|s| s.clone()).await;

    // An unknown peer id is refused at the handshake.
    let mut stranger = rogue(nodes[0].local_addr(), 7).await;
    assert!(
        closed_by_peer(&mut stranger).await,
        "an unknown peer is refused"
    );

    // Garbage from a connection claiming to be peer 2.
    let mut g = rogue(nodes[0].local_addr(), 2).await;
    g.write_all(&5u32.to_be_bytes()).await.unwrap();
    g.write_all(b"junk!").await.unwrap();
    assert!(
        closed_by_peer(&mut g).await,
        "a garbage frame closes the connection"
    );

    // A frame announcing more than the limit.
    let mut big = rogue(nodes[0].local_addr(), 2).await;
    big.write_all(&(1u32 << 20).to_be_bytes()).await.unwrap();
    assert!(
        closed_by_peer(&mut big).await,
        "an oversized frame closes the connection"
    );

    assert_eq!(
        nodes[0].handle().read(|s| s.clone()).await,
        before,
        "state untouched"
    );
    let m = nodes[0].handle().metrics().await;
    assert!(m.connections_rejected >= 3, "{m:?}");

    // The well-behaved peer carries on.
    nodes[1].handle().update(|s, me| s.add(me, "likes", 1));
    wait_until_converged(&nodes).await;
    assert_eq!(nodes[0].handle().read(|s| s.count("likes")).await, 2);
    for n in nodes {
        let _ = n.shutdown().await;
    }
}
