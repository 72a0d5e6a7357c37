//! SWIM membership and the partial mesh over real sockets: nodes started
//! from one seed learn each other, converge, detect a killed node, take it
//! back when it restarts, and keep connections per node bounded by the
//! fanout.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{DEADLINE, config, metrics, shutdown_all, start, states, wait_for};
use crdt_net::{KvState, Membership, NetMetrics, Node, NodeConfig};
use crdt_sync::PeerId;

/// The test cluster's membership key.
const KEY: [u8; 32] = [9; 32];

/// Generous: SWIM needs a few probe periods, and the machine may be busy.
const SETTLE: Duration = Duration::from_secs(30);

/// Node `me` with membership announcing to `seed`, dialing `fanout` peers.
fn swim(me: u64, seed: Option<SocketAddr>, fanout: usize) -> NodeConfig {
    let mut c = config(me);
    let mut m = Membership::new(seed.into_iter().collect(), KEY);
    m.fanout = fanout;
    m.reshuffle = Duration::from_millis(700);
    m.rng_seed = Some(me);
    m.probe_period = Duration::from_millis(100);
    m.suspect_after = Duration::from_millis(600);
    c.membership = Some(m);
    c
}

/// Starts `n` nodes, ids 1..=n, each announcing to node 1.
async fn cluster(n: u64, fanout: usize) -> Vec<Node<KvState>> {
    let first = start(swim(1, None, fanout)).await;
    let seed = first.local_addr();
    let mut nodes = vec![first];
    for me in 2..=n {
        nodes.push(start(swim(me, Some(seed), fanout)).await);
    }
    nodes
}

async fn all_metrics(nodes: &[Node<KvState>]) -> Vec<NetMetrics> {
    let mut out = Vec::new();
    for n in nodes {
        out.push(metrics(&n.handle()).await);
    }
    out
}

async fn members_settle(nodes: &[Node<KvState>], n: usize) {
    wait_for(
        SETTLE,
        "every node sees every member",
        || async {
            let m = all_metrics(nodes).await;
            m.iter().map(|m| m.members_alive).collect::<Vec<_>>()
        },
        |alive| alive.iter().all(|&a| a == n),
    )
    .await;
}

/// Each node adds 1 to the counter `hits`; waits until all count `want`.
async fn write_everywhere_and_converge(nodes: &[Node<KvState>], want: i64) {
    for n in nodes {
        n.handle()
            .write(|s, me| s.add(me, "hits", 1))
            .await
            .unwrap();
    }
    wait_for(
        SETTLE,
        "every node counts every write",
        || async {
            let s = states(nodes).await;
            s.iter().map(|s| s.count("hits")).collect::<Vec<_>>()
        },
        |c| c.iter().all(|&c| c == want),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_from_one_seed_learn_each_other_and_converge() {
    let nodes = cluster(3, 4).await;
    members_settle(&nodes, 3).await;
    write_everywhere_and_converge(&nodes, 3).await;
    shutdown_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_is_removed_and_catches_up_when_it_restarts() {
    let mut nodes = cluster(3, 4).await;
    members_settle(&nodes, 3).await;
    write_everywhere_and_converge(&nodes, 3).await;
    let seed = nodes[0].local_addr();

    let killed = nodes.pop().expect("three nodes");
    let _ = killed.shutdown().await;
    wait_for(
        SETTLE,
        "node 3 detected down and removed from the engine",
        || all_metrics(&nodes),
        |m| {
            m.iter().all(|m| {
                m.members_alive == 2
                    && !m.engine.peers.contains_key(&PeerId(3))
                    && m.engine.peers.len() == 1
                    && m.connected_peers == 1
            })
        },
    )
    .await;
    nodes[0]
        .handle()
        .write(|s, me| s.add(me, "hits", 10))
        .await
        .unwrap();

    // Back with an empty state, a new address and a new generation.
    nodes.push(start(swim(3, Some(seed), 4)).await);
    members_settle(&nodes, 3).await;
    write_everywhere_and_converge(&nodes, 16).await;
    shutdown_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_nodes_with_fanout_two_stay_bounded_and_converge() {
    const N: usize = 8;
    const FANOUT: usize = 2;
    let nodes = cluster(N as u64, FANOUT).await;
    members_settle(&nodes, N).await;
    write_everywhere_and_converge(&nodes, N as i64).await;
    // Every connection was dialed by a node that chose its other end, so
    // there are at most N * FANOUT of them (each counted at both ends),
    // whereas a full mesh has N * (N - 1) / 2 = 28.
    wait_for(
        SETTLE,
        "connections bounded by the fanout",
        || all_metrics(&nodes),
        |m| m.iter().map(|m| m.connected_peers).sum::<usize>() <= 2 * N * FANOUT,
    )
    .await;
    shutdown_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datagram_without_the_key_is_dropped() {
    let nodes = cluster(2, 4).await;
    members_settle(&nodes, 2).await;
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // A well-formed length, a tag made without the key.
    udp.send_to(&[7u8; 80], nodes[0].local_addr())
        .await
        .unwrap();
    let first = nodes[0].handle();
    let m = wait_for(
        DEADLINE,
        "the forged datagram counted as refused",
        || metrics(&first),
        |m| m.membership_rejected >= 1,
    )
    .await;
    assert_eq!(m.members_alive, 2);
    shutdown_all(nodes).await;
}

/// A partition that cuts membership datagrams as well as connections, long
/// enough for each side to declare the other down, heals by itself: the
/// members declared down are announced to, rejoin, and everyone converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_that_cuts_membership_heals() {
    let nodes = cluster(3, 4).await;
    members_settle(&nodes, 3).await;
    write_everywhere_and_converge(&nodes, 3).await;

    nodes[2].handle().isolate(true);
    wait_for(
        SETTLE,
        "each side declares the other down",
        || all_metrics(&nodes),
        |m| {
            m.iter().map(|m| m.members_alive).collect::<Vec<_>>() == [2, 2, 1]
                && m[2].connected_peers == 0
        },
    )
    .await;
    for n in &nodes {
        n.handle()
            .write(|s, me| s.add(me, "hits", 1))
            .await
            .unwrap();
    }
    let apart = wait_for(
        SETTLE,
        "the two connected nodes count both their writes",
        || async {
            let s = states(&nodes).await;
            s.iter().map(|s| s.count("hits")).collect::<Vec<_>>()
        },
        |c| c[..2] == [5, 5],
    )
    .await;
    assert_eq!(
        apart[2], 4,
        "the cut-off node got nothing during the partition"
    );

    nodes[2].handle().isolate(false);
    members_settle(&nodes, 3).await;
    write_everywhere_and_converge(&nodes, 9).await;
    shutdown_all(nodes).await;
}
