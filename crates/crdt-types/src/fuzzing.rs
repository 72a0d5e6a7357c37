//! Fuzzing support (feature `arbitrary`): `arbitrary::Arbitrary` for every
//! type of this crate, their operations, [`History`] and [`Trace`], so a
//! cargo-fuzz target can take valid states as input.
//!
//! A generated state is never written field by field: it is one replica's
//! state after an arbitrary sequence of the type's own operations at 1 to 4
//! replicas, with the occasional join of one replica's state into another's
//! ([`arbitrary_state`]). So every state is one that replicas can reach —
//! dots inside the context, canonical stores — and at most [`MAX_OPS`]
//! operations keep one input fast. The same works for your own type: implement
//! [`Mutate`] with an operation type that is `Arbitrary`, and call
//! [`arbitrary_state`] from your `Arbitrary` impl (or build it from its
//! fields' `Arbitrary`, as `examples/fuzz-your-type` does).
//!
//! ```
//! use arbitrary::{Arbitrary, Unstructured};
//! use crdt_types::laws::{self, History, Trace};
//! use crdt_types::{OrMap, OrSet};
//! type Tags = OrMap<u8, OrSet<u8>>;
//! // In a fuzz target: `fuzz_target!(|input: (History<Tags>, Trace<...>)| ...)`.
//! let bytes: Vec<u8> = (0..=255).collect();
//! let mut u = Unstructured::new(&bytes);
//! let history = History::<Tags>::arbitrary(&mut u)?;
//! let [a, b, c] = &history.states[..] else { unreachable!() };
//! laws::lattice(a, b, c)?;
//! laws::valid(a, Tags::validate)?;
//! let trace = Trace::arbitrary(&mut u)?;
//! laws::delta_sync::<Tags>(&trace)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Debug;
use std::ops::ControlFlow;

use arbitrary::{Arbitrary, Result, Unstructured};

pub use crdt_core::fuzzing::{MAX_OPS, seeded_bytes};

use crate::laws::{CounterOp, History, MapOp, Mutate, RegisterOp, SetOp, Step, Trace};
use crate::{
    CausalCounter, CausalCrdt, DwFlag, EwFlag, GCounter, GSet, List, ListOp, LwwRegister,
    MvRegister, OrMap, OrSet, PnCounter, Text, TextOp,
};

/// Builds a history of `replicas` states: at most [`MAX_OPS`] steps, each an
/// arbitrary operation at an arbitrary replica or (one in four) a join of one
/// replica's state into another's.
fn arbitrary_history<'a, T>(u: &mut Unstructured<'a>, replicas: usize) -> Result<History<T>>
where
    T: Mutate<Op: Arbitrary<'a>>,
{
    let mut history = History::start(replicas);
    u.arbitrary_loop(None, Some(MAX_OPS), |u| {
        let at = u.choose_index(replicas)?;
        let op = if u.ratio(1u8, 4)? {
            None
        } else {
            Some(T::Op::arbitrary(u)?)
        };
        history.step(at, u.choose_index(replicas)?, op.as_ref());
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(history)
}

/// One replica's state of an arbitrary history at 1 to 4 replicas: what
/// `Arbitrary::arbitrary` of every type of this crate returns. Use it for the
/// `Arbitrary` impl of your own [`Mutate`] type.
pub fn arbitrary_state<'a, T>(u: &mut Unstructured<'a>) -> Result<T>
where
    T: Mutate<Op: Arbitrary<'a>>,
{
    let replicas = u.int_in_range(1..=4)?;
    let pick = u.choose_index(replicas)?;
    let mut history = arbitrary_history::<T>(u, replicas)?;
    Ok(history.states.swap_remove(pick))
}

impl<'a, T> Arbitrary<'a> for History<T>
where
    T: Mutate<Op: Arbitrary<'a>>,
{
    /// Three replicas' states of one arbitrary history.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        arbitrary_history(u, 3)
    }
}

impl<'a, Op: Arbitrary<'a>> Arbitrary<'a> for Trace<Op> {
    /// 2 to 5 replicas and at most [`MAX_OPS`] steps; about half the steps
    /// are mutations, the rest sends, deliveries (some duplicated) and losses.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let replicas = u.int_in_range(2..=5)?;
        let mut steps = Vec::new();
        u.arbitrary_loop(None, Some(MAX_OPS), |u| {
            let (from, to) = (u.choose_index(replicas)?, u.choose_index(replicas)?);
            steps.push(match u.int_in_range(0..=19u8)? {
                0..=8 => Step::Mutate {
                    at: from,
                    op: Op::arbitrary(u)?,
                },
                9..=12 => Step::SendDelta { from, to },
                13 => Step::SendState { from, to },
                14..=17 => Step::Deliver {
                    pick: usize::from(u8::arbitrary(u)?),
                    duplicate: u.ratio(1u8, 4)?,
                },
                _ => Step::Lose {
                    pick: usize::from(u8::arbitrary(u)?),
                },
            });
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(Self { replicas, steps })
    }
}

impl<'a, T: Arbitrary<'a>> Arbitrary<'a> for SetOp<T> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0..=11u8)? {
            0..=4 => Self::Insert(T::arbitrary(u)?),
            5 => {
                let n = u.int_in_range(0..=4)?;
                Self::InsertAll((0..n).map(|_| T::arbitrary(u)).collect::<Result<_>>()?)
            }
            6..=9 => Self::Remove(T::arbitrary(u)?),
            10 => Self::RetainBelow(T::arbitrary(u)?),
            _ => Self::Clear,
        })
    }
}

impl<'a, T: Arbitrary<'a>> Arbitrary<'a> for RegisterOp<T> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(if u.ratio(1u8, 5)? {
            Self::ResolveToMax
        } else {
            Self::Write(T::arbitrary(u)?)
        })
    }
}

impl<'a, K: Arbitrary<'a>, Op: Arbitrary<'a>> Arbitrary<'a> for MapOp<K, Op> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0..=9u8)? {
            0..=6 => Self::Update(K::arbitrary(u)?, Op::arbitrary(u)?),
            7 | 8 => Self::Remove(K::arbitrary(u)?),
            _ => Self::Clear,
        })
    }
}

impl<'a> Arbitrary<'a> for CounterOp {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0..=4u8)? {
            0 | 1 => Self::Increment(u.int_in_range(0..=7)?),
            2 | 3 => Self::Decrement(u.int_in_range(0..=7)?),
            _ => Self::Reset,
        })
    }
}

impl<'a, T: Arbitrary<'a>> Arbitrary<'a> for ListOp<T> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let index = usize::from(u8::arbitrary(u)?);
        let kind = u.int_in_range(0..=5u8)?;
        let len = u.int_in_range(1..=4)?;
        if kind < 2 {
            return Ok(Self::Delete(index, len));
        }
        let n = u.int_in_range(1..=4)?;
        let items = (0..n).map(|_| T::arbitrary(u)).collect::<Result<_>>()?;
        Ok(if kind == 2 {
            Self::Splice(index, len, items)
        } else {
            Self::Insert(index, items)
        })
    }
}

impl<'a> Arbitrary<'a> for TextOp {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let index = usize::from(u8::arbitrary(u)?);
        let kind = u.int_in_range(0..=5u8)?;
        let len = u.int_in_range(1..=4)?;
        if kind < 2 {
            return Ok(Self::Delete(index, len));
        }
        let n = u.int_in_range(1..=4)?;
        let s = (0..n)
            .map(|_| Ok(char::from(b'a' + u.int_in_range(0..=2u8)?)))
            .collect::<Result<String>>()?;
        Ok(if kind == 2 {
            Self::Splice(index, len, s)
        } else {
            Self::Insert(index, s)
        })
    }
}

/// `Arbitrary` for a type from its [`Mutate`] impl ([`arbitrary_state`]).
macro_rules! arbitrary_via_mutate {
    ($(impl[$($g:tt)*] $ty:ty;)*) => {
        $(
            impl<'a, $($g)*> Arbitrary<'a> for $ty {
                /// One replica's state after an arbitrary sequence of this
                /// type's operations at 1 to 4 replicas ([`arbitrary_state`]).
                fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
                    arbitrary_state(u)
                }
            }
        )*
    };
}

arbitrary_via_mutate! {
    impl[] GCounter;
    impl[] PnCounter;
    impl[] CausalCounter;
    impl[] EwFlag;
    impl[] DwFlag;
    impl[T: Arbitrary<'a> + Ord + Clone + Debug] LwwRegister<T>;
    impl[T: Arbitrary<'a> + Ord + Clone + Debug] MvRegister<T>;
    impl[T: Arbitrary<'a> + Ord + Clone + Debug] OrSet<T>;
    impl[T: Arbitrary<'a> + Ord + Clone + Debug] GSet<T>;
    impl[T: Arbitrary<'a> + Clone + PartialEq + Debug] List<T>;
    impl[] Text;
    impl[K: Arbitrary<'a> + Ord + Clone + Debug, V: CausalCrdt + Mutate<Op: Arbitrary<'a>>] OrMap<K, V>;
}
