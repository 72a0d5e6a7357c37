//! What mutual TLS costs, against plain TCP, for README.md:
//!
//! ```text
//! cargo run --release -p crdt-net --example tls_figures
//! ```
//!
//! 1. Time to first sync: two nodes already running (certificates made,
//!    node 1 holding one write); from `add_peer` on both until node 2 has
//!    the write: TCP connect, the TLS handshake, the hello, the digest
//!    exchange and the write's delta. Median and p90 of 30 pairs.
//! 2. Bytes on the wire per write: node 1 dials node 2 through a counting
//!    relay on loopback; 500 writes of one counter increment on node 1,
//!    each followed by a flush (node 2 has acknowledged it). Wire bytes
//!    both ways, and the engine's own message bytes, per write.
//!
//! Everything runs on 127.0.0.1 and stops by itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crdt_core::ReplicaId;
use crdt_net::{ClusterCa, KvState, NetMetrics, Node, NodeConfig, Transport};
use crdt_sync::{Config, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Pairs timed for the time to first sync.
const PAIRS: usize = 30;
/// Writes for the bytes per write.
const WRITES: u64 = 500;
/// The longest any wait here may take.
const DEADLINE: Duration = Duration::from_secs(10);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let ca = ClusterCa::new("figures").expect("a CA");
    let transport = |tls: bool, me: u64| {
        if tls {
            let id = ca.issue(PeerId(me)).and_then(|c| c.identity());
            Transport::tls(id.expect("a certificate")).expect("a TLS transport")
        } else {
            Transport::plain_tcp_insecure()
        }
    };
    println!(
        "| transport | first sync, median | p90 | wire bytes per write | engine bytes per write |"
    );
    println!("|---|---|---|---|---|");
    for tls in [false, true] {
        let mut times = Vec::new();
        for _ in 0..PAIRS {
            times.push(first_sync(transport(tls, 1), transport(tls, 2)).await);
        }
        times.sort();
        let (wire, engine) = bytes_per_write(transport(tls, 1), transport(tls, 2)).await;
        println!(
            "| {} | {:.2} ms | {:.2} ms | {wire:.1} | {engine:.1} |",
            if tls { "mutual TLS 1.3" } else { "plain TCP" },
            times[PAIRS / 2].as_secs_f64() * 1e3,
            times[PAIRS * 9 / 10].as_secs_f64() * 1e3,
        );
    }
}

fn config(me: u64, transport: Transport) -> NodeConfig {
    let mut c = NodeConfig::new(
        PeerId(me),
        "127.0.0.1:0".parse().expect("loopback"),
        transport,
    );
    c.engine = Config {
        sync_interval: Duration::from_millis(20),
        ..Config::default()
    };
    c
}

async fn start(me: u64, transport: Transport) -> Node<KvState> {
    Node::start(config(me, transport), ReplicaId::random(), KvState::new())
        .await
        .expect("the node starts")
}

/// Polls `probe` every millisecond until it holds; panics after
/// [`DEADLINE`].
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut probe: impl FnMut() -> F) {
    let deadline = Instant::now() + DEADLINE;
    while !probe().await {
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// From introducing the two nodes to node 2 holding node 1's write.
async fn first_sync(t1: Transport, t2: Transport) -> Duration {
    let (a, b) = (start(1, t1).await, start(2, t2).await);
    let (ha, hb) = (a.handle(), b.handle());
    ha.write(|s, me| s.add(me, "likes", 1)).await.unwrap();
    let t0 = Instant::now();
    hb.add_peer(PeerId(1), a.local_addr());
    ha.add_peer(PeerId(2), b.local_addr());
    until("node 2 has the write", || async {
        hb.read(|s| s.count("likes")).await.unwrap() == 1
    })
    .await;
    let took = t0.elapsed();
    let _ = a.shutdown().await;
    let _ = b.shutdown().await;
    took
}

/// Wire and engine bytes per acknowledged write, node 1 to node 2 through
/// a counting relay.
async fn bytes_per_write(t1: Transport, t2: Transport) -> (f64, f64) {
    let (a, b) = (start(1, t1).await, start(2, t2).await);
    let (ha, hb) = (a.handle(), b.handle());
    let wire = Arc::new(AtomicU64::new(0));
    let relay = relay(b.local_addr(), Arc::clone(&wire)).await;
    hb.add_peer(PeerId(1), a.local_addr());
    ha.add_peer(PeerId(2), relay);
    ha.write(|s, me| s.add(me, "likes", 1)).await.unwrap();
    until("connected and synced", || async {
        hb.read(|s| s.count("likes")).await.unwrap() == 1
    })
    .await;
    let engine = |m: &NetMetrics| m.engine.bytes_out;
    let (w0, e0) = (
        wire.load(Ordering::SeqCst),
        engine(&ha.metrics().await.unwrap()) + engine(&hb.metrics().await.unwrap()),
    );
    for _ in 0..WRITES {
        ha.write(|s, me| s.add(me, "likes", 1)).await.unwrap();
        ha.flush().await.unwrap();
    }
    let (w1, e1) = (
        wire.load(Ordering::SeqCst),
        engine(&ha.metrics().await.unwrap()) + engine(&hb.metrics().await.unwrap()),
    );
    let _ = a.shutdown().await;
    let _ = b.shutdown().await;
    (
        (w1 - w0) as f64 / WRITES as f64,
        (e1 - e0) as f64 / WRITES as f64,
    )
}

/// A loopback relay to `to` that counts every byte it passes, both ways;
/// returns its address.
async fn relay(to: SocketAddr, count: Arc<AtomicU64>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = TcpStream::connect(to).await else {
                continue;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            tokio::spawn(pump(ri, wo, Arc::clone(&count)));
            tokio::spawn(pump(ro, wi, Arc::clone(&count)));
        }
    });
    addr
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    count: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 64 << 10];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        count.fetch_add(n as u64, Ordering::SeqCst);
    }
}
