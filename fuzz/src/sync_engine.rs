//! The `sync_engine` target: its structured input, the bytes `arbitrary`
//! reads back into it ([`Input::to_bytes`]), and the run itself, stepwise
//! ([`Sim`]) so a seed can pick each op from the messages actually in
//! flight.
//!
//! Three engines (an OR-set of up to 8 small elements each) on a topology
//! (two engines, a line of three, a full mesh of three) and a message limit
//! (so splitting and coarsened digests happen) that the input chooses, under
//! local writes, deliveries in any order, drops, duplicates, timer ticks,
//! snapshots and crash-restarts from old snapshots. At every step, two
//! linked engines that both report `is_synced()` hold equal states; after a
//! final fault-free exchange (messages only, no state is joined by hand)
//! every engine reports `is_synced()`, all are equal, and no dot was ever
//! minted twice. A violation panics (the fuzzer's finding).
//!
//! ```
//! use arbitrary::{Arbitrary, Unstructured};
//! use crdt_fuzz::sync_engine::{Input, Op};
//!
//! let input = Input {
//!     topology: 0,
//!     limit: 3,
//!     ops: vec![Op::Insert(0, 7), Op::Tick(9), Op::Deliver(0), Op::Drop(0)],
//! };
//! let bytes = input.to_bytes();
//! assert_eq!(Input::arbitrary_take_rest(Unstructured::new(&bytes)).unwrap(), input);
//! let outcome = input.run();
//! assert_eq!(outcome.lost.len(), 1);
//! ```

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use crdt_core::ReplicaId;
use crdt_sync::{Config, Engine, Message, MessageKind, Metrics, PeerId, codec};
use crdt_types::{CausalCrdt, OrSet};

/// How many engines the target runs.
pub const N: usize = 3;

/// How many ops of an input are run (the rest are ignored).
pub const MAX_OPS: usize = 200;

/// The engines of the target.
pub type E = Engine<OrSet<u8>>;

/// One step of a schedule (engine and flight numbers are taken modulo the
/// number of engines and of messages in flight).
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Engine `.0` inserts element `.1 % 8`.
    Insert(u8, u8),
    /// Engine `.0` removes element `.1 % 8`.
    Remove(u8, u8),
    /// Time passes (`.0 % 32 + 1` ms); every engine runs its timers.
    Tick(u8),
    /// The network delivers flight `.0`.
    Deliver(u8),
    /// The network loses flight `.0`.
    Drop(u8),
    /// The network duplicates flight `.0` (the copy goes last).
    Duplicate(u8),
    /// Engine `.0`'s state is saved.
    Snapshot(u8),
    /// Engine `.0` crashes and restarts from its last snapshot under a
    /// fresh replica id.
    Restart(u8),
}

/// A whole input: the network's shape and limit, then the schedule.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// 0 = engines 0 and 1 only (engine 2 idle), 1 = a line 0 - 1 - 2,
    /// otherwise a full mesh (taken modulo 3).
    pub topology: u8,
    /// The message limit: 128, 200 or 400 bytes, or 1 MiB (modulo 4).
    pub limit: u8,
    /// The schedule (the first [`MAX_OPS`] are run).
    pub ops: Vec<Op>,
}

impl Input {
    /// The bytes `Input::arbitrary_take_rest` reads back into `self` (see
    /// [`crate::engine_bytes::Input::to_bytes`] for the format).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.topology, self.limit];
        for &op in &self.ops {
            out.push(1);
            let (index, fields) = match op {
                Op::Insert(a, b) => (0, vec![a, b]),
                Op::Remove(a, b) => (1, vec![a, b]),
                Op::Tick(a) => (2, vec![a]),
                Op::Deliver(a) => (3, vec![a]),
                Op::Drop(a) => (4, vec![a]),
                Op::Duplicate(a) => (5, vec![a]),
                Op::Snapshot(a) => (6, vec![a]),
                Op::Restart(a) => (7, vec![a]),
            };
            crate::write_variant(&mut out, index, 8);
            out.extend(fields);
        }
        out
    }

    /// Runs the input as the target does; panics on a violation.
    #[must_use]
    pub fn run(&self) -> Outcome {
        let mut sim = Sim::new(self.topology, self.limit);
        for &op in self.ops.iter().take(MAX_OPS) {
            sim.step(op);
        }
        sim.finish()
    }
}

/// What a message in flight is (payload id and parts are 0 where the kind
/// has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    /// The message kind.
    pub kind: MessageKind,
    /// The payload id (payloads and acks).
    pub id: u64,
    /// The part (payloads and acks).
    pub part: u32,
    /// How many parts the payload has (payloads).
    pub parts: u32,
}

/// A message in flight.
#[derive(Clone, Debug)]
pub struct Flight {
    /// The sending engine.
    pub from: usize,
    /// The receiving engine.
    pub to: usize,
    /// The encoded message.
    pub bytes: Vec<u8>,
}

impl Flight {
    /// What the message is (engines only send valid messages).
    #[must_use]
    pub fn kind(&self) -> Kind {
        let envelope = codec::decode::<OrSet<u8>>(&self.bytes, usize::MAX)
            .expect("engines send valid messages");
        let (id, part, parts) = match &envelope.message {
            Message::Delta(p) | Message::CatchUp(p) | Message::State(p) => (p.id, p.part, p.parts),
            Message::Ack { id, part } => (*id, *part, 0),
            Message::Digest { .. } | Message::Fingerprints { .. } => (0, 0, 0),
        };
        Kind {
            kind: envelope.message.kind(),
            id,
            part,
            parts,
        }
    }
}

/// What a run went through: which fault classes it reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Messages lost (sender, receiver, kind).
    pub lost: Vec<(usize, usize, Kind)>,
    /// Messages duplicated.
    pub duplicated: usize,
    /// Messages delivered while an older one on the same link was in flight.
    pub reordered: usize,
    /// Crash-restarts.
    pub restarts: usize,
    /// The longest time that passed with no message delivered, during the
    /// schedule.
    pub longest_quiet: Duration,
    /// Over every incarnation, schedule and ending: split payloads sent.
    pub split_messages: u64,
    /// The same: peers reset for silence.
    pub peer_resets: u64,
    /// The same: peer restarts noticed.
    pub peer_restarts: u64,
}

impl Outcome {
    fn count(&mut self, m: &Metrics) {
        self.split_messages += m.split_messages;
        self.peer_resets += m.peer_resets;
        self.peer_restarts += m.peer_restarts;
    }
}

/// Who talks to whom (see [`Input::topology`]).
#[must_use]
pub fn linked(topology: u8, i: usize, j: usize) -> bool {
    i != j
        && match topology % 3 {
            0 => i < 2 && j < 2,
            1 => i.abs_diff(j) == 1,
            _ => true,
        }
}

fn config(limit: u8) -> Config {
    Config {
        sync_interval: Duration::from_millis(10),
        max_buffered_deltas: 16,
        ack_timeout: Duration::from_millis(200),
        // From the smallest accepted limit (splits and coarsened digests are
        // everyday events there) up to the default.
        max_message_bytes: match limit % 4 {
            0 => 128,
            1 => 200,
            2 => 400,
            _ => 1 << 20,
        },
        ..Config::default()
    }
}

/// The target's run, one op at a time.
pub struct Sim {
    topology: u8,
    limit: u8,
    engines: Vec<E>,
    snapshots: Vec<OrSet<u8>>,
    flights: Vec<Flight>,
    now: Instant,
    last_delivery: Instant,
    next_id: u128,
    /// Every state a crashed replica had, to check that no dot carries two
    /// payloads.
    history: Vec<OrSet<u8>>,
    outcome: Outcome,
}

impl Sim {
    /// Three fresh engines, linked as `topology` says.
    #[must_use]
    pub fn new(topology: u8, limit: u8) -> Self {
        let now = Instant::now();
        let mut sim = Self {
            topology,
            limit,
            engines: Vec::new(),
            snapshots: vec![OrSet::new(); N],
            flights: Vec::new(),
            now,
            last_delivery: now,
            next_id: 10,
            history: Vec::new(),
            outcome: Outcome::default(),
        };
        sim.engines = (0..N)
            .map(|i| {
                let id = ReplicaId::from_u128(i as u128 + 1);
                let e = Engine::new(id, OrSet::new(), config(limit), now);
                sim.link(i, e.expect("a valid config"))
            })
            .collect();
        sim
    }

    /// Engine `i` with its peers added.
    fn link(&self, i: usize, mut e: E) -> E {
        for j in (0..N).filter(|&j| linked(self.topology, i, j)) {
            e.add_peer(PeerId(j as u64), self.now);
        }
        e
    }

    /// The messages in flight, oldest first.
    #[must_use]
    pub fn flights(&self) -> &[Flight] {
        &self.flights
    }

    /// Engine `i`.
    #[must_use]
    pub fn engine(&self, i: usize) -> &E {
        &self.engines[i]
    }

    /// Runs one op, then checks that synced linked engines are equal.
    pub fn step(&mut self, op: Op) {
        let at = |r: u8| usize::from(r) % N;
        match op {
            Op::Insert(r, x) => self.engines[at(r)]
                .update(|s, me| s.insert(me, x % 8))
                .expect("writes with the given id are accepted"),
            Op::Remove(r, x) => self.engines[at(r)]
                .update(|s, _| s.remove(&(x % 8)))
                .expect("removes are accepted"),
            Op::Tick(r) => {
                self.now += Duration::from_millis(u64::from(r % 32) + 1);
                let quiet = self.now - self.last_delivery;
                self.outcome.longest_quiet = self.outcome.longest_quiet.max(quiet);
                for e in &mut self.engines {
                    e.handle_timeout(self.now);
                }
            }
            Op::Deliver(_) | Op::Duplicate(_) | Op::Drop(_) if self.flights.is_empty() => {}
            Op::Deliver(k) => {
                let k = usize::from(k) % self.flights.len();
                let f = self.flights.remove(k);
                if self.flights[..k]
                    .iter()
                    .any(|g| (g.from, g.to) == (f.from, f.to))
                {
                    self.outcome.reordered += 1;
                }
                self.last_delivery = self.now;
                let _ =
                    self.engines[f.to].handle_message(self.now, PeerId(f.from as u64), &f.bytes);
            }
            Op::Duplicate(k) => {
                let f = self.flights[usize::from(k) % self.flights.len()].clone();
                self.flights.push(f);
                self.outcome.duplicated += 1;
            }
            Op::Drop(k) => {
                let f = self.flights.remove(usize::from(k) % self.flights.len());
                self.outcome.lost.push((f.from, f.to, f.kind()));
            }
            Op::Snapshot(r) => self.snapshots[at(r)] = self.engines[at(r)].state().clone(),
            Op::Restart(r) => {
                let i = at(r);
                self.history.push(self.engines[i].state().clone());
                self.outcome.count(self.engines[i].metrics());
                self.outcome.restarts += 1;
                self.next_id += 1;
                let id = ReplicaId::from_u128(self.next_id);
                let e =
                    Engine::restore_as(id, self.snapshots[i].clone(), config(self.limit), self.now);
                self.engines[i] = self.link(i, e.expect("a valid config"));
            }
        }
        self.collect();
        assert!(self.flights.len() < 100_000);
        self.synced_means_equal();
    }

    fn collect(&mut self) {
        for (i, e) in self.engines.iter_mut().enumerate() {
            while let Some(t) = e.poll_transmit() {
                self.flights.push(Flight {
                    from: i,
                    to: t.to.0 as usize,
                    bytes: t.bytes,
                });
            }
        }
    }

    /// The engines the topology links (engine 2 sits alone in the
    /// two-engine topology and takes no part in convergence).
    fn live(&self) -> impl Iterator<Item = (usize, &E)> {
        let topology = self.topology;
        self.engines
            .iter()
            .enumerate()
            .filter(move |(i, _)| (0..N).any(|j| linked(topology, *i, j)))
    }

    /// Two linked engines that both report `is_synced()` hold equal states.
    fn synced_means_equal(&self) {
        let e = &self.engines;
        for i in 0..N {
            for j in (i + 1..N).filter(|&j| linked(self.topology, i, j)) {
                if e[i].is_synced() && e[j].is_synced() {
                    assert_eq!(
                        e[i].state(),
                        e[j].state(),
                        "engines {i} and {j} both report is_synced() with different states"
                    );
                }
            }
        }
    }

    /// The fault-free ending (deliver everything, run timers, repeat) and
    /// the final checks: every linked engine synced, all equal, no dot
    /// minted twice.
    #[must_use]
    pub fn finish(mut self) -> Outcome {
        for _ in 0..60 {
            self.now += Duration::from_millis(50);
            for e in &mut self.engines {
                e.handle_timeout(self.now);
            }
            self.collect();
            while !self.flights.is_empty() {
                let f = self.flights.remove(0);
                self.engines[f.to]
                    .handle_message(self.now, PeerId(f.from as u64), &f.bytes)
                    .expect("engines only send valid messages");
                self.collect();
                self.synced_means_equal();
            }
            if self.live().all(|(_, e)| e.is_synced()) {
                break;
            }
        }
        let first = self.live().next().map(|(_, e)| e.state().clone());
        for (i, e) in self.live() {
            assert!(e.is_synced(), "engine {i} never reports is_synced()");
            assert_eq!(Some(e.state()), first.as_ref(), "replicas did not converge");
        }
        let live: Vec<&E> = self.live().map(|(_, e)| e).collect();
        let mut all = live[0].state().as_causal().clone();
        for s in self.history.iter().chain(live.iter().map(|e| e.state())) {
            assert!(all.checked_join(s.as_causal()).is_ok(), "a dot was reused");
        }
        let mut outcome = std::mem::take(&mut self.outcome);
        for e in &self.engines {
            outcome.count(e.metrics());
        }
        outcome
    }
}
