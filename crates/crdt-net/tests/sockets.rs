//! Real sockets on 127.0.0.1, over mutual TLS: nodes converge through a
//! partition and heal; garbage and oversized frames from a peer with a
//! valid certificate close only the offending connection, and a
//! connection's first frame is never overtaken by its opening.
//!
//! Every wait is [`common::wait_for`] a condition, with a deadline.

mod common;

use crdt_net::{KvState, Node, NodeHandle};
use crdt_sync::PeerId;
use tokio::io::AsyncWriteExt;

use common::{
    ABSENT, DEADLINE, cert, closed_by_peer, config, config_with_absent, converged, metrics, pair,
    rogue, shutdown_all, start, tls_client, wait_for, wait_until_converged,
};

async fn three() -> Vec<Node<KvState>> {
    let mut nodes = Vec::new();
    for i in 1..=3 {
        nodes.push(start(config(i)).await);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_through_a_partition_and_heal() {
    let nodes = three().await;
    let h: Vec<_> = nodes.iter().map(Node::handle).collect();
    h[0].update(|s, me| s.add(me, "likes", 1)).unwrap();
    h[1].update(|s, me| s.add(me, "likes", 1)).unwrap();
    wait_until_converged(&nodes).await;

    // No wait is needed for the isolation to take effect: node 3 handles its
    // inbox in order, so its own writes below come after it has closed every
    // connection, and any frame carrying the others' writes reaches its inbox
    // after the isolation too (those writes are made after it was queued).
    h[2].isolate(true);
    // Both sides keep writing, including concurrent puts to one key.
    h[0].update(|s, me| s.put(me, "bio", "left".into(), &Default::default()))
        .unwrap();
    h[2].update(|s, me| s.put(me, "bio", "right".into(), &Default::default()))
        .unwrap();
    h[1].update(|s, me| s.set_add(me, "wishlist", "tent"))
        .unwrap();
    h[2].update(|s, me| s.add(me, "likes", 5)).unwrap();
    // Nodes 1 and 2 still sync: once they agree, the rounds that carried
    // their writes to each other have run, and would have reached node 3
    // too had the isolation leaked.
    wait_until_converged(&nodes[..2]).await;
    assert_eq!(
        h[0].read(|s| s.get("bio").0).await.unwrap(),
        ["left"],
        "node 1 has its own put and not the isolated node's"
    );
    assert_eq!(
        h[1].read(|s| s.count("likes")).await.unwrap(),
        2,
        "node 2 has the two +1s and not the isolated node's +5"
    );
    assert_eq!(
        h[2].read(|s| s.get("bio").0).await.unwrap(),
        ["right"],
        "the isolated node has its own put and not node 1's"
    );
    assert!(
        h[2].read(|s| s.members("wishlist"))
            .await
            .unwrap()
            .is_empty(),
        "the isolated node must not see the majority's set add"
    );
    assert!(
        !converged(&nodes).await,
        "the isolated node must not see the others"
    );

    h[2].isolate(false);
    wait_until_converged(&nodes).await;
    let (mut bio, _) = h[1].read(|s| s.get("bio")).await.unwrap();
    bio.sort();
    assert_eq!(
        bio,
        ["left", "right"],
        "concurrent puts survive as siblings"
    );
    assert_eq!(h[0].read(|s| s.count("likes")).await.unwrap(), 7);
    assert_eq!(
        h[2].read(|s| s.members("wishlist")).await.unwrap(),
        ["tent"]
    );
    shutdown_all(nodes).await;
}

/// Waits until the node has counted `n` rejected connections, then checks
/// it counted no more. Waiting, rather than reading the counter once the
/// socket reports the close, keeps the check independent of whether the node
/// counts a rejection before or after it closes the socket.
async fn wait_for_rejections(h: &NodeHandle<KvState>, n: u64) {
    let m = wait_for(
        DEADLINE,
        &format!("connections_rejected reaches {n}"),
        || metrics(h),
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
    // The rogue connections below speak as ABSENT (see there).
    let mut small = config_with_absent(1);
    small.engine.max_message_bytes = 4096;
    let nodes = pair(small).await;
    nodes[0]
        .handle()
        .update(|s, me| s.add(me, "likes", 1))
        .unwrap();
    wait_until_converged(&nodes).await;
    let h = nodes[0].handle();
    let before = h.read(|s| s.clone()).await.unwrap();
    let opened_before = wait_for(
        DEADLINE,
        "node 1 is connected to peer 2",
        || metrics(&h),
        |m| m.connected_peers == 1,
    )
    .await
    .connections_opened;

    // An unknown peer id is refused at the handshake.
    let mut stranger = rogue(h.local_addr(), PeerId(7)).await;
    assert!(
        closed_by_peer(&mut stranger).await.is_some(),
        "an unknown peer is refused"
    );
    wait_for_rejections(&h, 1).await;

    // Garbage from a connection claiming to be a known peer.
    let mut g = rogue(h.local_addr(), ABSENT).await;
    g.write_all(&5u32.to_be_bytes()).await.unwrap();
    g.write_all(b"junk!").await.unwrap();
    assert!(
        closed_by_peer(&mut g).await.is_some(),
        "a garbage frame closes the connection"
    );
    wait_for_rejections(&h, 2).await;

    // A frame announcing more than the limit.
    let mut big = rogue(h.local_addr(), ABSENT).await;
    big.write_all(&(1u32 << 20).to_be_bytes()).await.unwrap();
    assert!(
        closed_by_peer(&mut big).await.is_some(),
        "an oversized frame closes the connection"
    );
    wait_for_rejections(&h, 3).await;

    // Every rogue frame has been handled by now (each was counted).
    assert_eq!(
        h.read(|s| s.clone()).await.unwrap(),
        before,
        "state untouched"
    );
    let m = h.metrics().await.unwrap();
    assert_eq!(
        m.connections_opened,
        opened_before + 2,
        "only the two rogues that passed the handshake were opened; \
         peer 2's connection was never replaced: {m:?}"
    );

    // The well-behaved peer carries on.
    nodes[1]
        .handle()
        .update(|s, me| s.add(me, "likes", 1))
        .unwrap();
    wait_until_converged(&nodes).await;
    assert_eq!(h.read(|s| s.count("likes")).await.unwrap(), 2);
    shutdown_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_frame_of_a_connection_is_handled_after_its_opening() {
    // The hello and a garbage frame arrive in one TLS record, so the frame
    // is readable the moment the connection is. Were it handed to the
    // engine before the connection was registered, the engine would ignore
    // it as coming from an unknown connection, and the rogue would stay
    // open instead of being rejected.
    let a = start(config_with_absent(1)).await;
    let h = a.handle();
    let absent = cert(ABSENT.0).identity().unwrap();
    for i in 1..=20 {
        let mut both = Vec::new();
        both.extend_from_slice(&8u32.to_be_bytes());
        both.extend_from_slice(&ABSENT.0.to_be_bytes());
        both.extend_from_slice(&5u32.to_be_bytes());
        both.extend_from_slice(b"junk!");
        let mut s = tls_client(h.local_addr(), PeerId(1), Some(&absent))
            .await
            .unwrap();
        s.write_all(&both).await.unwrap();
        s.flush().await.unwrap();
        assert!(
            closed_by_peer(&mut s).await.is_some(),
            "round {i}: the garbage first frame closes the connection"
        );
        wait_for_rejections(&h, i).await;
    }
    let _ = a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_restarted_on_a_new_port_is_reconnected_and_syncs() {
    // Node 1 dials node 2 (the smaller id dials). It used to keep dialing
    // node 2's first address forever: a restarted node 2 on another port
    // was never reconnected, even after `add_peer` with the new address.
    let nodes = pair(config(1)).await;
    let (a, b) = (nodes[0].handle(), nodes[1].handle());
    b.update(|s, me| s.set_add(me, "tags", "before")).unwrap();
    wait_until_converged(&nodes).await;

    // Node 2 comes back on another port, empty, under a fresh replica id.
    // It starts before the old one stops, so the port is surely another.
    let restarted = start(config(2)).await;
    assert_ne!(restarted.local_addr(), b.local_addr());
    restarted.handle().add_peer(PeerId(1), a.local_addr());
    let mut nodes = nodes;
    let _ = nodes.pop().unwrap().shutdown().await;
    a.add_peer(PeerId(2), restarted.local_addr());

    // Writes on both sides, and what node 1 had from before, meet.
    let b = restarted.handle();
    a.update(|s, me| s.set_add(me, "tags", "from-1")).unwrap();
    b.update(|s, me| s.set_add(me, "tags", "from-2")).unwrap();
    nodes.push(restarted);
    wait_until_converged(&nodes).await;
    assert_eq!(
        b.read(|s| s.members("tags")).await.unwrap(),
        ["before", "from-1", "from-2"]
    );
    assert_eq!(metrics(&a).await.connected_peers, 1);
    shutdown_all(nodes).await;
}
