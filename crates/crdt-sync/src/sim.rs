//! A deterministic, seeded network simulator for [`Engine`]s.
//!
//! N replicas run real engines over a simulated network with a topology,
//! message loss, duplication, reordering (random delays), partitions that
//! heal, and replicas that crash and restart from their last saved snapshot
//! (with a fresh replica id, so no dot is ever minted twice). Time is
//! simulated in 1 ms steps; everything random comes from one seeded
//! generator, so a run is reproducible from its [`SimConfig`] alone.
//!
//! ```
//! use std::time::Duration;
//! use crdt_sync::sim::{SimConfig, Simulation, Topology};
//! use crdt_types::OrSet;
//!
//! let config = SimConfig {
//!     replicas: 5,
//!     topology: Topology::Ring,
//!     loss: 0.1,
//!     duplicate: 0.05,
//!     ..SimConfig::default()
//! };
//! // Each replica inserts a random small number now and then.
//! let report = Simulation::new(config, OrSet::<u64>::new())
//!     .unwrap()
//!     .run(|rng, _i, me, set| set.insert(me, rng.below(1000)));
//! assert!(report.all_good(), "{report:?}");
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::{Duration, Instant};

use crdt_core::ReplicaId;

use crate::{
    Config, ConfigError, Engine, Envelope, Message, Mode, Payload, PeerId, Replicated, codec,
};

mod harsh;

pub use harsh::{FORGER, harsh, map_of_sets, one_dot_two_elements, or_set_churn};

/// A small, fast, seeded random generator (splitmix64). Deterministic on
/// every platform.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Who talks to whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topology {
    /// Everyone with everyone.
    FullMesh,
    /// A ring lattice: each replica linked to its `degree` nearest ring
    /// neighbours (`degree / 2` on each side).
    PartialMesh {
        /// Links per replica (even; at least 2).
        degree: usize,
    },
    /// Each replica linked to the next and the previous.
    Ring,
    /// A tree: replica `i > 0` is linked to its parent `(i - 1) / fanout`.
    Tree {
        /// Children per node.
        fanout: usize,
    },
}

impl Topology {
    /// The neighbours of replica `i` among `n`.
    #[must_use]
    pub fn neighbours(&self, i: usize, n: usize) -> Vec<usize> {
        let mut out: Vec<usize> = match self {
            Self::FullMesh => (0..n).filter(|&j| j != i).collect(),
            Self::Ring => Self::PartialMesh { degree: 2 }.neighbours(i, n),
            Self::PartialMesh { degree } => {
                let half = (degree / 2).max(1);
                (1..=half)
                    .flat_map(|k| [(i + k) % n, (i + n - k % n) % n])
                    .filter(|&j| j != i)
                    .collect()
            }
            Self::Tree { fanout } => {
                let f = (*fanout).max(1);
                let mut v: Vec<usize> = (1..=f).map(|c| i * f + c).filter(|&c| c < n).collect();
                if i > 0 {
                    v.push((i - 1) / f);
                }
                v
            }
        };
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// A partition: from `start` to `end`, replicas in `0..split` cannot reach
/// replicas in `split..` (messages between the sides are dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// When the link cut begins.
    pub start: Duration,
    /// When it heals.
    pub end: Duration,
    /// The first replica index of the second side.
    pub split: usize,
}

/// A crash: replica `replica` stops at `at` and restarts `down_for` later
/// from its last snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crash {
    /// The replica index.
    pub replica: usize,
    /// When it crashes.
    pub at: Duration,
    /// How long it stays down.
    pub down_for: Duration,
}

/// Everything about a run. Defaults: 3 replicas, full mesh, no faults,
/// writes every 50 ms for 2 s, snapshots every 500 ms, at most 120 s.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// How many replicas.
    pub replicas: usize,
    /// Who talks to whom.
    pub topology: Topology,
    /// The seed of every random choice.
    pub seed: u64,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Shortest delivery delay.
    pub min_delay: Duration,
    /// Longest delivery delay (random in between: messages reorder).
    pub max_delay: Duration,
    /// Link cuts that heal.
    pub partitions: Vec<Partition>,
    /// Crashes with restart from the last snapshot.
    pub crashes: Vec<Crash>,
    /// How often each live replica runs the workload.
    pub write_every: Duration,
    /// When the workload stops.
    pub write_until: Duration,
    /// How often each replica saves a snapshot (what it restarts from).
    pub snapshot_every: Duration,
    /// When to give up waiting for convergence.
    pub max_time: Duration,
    /// The engines' configuration.
    pub engine: Config,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            replicas: 3,
            topology: Topology::FullMesh,
            seed: 1,
            loss: 0.0,
            duplicate: 0.0,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
            partitions: Vec::new(),
            crashes: Vec::new(),
            write_every: Duration::from_millis(50),
            write_until: Duration::from_secs(2),
            snapshot_every: Duration::from_millis(500),
            max_time: Duration::from_secs(120),
            engine: Config::default(),
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Whether every live replica ended with the same state before
    /// `max_time`, after writes stopped and every fault was over.
    pub converged: bool,
    /// Simulated time from the end of the last write or fault to
    /// convergence.
    pub time_to_converge: Duration,
    /// The same, in sync rounds.
    pub rounds_to_converge: u64,
    /// Whether all replicas' final states are equal.
    pub states_equal: bool,
    /// Whether the final state contains every write that some live replica
    /// still held (a write is excused only when every replica that held it
    /// crashed and restarted from a snapshot without it).
    pub no_acknowledged_write_lost: bool,
    /// Whether every final state is below the join of the initial state and
    /// all writes: nothing was invented.
    pub nothing_invented: bool,
    /// Writes that carried a dot some earlier write already carried with
    /// another payload (0 when no dot was ever minted twice).
    pub dots_reused: u64,
    /// Moments at which two neighbouring engines both reported
    /// `is_synced()` while their states differed (must be 0).
    pub synced_but_different: u64,
    /// Whether every live engine reported `is_synced()` at the end (always
    /// true in state mode, which has no acknowledgements).
    pub all_synced: bool,
    /// Local writes the engines refused (must be 0 for a workload that
    /// writes with the id it is given).
    pub refused_writes: u64,
    /// Bytes sent by all engines.
    pub bytes: u64,
    /// Messages sent by all engines.
    pub messages: u64,
    /// Messages and bytes sent, per message kind (the kind byte of the
    /// header; [`crate::MessageKind::from_code`]).
    pub by_kind: BTreeMap<u8, (u64, u64)>,
    /// Messages the network dropped (loss, partitions, crashed receivers).
    pub dropped: u64,
    /// Messages the network delivered twice.
    pub duplicated: u64,
    /// Local writes made.
    pub writes: u64,
    /// Forged payloads delivered (see [`Simulation::with_forgery`]).
    pub forged: u64,
    /// Received payloads that held a dot with another content than the
    /// receiver's, summed over the final live engines
    /// ([`crate::Metrics::dot_conflicts`]).
    pub dot_conflicts: u64,
    /// Fingerprint comparisons that found an origin held differently,
    /// summed over the final live engines.
    pub integrity_mismatches: u64,
}

impl Report {
    /// Whether a run met every property: converged, equal, nothing lost or
    /// invented, no dot reused, `is_synced()` truthful and true at the end,
    /// no refused write.
    #[must_use]
    pub fn all_good(&self) -> bool {
        self.converged
            && self.states_equal
            && self.no_acknowledged_write_lost
            && self.nothing_invented
            && self.dots_reused == 0
            && self.synced_but_different == 0
            && self.all_synced
            && self.refused_writes == 0
    }
}

/// One message in flight.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Flight {
    at: Duration,
    order: u64,
    to: usize,
    from: usize,
    bytes: Vec<u8>,
}

/// A simulation of `config.replicas` engines replicating a `T`.
#[derive(Debug)]
pub struct Simulation<T> {
    config: SimConfig,
    initial: T,
    forgery: Vec<Forged<T>>,
}

/// One forged message: at `at`, replica `to` receives `state` as a delta
/// that claims to come from its first neighbour (a forger that can reach
/// it and knows a peer id, but does not see the traffic). Forging the same
/// dot with different contents for different replicas is the "one dot, two
/// values" attack; the run must still converge, to the join of everything.
#[derive(Clone, Debug)]
pub struct Forged<T> {
    /// When it is delivered.
    pub at: Duration,
    /// The receiving replica's index.
    pub to: usize,
    /// The forged state.
    pub state: T,
}

/// A write a replica made, for the lost-write check.
struct Write<T> {
    delta: T,
}

impl<T: Replicated> Simulation<T> {
    /// A simulation whose replicas all start from `initial`, or the reason
    /// the engines' configuration is refused.
    pub fn new(config: SimConfig, initial: T) -> Result<Self, ConfigError> {
        config.engine.validate()?;
        Ok(Self {
            config,
            initial,
            forgery: Vec::new(),
        })
    }

    /// Adds forged messages to the run (see [`Forged`]). What they carry
    /// counts as written (nothing invented includes it), and the run's
    /// quiet period starts after the last one.
    #[must_use]
    pub fn with_forgery(mut self, forgery: Vec<Forged<T>>) -> Self {
        self.forgery.extend(forgery);
        self
    }

    /// Runs the simulation. `workload(rng, index, writer, state)` is called
    /// for each live replica every `write_every` until `write_until`; it
    /// mutates the state and returns the delta (a bottom delta means no
    /// write). `writer` is the replica id to write with (it changes after a
    /// restart).
    pub fn run(&self, workload: impl FnMut(&mut Rng, usize, ReplicaId, &mut T) -> T) -> Report {
        self.run_with_final(workload, |_| {})
    }

    /// [`Simulation::run`], then `on_final` on each live replica's final
    /// state.
    pub fn run_with_final(
        &self,
        mut workload: impl FnMut(&mut Rng, usize, ReplicaId, &mut T) -> T,
        mut on_final: impl FnMut(&T),
    ) -> Report {
        let c = &self.config;
        let n = c.replicas;
        let base = Instant::now();
        let mut rng = Rng::new(c.seed);
        let mut next_id = 0u128;
        let mut fresh_id = |rng: &mut Rng| {
            next_id += 1;
            ReplicaId::from_u128((u128::from(rng.next_u64()) << 64) | next_id)
        };
        let neighbours: Vec<Vec<usize>> = (0..n).map(|i| c.topology.neighbours(i, n)).collect();
        let start = |id: ReplicaId, state: T, now: Instant, i: usize| {
            // The config was validated in `Simulation::new`.
            let mut e = Engine::restore_as(id, state, c.engine.clone(), now).ok()?;
            for &j in &neighbours[i] {
                e.add_peer(PeerId(j as u64), now);
            }
            Some(e)
        };
        let mut engines: Vec<Option<Engine<T>>> = (0..n)
            .map(|i| start(fresh_id(&mut rng), self.initial.clone(), base, i))
            .collect();
        let mut snapshots: Vec<(Duration, T)> = vec![(Duration::ZERO, self.initial.clone()); n];
        let mut down_until: Vec<Option<Duration>> = vec![None; n];
        let mut flights: BinaryHeap<Reverse<Flight>> = BinaryHeap::new();
        let mut order = 0u64;
        let mut writes: Vec<Write<T>> = Vec::new();
        let mut excused: Vec<bool> = Vec::new();
        let mut report = Report::default();
        let mut everything = self.initial.clone();
        for f in &self.forgery {
            everything.join(&f.state);
        }
        let quiet_from = c
            .partitions
            .iter()
            .map(|p| p.end)
            .chain(c.crashes.iter().map(|k| k.at + k.down_for))
            .chain([c.write_until])
            .chain(self.forgery.iter().map(|f| f.at))
            .max()
            .unwrap_or_default();
        let step = Duration::from_millis(1);
        let mut t = Duration::ZERO;

        while t <= c.max_time {
            let now = base + t;
            // Crashes and restarts.
            for k in &c.crashes {
                if k.at == t && engines[k.replica].is_some() {
                    engines[k.replica] = None;
                    down_until[k.replica] = Some(t + k.down_for);
                    // A write no live replica holds any more, and that the
                    // snapshot to restart from lacks, is legitimately lost.
                    let snapshot = &snapshots[k.replica].1;
                    for (w, ex) in writes.iter().zip(excused.iter_mut()) {
                        if !*ex && !w.delta.leq(snapshot) {
                            *ex = !engines.iter().flatten().any(|e| w.delta.leq(e.state()));
                        }
                    }
                }
            }
            for i in 0..n {
                if down_until[i] == Some(t) {
                    down_until[i] = None;
                    engines[i] = start(fresh_id(&mut rng), snapshots[i].1.clone(), now, i);
                }
            }
            // Workload and snapshots.
            let writing = t < c.write_until
                && t.as_millis()
                    .is_multiple_of(c.write_every.as_millis().max(1));
            let snapshotting = t
                .as_millis()
                .is_multiple_of(c.snapshot_every.as_millis().max(1));
            for (i, slot) in engines.iter_mut().enumerate() {
                let Some(e) = slot else { continue };
                if writing {
                    let mut recorded = None;
                    let outcome = e.update(|s, me| {
                        let d = workload(&mut rng, i, me, s);
                        recorded = Some(d.clone());
                        d
                    });
                    match (outcome, recorded.filter(|d| !d.is_bottom())) {
                        (Err(_), _) => report.refused_writes += 1,
                        (Ok(()), Some(d)) => {
                            report.writes += 1;
                            if everything.reused_dot(&d).is_some() {
                                report.dots_reused += 1;
                            }
                            everything.join(&d);
                            writes.push(Write { delta: d });
                            excused.push(false);
                        }
                        (Ok(()), None) => {}
                    }
                }
                if snapshotting {
                    snapshots[i] = (t, e.state().clone());
                }
                if e.poll_timeout() <= now {
                    e.handle_timeout(now);
                }
            }
            for f in self.forgery.iter().filter(|f| f.at == t) {
                let spoofed = neighbours.get(f.to).and_then(|ns| ns.first());
                if let (Some(Some(e)), Some(&from)) = (engines.get_mut(f.to), spoofed)
                    && let Ok(bytes) = forged_bytes(&f.state)
                    && e.handle_message(now, PeerId(from as u64), &bytes).is_ok()
                {
                    report.forged += 1;
                }
            }
            // Deliver what is due, then send what that produced.
            while flights.peek().is_some_and(|f| f.0.at <= t) {
                let Some(Reverse(f)) = flights.pop() else {
                    break;
                };
                match engines[f.to].as_mut() {
                    Some(e) => {
                        let _ = e.handle_message(now, PeerId(f.from as u64), &f.bytes);
                    }
                    None => report.dropped += 1,
                }
            }
            for (i, slot) in engines.iter_mut().enumerate() {
                let Some(e) = slot.as_mut() else {
                    continue;
                };
                while let Some(tx) = e.poll_transmit() {
                    report.messages += 1;
                    report.bytes += tx.bytes.len() as u64;
                    if let Some(&kind) = tx.bytes.get(3) {
                        let entry = report.by_kind.entry(kind).or_default();
                        entry.0 += 1;
                        entry.1 += tx.bytes.len() as u64;
                    }
                    let to = tx.to.0 as usize;
                    let cut = c
                        .partitions
                        .iter()
                        .any(|p| t >= p.start && t < p.end && ((i < p.split) != (to < p.split)));
                    if cut || to >= n || rng.chance(c.loss) {
                        report.dropped += 1;
                        continue;
                    }
                    let copies = if rng.chance(c.duplicate) {
                        report.duplicated += 1;
                        2
                    } else {
                        1
                    };
                    for _ in 0..copies {
                        let span = c.max_delay.saturating_sub(c.min_delay).as_millis() as u64;
                        let delay = c.min_delay + Duration::from_millis(rng.below(span + 1));
                        order += 1;
                        flights.push(Reverse(Flight {
                            at: t + delay.max(step),
                            order,
                            to,
                            from: i,
                            bytes: tx.bytes.clone(),
                        }));
                    }
                }
            }
            report.synced_but_different += synced_but_different(&engines, &neighbours);
            // Converged (and every engine knows it)?
            if t >= quiet_from && all_equal(&engines) && all_synced(&engines, c.engine.mode) {
                report.converged = true;
                report.time_to_converge = t - quiet_from;
                report.rounds_to_converge = (report.time_to_converge.as_millis()
                    / c.engine.sync_interval.as_millis().max(1))
                    as u64;
                break;
            }
            t += step;
        }

        report.states_equal = all_equal(&engines);
        report.all_synced = all_synced(&engines, c.engine.mode);
        let mut required = T::default();
        for (w, ex) in writes.iter().zip(&excused) {
            if !ex {
                required.join(&w.delta);
            }
        }
        report.no_acknowledged_write_lost =
            engines.iter().flatten().all(|e| required.leq(e.state()));
        report.nothing_invented = engines.iter().flatten().all(|e| e.state().leq(&everything));
        for e in engines.iter().flatten() {
            report.dot_conflicts += e.metrics().dot_conflicts;
            report.integrity_mismatches += e.metrics().integrity_mismatches;
            on_final(e.state());
        }
        report
    }
}

/// A forged delta: both epochs unknown (0), as from a forger that does not
/// see the traffic.
fn forged_bytes<T: Replicated>(state: &T) -> Result<Vec<u8>, crate::EncodeError> {
    codec::encode(&Envelope {
        from_epoch: 0,
        to_epoch: 0,
        message: Message::Delta(Payload {
            id: u64::MAX,
            part: 0,
            parts: 1,
            state: state.clone(),
        }),
    })
}

/// Neighbouring live engines that both report `is_synced()` with different
/// states.
fn synced_but_different<T: Replicated>(
    engines: &[Option<Engine<T>>],
    neighbours: &[Vec<usize>],
) -> u64 {
    let synced: Vec<bool> = engines
        .iter()
        .map(|e| e.as_ref().is_some_and(Engine::is_synced))
        .collect();
    let mut bad = 0;
    for (i, ns) in neighbours.iter().enumerate() {
        for &j in ns.iter().filter(|&&j| j > i) {
            if synced[i]
                && synced[j]
                && let (Some(a), Some(b)) = (&engines[i], &engines[j])
                && a.state() != b.state()
            {
                bad += 1;
            }
        }
    }
    bad
}

/// Whether every live engine reports `is_synced()` (state mode has no
/// acknowledgements: there, equal states are all there is to check).
fn all_synced<T: Replicated>(engines: &[Option<Engine<T>>], mode: Mode) -> bool {
    mode == Mode::State || engines.iter().flatten().all(Engine::is_synced)
}

fn all_equal<T: Replicated>(engines: &[Option<Engine<T>>]) -> bool {
    let mut live = engines.iter().flatten();
    match live.next() {
        Some(first) => live.all(|e| e.state() == first.state()),
        None => true,
    }
}
