//! The durable node's figures for README.md:
//!
//! ```text
//! cargo run --release -p crdt-net --example durable_figures
//! ```
//!
//! Write latency through `NodeHandle::write` (median, p99) and throughput
//! with 1 and 16 concurrent writers, on an in-memory node and on a durable
//! one (`Node::open`, fsync before every acknowledgement, group commit;
//! and relaxed), and the bytes each restart of a durable node adds to a
//! peer's context. The data folder is a temporary one (or the folder in
//! `CRDT_NET_FIGURES_DIR`), removed at the end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crdt_core::ReplicaId;
use crdt_net::{Durability, Node, NodeConfig, StoreOptions, Transport};
use crdt_sync::{PeerId, codec};
use crdt_types::{CausalCrdt, OrSet};

type Set = OrSet<u64>;

/// Writes per run, shared by the writers.
const WRITES: usize = 2_000;

fn config(me: u64) -> NodeConfig {
    // Plain TCP: these figures are about the store, and the transport's
    // cost is measured apart (example `tls_figures`).
    NodeConfig::new(
        PeerId(me),
        "127.0.0.1:0".parse().expect("loopback"),
        Transport::plain_tcp_insecure(),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = std::env::var_os("CRDT_NET_FIGURES_DIR")
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join(format!("crdt-net-figures-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    println!("| node | writers | median | p99 | writes/s | appends per commit |");
    println!("|---|---|---|---|---|---|");
    let relaxed = StoreOptions::default().with_durability(Durability::Relaxed {
        max_delay: Duration::from_millis(100),
    });
    for writers in [1, 16] {
        run("in memory", writers, None).await;
        run(
            "durable (fsync)",
            writers,
            Some((
                root.join(format!("immediate-{writers}")),
                StoreOptions::default(),
            )),
        )
        .await;
        run(
            "durable (relaxed, 100 ms)",
            writers,
            Some((root.join(format!("relaxed-{writers}")), relaxed.clone())),
        )
        .await;
    }
    restarts(&root.join("restarts")).await;
    let _ = std::fs::remove_dir_all(&root);
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// `WRITES` writes through `writers` concurrent tasks, each timed.
async fn run(label: &str, writers: usize, durable: Option<(PathBuf, StoreOptions)>) {
    let node = match durable {
        Some((dir, options)) => Node::<Set>::open(config(1), dir, options).await,
        None => Node::start(config(1), ReplicaId::random(), Set::new()).await,
    }
    .expect("the node starts");
    let h = node.handle();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let (h, next) = (h.clone(), next.clone());
            tokio::spawn(async move {
                let mut took = Vec::new();
                for _ in 0..WRITES / writers {
                    let x = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let t = Instant::now();
                    h.write(move |s, me| s.insert(me, x)).await.expect("write");
                    took.push(t.elapsed());
                }
                took
            })
        })
        .collect();
    let mut took = Vec::new();
    for t in tasks {
        took.extend(t.await.expect("a writer"));
    }
    let elapsed = started.elapsed();
    took.sort();
    let per_commit = match h.metrics().await.expect("metrics").store {
        Some(s) => format!("{:.1}", s.appends as f64 / s.commits.max(1) as f64),
        None => "-".to_string(),
    };
    println!(
        "| {label} | {writers} | {} | {} | {:.0} | {per_commit} |",
        ms(percentile(&took, 0.5)),
        ms(percentile(&took, 0.99)),
        took.len() as f64 / elapsed.as_secs_f64(),
    );
    node.shutdown().await.expect("shutdown");
}

/// A durable node restarted 10 times, writing once per run to an in-memory
/// peer: the peer's context, and its encoded size, after each restart.
async fn restarts(dir: &Path) {
    let peer = Node::start(config(2), ReplicaId::random(), Set::new())
        .await
        .expect("the peer starts");
    let hp = peer.handle();
    let mut sizes = Vec::new();
    let mut replicas = Vec::new();
    for i in 0..10u64 {
        let node = Node::<Set>::open(config(1), dir, StoreOptions::default())
            .await
            .expect("the node opens");
        node.handle().add_peer(PeerId(2), peer.local_addr());
        hp.add_peer(PeerId(1), node.local_addr());
        node.handle()
            .write(move |s, me| s.insert(me, i))
            .await
            .expect("write");
        let deadline = Instant::now() + Duration::from_secs(10);
        while hp.read(move |s| s.contains(&i)).await != Ok(true) {
            assert!(Instant::now() < deadline, "the peer never got write {i}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (n, bytes) = hp
            .read(|s| {
                let c = s.as_causal().context();
                (
                    c.replicas().len(),
                    codec::encode_state(c).map_or(0, |b| b.len()),
                )
            })
            .await
            .expect("read");
        replicas.push(n);
        sizes.push(bytes);
        node.shutdown().await.expect("shutdown");
    }
    let added = sizes.last().copied().unwrap_or(0) as f64 - sizes[0] as f64;
    println!(
        "\nbytes per restart added to the peer's context: {:.1} (replica ids in it after 1 and 10 runs: {} and {}; encoded context {} -> {} bytes)",
        added / 9.0,
        replicas[0],
        replicas[9],
        sizes[0],
        sizes[9]
    );
    peer.shutdown().await.expect("shutdown");
}
