//! The demo: three replica processes on loopback find each other through
//! SWIM membership, each started with one seed address, and play a
//! social-media scenario (likes and comments counters, profile edits, a
//! wishlist) with concurrent writes, a partition and a heal, and converge;
//! then one replica is killed and restarted with its data intact, rejoins
//! through its seed and is caught up.
//!
//! `cargo run --release -p crdt-demo [-- --data-dir <path>]`
//!
//! The parent process starts three copies of this binary in replica mode
//! (`crdt-demo --replica N --data-dir <path>/replica-N [--seed PORT]`),
//! each a durable [`crdt_net::Node`] (`Node::open_store`) on a port the OS
//! picks, and drives them through a line protocol on their standard input
//! and output. Replica 1 has no seed; replica 2 announces itself to
//! replica 1, replica 3 to replica 2, and SWIM ([`crdt_net::Membership`])
//! does the rest: replica 3 learns replica 1 through replica 2. Without
//! `--data-dir` the replicas keep their data in a fresh temporary folder,
//! removed at the end; a folder given is kept, and a later run resumes the
//! replicas from it.
//!
//! The replicas talk mutual TLS and authenticate their membership
//! datagrams: the parent makes a cluster CA and a membership key
//! ([`crdt_net::MembershipKey`]) for the run and writes each replica's
//! certificate, private key and the membership key into its data directory
//! ([`crdt_net::CA_FILE`], [`crdt_net::CERT_FILE`], [`crdt_net::KEY_FILE`],
//! [`crdt_net::MEMBERSHIP_KEY_FILE`]), where the replica reads them.
//!
//! The partition cuts replica 3 off (`NodeHandle::isolate`: its
//! connections and its membership datagrams): no state flows, and each
//! side's SWIM declares the other down before both sides write; the heal
//! is SWIM finding the members again (announcements to members declared
//! down), the dialers reconnecting and a digest exchange. The kill is a
//! real failure: the others' SWIM declares replica 2 down and drops its
//! engine peer; the restarted replica is a new member (new port, new
//! generation) under the same peer and replica id.
//!
//! Every wait is for a condition, with a deadline; the whole run has one
//! too ([`RUN_LIMIT`]). It exits non-zero if the replicas do not converge,
//! if membership does not settle, or if the restarted replica lost
//! anything. Every process logs through `tracing` to standard error,
//! filtered by `RUST_LOG` (default `warn`; e.g. `RUST_LOG=crdt_net=info`
//! shows members going up and down).
#![forbid(unsafe_code)]

mod cluster;
mod replica;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cluster::{Replica, converged, provision, quit_all, wait_converged, wait_for};
use tracing_subscriber::EnvFilter;

/// The name of the demo's cluster (its certificates name
/// `peer-<id>.demo`).
const CLUSTER: &str = "demo";

/// The longest the demo may run; every wait ends by then.
const RUN_LIMIT: Duration = Duration::from_secs(55);

/// The longest membership may take to settle or to see a change.
const MEMBERSHIP_LIMIT: Duration = Duration::from_secs(15);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args.get(i + 1).cloned())
    };
    let usage = || {
        eprintln!("usage: crdt-demo [--data-dir <path>]");
        ExitCode::FAILURE
    };
    let data_dir = match value("--data-dir") {
        Some(Some(dir)) => Some(PathBuf::from(dir)),
        Some(None) => return usage(),
        None => None,
    };
    match (value("--replica"), data_dir) {
        (Some(id), Some(dir)) => {
            let id = id.and_then(|s| s.parse().ok());
            let seed = value("--seed").map(|p| p.and_then(|p| p.parse().ok()));
            match (id, seed) {
                (Some(id), None) => replica::run(id, &dir, None),
                (Some(id), Some(Some(seed))) => replica::run(id, &dir, Some(seed)),
                _ => {
                    eprintln!("usage: crdt-demo --replica <id> --data-dir <path> [--seed <port>]");
                    ExitCode::FAILURE
                }
            }
        }
        (Some(_), None) => {
            eprintln!("a replica needs --data-dir");
            ExitCode::FAILURE
        }
        (None, Some(dir)) => parent(&dir),
        (None, None) => {
            // A fresh folder per run, so the default works on any machine.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir =
                std::env::temp_dir().join(format!("crdt-demo-{}-{nanos}", std::process::id()));
            let code = parent(&dir);
            let _ = std::fs::remove_dir_all(&dir);
            code
        }
    }
}

/// What the run measured, for the summary.
#[derive(Default)]
struct Figures {
    /// From the first spawn until the last replica listens.
    spawned: Duration,
    /// From then until every replica sees every member.
    settled: Option<Duration>,
    online: Option<Duration>,
    healed: Option<Duration>,
    down: Option<Duration>,
    rejoined: Option<Duration>,
    bytes: u64,
    messages: u64,
    concurrent: u64,
    siblings: u64,
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.0} ms", d.as_secs_f64() * 1e3))
}

/// Starts the three replicas, each with one seed; waits for membership.
fn start(data: &Path, deadline: Instant, f: &mut Figures) -> Result<Vec<Replica>, String> {
    let begin = Instant::now();
    let mut rs: Vec<Replica> = Vec::new();
    for id in 1..=3 {
        // Replica 1 starts the cluster; each later one knows only the
        // replica started just before it.
        let seed = rs.last().map(|r: &Replica| r.port);
        let r = Replica::spawn(id, data, seed, deadline)?;
        println!(
            "  replica {id} listening on 127.0.0.1:{} ({} replica {}), seed: {}",
            r.port,
            r.identity,
            r.replica,
            seed.map_or("none (first)".into(), |p| format!("127.0.0.1:{p}"))
        );
        rs.push(r);
    }
    f.spawned = begin.elapsed();
    f.settled = wait_for(
        "membership: every replica sees 3 members in",
        MEMBERSHIP_LIMIT,
        deadline,
        || all_members(&mut rs, |(alive, _, _)| alive == 3),
    );
    f.settled
        .map(|_| rs)
        .ok_or_else(|| "membership did not settle".into())
}

/// Whether every replica's `(members, connections, engine peers)` passes.
fn all_members(rs: &mut [Replica], ok: impl Fn((usize, usize, usize)) -> bool) -> bool {
    rs.iter_mut().all(|r| r.members().is_some_and(&ok))
}

fn online(rs: &mut [Replica], deadline: Instant, f: &mut Figures) -> bool {
    println!("\n1. Everyone online: concurrent likes, comments, profile edits, wishes");
    for r in rs.iter_mut() {
        for _ in 0..3 {
            r.send("LIKE post1");
        }
        r.send("COMMENT post1");
    }
    rs[0].send("PROFILE name Ada");
    rs[1].send("PROFILE bio loves tea");
    rs[2].send("PROFILE bio loves coffee"); // concurrent with replica 2's edit
    rs[0].send("WISH tent");
    rs[1].send("WISH headphones");
    f.online = wait_converged(rs, "online", deadline);
    f.online.is_some()
}

/// Cuts replica 3 off, writes on both sides, heals.
fn partition(rs: &mut [Replica], deadline: Instant, f: &mut Figures) -> bool {
    println!(
        "\n2. Replica 3 is cut off (connections and membership datagrams); both sides keep writing"
    );
    rs[2].send("ISOLATE 1");
    let cut = wait_for(
        "each side declares the other down (replica 3 alone, no connection) in",
        Duration::from_secs(20),
        deadline,
        || {
            rs[2]
                .members()
                .is_some_and(|(alive, conns, _)| (alive, conns) == (1, 0))
                && all_members(&mut rs[..2], |(alive, conns, _)| (alive, conns) == (2, 1))
        },
    );
    for _ in 0..5 {
        rs[0].send("LIKE post2");
        rs[2].send("LIKE post2");
    }
    rs[1].send("COMMENT post2");
    rs[0].send("UNWISH tent"); // removed on one side ...
    rs[2].send("WISH tent"); // ... re-added concurrently on the other: add wins
    rs[1].send("PROFILE name Ada Lovelace");
    rs[2].send("PROFILE name Ada King");
    let majority = wait_converged(&mut rs[..2], "replicas 1 and 2", deadline);
    let apart = !converged(rs);
    let members: Vec<String> = rs
        .iter_mut()
        .map(|r| r.members().map_or("?".into(), |m| m.0.to_string()))
        .collect();
    println!(
        "  replica 3 differs from them: {apart}; members each sees meanwhile: {}",
        members.join(", ")
    );

    println!("\n3. The partition heals");
    rs[2].send("ISOLATE 0");
    f.healed = wait_converged(rs, "after heal", deadline);
    // States can converge through one bridging replica before SWIM has
    // found every member again; the kill below must start from a settled
    // membership, or its "seen down" would be read off the partition.
    let rejoined = wait_for(
        "membership: every replica sees 3 members again in",
        MEMBERSHIP_LIMIT,
        deadline,
        || all_members(rs, |(alive, _, _)| alive == 3),
    );
    cut.is_some() && majority.is_some() && apart && f.healed.is_some() && rejoined.is_some()
}

/// Adds up the replicas' engine metrics.
fn metrics(rs: &mut [Replica], f: &mut Figures) {
    for r in rs.iter_mut() {
        let m: Vec<u64> = r
            .ask("METRICS", "METRICS ")
            .unwrap_or_default()
            .split(' ')
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [b, msgs, c, s] = m[..] {
            f.bytes += b;
            f.messages += msgs;
            f.concurrent += c;
            f.siblings = f.siblings.max(s);
        }
    }
}

/// Replica 2 writes (acknowledged: on disk) and is SIGKILLed; the others
/// see it down and write on; it restarts from its data directory with its
/// one seed, rejoins and is caught up. `false` if anything failed or was
/// lost.
fn kill_and_restart(
    rs: &mut Vec<Replica>,
    data: &Path,
    deadline: Instant,
    f: &mut Figures,
) -> Result<bool, String> {
    let written = rs[1].ask("WISH! camera", "WRITTEN").is_some();
    let before = rs[1]
        .ask("DIGEST", "DIGEST ")
        .ok_or("replica 2 did not answer")?;
    let old = rs.remove(1);
    let old_replica = old.replica.clone();
    old.kill();
    println!("  'camera' acknowledged (on disk); replica 2 killed");
    // While it is down the others write on: it has to be caught up.
    rs[0].send("LIKE post1");
    rs[1].send("COMMENT post1");
    rs[1].send("WISH compass");
    f.down = wait_for(
        "replicas 1 and 3 see replica 2 down, engine peer removed, in",
        MEMBERSHIP_LIMIT,
        deadline,
        || all_members(rs, |(alive, _, peers)| alive == 2 && peers == 1),
    );
    // Its one seed: replica 1 (any live member would do).
    let seed = rs[0].port;
    let back = Instant::now();
    let restarted = Replica::spawn(2, data, Some(seed), deadline)?;
    let same_id = restarted.replica == old_replica;
    // Read from its store before its node started: nothing from peers yet.
    let intact = restarted.disk == before;
    println!(
        "  restarted on 127.0.0.1:{} ({}), seed 127.0.0.1:{seed}: same replica id: {same_id}, state read from disk intact: {intact}",
        restarted.port, restarted.identity
    );
    rs.insert(1, restarted);
    let members = wait_for(
        "membership: every replica sees 3 members again in",
        MEMBERSHIP_LIMIT,
        deadline,
        || all_members(rs, |(alive, _, _)| alive == 3),
    );
    f.rejoined = wait_converged(rs, "replica 2 caught up", deadline).map(|_| back.elapsed());
    Ok(written
        && f.down.is_some()
        && same_id
        && intact
        && members.is_some()
        && f.rejoined.is_some())
}

/// Prints replica 1's values.
fn show(r: &mut Replica) {
    r.send("SHOW");
    while let Some(line) = r.reply("") {
        if line.starts_with("END") {
            break;
        }
        if let Some(l) = line.strip_prefix("SHOW ") {
            println!("  {l}");
        }
    }
}

fn summary(f: &Figures, started: Instant) {
    println!("\nSummary");
    println!(
        "  membership settled {} after the last replica listened (each started with one seed; {} to start the three processes)",
        ms(f.settled),
        ms(Some(f.spawned))
    );
    println!(
        "  converged: online {}, after the heal {}",
        ms(f.online),
        ms(f.healed)
    );
    println!(
        "  replica 2 killed: seen down in {}; restarted, rejoined and caught up {} after its restart",
        ms(f.down),
        ms(f.rejoined)
    );
    println!(
        "  bytes shipped before the kill: {} in {} messages (engine frames, all replicas; membership datagrams not counted)",
        f.bytes, f.messages
    );
    println!(
        "  conflicts seen: {} concurrent deltas, {} registers with siblings before resolving",
        f.concurrent, f.siblings
    );
    println!(
        "  run time so far: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn parent(data: &Path) -> ExitCode {
    let started = Instant::now();
    let deadline = started + RUN_LIMIT;
    println!("crdt demo: 3 replica processes on 127.0.0.1, a social-media scenario");
    println!("  data: {}", data.display());
    if let Err(e) = provision(data, 3) {
        tracing::error!(reason = %e, "cannot make the replicas' certificates and membership key");
        return ExitCode::FAILURE;
    }
    println!(
        "  mutual TLS: a fresh cluster CA; each replica's certificate (peer-N.{CLUSTER}) and the cluster's membership key in its data directory\n"
    );
    let mut f = Figures::default();
    let mut rs = match start(data, deadline, &mut f) {
        Ok(rs) => rs,
        Err(e) => {
            println!("  {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut ok = online(&mut rs, deadline, &mut f);
    ok &= partition(&mut rs, deadline, &mut f);
    metrics(&mut rs, &mut f);

    println!("\n4. Concurrent edits kept as siblings, then resolved by a write that saw them");
    rs[0].send("RESOLVE name");
    rs[0].send("RESOLVE bio");
    ok &= wait_converged(&mut rs, "after resolve", deadline).is_some();

    println!("\n5. Replica 2 acknowledges a write and is killed (SIGKILL) right after");
    match kill_and_restart(&mut rs, data, deadline, &mut f) {
        Ok(restarted) => ok &= restarted,
        Err(e) => {
            println!("  {e}");
            ok = false;
        }
    }

    println!("\nFinal agreed values (replica 1):");
    show(&mut rs[0]);
    summary(&f, started);
    // Flush while every replica is still up (a replica's shutdown flushes
    // too, but would wait for a peer that already quit).
    for r in rs.iter_mut() {
        r.send("FLUSH");
    }
    for r in rs.iter_mut() {
        let flushed = r.reply("FLUSHED ").unwrap_or_else(|| "no answer".into());
        println!("  replica {} flushed: {flushed}", r.id);
    }
    let quitting = Instant::now();
    ok &= quit_all(rs);
    println!(
        "  replicas shut down in {:.0} ms; total run time {:.1} s",
        quitting.elapsed().as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64()
    );
    if ok {
        println!("  all replicas converged, nothing lost");
        ExitCode::SUCCESS
    } else {
        println!(
            "  FAILED: replicas did not converge, membership did not settle, or the restarted replica lost data"
        );
        ExitCode::FAILURE
    }
}
