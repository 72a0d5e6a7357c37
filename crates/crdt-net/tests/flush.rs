//! `wait_synced` / `flush` resolve once every live peer has acknowledged
//! every write, name the peers behind when they time out, and
//! `Node::shutdown` flushes before it stops.
//!
//! Every wait is [`common::wait_for`] a condition or a call's own timeout;
//! nothing sleeps in the hope that something has happened.

mod common;

use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use crdt_net::{KvState, NodeError, NodeHandle};

use common::{
    ABSENT, DEADLINE, config, config_with_absent, metrics, pair, rogue, shutdown_all, start,
    wait_for,
};

/// Waits until `h` has an open connection to `n` peers.
async fn wait_connected(h: &NodeHandle<KvState>, n: usize) {
    wait_for(
        DEADLINE,
        &format!("{n} peers connected"),
        || metrics(h),
        |m| m.connected_peers == n,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_just_before_shutdown_reaches_the_peer() {
    // Before flush-on-shutdown, the write never left the node (3 of 3
    // tries): shutdown closed the connection before the next sync round.
    for round in 1..=10 {
        let mut nodes = pair(config(1)).await;
        let b = nodes.pop().unwrap();
        let a = nodes.pop().unwrap();
        wait_connected(&a.handle(), 1).await;
        // `update` does not even wait for the write to be applied.
        a.handle()
            .update(move |s, me| s.add(me, "likes", round))
            .unwrap();
        let report = a.shutdown().await.unwrap();
        assert_eq!(report.flushed, Ok(()), "round {round}");
        assert_eq!(report.state.count("likes"), round, "round {round}");
        // No waiting: peer 2 acknowledged the write before shutdown returned.
        assert_eq!(
            b.handle().read(|s| s.count("likes")).await.unwrap(),
            round,
            "round {round}: the peer has the write once shutdown returned"
        );
        let _ = b.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pairs_first_connection_is_not_refused() {
    // `pair` adds node 1 on node 2 before node 1 dials, so the connection
    // the flush tests wait for is never one node 2 refuses: a refused one
    // closes at once, and a flush made while it was closed waited for no
    // peer (`a_write_just_before_shutdown_reaches_the_peer` failed so).
    for round in 1..=5 {
        let nodes = pair(config(1)).await;
        let (a, b) = (nodes[0].handle(), nodes[1].handle());
        wait_connected(&a, 1).await;
        wait_connected(&b, 1).await;
        let (ma, mb) = (metrics(&a).await, metrics(&b).await);
        assert_eq!(mb.connections_rejected, 0, "round {round}: {mb:?}");
        assert_eq!(
            (ma.connections_opened, ma.connections_closed),
            (1, 0),
            "round {round}: node 1 connected once and stayed: {ma:?}"
        );
        shutdown_all(nodes).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_synced_returns_once_the_peers_have_every_write() {
    let nodes = pair(config(1)).await;
    let (a, b) = (nodes[0].handle(), nodes[1].handle());
    wait_connected(&a, 1).await;
    for i in 1..=20i64 {
        a.update(|s, me| s.add(me, "n", 1)).unwrap();
        a.update(move |s, me| s.set_add(me, "tags", &format!("t{i}")))
            .unwrap();
        a.wait_synced(DEADLINE).await.unwrap();
        // Read straight away: acknowledged means applied by the peer.
        let (n, tags) = b
            .read(|s| (s.count("n"), s.members("tags").len()))
            .await
            .unwrap();
        assert_eq!((n, tags), (i, i as usize), "after flush {i}");
    }
    // Both ways: the peer flushes its own writes to this node.
    b.write(|s, me| s.add(me, "n", 100)).await.unwrap();
    b.flush().await.unwrap();
    assert_eq!(a.read(|s| s.count("n")).await.unwrap(), 120);
    shutdown_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_synced_times_out_naming_the_live_peer_behind() {
    let node = start(config_with_absent(1)).await;
    let h = node.handle();
    // No live peer (ABSENT is known but never connected): nothing to wait for.
    h.write(|s, me| s.add(me, "n", 1)).await.unwrap();
    h.wait_synced(DEADLINE).await.unwrap();

    // A connection that never acknowledges anything.
    let silent = rogue(h.local_addr(), ABSENT).await;
    wait_connected(&h, 1).await;
    h.write(|s, me| s.add(me, "n", 1)).await.unwrap();
    let wait = Duration::from_millis(300);
    let err = h.wait_synced(wait).await.unwrap_err();
    let NodeError::NotSynced { waited, behind } = &err else {
        panic!("expected NotSynced, got {err:?}");
    };
    assert!(*waited >= wait, "it waited the whole timeout: {waited:?}");
    assert_eq!(behind.len(), 1, "{err}");
    assert_eq!(behind[0].peer, ABSENT);
    assert!(behind[0].connected, "{err}");
    let lag = behind[0].lag.expect("the engine knows the peer's lag");
    assert!(lag.unacked_sequences > 0, "{err}");
    assert!(
        err.to_string().contains("peer 0 (") && err.to_string().contains("unacknowledged"),
        "the message names the peer and why: {err}"
    );

    // A live peer that disconnects stays waited for, and is reported so.
    let before = metrics(&h).await.connections_closed;
    let wait = Duration::from_millis(1500);
    let asked = Instant::now();
    let flush = h.wait_synced(wait);
    tokio::pin!(flush);
    // One poll queues the request (the queue has room); the metrics request
    // queued after it is answered only once the engine has registered it.
    let pending = std::future::poll_fn(|cx| Poll::Ready(flush.as_mut().poll(cx).is_pending()));
    assert!(pending.await, "the peer has not acknowledged");
    metrics(&h).await;
    drop(silent);
    let closed_at = wait_for(
        DEADLINE,
        "the node sees the connection close",
        || metrics(&h),
        |m| m.connections_closed > before,
    )
    .await;
    let seen = Instant::now();
    let err = flush.await.unwrap_err();
    let NodeError::NotSynced { behind, .. } = &err else {
        panic!("expected NotSynced, got {err:?}");
    };
    assert_eq!(
        behind.len(),
        1,
        "the disconnected peer is still waited for: {err}"
    );
    assert_eq!(behind[0].peer, ABSENT);
    // The engine saw the close before the deadline unless this machine was
    // so loaded that noticing it took longer than the whole wait.
    if seen < asked + wait {
        assert!(!behind[0].connected, "{err} ({closed_at:?})");
        assert!(err.to_string().contains("disconnected"), "{err}");
    }
    let _ = node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_count_of_delta_intervals_matches_the_engines() {
    // A flush waits for a peer to acknowledge the engine's sequence as the
    // node counts it (local writes that changed something, received deltas
    // the engine applied). ABSENT never acknowledges anything, so the
    // engine's lag for it is the engine's own sequence: the two must agree,
    // or flushes would end early (count too high) or late (too low).
    let nodes = pair(config_with_absent(1)).await;
    let (a, b) = (nodes[0].handle(), nodes[1].handle());
    let changes = a.subscribe();
    for i in 0..30 {
        a.update(move |s, me| s.add(me, "n", i % 3)).unwrap(); // +0 changes nothing
        a.update(|s, _| s.set_remove("tags", "absent")).unwrap(); // nor does this
        b.update(move |s, me| s.set_add(me, "tags", &format!("t{}", i % 10)))
            .unwrap();
    }
    common::wait_until_converged(&nodes).await;
    let sequence = || {
        let c = changes.latest();
        c.local + c.remote
    };
    let m = wait_for(
        DEADLINE,
        "the engine's lag for the silent peer equals the node's count",
        || metrics(&a),
        |m| m.engine.peers.get(&ABSENT).map(|l| l.unacked_sequences) == Some(sequence()),
    )
    .await;
    assert!(
        m.engine.deltas_applied > 0 && changes.latest().local == 20,
        "both kinds were counted: {:?}, {m:?}",
        changes.latest()
    );
    shutdown_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_completes_while_the_peer_keeps_writing() {
    // A flush waits for what was written before it, not for the peer's
    // stream of later writes (each of which this node buffers and relays).
    let nodes = pair(config(1)).await;
    let (a, b) = (nodes[0].handle(), nodes[1].handle());
    wait_connected(&a, 1).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = tokio::spawn({
        let stop = std::sync::Arc::clone(&stop);
        async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                i += 1;
                b.write(move |s, me| s.set_add(me, "stream", &i.to_string()))
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
            }
            i
        }
    });
    for round in 1..=10 {
        a.write(|s, me| s.add(me, "n", 1)).await.unwrap();
        a.wait_synced(DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = writer.await.unwrap();
    assert!(written > 0);
    assert_eq!(nodes[1].handle().read(|s| s.count("n")).await.unwrap(), 10);
    shutdown_all(nodes).await;
}
