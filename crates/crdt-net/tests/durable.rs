//! Durable nodes (`Node::open`): a restart resumes the replica id and the
//! state; a write returns, and a received delta is acknowledged, only once
//! it is committed; a full disk stops the node with `NodeError::Store`; the
//! store compacts in the background.

mod common;

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use common::{DEADLINE, TestDir, config, metrics, start, wait_for};
use crdt_net::{Identity, KvState, Node, NodeError, StoreError, StoreOptions};
use crdt_store::{StorageBackend, Store};
use crdt_sync::PeerId;
use crdt_types::{CausalCrdt, OrSet};

/// A redb backend in memory whose fsyncs can be held (the gate) and whose
/// size can be capped (a full disk). Clones share the bytes.
#[derive(Clone, Debug, Default)]
struct Mem {
    bytes: Arc<Mutex<Vec<u8>>>,
    gate: Arc<Gate>,
    limit: Arc<AtomicU64>,
}

#[derive(Debug, Default)]
struct Gate {
    closed: Mutex<bool>,
    changed: Condvar,
    /// fsyncs waiting at the closed gate now.
    waiting: AtomicUsize,
}

impl Mem {
    fn new() -> Self {
        let m = Self::default();
        m.limit.store(u64::MAX, Ordering::SeqCst);
        m
    }

    /// A backend over the same bytes, gate open and no cap.
    fn reopen(&self) -> Self {
        let m = Self::new();
        *m.bytes.lock().unwrap() = self.bytes.lock().unwrap().clone();
        m
    }

    fn hold_syncs(&self, hold: bool) {
        *self.gate.closed.lock().unwrap() = hold;
        self.gate.changed.notify_all();
    }

    fn room(&self, end: u64) -> io::Result<()> {
        if end > self.limit.load(Ordering::SeqCst) {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "quota"));
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.bytes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl StorageBackend for Mem {
    fn len(&self) -> io::Result<u64> {
        Ok(self.lock().len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let bytes = self.lock();
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let src = bytes
            .get(start..start + out.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.room(len)?;
        self.lock()
            .resize(usize::try_from(len).map_err(io::Error::other)?, 0);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut closed = self.gate.closed.lock().unwrap();
        self.gate.waiting.fetch_add(1, Ordering::SeqCst);
        while *closed {
            closed = self.gate.changed.wait(closed).unwrap();
        }
        self.gate.waiting.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.room(offset + data.len() as u64)?;
        let mut bytes = self.lock();
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        if bytes.len() < start + data.len() {
            bytes.resize(start + data.len(), 0);
        }
        bytes[start..start + data.len()].copy_from_slice(data);
        Ok(())
    }
}

async fn open_mem(me: u64, mem: &Mem) -> Node<KvState> {
    let (store, opened) = Store::open_backend(mem.clone(), StoreOptions::default()).unwrap();
    Node::open_store(config(me), store, opened).await.unwrap()
}

/// Peers two nodes and waits until both see the connection.
async fn connect<A, B>(a: &Node<A>, b: &Node<B>)
where
    A: crdt_sync::Replicated + Send + Sync + 'static,
    B: crdt_sync::Replicated + Send + Sync + 'static,
{
    // The accepting side first, so the first connection is not refused
    // (see `common::pair`).
    b.handle().add_peer(PeerId(1), a.local_addr());
    a.handle().add_peer(PeerId(2), b.local_addr());
    for h in [a.handle().metrics().await, b.handle().metrics().await] {
        h.unwrap();
    }
    let (ha, hb) = (a.handle(), b.handle());
    wait_for(
        DEADLINE,
        "the nodes connect",
        || async {
            (
                ha.metrics().await.unwrap().connected_peers,
                hb.metrics().await.unwrap().connected_peers,
            )
        },
        |&(x, y)| x == 1 && y == 1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ack_and_no_write_answer_before_the_commit() {
    let mem = Mem::new();
    let a = open_mem(1, &mem).await;
    let b = start(config(2)).await;
    connect(&a, &b).await;
    let (ha, hb) = (a.handle(), b.handle());
    hb.write(|s, me| s.add(me, "warm-up", 1)).await.unwrap();
    hb.wait_synced(DEADLINE).await.unwrap();

    // Received: a applies b's delta but cannot commit it, so b never gets
    // the acknowledgement while the fsync is held.
    mem.hold_syncs(true);
    hb.write(|s, me| s.add(me, "from-b", 1)).await.unwrap();
    wait_for(
        DEADLINE,
        "a applies b's delta",
        || ha.read(|s| s.count("from-b")),
        |n| *n == Ok(1),
    )
    .await
    .unwrap();
    wait_for(
        DEADLINE,
        "a's commit waits for its fsync",
        || async { mem.gate.waiting.load(Ordering::SeqCst) },
        |n| *n >= 1,
    )
    .await;
    match hb.wait_synced(Duration::from_millis(300)).await {
        Err(NodeError::NotSynced { behind, .. }) => {
            assert_eq!(
                behind.iter().map(|p| p.peer).collect::<Vec<_>>(),
                [PeerId(1)]
            );
        }
        other => panic!("b was acknowledged before a committed: {other:?}"),
    }

    // Local: a's write does not return, and does not reach b, until it is
    // committed.
    let mut writer = {
        let ha = ha.clone();
        tokio::spawn(async move { ha.write(|s, me| s.add(me, "from-a", 1)).await })
    };
    wait_for(
        DEADLINE,
        "a applies its own write",
        || ha.read(|s| s.count("from-a")),
        |n| *n == Ok(1),
    )
    .await
    .unwrap();
    let early = tokio::time::timeout(Duration::from_millis(300), &mut writer).await;
    assert!(
        early.is_err(),
        "a's write returned before its commit: {early:?}"
    );
    assert_eq!(hb.read(|s| s.count("from-a")).await, Ok(0));

    mem.hold_syncs(false);
    assert_eq!(writer.await.unwrap(), Ok(()));
    hb.wait_synced(DEADLINE).await.unwrap();
    ha.wait_synced(DEADLINE).await.unwrap();
    assert_eq!(hb.read(|s| s.count("from-a")).await, Ok(1));
    let m = metrics(&ha)
        .await
        .store
        .expect("a durable node reports its store");
    assert!(m.appends >= 3 && m.commits >= 1, "{m:?}");
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();

    // Everything a acknowledged is in its store.
    let (_store, opened) =
        Store::<KvState>::open_backend(mem.reopen(), StoreOptions::default()).unwrap();
    assert_eq!(opened.identity(), Identity::Resumed);
    for key in ["warm-up", "from-b", "from-a"] {
        assert_eq!(opened.state().count(key), 1, "{key}");
    }
}

type Set = OrSet<u64>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_the_replica_and_adds_nothing_to_contexts() {
    let dir = TestDir::new("restart");
    let b = Node::start(config(2), crdt_core::ReplicaId::random(), Set::new())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for round in 0..3u64 {
        let a = Node::<Set>::open(config(1), dir.path(), StoreOptions::default())
            .await
            .unwrap();
        let expected = if round == 0 {
            Identity::New
        } else {
            Identity::Resumed
        };
        assert_eq!(a.identity(), Some(expected));
        ids.push(a.handle().replica());
        connect(&a, &b).await;
        let ha = a.handle();
        let before = ha.read(|s| s.len()).await.unwrap();
        assert_eq!(
            before as u64,
            round * 10,
            "round {round}: the state is back"
        );
        for x in 0..10 {
            ha.write(move |s, me| s.insert(me, round * 10 + x))
                .await
                .unwrap();
        }
        ha.flush().await.unwrap();
        a.shutdown().await.unwrap();
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    let hb = b.handle();
    let state = hb.read(Clone::clone).await.unwrap();
    assert_eq!(state.len(), 30);
    // One replica id, thirty contiguous dots: 0 bytes added per restart.
    let context = state.as_causal().context();
    assert_eq!(context.replicas().len(), 1);
    assert_eq!(context.max(ids[0]), 30);
    assert!(!context.has_gaps());
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_node_with_a_store_error_and_loses_nothing_acknowledged() {
    let mem = Mem::new();
    let a = open_mem(1, &mem).await;
    let h = a.handle();
    h.write(|s, me| s.add(me, "kept", 1)).await.unwrap();
    let full = mem.lock().len() as u64;
    mem.limit.store(full, Ordering::SeqCst);
    let mut big = String::new();
    for i in 0..20_000 {
        big.push_str(&format!("{i},"));
    }
    let err = h
        .write(move |s, me| s.set_add(me, "big", &big))
        .await
        .unwrap_err();
    assert_eq!(err, NodeError::Store(StoreError::DiskFull), "{err}");
    assert!(err.to_string().contains("disk is full"), "{err}");
    // The node has stopped, and says why.
    assert_eq!(h.read(|s| s.count("kept")).await, Err(err.clone()));
    assert_eq!(h.update(|s, me| s.add(me, "n", 1)), Err(err.clone()));
    assert_eq!(h.wait_synced(DEADLINE).await, Err(err.clone()));
    assert_eq!(a.shutdown().await.unwrap_err(), err);

    let (_store, opened) =
        Store::<KvState>::open_backend(mem.reopen(), StoreOptions::default()).unwrap();
    assert_eq!(opened.state().count("kept"), 1);
    assert!(opened.state().members("big").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_compacts_in_the_background() {
    let dir = TestDir::new("compact");
    let options = StoreOptions::default().with_compact_min_log_bytes(4 << 10);
    let a = Node::<KvState>::open(config(1), dir.path(), options.clone())
        .await
        .unwrap();
    let h = a.handle();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let h = h.clone();
            tokio::spawn(async move {
                for i in 0..100 {
                    let member = format!("w{w}-{i}");
                    h.write(move |s, me| s.set_add(me, "m", &member))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let stats = wait_for(
        DEADLINE,
        "a background compaction",
        || async { metrics(&h).await.store.unwrap() },
        |s| s.compactions >= 1,
    )
    .await;
    assert_eq!(stats.appends, 400);
    assert!(stats.commits <= stats.appends, "{stats:?}");
    a.shutdown().await.unwrap();
    let a = Node::<KvState>::open(config(1), dir.path(), options)
        .await
        .unwrap();
    assert_eq!(a.handle().read(|s| s.members("m").len()).await, Ok(400));
    a.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_opened_is_an_error_that_says_why() {
    let dir = TestDir::new("open-errors");
    let a = Node::<KvState>::open(config(1), dir.path(), StoreOptions::default())
        .await
        .unwrap();
    let inner = |e: &io::Error| {
        e.get_ref()
            .and_then(|e| e.downcast_ref::<StoreError>())
            .cloned()
    };
    let Err(busy) = Node::<KvState>::open(config(2), dir.path(), StoreOptions::default()).await
    else {
        panic!("a second node opened the same store");
    };
    assert_eq!(busy.kind(), io::ErrorKind::ResourceBusy, "{busy}");
    assert_eq!(inner(&busy), Some(StoreError::InUse));
    a.shutdown().await.unwrap();

    let file = dir.path().join(crdt_net::STORE_FILE);
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let Err(damaged) = Node::<KvState>::open(config(1), dir.path(), StoreOptions::default()).await
    else {
        panic!("a truncated store opened");
    };
    assert_eq!(damaged.kind(), io::ErrorKind::InvalidData, "{damaged}");
    assert!(
        matches!(inner(&damaged), Some(StoreError::Corrupt(_))),
        "{damaged}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_disk_bounds_what_waits_for_it() {
    let mem = Mem::new();
    let a = open_mem(1, &mem).await;
    let h = a.handle();
    h.write(|s, me| s.add(me, "n", 1)).await.unwrap();
    mem.hold_syncs(true);
    // At most 1024 appends wait for the disk, then the engine takes no
    // input: the request queue (1024) fills and stays full, and updates are
    // dropped. Without the bound the engine would drain the queue forever.
    let (mut accepted, mut full_for) = (0, 0);
    while full_for < 20 {
        match h.update(|s, me| s.add(me, "n", 1)) {
            Ok(()) => {
                accepted += 1;
                full_for = 0;
            }
            Err(NodeError::QueueFull) => {
                full_for += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("{e}"),
        }
        assert!(
            accepted <= 2 * 1024,
            "{accepted} updates taken while the disk stalls"
        );
    }
    assert!(accepted >= 1024, "{accepted}");
    mem.hold_syncs(false);
    let n = wait_for(
        DEADLINE,
        "every update taken is applied once the disk is back",
        || h.read(|s| s.count("n")),
        |n| *n == Ok(1 + accepted),
    )
    .await;
    assert_eq!(n, Ok(1 + accepted));
    a.shutdown().await.unwrap();
}
