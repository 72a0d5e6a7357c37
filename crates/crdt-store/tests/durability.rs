//! Opening, appending, reopening, group commit, compaction and identity.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::TestDir;
use std::sync::Mutex;

use crdt_core::{Lattice, ReplicaId};
use crdt_store::{Durability, Identity, Options, Store, StoreError};
use crdt_types::{CausalCrdt, GCounter, OrSet};

type Set = OrSet<u64>;

fn open(path: &std::path::Path, options: Options) -> (Store<Set>, crdt_store::Opened<Set>) {
    Store::<Set>::open(path, options).expect("open")
}

#[test]
fn reopen_returns_state_replica_and_minted() {
    let dir = TestDir::new("reopen");
    let path = dir.file("r.redb");
    let (store, opened) = open(&path, Options::default());
    assert_eq!(opened.identity(), Identity::New);
    assert!(opened.state().is_empty());
    let me = opened.replica();
    let mut set = opened.into_state();
    for x in 0..10 {
        let d = set.insert(me, x);
        store.append_local(&d).unwrap();
    }
    // A received delta from another replica.
    let other = ReplicaId::from_u128(7);
    let mut theirs = Set::new();
    let d = theirs.insert(other, 100);
    store.append_received(&d).unwrap();
    set.join(&d);
    let d = set.remove(&3);
    store.append_local(&d).unwrap();
    store.close().unwrap();

    let (store, opened) = open(&path, Options::default());
    assert_eq!(opened.identity(), Identity::Resumed);
    assert_eq!(opened.replica(), me);
    assert_eq!(opened.state(), &set);
    assert_eq!(opened.minted().get(&me), Some(&10));
    assert_eq!(opened.minted().get(&other), None);
    // Minting continues after the last dot: nothing is reused.
    let mut again = opened.into_state();
    let d = again.insert(me, 42);
    assert_eq!(d.as_causal().context().max(me), 11);
    store.append_local(&d).unwrap();
    drop(store); // dropping closes too
    let (_store, opened) = open(&path, Options::default());
    assert_eq!(opened.state(), &again);
}

#[test]
fn restarts_add_no_bytes_to_contexts() {
    let dir = TestDir::new("restarts");
    let path = dir.file("r.redb");
    let mut ids = BTreeSet::new();
    for round in 0..20u64 {
        let (store, opened) = open(&path, Options::default());
        ids.insert(opened.replica());
        let mut set = opened.into_state();
        let d = set.insert(store.replica(), round);
        store.append_local(&d).unwrap();
        store.close().unwrap();
    }
    assert_eq!(ids.len(), 1, "every restart resumed the same id");
    let (_store, opened) = open(&path, Options::default());
    let context = opened.state().as_causal().context();
    assert_eq!(context.replicas().len(), 1);
    assert_eq!(context.len(), 20);
}

#[test]
fn concurrent_appends_share_commits() {
    let dir = TestDir::new("group");
    let path = dir.file("g.redb");
    let (store, opened) = open(&path, Options::default());
    let me = opened.replica();
    let store = Arc::new(store);
    let writers = 16u64;
    let each = 40u64;
    // Writers mint under one lock (as one engine would), then append
    // concurrently: the appends are what group commit batches.
    let state = Mutex::new(opened.into_state());
    std::thread::scope(|s| {
        for w in 0..writers {
            let (store, state) = (store.clone(), &state);
            s.spawn(move || {
                for i in 0..each {
                    let d = state.lock().unwrap().insert(me, w * each + i);
                    store.append_local(&d).unwrap();
                }
            });
        }
    });
    let stats = store.stats();
    assert_eq!(stats.appends, writers * each);
    assert!(
        stats.commits < stats.appends,
        "16 writers shared no commit: {stats:?}"
    );
    drop(store);
    let (_s, opened) = open(&path, Options::default());
    assert_eq!(opened.state(), &*state.lock().unwrap());
    assert_eq!(opened.state().len() as u64, writers * each);
    assert_eq!(opened.minted().get(&me), Some(&(writers * each)));
}

#[test]
fn compaction_folds_the_log_and_keeps_the_state() {
    let dir = TestDir::new("compact");
    let path = dir.file("c.redb");
    let options = Options::default().with_background_compaction(false);
    let (store, opened) = open(&path, options.clone());
    let me = opened.replica();
    let mut set = opened.into_state();
    for x in 0..500 {
        let d = set.insert(me, x);
        store.append_local(&d).unwrap();
    }
    let before = store.stats();
    assert_eq!(before.log_entries, 500);
    let c = store.compact().unwrap();
    assert_eq!(c.entries, 500);
    assert_eq!(c.log_bytes_before, before.log_bytes);
    assert_eq!(c.log_bytes_after, 0);
    assert!(c.snapshot_bytes_after > c.snapshot_bytes_before);
    assert_eq!(store.stats().log_entries, 0);
    // Writes after compaction continue the sequence and survive.
    let d = set.insert(me, 9999);
    let seq = store.append_local(&d).unwrap();
    assert_eq!(seq, 501);
    store.close().unwrap();
    let (store, opened) = open(&path, options);
    assert_eq!(opened.state(), &set);
    assert_eq!(store.stats().log_entries, 1);
    assert_eq!(store.compact().unwrap().entries, 1);
    assert_eq!(store.compact().unwrap().entries, 0);
}

#[test]
fn background_compaction_runs_past_the_threshold() {
    let dir = TestDir::new("bg");
    let path = dir.file("b.redb");
    // Durability does not matter here: relaxed keeps the test quick.
    let options = Options::default()
        .with_compact_min_log_bytes(4096)
        .with_durability(Durability::Relaxed {
            max_delay: Duration::from_millis(10),
        });
    let (store, opened) = open(&path, options.clone());
    let me = opened.replica();
    let mut set = opened.into_state();
    for x in 0..2000 {
        let d = set.insert(me, x);
        store.append_local(&d).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while store.stats().compactions == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no background compaction: {:?}",
            store.stats()
        );
        std::thread::yield_now();
    }
    let stats = store.stats();
    assert!(stats.log_entries < 2000, "{stats:?}");
    store.close().unwrap();
    let (_s, opened) = open(&path, options);
    assert_eq!(opened.state(), &set);
}

#[test]
fn tickets_resolve_in_order_and_can_be_polled() {
    let dir = TestDir::new("tickets");
    let (store, opened) = open(&dir.file("t.redb"), Options::default());
    let me = opened.replica();
    let mut set = opened.into_state();
    let tickets: Vec<_> = (0..50)
        .map(|x| store.submit_local(&set.insert(me, x)).unwrap())
        .collect();
    let seqs: Vec<u64> = tickets.into_iter().map(|t| t.wait().unwrap()).collect();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    let t = store.submit_local(&set.insert(me, 50)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let seq = loop {
        if let Some(r) = t.try_result() {
            break r.unwrap();
        }
        assert!(std::time::Instant::now() < deadline);
        std::thread::yield_now();
    };
    assert_eq!(seq, 51);
}

#[test]
fn a_store_is_in_use_until_closed() {
    let dir = TestDir::new("closed");
    let path = dir.file("x.redb");
    let (store, _) = open(&path, Options::default());
    let store2 = Store::<Set>::open(&path, Options::default());
    assert!(matches!(store2, Err(StoreError::InUse)), "{store2:?}");
    store.close().unwrap();
    assert!(Store::<Set>::open(&path, Options::default()).is_ok());
}

#[test]
fn relaxed_store_closed_cleanly_resumes_its_id() {
    let dir = TestDir::new("relaxed");
    let path = dir.file("r.redb");
    let relaxed = Options::default().with_durability(Durability::Relaxed {
        max_delay: Duration::from_millis(50),
    });
    let (store, opened) = open(&path, relaxed.clone());
    let me = opened.replica();
    let mut set = opened.into_state();
    for x in 0..100 {
        store.append_local(&set.insert(me, x)).unwrap();
    }
    store.sync().unwrap();
    store.close().unwrap();
    let (store, opened) = open(&path, relaxed);
    assert_eq!(opened.identity(), Identity::Resumed);
    assert_eq!(opened.replica(), me);
    assert_eq!(opened.state(), &set);
    store.close().unwrap();
    let (_s, opened) = open(&path, Options::default());
    assert_eq!(opened.identity(), Identity::Resumed);
}

#[test]
fn a_store_of_another_type_is_an_error() {
    let dir = TestDir::new("type");
    let path = dir.file("t.redb");
    let (store, opened) = open(&path, Options::default());
    let mut set = opened.into_state();
    store.append_local(&set.insert(store.replica(), 1)).unwrap();
    store.close().unwrap();
    let r = Store::<GCounter>::open(&path, Options::default());
    assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
}

#[test]
fn a_ticket_is_a_future_that_wakes_its_task() {
    use std::future::Future;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll, Wake, Waker};

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dir = TestDir::new("future");
    let (store, opened) = open(&dir.file("f.redb"), Options::default());
    let me = opened.replica();
    let mut set = opened.into_state();
    let mut ticket = store.submit_local(&set.insert(me, 1)).unwrap();
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let seq = loop {
        match std::pin::Pin::new(&mut ticket).poll(&mut cx) {
            Poll::Ready(r) => break r.unwrap(),
            Poll::Pending => {
                // Pending means a wake-up will come: wait for it.
                while !flag.0.swap(false, Ordering::SeqCst) {
                    assert!(std::time::Instant::now() < deadline, "never woken");
                    std::thread::yield_now();
                }
            }
        }
    };
    assert_eq!(seq, 1);
}

/// The state a crash now would leave: the file copied while the store is
/// open, then opened.
fn crash_image(dir: &TestDir, path: &std::path::Path) -> Set {
    let copy = dir.file("image.redb");
    let _ = std::fs::remove_file(&copy);
    std::fs::write(&copy, std::fs::read(path).unwrap()).unwrap();
    let (_s, opened) = open(&copy, Options::default());
    opened.into_state()
}

#[test]
fn relaxed_writes_become_durable_within_max_delay() {
    let dir = TestDir::new("relaxed-timer");
    let relaxed =
        |delay| Options::default().with_durability(Durability::Relaxed { max_delay: delay });
    // With an hour's delay, a crash now loses the acknowledged writes:
    // they are committed, not yet durable.
    let slow = dir.file("slow.redb");
    let (store, opened) = open(&slow, relaxed(Duration::from_secs(3600)));
    let mut set = opened.into_state();
    for x in 0..10 {
        store.append_local(&set.insert(store.replica(), x)).unwrap();
    }
    assert!(crash_image(&dir, &slow).is_empty());
    store.sync().unwrap();
    assert_eq!(crash_image(&dir, &slow), set);
    drop(store);

    // With 50 ms, they become durable on their own.
    let fast = dir.file("fast.redb");
    let (store, opened) = open(&fast, relaxed(Duration::from_millis(50)));
    let mut set = opened.into_state();
    for x in 0..10 {
        store.append_local(&set.insert(store.replica(), x)).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while crash_image(&dir, &fast) != set {
        assert!(std::time::Instant::now() < deadline, "never made durable");
    }
}
