//! Property-testing support (feature `quickcheck`): random states, random
//! operations, and one distributed-trace property for any replicated type.
//!
//! * [`Mutate`] is "a type with random mutators": an operation type that
//!   quickcheck can generate, and a way to apply one at a replica, returning
//!   the delta. Every type of this crate implements it; implement it for your
//!   own type (or composition) to use the rest of this module.
//! * [`History`] is several replicas' states of one random history (random
//!   operations at random replicas, with random syncs between them), the shape
//!   real replicas have; the `Arbitrary` impl of every type of this crate is
//!   one state of such a history ([`arbitrary_state`]).
//! * [`check_trace`] runs one random [`Trace`] (2 to 5 replicas, local
//!   mutations, syncs by delta or by full state, messages reordered,
//!   duplicated, and lost then resent) and checks that the replicas converge,
//!   to the join of every delta, and to where full-state sync ends;
//!   [`check_convergence`] runs it under quickcheck.
//!
//! ```
//! use crdt_types::OrSet;
//! use crdt_types::testing::{check_convergence, Tiny};
//! check_convergence::<OrSet<Tiny>>();
//! ```

use std::fmt::Debug;

use crdt_core::{Decompose, InvalidState, ReplicaId};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

pub use crate::causal_counter::CounterOp;
pub use crate::mv_register::RegisterOp;
pub use crate::or_map::MapOp;
pub use crate::or_set::SetOp;

/// A replicated type with random mutators.
pub trait Mutate: Decompose + Debug + 'static {
    /// One random local mutation.
    type Op: Arbitrary + Debug;

    /// Applies `op` at `replica` and returns its delta (as the type's own
    /// mutators do: `self` after equals `self` before joined with the delta).
    fn apply(&mut self, replica: ReplicaId, op: &Self::Op) -> Self;

    /// The type's `validate()`; checked on every state at the end of a
    /// trace. The default accepts every state.
    fn validate(&self) -> Result<(), InvalidState> {
        Ok(())
    }
}

/// A small element type (values 0 to 3), so that random operations on sets
/// and maps hit the same elements and keys often.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Debug,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Tiny(pub u8);

impl Arbitrary for Tiny {
    fn arbitrary(g: &mut Gen) -> Self {
        Self(u8::arbitrary(g) % 4)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new((0..self.0).map(Tiny))
    }
}

/// The replica id of replica number `i` in histories and traces.
#[must_use]
pub fn replica(i: usize) -> ReplicaId {
    ReplicaId::from_u128(i as u128 + 1)
}

fn below(g: &mut Gen, n: usize) -> usize {
    usize::arbitrary(g) % n.max(1)
}

/// Three replicas' states of one random history: random operations at
/// random replicas, with random state syncs between them. The states are
/// related as real replicas are (a dot always carries the same payload), so
/// they are the right input for lattice laws.
#[derive(Clone, Debug)]
pub struct History<T> {
    /// The replicas' states.
    pub states: Vec<T>,
}

impl<T: Mutate> Arbitrary for History<T> {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut states = vec![T::default(); 3];
        let steps = below(g, g.size().min(24) + 1);
        for _ in 0..steps {
            let i = below(g, states.len());
            if below(g, 4) == 0 {
                let from = states[below(g, 3)].clone();
                states[i].join(&from);
            } else {
                let op = T::Op::arbitrary(g);
                let _ = states[i].apply(replica(i), &op);
            }
        }
        Self { states }
    }

    /// Forgets one state at a time, then one part of each.
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let this = self.clone();
        Box::new((0..this.states.len()).flat_map(move |i| {
            let this = this.clone();
            shrink_state(&this.states[i]).map(move |smaller| {
                let mut states = this.states.clone();
                states[i] = smaller;
                History { states }
            })
        }))
    }
}

/// One state of a random [`History`]: what `Arbitrary::arbitrary` of every
/// type in this crate returns.
pub fn arbitrary_state<T: Mutate>(g: &mut Gen) -> T {
    let mut history = History::<T>::arbitrary(g);
    let pick = below(g, history.states.len());
    history.states.swap_remove(pick)
}

/// Smaller states: the join of all but one part of the state's
/// decomposition (every such join is a valid state).
pub fn shrink_state<T: Mutate>(state: &T) -> Box<dyn Iterator<Item = T>> {
    let parts = state.decompose();
    let n = parts.len().min(16);
    Box::new((0..n).map(move |skip| {
        let mut out = T::default();
        for (i, p) in parts.iter().enumerate() {
            if i != skip {
                out.join(p);
            }
        }
        out
    }))
}

/// `Arbitrary` for a type from its [`Mutate`] impl.
macro_rules! arbitrary_via_mutate {
    (impl[$($g:tt)*] $ty:ty $(where $($w:tt)*)?) => {
        impl<$($g)*> ::quickcheck::Arbitrary for $ty $(where $($w)*)? {
            fn arbitrary(g: &mut ::quickcheck::Gen) -> Self {
                $crate::testing::arbitrary_state(g)
            }

            fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
                $crate::testing::shrink_state(self)
            }
        }
    };
}

pub(crate) use arbitrary_via_mutate;

/// One step of a [`Trace`]. Replica and message numbers are taken modulo
/// the number of replicas and of messages in flight.
#[derive(Clone, Debug)]
pub enum Step<Op> {
    /// A local mutation at a replica.
    Mutate {
        /// The replica.
        at: usize,
        /// The mutation.
        op: Op,
    },
    /// A replica sends a peer the deltas that peer has not been sent yet.
    SendDelta {
        /// The sender.
        from: usize,
        /// The receiver.
        to: usize,
    },
    /// A replica sends a peer its whole state.
    SendState {
        /// The sender.
        from: usize,
        /// The receiver.
        to: usize,
    },
    /// A message in flight arrives (in any order); a duplicated one stays in
    /// flight and can arrive again.
    Deliver {
        /// Which message.
        pick: usize,
        /// Whether it stays in flight.
        duplicate: bool,
    },
    /// A message in flight is lost; a lost delta is sent again later.
    Lose {
        /// Which message.
        pick: usize,
    },
}

/// A random distributed execution: 2 to 5 replicas and a list of steps.
#[derive(Clone, Debug)]
pub struct Trace<Op> {
    /// The number of replicas (2 to 5).
    pub replicas: usize,
    /// The steps, in order.
    pub steps: Vec<Step<Op>>,
}

impl<Op: Arbitrary> Arbitrary for Trace<Op> {
    fn arbitrary(g: &mut Gen) -> Self {
        let replicas = 2 + below(g, 4);
        let len = below(g, g.size().min(60) + 1);
        let steps = (0..len)
            .map(|_| {
                let (from, to) = (below(g, replicas), below(g, replicas));
                match below(g, 20) {
                    0..=8 => Step::Mutate {
                        at: from,
                        op: Op::arbitrary(g),
                    },
                    9..=12 => Step::SendDelta { from, to },
                    13 => Step::SendState { from, to },
                    14..=17 => Step::Deliver {
                        pick: usize::arbitrary(g),
                        duplicate: below(g, 4) == 0,
                    },
                    _ => Step::Lose {
                        pick: usize::arbitrary(g),
                    },
                }
            })
            .collect();
        Self { replicas, steps }
    }

    /// Drops one replica, or one step, or shrinks one mutation.
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let this = self.clone();
        let smaller_ops = {
            let this = this.clone();
            (0..this.steps.len()).flat_map(move |i| {
                let this = this.clone();
                let ops = match &this.steps[i] {
                    Step::Mutate { op, .. } => op.shrink(),
                    _ => Box::new(std::iter::empty()),
                };
                ops.map(move |op| {
                    let mut steps = this.steps.clone();
                    if let Step::Mutate { op: slot, .. } = &mut steps[i] {
                        *slot = op;
                    }
                    Trace {
                        replicas: this.replicas,
                        steps,
                    }
                })
            })
        };
        let fewer_replicas = (this.replicas > 2).then(|| Trace {
            replicas: this.replicas - 1,
            steps: this.steps.clone(),
        });
        let n = this.steps.len();
        let fewer_steps = (0..n).rev().map(move |skip| {
            let mut steps = this.steps.clone();
            steps.remove(skip);
            Trace {
                replicas: this.replicas,
                steps,
            }
        });
        Box::new(
            fewer_replicas
                .into_iter()
                .chain(fewer_steps)
                .chain(smaller_ops),
        )
    }
}

/// A message in flight, in both runs of [`check_trace`].
#[derive(Clone)]
struct Message<T> {
    from: usize,
    to: usize,
    /// What the run under test ships (a delta group or a whole state).
    payload: T,
    is_delta: bool,
    /// What the full-state reference run ships (always the whole state).
    full: T,
}

/// The run under test (delta sync) and the reference run (full-state sync)
/// of one trace, in lock step: every mutation is made in the delta run and
/// its delta applied at the same replica of the reference run, and every
/// message is sent, delivered, duplicated or lost in both.
struct Run<T> {
    states: Vec<T>,
    full: Vec<T>,
    /// `outbox[i][j]`: the deltas replica `i` has yet to send `j`.
    outbox: Vec<Vec<T>>,
    in_flight: Vec<Message<T>>,
    everything: T,
}

impl<T: Mutate> Run<T> {
    fn new(replicas: usize) -> Self {
        Self {
            states: vec![T::default(); replicas],
            full: vec![T::default(); replicas],
            outbox: vec![vec![T::default(); replicas]; replicas],
            in_flight: Vec::new(),
            everything: T::default(),
        }
    }

    fn step(&mut self, step: &Step<T::Op>) -> Result<(), String> {
        let n = self.states.len();
        match step {
            Step::Mutate { at, op } => {
                let at = at % n;
                let before = self.states[at].clone();
                let delta = self.states[at].apply(replica(at), op);
                if before.joined(&delta) != self.states[at] {
                    return Err(format!(
                        "delta of {op:?} at {at} does not give the new state"
                    ));
                }
                self.full[at].join(&delta);
                self.everything.join(&delta);
                self.queue(at, None, &delta);
            }
            Step::SendDelta { from, to } | Step::SendState { from, to } => {
                let (from, to) = (from % n, to % n);
                if from == to {
                    return Ok(());
                }
                let is_delta = matches!(step, Step::SendDelta { .. });
                let payload = if is_delta {
                    std::mem::take(&mut self.outbox[from][to])
                } else {
                    self.states[from].clone()
                };
                self.in_flight.push(Message {
                    from,
                    to,
                    payload,
                    is_delta,
                    full: self.full[from].clone(),
                });
            }
            Step::Deliver { pick, duplicate } => {
                if self.in_flight.is_empty() {
                    return Ok(());
                }
                let i = pick % self.in_flight.len();
                let message = if *duplicate {
                    self.in_flight[i].clone()
                } else {
                    self.in_flight.remove(i)
                };
                self.receive(message)?;
            }
            Step::Lose { pick } => {
                if self.in_flight.is_empty() {
                    return Ok(());
                }
                let lost = self.in_flight.remove(pick % self.in_flight.len());
                if lost.is_delta {
                    // Not acknowledged: it goes back to be sent again.
                    self.outbox[lost.from][lost.to].join_owned(lost.payload);
                }
            }
        }
        Ok(())
    }

    /// Joins a message at its receiver and queues the part that was new there
    /// for the receiver's other peers.
    fn receive(&mut self, m: Message<T>) -> Result<(), String> {
        let fresh = m.payload.delta_from(&self.states[m.to]);
        let via_fresh = self.states[m.to].clone().joined(&fresh);
        self.states[m.to].join(&m.payload);
        if via_fresh != self.states[m.to] {
            return Err(format!("delta_from lost part of {:?}", m.payload));
        }
        self.full[m.to].join_owned(m.full);
        if !self.states[m.to].leq(&self.full[m.to]) {
            return Err(format!(
                "replica {} knows more by delta than by full state",
                m.to
            ));
        }
        if !fresh.is_bottom() {
            self.queue(m.to, Some(m.from), &fresh);
        }
        Ok(())
    }

    fn queue(&mut self, at: usize, except: Option<usize>, delta: &T) {
        for (peer, pending) in self.outbox[at].iter_mut().enumerate() {
            if peer != at && Some(peer) != except {
                pending.join(delta);
            }
        }
    }

    /// Delivers everything in flight, then syncs until quiet: deltas in the
    /// run under test, whole states in the reference run.
    fn settle(&mut self) -> Result<(), String> {
        while let Some(m) = self.in_flight.pop() {
            self.receive(m)?;
        }
        let n = self.states.len();
        for _round in 0..=n * n {
            let mut quiet = true;
            for from in 0..n {
                for to in (0..n).filter(|&to| to != from) {
                    let payload = std::mem::take(&mut self.outbox[from][to]);
                    quiet &= payload.is_bottom();
                    let full = self.full[from].clone();
                    self.receive(Message {
                        from,
                        to,
                        payload,
                        is_delta: true,
                        full,
                    })?;
                }
            }
            if quiet {
                return Ok(());
            }
        }
        Err("delta sync did not quiesce".to_string())
    }

    fn check(&self) -> Result<(), String> {
        for (i, (state, full)) in self.states.iter().zip(&self.full).enumerate() {
            if *state != self.everything {
                return Err(format!(
                    "replica {i} ended at {state:?}, not the join of every delta {:?}",
                    self.everything
                ));
            }
            if full != state {
                return Err(format!(
                    "replica {i}: delta sync ended at {state:?}, full-state sync at {full:?}"
                ));
            }
            state
                .validate()
                .map_err(|e| format!("replica {i} ended invalid: {e}"))?;
        }
        Ok(())
    }
}

/// Runs `trace` and checks that every replica ends equal to every other and
/// to the join of every delta made, that delta sync (with forwarding of the
/// new part of each received delta, and resending of lost ones) ends where
/// full-state sync ends, that every mutation's delta joined into the old
/// state gives the new one, and that no replica ever knows more by delta than
/// by full state.
pub fn check_trace<T: Mutate>(trace: Trace<T::Op>) -> TestResult {
    let mut run = Run::<T>::new(trace.replicas.clamp(2, 5));
    let outcome = trace
        .steps
        .iter()
        .enumerate()
        .try_for_each(|(i, s)| run.step(s).map_err(|e| format!("step {i}: {e}")))
        .and_then(|()| run.settle())
        .and_then(|()| run.check());
    match outcome {
        Ok(()) => TestResult::passed(),
        Err(e) => TestResult::error(e),
    }
}

/// Runs [`check_trace`] on random traces under quickcheck; panics with the
/// shrunk failing trace if one fails.
pub fn check_convergence<T: Mutate>() {
    QuickCheck::new()
        .tests(150)
        .quickcheck(check_trace::<T> as fn(Trace<T::Op>) -> TestResult);
}
