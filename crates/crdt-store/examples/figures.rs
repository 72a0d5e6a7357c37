//! The crdt-store figures for README.md:
//!
//! ```text
//! cargo run --release -p crdt-store --example figures
//! ```
//!
//! Durable write latency and throughput with 1 and 16 writers (group
//! commit), recovery time for a store of 1M elements, log size before and
//! after compaction, and bytes per restart added to contexts. Files go to a
//! temporary folder (or the folder in `CRDT_STORE_FIGURES_DIR`), removed at
//! the end.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crdt_core::{Lattice, ReplicaId};
use crdt_store::{Durability, Options, Store};
use crdt_sync::codec;
use crdt_types::{CausalCrdt, OrSet};

type Set = OrSet<u64>;

fn main() {
    let root = std::env::var_os("CRDT_STORE_FIGURES_DIR")
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join(format!("crdt-store-figures-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("a folder for the figures");
    println!("| figure | value |");
    println!("|---|---|");
    latency(&root, "Immediate (fsync)", Options::default());
    latency(
        &root,
        "Relaxed (fsync every 100 ms)",
        Options::default().with_durability(Durability::Relaxed {
            max_delay: Duration::from_millis(100),
        }),
    );
    for writers in [1, 16] {
        throughput(&root, writers);
    }
    compaction(&root);
    recovery(&root);
    restarts(&root);
    let _ = std::fs::remove_dir_all(&root);
}

fn fresh(root: &Path, name: &str) -> PathBuf {
    let p = root.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn latency(root: &Path, label: &str, options: Options) {
    let (store, opened) = Store::<Set>::open(fresh(root, "latency.redb"), options).unwrap();
    let me = opened.replica();
    let mut set = opened.into_state();
    let mut times = Vec::new();
    for x in 0..2000u64 {
        let d = set.insert(me, x.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let t = Instant::now();
        store.append_local(&d).unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "| write latency, 1 writer, {label} | median {:.2} ms, p99 {:.2} ms |",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );
}

fn throughput(root: &Path, writers: u64) {
    let (store, opened) =
        Store::<Set>::open(fresh(root, "throughput.redb"), Options::default()).unwrap();
    let me = opened.replica();
    let state = Mutex::new(opened.into_state());
    let store = Arc::new(store);
    let per_writer = 3000 / writers;
    let all_times = Mutex::new(Vec::new());
    let t = Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let (store, state, all_times) = (store.clone(), &state, &all_times);
            s.spawn(move || {
                let mut times = Vec::new();
                for i in 0..per_writer {
                    let d = state.lock().unwrap().insert(me, (w << 32) | i);
                    let t = Instant::now();
                    store.append_local(&d).unwrap();
                    times.push(t.elapsed());
                }
                all_times.lock().unwrap().extend(times);
            });
        }
    });
    let elapsed = t.elapsed();
    let stats = store.stats();
    let mut times = all_times.into_inner().unwrap();
    times.sort();
    println!(
        "| durable writes, {writers} concurrent writer(s) | {:.0} writes/s, {:.1} writes per commit, median {:.2} ms, p99 {:.2} ms |",
        stats.appends as f64 / elapsed.as_secs_f64(),
        stats.appends as f64 / stats.commits as f64,
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );
}

fn compaction(root: &Path) {
    let path = fresh(root, "compaction.redb");
    let options = Options::default()
        .with_background_compaction(false)
        .with_durability(Durability::Relaxed {
            max_delay: Duration::from_millis(100),
        });
    let (store, opened) = Store::<Set>::open(&path, options).unwrap();
    let me = opened.replica();
    let mut set = opened.into_state();
    let n = 100_000u64;
    let tickets: Vec<_> = (0..n)
        .map(|x| {
            let d = set.insert(me, x.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            store.submit_local(&d).unwrap()
        })
        .collect();
    for t in tickets {
        t.wait().unwrap();
    }
    store.sync().unwrap();
    let file_before = file_len(&path);
    let t = Instant::now();
    let c = store.compact().unwrap();
    let took = t.elapsed();
    store.close().unwrap();
    println!(
        "| log of {n} one-element deltas, compacted | log {} -> {} bytes, snapshot {} -> {} bytes, file {} -> {} bytes, {:.0} ms |",
        c.log_bytes_before,
        c.log_bytes_after,
        c.snapshot_bytes_before,
        c.snapshot_bytes_after,
        file_before,
        file_len(&path),
        ms(took)
    );
}

fn recovery(root: &Path) {
    let n = 1_000_000u64;
    // 1M scrambled u64s, written as 1,000 deltas of 1,000.
    let path = fresh(root, "recovery.redb");
    let options = Options::default().with_background_compaction(false);
    let (store, _) = Store::<Set>::open(&path, options.clone()).unwrap();
    let me_store = store.replica();
    let mut set = Set::new();
    for chunk in 0..n / 1000 {
        let mut delta = Set::new();
        for i in 0..1000 {
            let x = (chunk * 1000 + i).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555;
            let d = set.insert(me_store, x);
            delta.join(&d);
        }
        store.append_local(&delta).unwrap();
    }
    store.close().unwrap();
    let t = Instant::now();
    let (store, opened) = Store::<Set>::open(&path, options.clone()).unwrap();
    let from_log = t.elapsed();
    assert_eq!(opened.state().len() as u64, n);
    // Compact while a writer goes on: how long does a write wait?
    let mut set = opened.state().clone();
    let (worst, writes, compaction) = std::thread::scope(|s| {
        let compactor = s.spawn(|| {
            let t = Instant::now();
            store.compact().unwrap();
            t.elapsed()
        });
        let (mut worst, mut writes) = (Duration::ZERO, 0);
        while !compactor.is_finished() {
            let d = set.insert(me_store, u64::MAX - writes);
            let t = Instant::now();
            store.append_local(&d).unwrap();
            worst = worst.max(t.elapsed());
            writes += 1;
        }
        (worst, writes, compactor.join().unwrap())
    });
    println!(
        "| writes during the compaction of 1M elements ({:.2} s) | {writes} writes, the slowest {:.0} ms |",
        compaction.as_secs_f64(),
        ms(worst)
    );
    let snapshot_bytes = store.stats().snapshot_bytes;
    store.close().unwrap();
    drop(opened);
    let t = Instant::now();
    let (store, opened) = Store::<Set>::open(&path, options).unwrap();
    let from_snapshot = t.elapsed();
    assert_eq!(opened.state().len() as u64, n + writes);
    store.close().unwrap();
    println!(
        "| recovery (open) of 1M elements | {:.2} s from a snapshot ({} bytes, file {} bytes), {:.2} s from a log of 1,000 deltas |",
        from_snapshot.as_secs_f64(),
        snapshot_bytes,
        file_len(&path),
        from_log.as_secs_f64()
    );
}

fn restarts(root: &Path) {
    let path = fresh(root, "restarts.redb");
    let restarts = 100u64;
    for i in 0..restarts {
        let (store, opened) = Store::<Set>::open(&path, Options::default()).unwrap();
        let mut set = opened.into_state();
        store.append_local(&set.insert(store.replica(), i)).unwrap();
        store.close().unwrap();
    }
    let (_store, opened) = Store::<Set>::open(&path, Options::default()).unwrap();
    let with_store = context_bytes(opened.state());
    // The same writes by one replica that never restarted.
    let mut one = Set::new();
    let me = ReplicaId::from_u128(1);
    for i in 0..restarts {
        let _ = one.insert(me, i);
    }
    let never_restarted = context_bytes(&one);
    // Without a store: each restart writes under a fresh id.
    let mut fresh_ids = Set::new();
    for i in 0..restarts {
        let _ = fresh_ids.insert(ReplicaId::random(), i);
    }
    let without = context_bytes(&fresh_ids);
    println!(
        "| bytes added to the context per restart ({restarts} restarts, 1 write each) | {} with the store; {} with a fresh id per restart |",
        (with_store as i64 - never_restarted as i64) / restarts as i64,
        (without - never_restarted) / restarts as usize
    );
}

fn context_bytes(s: &Set) -> usize {
    codec::encode_state(s.as_causal().context()).unwrap().len()
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
