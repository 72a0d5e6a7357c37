//! [`delta_sync`]: one distributed execution ([`Trace`]) run twice in lock
//! step, once syncing by deltas and once by full states.

use std::fmt::Debug;

use super::{Law, LawViolation, Mutate, replica};

/// One step of a [`Trace`]. Replica and message numbers are taken modulo
/// the number of replicas and of messages in flight, so every list of steps
/// is a valid trace.
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

/// A distributed execution: 2 to 5 replicas and a list of steps. Generated
/// by `quickcheck::Arbitrary` (feature `quickcheck`) or
/// `arbitrary::Arbitrary` (feature `arbitrary`, at most 32 steps).
#[derive(Clone, Debug)]
pub struct Trace<Op> {
    /// The number of replicas (clamped to 2 to 5).
    pub replicas: usize,
    /// The steps, in order.
    pub steps: Vec<Step<Op>>,
}

/// Runs `trace` and checks that every replica ends equal to every other and
/// to the join of every delta made, that delta sync (with forwarding of the
/// new part of each received delta, and resending of lost ones) ends where
/// full-state sync ends, that every mutation's delta joined into the old
/// state gives the new one, that no replica ever knows more by delta than by
/// full state, and that every final state passes [`Mutate::validate`].
///
/// Replica `i` mutates as replica id [`replica`]`(i)`.
///
/// ```
/// use crdt_types::laws::{self, SetOp, Step, Trace};
/// use crdt_types::OrSet;
/// let trace = Trace {
///     replicas: 2,
///     steps: vec![
///         Step::Mutate { at: 0, op: SetOp::Insert(1) },
///         Step::Mutate { at: 1, op: SetOp::Remove(1) },
///         Step::SendDelta { from: 0, to: 1 },
///         Step::Deliver { pick: 0, duplicate: true },
///         Step::SendState { from: 1, to: 0 },
///         Step::Lose { pick: 1 },
///     ],
/// };
/// laws::delta_sync::<OrSet<u8>>(&trace)?;
/// # Ok::<(), laws::LawViolation>(())
/// ```
pub fn delta_sync<T: Mutate>(trace: &Trace<T::Op>) -> Result<(), LawViolation> {
    let mut run = Run::<T>::new(trace.replicas.clamp(2, 5));
    for (i, step) in trace.steps.iter().enumerate() {
        run.step(step).map_err(|mut e| {
            e.detail = format!("step {i} ({step:?}): {}", e.detail);
            e
        })?;
    }
    run.settle()?;
    run.check()
}

/// A message in flight, in both runs of [`delta_sync`].
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

fn sync_violation<'a>(
    detail: String,
    states: impl IntoIterator<Item = (&'a str, &'a dyn Debug)>,
) -> LawViolation {
    LawViolation::new(Law::DeltaSync, detail, states)
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

    fn step(&mut self, step: &Step<T::Op>) -> Result<(), LawViolation> {
        let n = self.states.len();
        match step {
            Step::Mutate { at, op } => {
                let at = at % n;
                let before = self.states[at].clone();
                let delta = self.states[at].apply(replica(at), op);
                let joined = before.clone().joined(&delta);
                if joined != self.states[at] {
                    return Err(LawViolation::new(
                        Law::DeltaMutator,
                        format!("m(x) != x ⊔ mδ(x) for {op:?} at replica {at}"),
                        [
                            ("x", &before as &dyn Debug),
                            ("m(x)", &self.states[at]),
                            ("mδ(x)", &delta),
                            ("x ⊔ mδ(x)", &joined),
                        ],
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
    fn receive(&mut self, m: Message<T>) -> Result<(), LawViolation> {
        let before = self.states[m.to].clone();
        let fresh = m.payload.delta_from(&before);
        let via_fresh = before.clone().joined(&fresh);
        self.states[m.to].join(&m.payload);
        if via_fresh != self.states[m.to] {
            return Err(sync_violation(
                format!(
                    "at replica {}: x ⊔ d.delta_from(x) != x ⊔ d (delta_from lost part of d)",
                    m.to
                ),
                [
                    ("x", &before as &dyn Debug),
                    ("d", &m.payload),
                    ("d.delta_from(x)", &fresh),
                    ("x ⊔ d", &self.states[m.to]),
                ],
            ));
        }
        self.full[m.to].join_owned(m.full);
        if !self.states[m.to].leq(&self.full[m.to]) {
            return Err(sync_violation(
                format!("replica {} knows more by delta than by full state", m.to),
                [
                    ("by delta", &self.states[m.to] as &dyn Debug),
                    ("by full state", &self.full[m.to]),
                ],
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
    fn settle(&mut self) -> Result<(), LawViolation> {
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
        Err(sync_violation(
            format!("delta sync did not quiesce in {} rounds", n * n + 1),
            self.states
                .iter()
                .map(|s| ("replica", s as &dyn Debug))
                .collect::<Vec<_>>(),
        ))
    }

    fn check(&self) -> Result<(), LawViolation> {
        for (i, (state, full)) in self.states.iter().zip(&self.full).enumerate() {
            if *state != self.everything {
                return Err(sync_violation(
                    format!("replica {i} did not end at the join of every delta"),
                    [
                        ("by delta", state as &dyn Debug),
                        ("join of every delta", &self.everything),
                    ],
                ));
            }
            if full != state {
                return Err(sync_violation(
                    format!("replica {i}: delta sync and full-state sync ended apart"),
                    [("by delta", state as &dyn Debug), ("by full state", full)],
                ));
            }
            state.validate().map_err(|e| {
                LawViolation::new(
                    Law::Valid,
                    format!("replica {i} ended in a state its validate() refuses: {e}"),
                    [("state", state as &dyn Debug)],
                )
            })?;
        }
        Ok(())
    }
}
