//! The parent's side: provisioning the replicas' certificates and
//! membership key, starting replica processes, talking to them, and
//! waiting for conditions, each with a deadline.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use crdt_net::{ClusterCa, MEMBERSHIP_KEY_FILE, MembershipKey};
use crdt_sync::PeerId;

use crate::CLUSTER;

/// The replicas' data directory under the demo's folder.
pub(crate) fn replica_dir(data: &Path, id: u64) -> PathBuf {
    data.join(format!("replica-{id}"))
}

/// Makes a cluster CA and a membership key for this run, and writes each
/// replica's certificate, key and the membership key into its data
/// directory (replacing those of an earlier run, whose CA is gone).
pub(crate) fn provision(data: &Path, replicas: u64) -> std::io::Result<()> {
    let ca = ClusterCa::new(CLUSTER)?;
    let key = MembershipKey::generate()?;
    for id in 1..=replicas {
        let dir = replica_dir(data, id);
        ca.issue(PeerId(id))?.write_files(&dir)?;
        key.write_file(dir.join(MEMBERSHIP_KEY_FILE))?;
    }
    Ok(())
}

/// A replica process, as the parent sees it.
pub(crate) struct Replica {
    /// Its peer id (1, 2, 3).
    pub(crate) id: u64,
    child: Child,
    stdin: ChildStdin,
    /// Its standard output, a line at a time, read by a thread of its own
    /// so that every answer can be waited for with a deadline.
    lines: Receiver<String>,
    /// The port it listens on (TCP for state, UDP for membership).
    pub(crate) port: u16,
    /// `New` or `Resumed`.
    pub(crate) identity: String,
    /// Its replica id (first 32 bits, hex).
    pub(crate) replica: String,
    /// The digest of the state it read from disk at start.
    pub(crate) disk: String,
    /// No answer is waited for past this instant (the run's deadline).
    deadline: Instant,
}

impl Replica {
    /// Starts replica `id` from its directory under `data`, announcing to
    /// `seed` (a port), and waits for it to listen.
    pub(crate) fn spawn(
        id: u64,
        data: &Path,
        seed: Option<u16>,
        deadline: Instant,
    ) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = Command::new(exe);
        command
            .args(["--replica", &id.to_string()])
            .arg("--data-dir")
            .arg(replica_dir(data, id));
        if let Some(port) = seed {
            command.args(["--seed", &port.to_string()]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // The replica's logs (`RUST_LOG`) go to the demo's stderr.
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start replica {id}: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut r = Self {
            id,
            child,
            stdin,
            lines,
            port: 0,
            identity: String::new(),
            replica: String::new(),
            disk: String::new(),
            deadline,
        };
        r.disk = r
            .reply("DISK ")
            .ok_or_else(|| format!("replica {id} did not read its store"))?;
        let port = r
            .reply("PORT ")
            .ok_or_else(|| format!("replica {id} did not start"))?;
        let words: Vec<&str> = port.split(' ').collect();
        match words[..] {
            [port, identity, replica] => {
                r.port = port.parse().map_err(|_| format!("bad port {port:?}"))?;
                r.identity = identity.to_string();
                r.replica = replica.to_string();
            }
            _ => return Err(format!("replica {id} started oddly: {port:?}")),
        }
        Ok(r)
    }

    /// Sends one command line.
    pub(crate) fn send(&mut self, line: &str) {
        let _ = writeln!(self.stdin, "{line}");
        let _ = self.stdin.flush();
    }

    /// Sends `line` and returns the answer that starts with `prefix`.
    pub(crate) fn ask(&mut self, line: &str, prefix: &str) -> Option<String> {
        self.send(line);
        self.reply(prefix)
    }

    /// The rest of the next line that starts with `prefix`; `None` if the
    /// replica has gone or the run's deadline has passed.
    pub(crate) fn reply(&mut self, prefix: &str) -> Option<String> {
        loop {
            let left = self.deadline.checked_duration_since(Instant::now())?;
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Some(rest.trim().to_string());
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// `(members alive, connections, engine peers)` as the replica sees
    /// them.
    pub(crate) fn members(&mut self) -> Option<(usize, usize, usize)> {
        let answer = self.ask("MEMBERS", "MEMBERS ")?;
        let n: Vec<usize> = answer.split(' ').filter_map(|x| x.parse().ok()).collect();
        match n[..] {
            [alive, connected, peers] => Some((alive, connected, peers)),
            _ => None,
        }
    }

    /// Kills the process at once (SIGKILL on Unix): no flush, no goodbye.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit until the run's deadline (then kills
    /// it); whether it exited by itself, successfully.
    fn exited(mut self) -> bool {
        // No line starts with NUL: this reads until the replica's standard
        // output closes (it exited) or the deadline passes.
        let _ = self.reply("\u{0}");
        if Instant::now() >= self.deadline {
            let _ = self.child.kill();
        }
        self.child.wait().is_ok_and(|s| s.success())
    }
}

/// Asks the replicas to quit one after the other, each once the one
/// before has exited; whether all exited by themselves, successfully.
pub(crate) fn quit_all(rs: Vec<Replica>) -> bool {
    rs.into_iter().fold(true, |ok, mut r| {
        r.send("QUIT");
        r.exited() & ok
    })
}

impl Drop for Replica {
    /// A replica left behind (the demo failing early) does not outlive it.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether every replica in `rs` holds the same state.
pub(crate) fn converged(rs: &mut [Replica]) -> bool {
    let digests: Vec<Option<String>> = rs.iter_mut().map(|r| r.ask("DIGEST", "DIGEST ")).collect();
    digests[0].is_some() && digests.windows(2).all(|w| w[0] == w[1])
}

/// Polls `done` until it holds, with a progress line, for at most `limit`
/// (and never past `deadline`); the time it took, or `None`.
pub(crate) fn wait_for(
    what: &str,
    limit: Duration,
    deadline: Instant,
    mut done: impl FnMut() -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    let end = deadline.min(start + limit);
    let spinner = ['|', '/', '-', '\\'];
    let mut i = 0;
    loop {
        if done() {
            println!(
                "\r  {what}: {:>6.0} ms                 ",
                start.elapsed().as_secs_f64() * 1e3
            );
            return Some(start.elapsed());
        }
        if Instant::now() >= end {
            println!(
                "\r  {what}: NOT within {:.1} s          ",
                start.elapsed().as_secs_f64()
            );
            return None;
        }
        print!(
            "\r  {what}: waiting {} {:>5.1} s",
            spinner[i % 4],
            start.elapsed().as_secs_f64()
        );
        let _ = std::io::stdout().flush();
        i += 1;
        // The polling interval; the condition above decides.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the replicas in `rs` agree; the time it took.
pub(crate) fn wait_converged(
    rs: &mut [Replica],
    what: &str,
    deadline: Instant,
) -> Option<Duration> {
    wait_for(
        &format!("{what}: converged in"),
        Duration::from_secs(20),
        deadline,
        || converged(rs),
    )
}
