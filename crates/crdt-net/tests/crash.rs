//! The node crash test: a child process runs a durable node (`Node::open`)
//! that writes under load through `NodeHandle::write` and receives a peer's
//! writes; it prints each of its writes only after `write` returned. The
//! parent runs the peer, kills the child with SIGKILL at 20 seeded random
//! moments, and after each kill opens the child's store and checks that
//! every write the child acknowledged is there, and every write of the peer
//! that the child acknowledged to it (a flush of the peer completed while
//! the child was connected), that the replica id never changed and that no
//! dot was minted twice. Finally the child's replica is opened again as a
//! node and it and the peer converge.
//!
//! The child is this test run again (this test binary, the test named
//! exactly) with `CRASH_CHILD_NODE` set: it then runs the node and writes
//! until killed instead (`crash_child`). No test is ignored, and none passes
//! vacuously.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{CLUSTER, DEADLINE, TestDir, cert, config, config_over, wait_for};
use crdt_core::{Lattice, ReplicaId};
use crdt_net::{
    Identity, NetMetrics, Node, NodeConfig, NodeHandle, STORE_FILE, StoreOptions, TlsIdentity,
    Transport,
};
use crdt_store::Store;
use crdt_sync::{PeerId, Replicated};
use crdt_types::{CausalCrdt, OrSet};

type Set = OrSet<u64>;

const CHILD_ENV: &str = "CRASH_CHILD_NODE";
const PEER_ENV: &str = "CRASH_CHILD_PEER";
const ROUND_ENV: &str = "CRASH_CHILD_ROUND";
const WRITERS: u64 = 4;
const KILLS: u64 = 20;
/// The peer's values carry this bit; the child's carry their round.
const PEER_BIT: u64 = 1 << 63;

fn options() -> StoreOptions {
    // Compact often, so kills also land inside compactions.
    StoreOptions::default().with_compact_min_log_bytes(16 << 10)
}

/// The child's node (peer 1): it dials the parent's node (peer 2), with
/// the certificate the parent wrote into its data directory `dir` (the
/// child's process has a test CA of its own, which the parent's node
/// would refuse).
fn child_config(peer: std::net::SocketAddr, dir: &Path) -> NodeConfig {
    let identity =
        TlsIdentity::from_pem_files(CLUSTER, dir).expect("the parent wrote the certificate");
    let mut c = config_over(1, Transport::tls(identity).unwrap());
    c.peers.push((PeerId(2), peer));
    c
}

/// The child: runs the node whose data is in `dir` and writes until killed. Each line on stdout is printed after
/// the `write` it names returned `Ok`: `ack <value> <counter>` (`counter`
/// is its dot's).
fn crash_child(dir: String) {
    let peer = std::env::var(PEER_ENV).unwrap().parse().unwrap();
    let round: u64 = std::env::var(ROUND_ENV).unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let node = Node::<Set>::open(child_config(peer, dir.as_ref()), &dir, options())
            .await
            .unwrap();
        let h = node.handle();
        let identity = node.identity().unwrap();
        println!("open {} {identity:?}", h.replica().as_u128());
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let h = h.clone();
                tokio::spawn(async move {
                    for i in 0.. {
                        let value = (round << 40) | (w << 32) | i;
                        let counter = Arc::new(AtomicU64::new(0));
                        let c = counter.clone();
                        h.write(move |s, me| {
                            let d = s.insert(me, value);
                            c.store(d.as_causal().context().max(me), Ordering::SeqCst);
                            d
                        })
                        .await
                        .unwrap();
                        println!("ack {value} {}", counter.load(Ordering::SeqCst));
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        drop(node);
    });
}

/// splitmix64: a seeded source of kill moments.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// What the parent learned from all children so far.
#[derive(Default)]
struct Seen {
    replica: Option<u128>,
    acked: Vec<u64>,
    /// Dot counter -> the value it was minted for.
    dots: BTreeMap<u64, u64>,
}

impl Seen {
    fn take(&mut self, round: u64, line: &str) {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["open", id, identity] => {
                let expected = if round == 0 { "New" } else { "Resumed" };
                assert_eq!(*identity, expected, "round {round}");
                let id: u128 = id.parse().unwrap();
                assert_eq!(
                    *self.replica.get_or_insert(id),
                    id,
                    "round {round}: the replica id changed"
                );
            }
            ["ack", v, c] => {
                let (value, counter) = (v.parse().unwrap(), c.parse().unwrap());
                if let Some(old) = self.dots.insert(counter, value) {
                    panic!("round {round}: dot {counter} minted for {old} and again for {value}");
                }
                self.acked.push(value);
            }
            _ => panic!("unexpected child output {line:?}"),
        }
    }
}

/// Runs one child until it has acknowledged `kill_after` writes, then
/// SIGKILLs it and takes in every whole line it printed.
fn run_child(dir: &Path, peer: std::net::SocketAddr, round: u64, kill_after: u64, seen: &mut Seen) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_at_random_moments_loses_no_acknowledged_write",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .env(PEER_ENV, peer.to_string())
        .env(ROUND_ENV, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        // Only whole lines count: a kill may cut the last one.
        while r.read_line(&mut line).unwrap_or(0) > 0 && line.ends_with('\n') {
            let l = line.trim_end();
            // The test harness may print its own words before the first.
            let start = ["open ", "ack "].iter().filter_map(|m| l.find(m)).min();
            if let Some(start) = start {
                let _ = tx.send(l[start..].to_string());
            }
            line.clear();
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut acks = 0;
    while acks < kill_after {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => {
                acks += u64::from(l.starts_with("ack "));
                seen.take(round, &l);
            }
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "round {round}: the child acknowledged {acks} of {kill_after} writes in time"
                );
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "round {round}: the child was not killed");
    reader.join().unwrap();
    for l in rx.try_iter() {
        seen.take(round, &l);
    }
}

/// The peer's load: one write at a time, `done` counting those returned
/// (values `PEER_BIT | 0 .. PEER_BIT | done`).
async fn peer_writes(h: NodeHandle<Set>, done: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    while !stop.load(Ordering::SeqCst) {
        tick.tick().await;
        let i = done.load(Ordering::SeqCst);
        h.write(move |s, me| s.insert(me, PEER_BIT | i))
            .await
            .unwrap();
        done.store(i + 1, Ordering::SeqCst);
    }
}

/// Raises `confirmed` to the peer's writes the child has acknowledged: a
/// flush that completed while one connection to the child stayed open
/// throughout (so the child was live when the flush was taken).
async fn confirm(
    h: NodeHandle<Set>,
    done: Arc<AtomicU64>,
    confirmed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    let links = |m: &NetMetrics| {
        (
            m.connected_peers,
            m.connections_opened,
            m.connections_closed,
        )
    };
    while !stop.load(Ordering::SeqCst) {
        let before = links(&h.metrics().await.unwrap());
        let upto = done.load(Ordering::SeqCst);
        let flushed = h.wait_synced(Duration::from_millis(500)).await;
        let after = links(&h.metrics().await.unwrap());
        if before.0 == 1 && before == after && flushed.is_ok() {
            confirmed.fetch_max(upto, Ordering::SeqCst);
        }
        tokio::task::yield_now().await;
    }
}

/// Opens the child's store and checks it after a kill; returns its state.
fn check_store(path: &Path, round: u64, seen: &Seen, confirmed: u64, previous: &Set) -> Set {
    let (store, opened) = Store::<Set>::open(path, options()).unwrap();
    assert_eq!(opened.identity(), Identity::Resumed, "round {round}");
    assert_eq!(
        Some(opened.replica().as_u128()),
        seen.replica,
        "round {round}"
    );
    let state = opened.into_state();
    for v in &seen.acked {
        assert!(
            state.contains(v),
            "round {round}: acknowledged {v} is missing"
        );
    }
    for i in 0..confirmed {
        assert!(
            state.contains(&(PEER_BIT | i)),
            "round {round}: the peer's write {i}, acknowledged to it, is missing"
        );
    }
    // Nothing durable before is gone or changed.
    assert_eq!(previous.reused_dot(&state), None, "round {round}");
    let mut joined = previous.clone();
    joined.join(&state);
    assert_eq!(joined, state, "round {round}: the state went back");
    store.close().unwrap();
    state
}

#[test]
fn crash_at_random_moments_loses_no_acknowledged_write() {
    // Run again by `run_child` with the node's directory set: the child,
    // which builds its own runtime.
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        return crash_child(dir);
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(crash_parent());
}

/// The parent: runs the peer, and the child to kill 20 times.
async fn crash_parent() {
    let started = Instant::now();
    let dir = TestDir::new("crash");
    let data: PathBuf = dir.path().join("child");
    cert(1).write_files(&data).unwrap();
    let mut peer_config = config(2);
    peer_config
        .peers
        .push((PeerId(1), "127.0.0.1:9".parse().unwrap())); // it dials us
    let peer = Node::start(peer_config, ReplicaId::random(), Set::new())
        .await
        .unwrap();
    let (done, confirmed, stop) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let load = tokio::spawn(peer_writes(peer.handle(), done.clone(), stop.clone()));
    let checker = tokio::spawn(confirm(
        peer.handle(),
        done.clone(),
        confirmed.clone(),
        stop.clone(),
    ));

    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut rng = Rng(0x5EED_0112);
    let mut previous = Set::new();
    let addr = peer.local_addr();
    for round in 0..KILLS {
        let kill_after = 1 + rng.below(150);
        let (s, d) = (seen.clone(), data.clone());
        tokio::task::spawn_blocking(move || {
            run_child(&d, addr, round, kill_after, &mut s.lock().unwrap());
        })
        .await
        .unwrap();
        let upto = confirmed.load(Ordering::SeqCst);
        let s = seen.lock().unwrap();
        previous = check_store(&data.join(STORE_FILE), round, &s, upto, &previous);
    }
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    checker.await.unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(
        seen.acked.len() as u64 >= KILLS,
        "{} writes",
        seen.acked.len()
    );
    let confirmed = confirmed.load(Ordering::SeqCst);
    assert!(confirmed > 0, "no write of the peer was ever confirmed");

    // The crashed replica, opened again as a node, and the peer converge.
    let node = Node::<Set>::open(child_config(addr, &data), &data, options())
        .await
        .unwrap();
    assert_eq!(node.identity(), Some(Identity::Resumed));
    assert_eq!(Some(node.handle().replica().as_u128()), seen.replica);
    let (a, b) = (node.handle(), peer.handle());
    let states = wait_for(
        DEADLINE,
        "the replicas converge",
        || async {
            let _ = a.wait_synced(Duration::from_millis(200)).await;
            let _ = b.wait_synced(Duration::from_millis(200)).await;
            (
                a.read(Clone::clone).await.unwrap(),
                b.read(Clone::clone).await.unwrap(),
            )
        },
        |(x, y)| x == y,
    )
    .await;
    let state = states.0;
    let written = done.load(Ordering::SeqCst);
    // Writes committed but killed before their `write` returned may be
    // there too; every acknowledged one is.
    assert!(state.len() as u64 >= seen.acked.len() as u64 + written);
    assert!(seen.acked.iter().all(|v| state.contains(v)));
    assert!((0..written).all(|i| state.contains(&(PEER_BIT | i))));
    // One id for the child through 20 restarts: its dots are contiguous.
    let me = ReplicaId::from_u128(seen.replica.unwrap());
    let context = state.as_causal().context();
    assert_eq!(context.replicas().len(), 2, "the child's id and the peer's");
    assert!(context.max(me) >= seen.acked.len() as u64);
    node.shutdown().await.unwrap();
    peer.shutdown().await.unwrap();
    eprintln!(
        "node crash test: {KILLS} kills; {} writes acknowledged by the node, all kept; \
         {confirmed} of the peer's {written} writes acknowledged to it before a kill, all kept; \
         {:.1} s",
        seen.acked.len(),
        started.elapsed().as_secs_f64()
    );
}
