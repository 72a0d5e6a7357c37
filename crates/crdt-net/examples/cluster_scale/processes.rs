//! `cluster_scale --processes N`: the scale run with each node an OS process.
//!
//! The parent writes a certificate and the membership key into a folder
//! per node, starts copies of this example as nodes (`--node <id> --dir
//! <dir> [--seed <port>]`, each announcing to node 1), and asks them on
//! their standard input; each answers one line per command:
//!
//! | command | answer |
//! |---|---|
//! | (at start) | `PORT <port>` |
//! | `WRITE <n>` | `WROTE` once `n` counter increments are applied |
//! | `STATUS` | `STATUS <members alive> <connections> <count> <engine bytes out> <engine peer ids, comma-separated, or ->` |
//! | `QUIT` | (exits) |

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crdt_core::ReplicaId;
use crdt_net::{
    ClusterCa, KvState, MEMBERSHIP_KEY_FILE, MembershipKey, Node, TlsIdentity, Transport,
};
use crdt_sync::PeerId;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{CLUSTER, DEADLINE, HEADER, POLL, WRITES, config, show};

/// A node as one line of its `STATUS`.
#[derive(Clone, Debug, Default)]
struct Status {
    alive: usize,
    conns: usize,
    count: i64,
    bytes_out: u64,
    peers: Vec<u64>,
}

/// A node process, as the parent sees it.
struct Proc {
    id: u64,
    child: Child,
    stdin: ChildStdin,
    /// Its standard output, a line at a time, read by a thread of its
    /// own so that every answer is waited for with a deadline.
    lines: Receiver<String>,
    port: u16,
}

impl Proc {
    /// Starts node `id` from `dir`, announcing to `seed`.
    fn spawn(id: u64, dir: &Path, seed: Option<u16>) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = Command::new(exe);
        command.args(["--node", &id.to_string(), "--dir"]).arg(dir);
        if let Some(port) = seed {
            command.args(["--seed", &port.to_string()]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("node {id} did not start: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut p = Self {
            id,
            child,
            stdin,
            lines,
            port: 0,
        };
        let port = p.reply("PORT ");
        p.port = port
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("node {id} did not listen"))?;
        Ok(p)
    }

    /// The rest of the next line starting with `prefix`, within the
    /// deadline; `None` if the node has gone or is too slow.
    fn reply(&mut self, prefix: &str) -> Option<String> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some(rest) = line.strip_prefix(prefix) {
                return Some(rest.to_string());
            }
        }
    }

    fn send(&mut self, line: &str) -> bool {
        writeln!(self.stdin, "{line}").is_ok() && self.stdin.flush().is_ok()
    }

    fn ask(&mut self, line: &str, prefix: &str) -> Option<String> {
        if !self.send(line) {
            return None;
        }
        self.reply(prefix)
    }

    fn status(&mut self) -> Option<Status> {
        let answer = self.ask("STATUS", "STATUS ")?;
        let w: Vec<&str> = answer.split(' ').collect();
        let [alive, conns, count, bytes, peers] = w[..] else {
            return None;
        };
        Some(Status {
            alive: alive.parse().ok()?,
            conns: conns.parse().ok()?,
            count: count.parse().ok()?,
            bytes_out: bytes.parse().ok()?,
            peers: peers.split(',').filter_map(|p| p.parse().ok()).collect(),
        })
    }
}

impl Drop for Proc {
    /// A node left behind (the run failing early) does not outlive it.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Every node's status (a node that does not answer has a default one,
/// which no condition accepts).
fn statuses(ps: &mut [Proc]) -> Vec<Status> {
    ps.iter_mut()
        .map(|p| p.status().unwrap_or_default())
        .collect()
}

/// Polls the nodes' statuses until `done`; the time since `from`, or
/// `None` at the deadline.
fn settled(ps: &mut [Proc], from: Instant, done: impl Fn(&[Status]) -> bool) -> Option<Duration> {
    while from.elapsed() < DEADLINE {
        if done(&statuses(ps)) {
            return Some(from.elapsed());
        }
        std::thread::sleep(POLL);
    }
    None
}

fn bytes_out(s: &[Status]) -> u64 {
    s.iter().map(|s| s.bytes_out).sum()
}

/// Writes node `id`'s certificate and the membership key into `dir`.
fn provision(ca: &ClusterCa, key: &MembershipKey, dir: &Path, id: u64) -> std::io::Result<()> {
    ca.issue(PeerId(id))?.write_files(dir)?;
    key.write_file(dir.join(MEMBERSHIP_KEY_FILE))
}

/// The parent: `n` node processes through the scale steps; one row.
pub(super) fn parent(n: u64) -> ExitCode {
    let root = std::env::temp_dir().join(format!("crdt-net-scale-{}", std::process::id()));
    let dir = |id: u64| root.join(format!("node-{id}"));
    let provisioned = ClusterCa::new(CLUSTER).and_then(|ca| {
        let key = MembershipKey::generate()?;
        (1..=n).try_for_each(|id| provision(&ca, &key, &dir(id), id))
    });
    let code = match provisioned {
        Ok(()) => match run(n, &dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cluster_scale --processes {n}: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("cannot write the certificates and key: {e}");
            ExitCode::FAILURE
        }
    };
    let _ = std::fs::remove_dir_all(&root);
    code
}

fn run(n: u64, dir: &impl Fn(u64) -> PathBuf) -> Result<(), String> {
    let begin = Instant::now();
    let first = Proc::spawn(1, &dir(1), None)?;
    let seed = first.port;
    let mut ps = vec![first];
    for id in 2..=n {
        ps.push(Proc::spawn(id, &dir(id), Some(seed))?);
    }
    let started = begin.elapsed();
    let size = usize::try_from(n).unwrap_or(usize::MAX);
    let settle = settled(&mut ps, begin, |s| s.iter().all(|s| s.alive == size));

    // Idle traffic over a second (a measuring window), then the writes.
    let idle_from = (Instant::now(), bytes_out(&statuses(&mut ps)));
    std::thread::sleep(Duration::from_secs(1));
    let idle = bytes_out(&statuses(&mut ps)).saturating_sub(idle_from.1);
    let idle_rate = idle as f64 / idle_from.0.elapsed().as_secs_f64();
    let before = bytes_out(&statuses(&mut ps));
    let start_writes = Instant::now();
    for p in &mut ps {
        p.ask(&format!("WRITE {WRITES}"), "WROTE")
            .ok_or_else(|| format!("node {} did not write", p.id))?;
    }
    let want = WRITES * i64::try_from(n).unwrap_or(i64::MAX);
    let converge = settled(&mut ps, start_writes, |s| s.iter().all(|s| s.count == want));
    let window = start_writes.elapsed().as_secs_f64();
    let s = statuses(&mut ps);
    let spent = bytes_out(&s).saturating_sub(before) as f64 - idle_rate * window;
    let per_write = spent.max(0.0) / want as f64;
    let per_delivery = per_write / (n - 1) as f64;
    let conns: Vec<usize> = s.iter().map(|s| s.conns).collect();
    let mean = conns.iter().sum::<usize>() as f64 / conns.len() as f64;
    let max = conns.iter().copied().max().unwrap_or(0);

    // A quarter, rounded up, is killed: SIGKILL, no goodbye, no flush.
    let quarter = n.div_ceil(4);
    let kill = Instant::now();
    for _ in 0..quarter {
        let mut p = ps.pop().ok_or("no node to kill")?;
        let _ = p.child.kill();
        let _ = p.child.wait();
    }
    let left = size - usize::try_from(quarter).unwrap_or(0);
    let gone: Vec<u64> = (n - quarter + 1..=n).collect();
    let detected = settled(&mut ps, kill, |s| {
        s.iter()
            .all(|s| s.alive == left && gone.iter().all(|g| !s.peers.contains(g)))
    });
    ps[0]
        .ask("WRITE 1", "WROTE")
        .ok_or("node 1 did not write")?;
    let back = Instant::now();
    for id in n - quarter + 1..=n {
        ps.push(Proc::spawn(id, &dir(id), Some(seed))?);
    }
    let rejoined = settled(&mut ps, back, |s| {
        s.iter().all(|s| s.alive == size && s.count == want + 1)
    });
    println!(
        "{n} node processes, each with node 1 as its only seed; {:.2} s to start them",
        started.as_secs_f64()
    );
    println!("{HEADER}");
    println!(
        "| {n} (processes) | {} | {} | {per_write:.0} ({per_delivery:.1}) | {mean:.1} ({max}) | {} ({quarter} killed) | {} |",
        show(settle),
        show(converge),
        show(detected),
        show(rejoined),
    );
    for mut p in ps {
        // No line starts with NUL: this reads until the node's standard
        // output closes (it exited) or the deadline passes.
        let asked = Instant::now();
        if p.send("QUIT") {
            let _ = p.reply("\u{0}");
        }
        if asked.elapsed() >= DEADLINE {
            eprintln!("node {} did not quit: killed", p.id);
            let _ = p.child.kill();
        }
        let _ = p.child.wait();
    }
    [settle, converge, detected, rejoined]
        .iter()
        .all(Option::is_some)
        .then_some(())
        .ok_or_else(|| "a step timed out".to_string())
}

/// A node process: `--node <id> --dir <dir> [--seed <port>]`.
pub(super) async fn node(words: &[&str]) -> ExitCode {
    let (id, dir, seed) = match words {
        ["--node", id, "--dir", dir] => (id.parse().ok(), *dir, None),
        ["--node", id, "--dir", dir, "--seed", port] => {
            (id.parse().ok(), *dir, port.parse::<u16>().ok())
        }
        _ => (None, "", None),
    };
    let Some(id) = id else {
        return super::usage();
    };
    let dir = Path::new(dir);
    let seed: Option<SocketAddr> = seed.map(|port| ([127, 0, 0, 1], port).into());
    let tls = TlsIdentity::from_pem_files(CLUSTER, dir).and_then(Transport::tls);
    let key = MembershipKey::read_file(dir.join(MEMBERSHIP_KEY_FILE));
    let (tls, key) = match (tls, key) {
        (Ok(tls), Ok(key)) => (tls, key),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("node {id}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let node = match Node::start(
        config(tls, id, seed, &key),
        ReplicaId::random(),
        KvState::new(),
    )
    .await
    {
        Ok(node) => node,
        Err(e) => {
            eprintln!("node {id}: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("PORT {}", node.local_addr().port());
    let h = node.handle();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["WRITE", k] => {
                for _ in 0..k.parse::<u32>().unwrap_or(0) {
                    if h.write(|s, me| s.add(me, "hits", 1)).await.is_err() {
                        return ExitCode::FAILURE;
                    }
                }
                println!("WROTE");
            }
            ["STATUS"] => {
                let (Ok(m), Ok(count)) = (h.metrics().await, h.read(|s| s.count("hits")).await)
                else {
                    return ExitCode::FAILURE;
                };
                let peers: Vec<String> = m.engine.peers.keys().map(|p| p.0.to_string()).collect();
                println!(
                    "STATUS {} {} {count} {} {}",
                    m.members_alive,
                    m.connected_peers,
                    m.engine.bytes_out,
                    if peers.is_empty() {
                        "-".to_string()
                    } else {
                        peers.join(",")
                    }
                );
            }
            ["QUIT"] => break,
            _ => eprintln!("node {id}: unknown command {line:?}"),
        }
    }
    let _ = node.shutdown().await;
    ExitCode::SUCCESS
}
