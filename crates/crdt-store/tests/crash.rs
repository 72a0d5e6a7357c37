//! The crash test: a child process writes under load through the store and
//! prints each write only after its append returned; the parent kills it
//! with SIGKILL at 20 seeded random moments, reopens the store each time and
//! checks that every printed (acknowledged) write is there, that the replica
//! id never changed and that no dot was minted twice; then that two stores
//! converge after exchanging their states.
//!
//! The child is this test run again (this test binary, the test named
//! exactly) with `CRASH_CHILD_STORE` set: it then writes until killed
//! instead (`crash_child`). No test is ignored, and none passes vacuously.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::TestDir;
use crdt_core::{Lattice, ReplicaId};
use crdt_store::{Identity, Options, Store};
use crdt_sync::Replicated;
use crdt_types::{CausalCrdt, OrSet};

type Set = OrSet<u64>;

const CHILD_ENV: &str = "CRASH_CHILD_STORE";
const ROUND_ENV: &str = "CRASH_CHILD_ROUND";
const WRITERS: u64 = 4;

fn options() -> Options {
    // Compact often, so kills also land inside compactions.
    Options::default().with_compact_min_log_bytes(16 << 10)
}

/// The child: writes into the store at `path` until killed. Each line on
/// stdout is printed after the append it names returned `Ok`:
/// `ack <value> <counter>` for a local write (`counter` is its dot's),
/// `recv <value>` for a received one.
fn crash_child(path: &str) {
    let round: u64 = std::env::var(ROUND_ENV).unwrap().parse().unwrap();
    let (store, opened) = Store::<Set>::open(path, options()).unwrap();
    let me = opened.replica();
    println!("open {} {:?}", me.as_u128(), opened.identity());
    let state = Mutex::new(opened.into_state());
    let store = Arc::new(store);
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (store, state) = (store.clone(), &state);
            s.spawn(move || {
                // A fake peer per round and writer, for received deltas.
                let peer = ReplicaId::from_u128(u128::from(round * 100 + w + 1));
                let mut theirs = Set::new();
                for i in 0.. {
                    let value = (round << 40) | (w << 32) | i;
                    if w == 0 && i % 2 == 1 {
                        let d = theirs.insert(peer, value);
                        state.lock().unwrap().join(&d);
                        store.append_received(&d).unwrap();
                        println!("recv {value}");
                    } else {
                        let d = state.lock().unwrap().insert(me, value);
                        let counter = d.as_causal().context().max(me);
                        store.append_local(&d).unwrap();
                        println!("ack {value} {counter}");
                    }
                }
            });
        }
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

enum Line {
    Open(u128, String),
    Ack(u64, u64),
    Recv(u64),
}

fn parse(line: &str) -> Line {
    let w: Vec<&str> = line.split_whitespace().collect();
    match w.as_slice() {
        ["open", id, identity] => Line::Open(id.parse().unwrap(), (*identity).to_string()),
        ["ack", v, c] => Line::Ack(v.parse().unwrap(), c.parse().unwrap()),
        ["recv", v] => Line::Recv(v.parse().unwrap()),
        _ => panic!("unexpected child output {line:?}"),
    }
}

/// What the parent learned from all children so far.
#[derive(Default)]
struct Seen {
    replica: Option<u128>,
    local: Vec<u64>,
    received: Vec<u64>,
    /// Dot counter -> the value it was minted for.
    dots: BTreeMap<u64, u64>,
}

/// Runs one child until it has acknowledged `kill_after` writes, then
/// SIGKILLs it and collects every line it printed.
fn run_child(path: &std::path::Path, round: u64, kill_after: u64, seen: &mut Seen) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_at_random_moments_loses_no_acknowledged_write",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, path)
        .env(ROUND_ENV, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
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
            let start = ["open ", "ack ", "recv "]
                .iter()
                .filter_map(|m| l.find(m))
                .min();
            if let Some(start) = start {
                let _ = tx.send(l[start..].to_string());
            }
            line.clear();
        }
    });
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut acks = 0;
    let mut lines = Vec::new();
    while acks < kill_after {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => {
                acks += u64::from(!l.starts_with("open "));
                lines.push(l);
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
    lines.extend(rx.try_iter());
    for l in &lines {
        match parse(l) {
            Line::Open(id, identity) => {
                let expected = if round == 0 { "New" } else { "Resumed" };
                assert_eq!(identity, expected, "round {round}");
                assert_eq!(
                    *seen.replica.get_or_insert(id),
                    id,
                    "round {round}: the replica id changed"
                );
            }
            Line::Ack(value, counter) => {
                if let Some(old) = seen.dots.insert(counter, value) {
                    panic!("round {round}: dot {counter} minted for {old} and again for {value}");
                }
                seen.local.push(value);
            }
            Line::Recv(value) => seen.received.push(value),
        }
    }
}

#[test]
fn crash_at_random_moments_loses_no_acknowledged_write() {
    // Run again by `run_child` with the store's path set: the child.
    if let Ok(path) = std::env::var(CHILD_ENV) {
        return crash_child(&path);
    }
    let started = Instant::now();
    let dir = TestDir::new("crash");
    let path = dir.file("crash.redb");
    let mut rng = Rng(0x5EED_0012);
    let mut seen = Seen::default();
    let mut previous = Set::new();
    for round in 0..20 {
        let kill_after = 1 + rng.below(150);
        run_child(&path, round, kill_after, &mut seen);
        let (store, opened) = Store::<Set>::open(&path, options()).unwrap();
        assert_eq!(opened.identity(), Identity::Resumed);
        assert_eq!(Some(opened.replica().as_u128()), seen.replica);
        let state = opened.state();
        for v in seen.local.iter().chain(&seen.received) {
            assert!(
                state.contains(v),
                "round {round}: acknowledged {v} is missing"
            );
        }
        // Nothing durable before is gone or changed: no dot of the previous
        // recovery now stands for another element.
        assert_eq!(previous.reused_dot(state), None, "round {round}");
        let mut joined = previous.clone();
        joined.join(state);
        assert_eq!(&joined, state, "round {round}: the state went back");
        previous = state.clone();
        store.close().unwrap();
    }
    assert!(seen.local.len() >= 20, "{} local writes", seen.local.len());

    // A second replica converges with the crashed one by exchanging states.
    let other_path = dir.file("other.redb");
    let (b, opened_b) = Store::<Set>::open(&other_path, options()).unwrap();
    let mut b_state = opened_b.into_state();
    for x in 0..10 {
        b.append_local(&b_state.insert(b.replica(), u64::MAX - x))
            .unwrap();
    }
    let (a, opened_a) = Store::<Set>::open(&path, options()).unwrap();
    let a_state = opened_a.into_state();
    a.append_received(&b_state).unwrap();
    b.append_received(&a_state).unwrap();
    a.close().unwrap();
    b.close().unwrap();
    let (_a, a_again) = Store::<Set>::open(&path, options()).unwrap();
    let (_b, b_again) = Store::<Set>::open(&other_path, options()).unwrap();
    assert_eq!(a_again.state(), b_again.state());
    assert_eq!(a_again.state().len(), a_state.len() + 10);
    let _ = std::io::stdout().flush();
    eprintln!(
        "crash test: 20 kills, {} local and {} received writes acknowledged, all present; {:.1} s",
        seen.local.len(),
        seen.received.len(),
        started.elapsed().as_secs_f64()
    );
}
