//! Bounded queues over real sockets: a peer that sends faster than the node
//! handles is slowed down by TCP instead of buffered, and an application
//! that writes faster than the node applies is made to wait (`write`) or
//! told (`update`).
//!
//! Every wait is [`common::wait_for`] a condition or a timeout, with a
//! deadline; nothing sleeps in the hope that something has happened.

mod common;

use std::time::Duration;

use crdt_net::NodeError;
use crdt_sync::{Message, Payload};
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout, timeout_at};

use common::{
    ABSENT, DEADLINE, big_set, config, config_with_absent, frame, pair, rogue, shutdown_all, start,
    wait_until_converged,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_is_slowed_by_tcp_and_costs_at_most_the_inbound_budget() {
    const BUDGET: usize = 256 << 10;
    let mut first = config_with_absent(1);
    first.inbound_queue_bytes = BUDGET;
    let nodes = pair(first).await;
    let h = nodes[0].handle();
    h.update(|s, me| s.add(me, "likes", 1)).unwrap();
    wait_until_converged(&nodes).await;

    // Valid frames, so that the connection stays open: a delta of about
    // 60 KiB, the same again and again (redundant after the first, but each
    // one is decoded and compared with the state). The rogue writes as fast
    // as the node lets it for 1.5 s.
    let delta = frame(Message::Delta(Payload {
        id: 1,
        part: 0,
        parts: 1,
        state: big_set(2500),
    }));
    let mut s = rogue(h.local_addr(), ABSENT).await;
    let until = Instant::now() + Duration::from_millis(1500);
    let mut sent = 0usize;
    while let Ok(written) = timeout_at(until, s.write_all(&delta)).await {
        written.expect("the node keeps the rogue's connection open");
        sent += delta.len();
    }
    assert!(
        sent >= 8 * BUDGET,
        "the flood must outrun the budget to test it: {sent} bytes sent"
    );
    drop(s);

    // The honest peer still converges with node 1, through the rest of the
    // flood (what the kernel buffered) and its close.
    nodes[1]
        .handle()
        .update(|s, me| s.add(me, "likes", 1))
        .unwrap();
    wait_until_converged(&nodes).await;
    assert_eq!(h.read(|s| s.count("likes")).await.unwrap(), 2);
    assert_eq!(h.read(|s| s.members("members").len()).await.unwrap(), 2500);

    // Whatever the flood's pace, node 1 never held more than its budget of
    // received input, and it got there by making the rogue's reader wait.
    let m = h.metrics().await.unwrap();
    eprintln!(
        "flood: {sent} bytes sent in 1.5 s; queued input peaked at {} bytes; \
         the reader waited {} times",
        m.inbound_queued_bytes_max, m.inbound_waits
    );
    assert!(
        m.inbound_queued_bytes_max <= BUDGET,
        "queued input peaked at {} bytes, over the budget of {BUDGET} \
         (the rogue sent {sent} bytes): {m:?}",
        m.inbound_queued_bytes_max
    );
    assert!(
        m.inbound_queued_bytes_max > 0 && m.inbound_waits > 0,
        "the rogue's reader waited for the engine: {m:?}"
    );
    shutdown_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_request_queue_makes_write_wait_and_update_drop() {
    let mut c = config(1);
    c.app_queue = 4;
    let node = start(c).await;
    let h = node.handle();

    // A write that holds the engine until released.
    let (started_tx, started_rx) = oneshot::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    h.update(move |s, me| {
        let _ = started_tx.send(());
        let _ = release_rx.recv();
        s.add(me, "n", 1)
    })
    .unwrap();
    timeout(DEADLINE, started_rx)
        .await
        .expect("the engine takes the first write")
        .unwrap();

    // Four writes fill the queue; the next three are dropped.
    for _ in 0..4 {
        h.update(|s, me| s.add(me, "n", 1)).unwrap();
    }
    for _ in 0..3 {
        assert_eq!(
            h.update(|s, me| s.add(me, "n", 100)),
            Err(NodeError::QueueFull),
            "a write that finds the queue full is dropped and says so"
        );
    }
    let waiting = tokio::spawn({
        let h = h.clone();
        async move { h.write(|s, me| s.add(me, "n", 1)).await }
    });
    tokio::task::yield_now().await;
    assert!(
        !waiting.is_finished(),
        "a write cannot complete while the engine is held"
    );

    release_tx.send(()).unwrap();
    timeout(DEADLINE, waiting)
        .await
        .expect("the waiting write completes once the engine is released")
        .unwrap()
        .expect("the write is applied");
    assert_eq!(
        h.read(|s| s.count("n")).await.unwrap(),
        6,
        "the held write, the four queued and the waiting one; none of the dropped"
    );
    assert_eq!(h.metrics().await.unwrap().updates_dropped, 3);
    let _ = node.shutdown().await;
}
