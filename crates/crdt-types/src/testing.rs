//! Property-testing support (feature `quickcheck`): random states, random
//! operations, and one distributed-trace property for any replicated type.
//!
//! * [`Mutate`] is a [`laws::Mutate`](crate::laws::Mutate) type (mutations
//!   as data, applied at a replica, returning the delta) whose operations
//!   quickcheck can generate. Every type of this crate is one; implement
//!   `laws::Mutate` for your own type (or composition) to use the rest of this
//!   module, and the law checks of [`laws`](crate::laws).
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

use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

pub use crate::laws::{CounterOp, History, MapOp, RegisterOp, SetOp, Step, Trace, replica};

/// A [`laws::Mutate`](crate::laws::Mutate) type whose operations quickcheck
/// can generate: what the generators and properties of this module need.
/// Implemented automatically; implement `laws::Mutate` for your own type.
pub trait Mutate: crate::laws::Mutate<Op: Arbitrary> + 'static {}

impl<T> Mutate for T
where
    T: crate::laws::Mutate + 'static,
    T::Op: Arbitrary,
{
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

fn below(g: &mut Gen, n: usize) -> usize {
    usize::arbitrary(g) % n.max(1)
}

impl<T: Mutate> Arbitrary for History<T> {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut history = History::start(3);
        let steps = below(g, g.size().min(24) + 1);
        for _ in 0..steps {
            let (at, from) = (below(g, 3), below(g, 3));
            let op = (below(g, 4) != 0).then(|| T::Op::arbitrary(g));
            history.step(at, from, op.as_ref());
        }
        history
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

/// [`laws::delta_sync`](crate::laws::delta_sync) as a quickcheck result:
/// the replicas of `trace` converge, and delta sync ends where full-state
/// sync ends.
pub fn check_trace<T: Mutate>(trace: Trace<T::Op>) -> TestResult {
    match crate::laws::delta_sync::<T>(&trace) {
        Ok(()) => TestResult::passed(),
        Err(e) => TestResult::error(e.to_string()),
    }
}

/// Runs [`check_trace`] on random traces under quickcheck; panics with the
/// shrunk failing trace if one fails.
pub fn check_convergence<T: Mutate>() {
    QuickCheck::new()
        .tests(150)
        .quickcheck(check_trace::<T> as fn(Trace<T::Op>) -> TestResult);
}
