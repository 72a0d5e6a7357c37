//! The demo: three replica processes on loopback play a social-media
//! scenario (likes and comments counters, profile edits, a wishlist) with
//! concurrent writes, a partition and a heal, and converge; then one replica
//! is killed and restarted with its data intact.
//!
//! `cargo run --release -p crdt-demo [-- --data-dir <path>]`
//!
//! The parent process starts three copies of this binary in replica mode
//! (`crdt-demo --replica N --data-dir <path>/replica-N`), each a durable
//! [`crdt_net::Node`] ([`Node::open`]) on a port the OS picks, and drives
//! them through a line protocol on their standard input and output. Without
//! `--data-dir` the replicas keep their data in a fresh temporary folder,
//! removed at the end; a folder given is kept, and a later run resumes the
//! replicas from it. It exits non-zero if the replicas do not converge, or
//! if the restarted replica lost anything.
//!
//! The replicas talk mutual TLS: the parent makes a cluster CA in memory
//! and writes each replica's certificate and key into its data directory
//! ([`crdt_net::CA_FILE`], [`crdt_net::CERT_FILE`], [`crdt_net::KEY_FILE`]), where the replica reads
//! them. Every process logs through `tracing` to standard error, filtered
//! by `RUST_LOG` (default `warn`; e.g. `RUST_LOG=crdt_net=debug`).
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crdt_net::{
    ClusterCa, KvState, Node, NodeConfig, NodeError, StoreOptions, TlsIdentity, Transport,
};
use crdt_sync::{Config, PeerId};
use tracing_subscriber::EnvFilter;

/// The name of the demo's cluster (its certificates name
/// `peer-<id>.demo`).
const CLUSTER: &str = "demo";
use tokio::io::{AsyncBufReadExt, BufReader as AsyncBufReader};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args: Vec<String> = std::env::args().collect();
    let data_dir = match args.iter().position(|a| a == "--data-dir") {
        Some(i) => match args.get(i + 1) {
            Some(dir) => Some(PathBuf::from(dir)),
            None => {
                eprintln!("usage: crdt-demo [--data-dir <path>]");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    match (args.iter().position(|a| a == "--replica"), data_dir) {
        (Some(i), Some(dir)) => {
            let id = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(1);
            replica(id, &dir)
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

// ---------------------------------------------------------------- replica

fn replica(id: u64, dir: &Path) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(replica = id, reason = %e, "cannot start a runtime");
            return ExitCode::FAILURE;
        }
    };
    let tls = match TlsIdentity::from_pem_files(CLUSTER, dir).and_then(Transport::tls) {
        Ok(tls) => tls,
        Err(e) => {
            tracing::error!(replica = id, dir = %dir.display(), reason = %e, "no usable certificate");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let mut config = NodeConfig::new(
            PeerId(id),
            "127.0.0.1:0".parse().expect("loopback address"),
            tls,
        );
        config.engine = Config {
            sync_interval: Duration::from_millis(25),
            ..Config::default()
        };
        config.backoff_min = Duration::from_millis(20);
        config.backoff_max = Duration::from_millis(200);
        let node = match Node::<KvState>::open(config, dir, StoreOptions::default()).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(replica = id, dir = %dir.display(), reason = %e, "cannot start");
                return ExitCode::FAILURE;
            }
        };
        let identity = node
            .identity()
            .map_or("-".to_string(), |i| format!("{i:?}"));
        println!(
            "PORT {} {identity} {:08x}",
            node.local_addr().port(),
            node.handle().replica().as_u128() >> 96
        );
        let h = node.handle();
        let mut lines = AsyncBufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words == ["QUIT"] {
                break;
            }
            let handled: Result<(), NodeError> = async {
                match words.as_slice() {
                    ["PEER", peer, port] => {
                        if let (Ok(peer), Ok(port)) = (peer.parse(), port.parse::<u16>()) {
                            h.add_peer(PeerId(peer), ([127, 0, 0, 1], port).into());
                        }
                    }
                    ["LIKE", post] => {
                        let key = format!("likes:{post}");
                        h.update(move |s, me| s.add(me, &key, 1))?;
                    }
                    ["COMMENT", post] => {
                        let key = format!("comments:{post}");
                        h.update(move |s, me| s.add(me, &key, 1))?;
                    }
                    ["PROFILE", field, value @ ..] => {
                        let (field, value) = (field.to_string(), value.join(" "));
                        h.update(move |s, me| {
                            let (_, seen) = s.get(&field);
                            s.put(me, &field, value, &seen)
                        })?;
                    }
                    ["RESOLVE", field] => {
                        let field = field.to_string();
                        h.update(move |s, me| {
                            let (mut values, seen) = s.get(&field);
                            values.sort();
                            s.put(me, &field, values.join(" / "), &seen)
                        })?;
                    }
                    ["WISH", item] => {
                        let item = item.to_string();
                        h.update(move |s, me| s.set_add(me, "wishlist", &item))?;
                    }
                    ["WISH!", item] => {
                        // Acknowledged: on disk when this answers.
                        let item = item.to_string();
                        h.write(move |s, me| s.set_add(me, "wishlist", &item))
                            .await?;
                        println!("WRITTEN");
                    }
                    ["UNWISH", item] => {
                        let item = item.to_string();
                        h.update(move |s, _| s.set_remove("wishlist", &item))?;
                    }
                    ["ISOLATE", on] => h.isolate(*on == "1"),
                    ["FLUSH"] => match h.flush().await {
                        Ok(()) => println!("FLUSHED every live peer has acknowledged every write"),
                        Err(NodeError::Stopped) => return Err(NodeError::Stopped),
                        Err(e) => println!("FLUSHED {e}"),
                    },
                    ["DIGEST"] => {
                        let digest = h.read(|s| fnv(&format!("{s:?}"))).await?;
                        println!("DIGEST {digest:016x}");
                    }
                    ["METRICS"] => {
                        let m = h.metrics().await?;
                        let siblings = h.read(|s| s.conflicts()).await?;
                        println!(
                            "METRICS {} {} {} {}",
                            m.engine.bytes_out,
                            m.engine.messages_out,
                            m.engine.concurrent_deltas,
                            siblings
                        );
                    }
                    ["SHOW"] => {
                        let text = h
                            .read(|s| {
                                let mut out = Vec::new();
                                for post in ["post1", "post2"] {
                                    out.push(format!(
                                        "{post}: {} likes, {} comments",
                                        s.count(&format!("likes:{post}")),
                                        s.count(&format!("comments:{post}"))
                                    ));
                                }
                                for field in ["name", "bio"] {
                                    let (mut v, _) = s.get(field);
                                    v.sort();
                                    out.push(format!("profile {field}: {v:?}"));
                                }
                                out.push(format!("wishlist: {:?}", s.members("wishlist")));
                                out
                            })
                            .await?;
                        for l in text {
                            println!("SHOW {l}");
                        }
                        println!("END");
                    }
                    _ => tracing::warn!(replica = id, %line, "unknown command"),
                }
                Ok(())
            }
            .await;
            if let Err(e) = handled {
                tracing::error!(replica = id, %line, reason = %e, "command failed");
                return ExitCode::FAILURE;
            }
        }
        let _ = node.shutdown().await;
        ExitCode::SUCCESS
    })
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

// ---------------------------------------------------------------- parent

struct Replica {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    port: u16,
    /// `New` or `Resumed`, and the replica id (its first 32 bits).
    identity: String,
}

impl Replica {
    fn spawn(id: u64, data: &Path) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let dir = data.join(format!("replica-{id}"));
        let mut child = Command::new(exe)
            .args(["--replica", &id.to_string()])
            .arg("--data-dir")
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // The replica's logs (`RUST_LOG`) go to the demo's stderr.
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start replica {id}: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        let (port, identity) = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().split_once(' '))
            .and_then(|(port, identity)| Some((port.parse().ok()?, identity.to_string())))
            .ok_or_else(|| format!("replica {id} did not start: {line:?}"))?;
        Ok(Self {
            child,
            stdin,
            stdout,
            port,
            identity,
        })
    }

    fn send(&mut self, line: &str) {
        let _ = writeln!(self.stdin, "{line}");
        let _ = self.stdin.flush();
    }

    fn ask(&mut self, line: &str, prefix: &str) -> String {
        self.send(line);
        self.reply(prefix)
    }

    /// The rest of the next line that starts with `prefix` (empty if the
    /// replica has gone).
    fn reply(&mut self, prefix: &str) -> String {
        let mut reply = String::new();
        loop {
            reply.clear();
            if self.stdout.read_line(&mut reply).unwrap_or(0) == 0 {
                return String::new();
            }
            if let Some(rest) = reply.strip_prefix(prefix) {
                return rest.trim().to_string();
            }
        }
    }
}

fn converged(rs: &mut [Replica]) -> bool {
    let digests: Vec<String> = rs.iter_mut().map(|r| r.ask("DIGEST", "DIGEST ")).collect();
    !digests[0].is_empty() && digests.windows(2).all(|w| w[0] == w[1])
}

/// Waits for convergence with a progress line; returns the time taken.
fn wait(rs: &mut [Replica], what: &str) -> Option<Duration> {
    let start = Instant::now();
    let spinner = ['|', '/', '-', '\\'];
    let mut i = 0;
    while start.elapsed() < Duration::from_secs(20) {
        if converged(rs) {
            println!(
                "\r  {what}: converged in {:>6.0} ms          ",
                start.elapsed().as_secs_f64() * 1e3
            );
            return Some(start.elapsed());
        }
        print!(
            "\r  {what}: waiting {} {:>5.1} s",
            spinner[i % 4],
            start.elapsed().as_secs_f64()
        );
        let _ = std::io::stdout().flush();
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("\r  {what}: did NOT converge within 20 s");
    None
}

/// Replica 2 writes (acknowledged: on disk), is SIGKILLed, and restarts
/// from its data directory: the same replica id, the same state before it
/// hears from anyone, then it rejoins. `false` if anything was lost.
fn kill_and_restart(rs: &mut [Replica], data: &Path) -> bool {
    rs[1].ask("WISH! camera", "WRITTEN");
    let before = rs[1].ask("DIGEST", "DIGEST ");
    let _ = rs[1].child.kill();
    let _ = rs[1].child.wait();
    println!("  'camera' acknowledged; replica 2 killed");
    let restarted = match Replica::spawn(2, data) {
        Ok(r) => r,
        Err(e) => {
            println!("  replica 2 did not restart: {e}");
            return false;
        }
    };
    let old = std::mem::replace(&mut rs[1], restarted);
    let same_id = old.identity.split(' ').nth(1) == rs[1].identity.split(' ').nth(1);
    // No peer knows the new port yet: this is the state read from disk.
    let after = rs[1].ask("DIGEST", "DIGEST ");
    let intact = !after.is_empty() && after == before;
    println!(
        "  restarted on 127.0.0.1:{} ({}): same replica id: {same_id}, state intact: {intact}",
        rs[1].port, rs[1].identity
    );
    let ports: Vec<u16> = rs.iter().map(|r| r.port).collect();
    for (i, r) in rs.iter_mut().enumerate() {
        for (j, port) in ports.iter().enumerate() {
            if i != j && (i == 1 || j == 1) {
                r.send(&format!("PEER {} {port}", j + 1));
            }
        }
    }
    let rejoined = wait(rs, "after restart").is_some();
    same_id && intact && rejoined
}

/// Makes a cluster CA for this run and writes each replica's certificate
/// and key into its data directory (replacing those of an earlier run,
/// whose CA is gone).
fn certificates(data: &Path) -> std::io::Result<()> {
    let ca = ClusterCa::new(CLUSTER)?;
    for id in 1..=3 {
        ca.issue(PeerId(id))?
            .write_files(data.join(format!("replica-{id}")))?;
    }
    Ok(())
}

fn parent(data: &Path) -> ExitCode {
    println!("crdt demo: 3 replica processes on 127.0.0.1, a social-media scenario");
    println!("  data: {}", data.display());
    if let Err(e) = certificates(data) {
        tracing::error!(reason = %e, "cannot make the replicas' certificates");
        return ExitCode::FAILURE;
    }
    println!(
        "  mutual TLS: a fresh cluster CA; each replica's certificate (peer-N.{CLUSTER}) in its data directory\n"
    );
    let mut rs: Vec<Replica> = Vec::new();
    for id in 1..=3 {
        match Replica::spawn(id, data) {
            Ok(r) => {
                println!(
                    "  replica {id} listening on 127.0.0.1:{} ({} replica {})",
                    r.port,
                    r.identity.split(' ').next().unwrap_or(""),
                    r.identity.split(' ').nth(1).unwrap_or("")
                );
                rs.push(r);
            }
            Err(e) => {
                tracing::error!(reason = %e, "a replica did not start");
                return ExitCode::FAILURE;
            }
        }
    }
    let ports: Vec<u16> = rs.iter().map(|r| r.port).collect();
    for (i, r) in rs.iter_mut().enumerate() {
        for (j, port) in ports.iter().enumerate() {
            if i != j {
                r.send(&format!("PEER {} {port}", j + 1));
            }
        }
    }
    let started = Instant::now();
    let mut ok = true;

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
    ok &= wait(&mut rs, "online").is_some();

    println!("\n2. Replica 3 is cut off; both sides keep writing");
    rs[2].send("ISOLATE 1");
    std::thread::sleep(Duration::from_millis(100));
    for _ in 0..5 {
        rs[0].send("LIKE post2");
        rs[2].send("LIKE post2");
    }
    rs[1].send("COMMENT post2");
    rs[0].send("UNWISH tent"); // removed on one side ...
    rs[2].send("WISH tent"); // ... re-added concurrently on the other: add wins
    rs[1].send("PROFILE name Ada Lovelace");
    rs[2].send("PROFILE name Ada King");
    std::thread::sleep(Duration::from_millis(400));
    println!("  partitioned replicas agree: {}", converged(&mut rs));

    println!("\n3. The partition heals");
    rs[2].send("ISOLATE 0");
    let healed = wait(&mut rs, "after heal");
    ok &= healed.is_some();

    let mut bytes = 0u64;
    let mut messages = 0u64;
    let mut concurrent = 0u64;
    let mut siblings = 0u64;
    for r in rs.iter_mut() {
        let m: Vec<u64> = r
            .ask("METRICS", "METRICS ")
            .split(' ')
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [b, msgs, c, s] = m[..] {
            bytes += b;
            messages += msgs;
            concurrent += c;
            siblings = siblings.max(s);
        }
    }
    println!("\n4. Concurrent edits kept as siblings, then resolved by a write that saw them");
    rs[0].send("RESOLVE name");
    rs[0].send("RESOLVE bio");
    ok &= wait(&mut rs, "after resolve").is_some();

    println!("\n5. Replica 2 acknowledges a write and is killed (SIGKILL) right after");
    ok &= kill_and_restart(&mut rs, data);

    println!("\nFinal agreed values (replica 1):");
    rs[0].send("SHOW");
    loop {
        let mut line = String::new();
        if rs[0].stdout.read_line(&mut line).unwrap_or(0) == 0 || line.starts_with("END") {
            break;
        }
        if let Some(l) = line.strip_prefix("SHOW ") {
            print!("  {l}");
        }
    }
    println!("\nSummary");
    if let Some(t) = healed {
        println!(
            "  time to converge after the heal: {:.0} ms",
            t.as_secs_f64() * 1e3
        );
    }
    println!("  bytes shipped: {bytes} in {messages} messages (all replicas, whole run)");
    println!(
        "  conflicts seen: {concurrent} concurrent deltas, {siblings} registers with siblings before resolving"
    );
    println!("  total run time: {:.1} s", started.elapsed().as_secs_f64());
    // Flush while every replica is still up (a replica's shutdown flushes
    // too, but would wait for a peer that already quit).
    for r in rs.iter_mut() {
        r.send("FLUSH");
    }
    for (i, r) in rs.iter_mut().enumerate() {
        println!("  replica {} flushed: {}", i + 1, r.reply("FLUSHED "));
    }
    for r in rs.iter_mut() {
        r.send("QUIT");
    }
    for mut r in rs {
        let _ = r.child.wait();
    }
    if ok {
        println!("  all replicas converged");
        ExitCode::SUCCESS
    } else {
        println!("  replicas did NOT converge");
        ExitCode::FAILURE
    }
}
