//! Every check passes on the built-in types and fails on a type broken in
//! the one way it guards against.

use std::fmt::Debug;

use arbitrary::{Arbitrary, Unstructured};
use crdt_core::fuzzing::seeded_bytes;
use crdt_core::{Decompose, InvalidState, Lattice, ReplicaId};
use serde::{Deserialize, Serialize};

use super::*;
use crate::{
    CausalCounter, DwFlag, EwFlag, GCounter, GSet, LwwRegister, MvRegister, OrMap, OrSet, PnCounter,
};

/// Every law on generated histories, traces and operations of `T`.
fn every_law_holds<T>()
where
    T: Mutate<Op: for<'a> Arbitrary<'a>> + Serialize + for<'de> Deserialize<'de>,
{
    let mut nontrivial = 0;
    for seed in 0..150 {
        let data = seeded_bytes(seed, 1024);
        let mut u = Unstructured::new(&data);
        let history = History::<T>::arbitrary(&mut u).unwrap();
        let trace = Trace::<T::Op>::arbitrary(&mut u).unwrap();
        let op = T::Op::arbitrary(&mut u).unwrap();
        let [a, b, c] = &history.states[..] else {
            panic!("a history has three states");
        };
        nontrivial += usize::from(!a.is_bottom() && a != b);
        let result = lattice(a, b, c)
            .and_then(|()| mutation(a, replica(0), &op))
            .and_then(|()| delta_sync::<T>(&trace))
            .and_then(|()| {
                [a, b, c]
                    .into_iter()
                    .try_for_each(|x| valid(x, T::validate))
            })
            .and_then(|()| roundtrip(&a.clone().joined(b)));
        if let Err(violation) = result {
            panic!("seed {seed}: {violation}");
        }
    }
    assert!(nontrivial > 30, "only {nontrivial} nontrivial histories");
}

macro_rules! every_law_holds_for {
    ($($name:ident: $ty:ty,)*) => {
        mod every_law_holds_for {
            use super::*;
            $(
                #[test]
                fn $name() {
                    every_law_holds::<$ty>();
                }
            )*
        }
    };
}

every_law_holds_for! {
    g_counter: GCounter,
    pn_counter: PnCounter,
    causal_counter: CausalCounter,
    lww_register: LwwRegister<bool>,
    mv_register: MvRegister<bool>,
    or_set: OrSet<bool>,
    or_set_of_strings: OrSet<String>,
    ew_flag: EwFlag,
    dw_flag: DwFlag,
    g_set: GSet<u8>,
    map_of_registers: OrMap<bool, MvRegister<u8>>,
    map_of_sets: OrMap<bool, OrSet<bool>>,
    map_of_maps: OrMap<bool, OrMap<bool, CausalCounter>>,
    map_of_flags: OrMap<u8, DwFlag>,
}

/// A register that keeps its own value whenever it has one.
#[derive(Clone, Debug, Default, PartialEq)]
struct KeepLeft(Option<u8>);

impl Lattice for KeepLeft {
    fn join(&mut self, other: &Self) {
        if self.0.is_none() {
            self.0 = other.0;
        }
    }
}

#[test]
fn commutative_catches_a_join_that_keeps_the_left_side() {
    let (a, b) = (KeepLeft(Some(1)), KeepLeft(Some(2)));
    let err = commutative(&a, &b).unwrap_err();
    assert_eq!(err.law(), Law::Commutative);
    assert_eq!(err.detail(), "a ⊔ b != b ⊔ a");
    assert!(lattice(&a, &b, &KeepLeft(None)).is_err());
    assert!(commutative(&a, &a).is_ok());
}

#[test]
fn violation_display_names_the_law_and_every_state() {
    let err = commutative(&KeepLeft(Some(1)), &KeepLeft(Some(2))).unwrap_err();
    // The report shown in the module documentation.
    assert_eq!(
        err.to_string(),
        "law violated: join is commutative (a ⊔ b == b ⊔ a)\n  \
         a ⊔ b != b ⊔ a\n  \
         a     = KeepLeft(Some(1))\n  \
         b     = KeepLeft(Some(2))\n  \
         a ⊔ b = KeepLeft(Some(1))\n  \
         b ⊔ a = KeepLeft(Some(2))"
    );
    let states: Vec<_> = err.states().map(|(name, _)| name).collect();
    assert_eq!(states, ["a", "b", "a ⊔ b", "b ⊔ a"]);
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed.to_string().starts_with("law violated"));
}

/// Equal values join to themselves, different ones to one past the larger:
/// commutative and idempotent, not associative.
#[derive(Clone, Debug, Default, PartialEq)]
struct Bump(u8);

impl Lattice for Bump {
    fn join(&mut self, other: &Self) {
        if self.0 != other.0 {
            self.0 = self.0.max(other.0).saturating_add(1);
        }
    }
}

#[test]
fn associative_catches_a_join_that_depends_on_grouping() {
    let (a, b, c) = (Bump(1), Bump(2), Bump(3));
    assert!(commutative(&a, &b).is_ok() && idempotent(&a).is_ok());
    let err = associative(&a, &b, &c).unwrap_err();
    assert_eq!(err.law(), Law::Associative);
    assert!(err.to_string().contains("(a ⊔ b) ⊔ c = Bump(3)"), "{err}");
}

/// A counter that adds on join (the classic mistake).
#[derive(Clone, Debug, Default, PartialEq)]
struct Sum(u32);

impl Lattice for Sum {
    fn join(&mut self, other: &Self) {
        self.0 += other.0;
    }
}

#[test]
fn idempotent_catches_a_join_that_adds() {
    assert!(commutative(&Sum(1), &Sum(2)).is_ok());
    assert!(associative(&Sum(1), &Sum(2), &Sum(3)).is_ok());
    assert_eq!(idempotent(&Sum(2)).unwrap_err().law(), Law::Idempotent);
    assert!(idempotent(&Sum(0)).is_ok());
}

/// A max register whose `Default` is not its bottom.
#[derive(Clone, Debug, PartialEq)]
struct HighDefault(u8);

impl Default for HighDefault {
    fn default() -> Self {
        Self(5)
    }
}

impl Lattice for HighDefault {
    fn join(&mut self, other: &Self) {
        self.0 = self.0.max(other.0);
    }
}

#[test]
fn identity_catches_a_default_that_is_not_bottom() {
    assert!(lattice(&HighDefault(6), &HighDefault(7), &HighDefault(9)).is_ok());
    let err = identity(&HighDefault(1)).unwrap_err();
    assert_eq!(err.law(), Law::Identity);
    assert!(lattice(&HighDefault(1), &HighDefault(7), &HighDefault(9)).is_err());
}

/// A max register whose `leq` is the strict order.
#[derive(Clone, Debug, Default, PartialEq)]
struct StrictLeq(u8);

impl Lattice for StrictLeq {
    fn join(&mut self, other: &Self) {
        self.0 = self.0.max(other.0);
    }

    fn leq(&self, other: &Self) -> bool {
        self.0 < other.0
    }
}

#[test]
fn order_catches_a_leq_that_disagrees_with_join() {
    let err = order(&StrictLeq(2), &StrictLeq(2)).unwrap_err();
    assert_eq!(err.law(), Law::Order);
    assert_eq!(err.detail(), "!a.leq(b) but a ⊔ b == b");
    let err = order(&StrictLeq(1), &StrictLeq(2)).unwrap_err();
    assert_eq!(err.detail(), "a or b is not leq a ⊔ b");
}

/// A max register with a mutation, and a switch for two flaws: a delta that
/// forgets the write, and a `delta_from` that drops everything.
#[derive(Clone, Debug, Default, PartialEq)]
struct Max<const FLAW: u8>(u8);

const SOUND: u8 = 0;
const EMPTY_DELTA: u8 = 1;
const EMPTY_DELTA_FROM: u8 = 2;

impl<const FLAW: u8> Lattice for Max<FLAW> {
    fn join(&mut self, other: &Self) {
        self.0 = self.0.max(other.0);
    }
}

impl<const FLAW: u8> Decompose for Max<FLAW> {
    fn decompose(&self) -> Vec<Self> {
        if self.is_bottom() {
            Vec::new()
        } else {
            vec![self.clone()]
        }
    }

    fn delta_from(&self, known: &Self) -> Self {
        if FLAW == EMPTY_DELTA_FROM || self.leq(known) {
            Self::default()
        } else {
            self.clone()
        }
    }
}

impl<const FLAW: u8> Mutate for Max<FLAW> {
    /// Write at least this value.
    type Op = u8;

    fn apply(&mut self, _replica: ReplicaId, op: &u8) -> Self {
        self.0 = self.0.max(*op);
        if FLAW == EMPTY_DELTA {
            Self::default()
        } else {
            self.clone()
        }
    }
}

fn write_then_send(value: u8) -> Trace<u8> {
    Trace {
        replicas: 2,
        steps: vec![
            Step::Mutate { at: 0, op: value },
            Step::SendDelta { from: 0, to: 1 },
        ],
    }
}

#[test]
fn delta_mutator_catches_a_delta_that_forgets_the_write() {
    let a = ReplicaId::from_u128(1);
    assert!(mutation(&Max::<SOUND>(1), a, &4).is_ok());
    let err = mutation(&Max::<EMPTY_DELTA>(1), a, &4).unwrap_err();
    assert_eq!(err.law(), Law::DeltaMutator);
    assert_eq!(err.detail(), "m(x) != x ⊔ mδ(x) for 4 at R1");
    // The sync check catches it too, at the step that made the mutation.
    let err = delta_sync::<Max<EMPTY_DELTA>>(&write_then_send(4)).unwrap_err();
    assert_eq!(err.law(), Law::DeltaMutator);
    assert!(err.detail().starts_with("step 0 "), "{err}");
}

#[test]
fn delta_sync_catches_a_delta_from_that_drops_news() {
    assert!(delta_sync::<Max<SOUND>>(&write_then_send(4)).is_ok());
    let err = delta_sync::<Max<EMPTY_DELTA_FROM>>(&write_then_send(4)).unwrap_err();
    assert_eq!(err.law(), Law::DeltaSync);
    assert!(
        err.to_string().contains("delta_from lost part of d"),
        "{err}"
    );
}

#[test]
fn valid_reports_the_refusal_and_the_state() {
    let mut set = OrSet::new();
    let _ = set.insert(ReplicaId::from_u128(1), 3u8);
    assert!(valid(&set, OrSet::validate).is_ok());
    let err = valid(&set, |_| Err(InvalidState::Other("no threes"))).unwrap_err();
    assert_eq!(err.law(), Law::Valid);
    assert!(
        err.to_string().contains("invalid state: no threes"),
        "{err}"
    );
}

/// A state whose encoding leaves a field out.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Forgetful {
    kept: u8,
    #[serde(skip)]
    lost: u8,
}

#[test]
fn roundtrip_catches_an_encoding_that_loses_a_field() {
    assert!(roundtrip(&Forgetful { kept: 1, lost: 0 }).is_ok());
    let err = roundtrip(&Forgetful { kept: 1, lost: 2 }).unwrap_err();
    assert_eq!(err.law(), Law::Roundtrip);
    assert!(
        err.to_string()
            .contains("decode(encode(a)) = Forgetful { kept: 1, lost: 0 }")
    );
}
