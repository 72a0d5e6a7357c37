//! Every request to a stopped node fails with `NodeError::Stopped` (a read
//! used to return a default value as if the store were empty).

mod common;

use crdt_net::NodeError;

use common::{DEADLINE, config, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_a_stopped_node_fail_with_stopped() {
    let node = start(config(1)).await;
    let h = node.handle();
    let mut changes = h.subscribe();
    h.write(|s, me| s.add(me, "n", 1)).await.unwrap();
    let report = node.shutdown().await.unwrap();
    assert_eq!(report.state.count("n"), 1);
    assert_eq!(report.flushed, Ok(()), "no live peer: nothing to wait for");

    assert_eq!(h.read(|s| s.count("n")).await, Err(NodeError::Stopped));
    assert_eq!(h.update(|s, me| s.add(me, "n", 1)), Err(NodeError::Stopped));
    assert_eq!(
        h.write(|s, me| s.add(me, "n", 1)).await,
        Err(NodeError::Stopped)
    );
    assert_eq!(h.metrics().await, Err(NodeError::Stopped));
    assert_eq!(h.wait_synced(DEADLINE).await, Err(NodeError::Stopped));
    // The subscription reports the change it had not seen, then the stop.
    assert_eq!(changes.changed().await.unwrap().local, 1);
    assert_eq!(changes.changed().await, Err(NodeError::Stopped));
    assert!(
        NodeError::Stopped.to_string().contains("has stopped"),
        "{}",
        NodeError::Stopped
    );
}
