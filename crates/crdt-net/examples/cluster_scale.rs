//! How a cluster with SWIM membership and the partial mesh scales, for
//! README.md:
//!
//! ```text
//! cargo run --release -p crdt-net --example cluster_scale
//! cargo run --release -p crdt-net --example cluster_scale -- --processes 5
//! ```
//!
//! Without arguments: for 3, 10 and 32 nodes in this process (mutual TLS,
//! fanout 4), each started with node 1's address as its only seed:
//!
//! 1. membership: from the first start until every node sees every member;
//! 2. writes: every node makes 10 counter increments; time until every node
//!    counts all of them, and the engines' bytes sent in that window per
//!    write, over the whole cluster and per node it reaches (less the idle
//!    traffic of a window as long, measured just before; membership
//!    datagrams are not counted);
//! 3. connections per node (mean and max) once converged;
//! 4. a quarter of the nodes (the last ones) stop without a goodbye: time
//!    until the others see them down and hold no engine peer for them;
//!    node 1 writes meanwhile; they restart with empty state and new
//!    addresses: time until every node sees every member and counts
//!    every write.
//!
//! With `--processes N`: the same with each node an OS process of its own
//! (copies of this example, `--node <id> --dir <dir> [--seed <port>]`),
//! each reading its certificate and the cluster's membership key from its
//! folder (written by this process: [`ClusterCa`], [`MembershipKey`]), and
//! driven through a line protocol on its standard input and output; in
//! step 4 a quarter of the nodes, rounded up, is killed (SIGKILL) and
//! started again.
//!
//! Every wait has a deadline (reported as `timeout`); the run stops by
//! itself.

#[path = "cluster_scale/processes.rs"]
mod processes;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crdt_core::ReplicaId;
use crdt_net::{
    ClusterCa, KvState, Membership, MembershipKey, NetMetrics, Node, NodeConfig, Transport,
};
use crdt_sync::{Config, PeerId};

/// Writes per node.
const WRITES: i64 = 10;
/// Peers each node dials.
const FANOUT: usize = 4;
/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(20);
/// The longest any phase may take.
const DEADLINE: Duration = Duration::from_secs(60);

/// The cluster name of the certificates.
const CLUSTER: &str = "scale";

/// The table's header.
const HEADER: &str = "| nodes | membership settles | converge | bytes/write (per node reached) | conns/node mean (max) | quarter down detected | quarter back, caught up |\n|---|---|---|---|---|---|---|";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    };
    match words[..] {
        [] => runtime().block_on(in_process()),
        ["--processes", n] => match n.parse() {
            Ok(n) if n >= 2 => processes::parent(n),
            _ => usage(),
        },
        ["--node", ..] => runtime().block_on(processes::node(&words)),
        _ => usage(),
    }
}

async fn in_process() -> std::process::ExitCode {
    let ca = ClusterCa::new(CLUSTER).expect("a CA");
    println!("{HEADER}");
    for n in [3u64, 10, 32] {
        run(&ca, n).await;
    }
    std::process::ExitCode::SUCCESS
}

fn usage() -> std::process::ExitCode {
    eprintln!("usage: scale [--processes <n, 2 or more>]");
    std::process::ExitCode::FAILURE
}

/// Node `me`'s settings: fanout 4, probe 200 ms, suspicion 1 s.
fn config(tls: Transport, me: u64, seed: Option<SocketAddr>, key: &MembershipKey) -> NodeConfig {
    let mut c = NodeConfig::new(PeerId(me), "127.0.0.1:0".parse().unwrap(), tls);
    c.engine = Config {
        sync_interval: Duration::from_millis(50),
        ..Config::default()
    };
    let mut m = Membership::new(seed.into_iter().collect(), key.to_bytes());
    m.fanout = FANOUT;
    m.probe_period = Duration::from_millis(200);
    m.suspect_after = Duration::from_secs(1);
    m.reshuffle = Duration::from_secs(2);
    c.membership = Some(m);
    c
}

async fn start(ca: &ClusterCa, me: u64, seed: Option<SocketAddr>) -> Node<KvState> {
    let tls = Transport::tls(ca.issue(PeerId(me)).unwrap().identity().unwrap()).unwrap();
    let key = MembershipKey::from_bytes([42; 32]);
    Node::start(
        config(tls, me, seed, &key),
        ReplicaId::random(),
        KvState::new(),
    )
    .await
    .expect("a node starts")
}

async fn metrics(nodes: &[Node<KvState>]) -> Vec<NetMetrics> {
    let mut out = Vec::new();
    for n in nodes {
        out.push(n.handle().metrics().await.expect("running"));
    }
    out
}

async fn counts(nodes: &[Node<KvState>]) -> Vec<i64> {
    let mut out = Vec::new();
    for n in nodes {
        out.push(n.handle().read(|s| s.count("hits")).await.expect("running"));
    }
    out
}

/// Polls `probe` until `done`; the time it took, or `None` at the deadline.
async fn timed<T, F: Future<Output = T>>(
    from: Instant,
    mut probe: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> Option<Duration> {
    while from.elapsed() < DEADLINE {
        if done(&probe().await) {
            return Some(from.elapsed());
        }
        tokio::time::sleep(POLL).await;
    }
    None
}

fn show(d: Option<Duration>) -> String {
    d.map_or("timeout".into(), |d| format!("{:.2} s", d.as_secs_f64()))
}

fn bytes_out(m: &[NetMetrics]) -> u64 {
    m.iter().map(|m| m.engine.bytes_out).sum()
}

async fn run(ca: &ClusterCa, n: u64) {
    let begin = Instant::now();
    let first = start(ca, 1, None).await;
    let seed = first.local_addr();
    let mut nodes = vec![first];
    for me in 2..=n {
        nodes.push(start(ca, me, Some(seed)).await);
    }
    let size = usize::try_from(n).unwrap_or(usize::MAX);
    let settle = timed(
        begin,
        || metrics(&nodes),
        |m| m.iter().all(|m| m.members_alive == size),
    )
    .await;

    // Idle traffic over a second, then the writes.
    let idle_from = (Instant::now(), bytes_out(&metrics(&nodes).await));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rate = (bytes_out(&metrics(&nodes).await) - idle_from.1) as f64
        / idle_from.0.elapsed().as_secs_f64();
    let before = bytes_out(&metrics(&nodes).await);
    let start_writes = Instant::now();
    for node in &nodes {
        for _ in 0..WRITES {
            node.handle()
                .write(|s, me| s.add(me, "hits", 1))
                .await
                .expect("write");
        }
    }
    let want = WRITES * i64::try_from(n).unwrap_or(i64::MAX);
    let converge = timed(
        start_writes,
        || counts(&nodes),
        |c| c.iter().all(|&c| c == want),
    )
    .await;
    let window = start_writes.elapsed().as_secs_f64();
    let m = metrics(&nodes).await;
    let spent = (bytes_out(&m) - before) as f64 - idle_rate * window;
    let per_write = spent.max(0.0) / want as f64;
    // Each write has to reach the n - 1 other nodes.
    let per_delivery = per_write / (n - 1) as f64;
    let conns: Vec<usize> = m.iter().map(|m| m.connected_peers).collect();
    let mean = conns.iter().sum::<usize>() as f64 / conns.len() as f64;
    let max = conns.iter().copied().max().unwrap_or(0);

    // A quarter stops without a goodbye.
    let quarter = (n / 4).max(1);
    let mut killed = Vec::new();
    for _ in 0..quarter {
        killed.push(nodes.pop().expect("a node"));
    }
    for node in killed {
        let _ = node.shutdown().await;
    }
    // From when the last one is gone (a shutdown first flushes, up to
    // `flush_timeout`, while its membership still answers).
    let kill = Instant::now();
    let left = size - usize::try_from(quarter).unwrap_or(0);
    let gone: Vec<PeerId> = (n - quarter + 1..=n).map(PeerId).collect();
    let detected = timed(
        kill,
        || metrics(&nodes),
        |m| {
            m.iter().all(|m| {
                m.members_alive == left && gone.iter().all(|p| !m.engine.peers.contains_key(p))
            })
        },
    )
    .await;
    nodes[0]
        .handle()
        .write(|s, me| s.add(me, "hits", 1))
        .await
        .expect("write");
    let back = Instant::now();
    for me in n - quarter + 1..=n {
        nodes.push(start(ca, me, Some(seed)).await);
    }
    let rejoined = timed(
        back,
        || async { (metrics(&nodes).await, counts(&nodes).await) },
        |(m, c)| m.iter().all(|m| m.members_alive == size) && c.iter().all(|&c| c == want + 1),
    )
    .await;
    println!(
        "| {n} | {} | {} | {per_write:.0} ({per_delivery:.1}) | {mean:.1} ({max}) | {} ({quarter} nodes) | {} |",
        show(settle),
        show(converge),
        show(detected),
        show(rejoined),
    );
    for node in nodes {
        let _ = node.shutdown().await;
    }
}
