//! `subscribe()` reports local and remote changes, and a slow subscriber
//! neither holds the node back nor makes it queue notifications.

mod common;

use std::time::Duration;

use tokio::time::timeout;

use common::{DEADLINE, config, pair, shutdown_all, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_see_local_and_remote_changes() {
    let nodes = pair(config(1)).await;
    let (a, b) = (nodes[0].handle(), nodes[1].handle());
    let mut on_a = a.subscribe();
    let mut on_b = b.subscribe();

    a.write(|s, me| s.set_add(me, "tags", "rust"))
        .await
        .unwrap();
    let seen = timeout(DEADLINE, on_a.changed()).await.unwrap().unwrap();
    assert_eq!((seen.local, seen.remote), (1, 0), "a's own write");

    // The peer hears of it without polling, and the change is readable.
    let seen = timeout(DEADLINE, on_b.changed()).await.unwrap().unwrap();
    assert_eq!(seen.local, 0);
    assert!(seen.remote >= 1, "{seen:?}");
    assert_eq!(b.read(|s| s.members("tags")).await.unwrap(), ["rust"]);

    // And the other way round.
    b.write(|s, me| s.add(me, "likes", 2)).await.unwrap();
    loop {
        let seen = timeout(DEADLINE, on_a.changed()).await.unwrap().unwrap();
        if seen.remote >= 1 {
            assert_eq!(seen.local, 1, "no local write since");
            break;
        }
    }
    assert_eq!(a.read(|s| s.count("likes")).await.unwrap(), 2);
    shutdown_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_neither_blocks_the_node_nor_queues_changes() {
    let node = start(config(1)).await;
    let h = node.handle();
    let mut idle = h.subscribe();

    // A subscriber that does not listen while 2,000 writes go through:
    // every write completes (the node never waits for it) ...
    for i in 0..2000 {
        h.write(move |s, me| s.set_add(me, "ids", &i.to_string()))
            .await
            .unwrap();
    }
    // ... and when it listens again it gets one notification with the
    // count of everything it missed, not 2,000 queued ones.
    let seen = timeout(DEADLINE, idle.changed()).await.unwrap().unwrap();
    assert_eq!((seen.local, seen.remote), (2000, 0));
    assert_eq!(idle.latest().total(), 2000);
    // Nothing else is pending for it (nothing else changes this node).
    assert!(
        timeout(Duration::from_millis(100), idle.changed())
            .await
            .is_err(),
        "the missed changes were coalesced into one notification"
    );

    // A write that changes nothing is not a change.
    h.write(|s, _| s.set_remove("ids", "absent")).await.unwrap();
    h.write(|s, me| s.add(me, "n", 1)).await.unwrap();
    let seen = timeout(DEADLINE, idle.changed()).await.unwrap().unwrap();
    assert_eq!(seen.local, 2001, "only the write that changed something");
    let _ = node.shutdown().await;
}
