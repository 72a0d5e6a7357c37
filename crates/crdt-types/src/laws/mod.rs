//! Law checks for replicated types — ours or yours — that a fuzz target, a
//! property test or a plain unit test calls with its own states.
//!
//! Each check returns `Ok(())` or a [`LawViolation`] that names the law and
//! shows the states involved (in `Debug` form), so a fuzzer's crash report
//! says what went wrong instead of `assertion failed`. The laws:
//!
//! | check | law | why replicas need it |
//! |---|---|---|
//! | [`commutative`] | `a ⊔ b == b ⊔ a` | the order two replicas merge in does not matter |
//! | [`associative`] | `(a ⊔ b) ⊔ c == a ⊔ (b ⊔ c)` | how merges are grouped (relays, batches) does not matter |
//! | [`idempotent`] | `a ⊔ a == a` | a duplicated message changes nothing |
//! | [`identity`] | `⊥ ⊔ a == a` and `a ⊔ ⊥ == a` | a fresh replica (`Default`) adds nothing |
//! | [`order`] | `a ≤ b ⇔ a ⊔ b == b`, `a ≤ a ⊔ b`, `⊥ ≤ a` | `leq` (used to skip known deltas) agrees with join |
//! | [`delta_mutator`], [`mutation`] | `m(x) == x ⊔ mδ(x)`, `mδ(x) ≤ m(x)` | shipping the delta is as good as shipping the state |
//! | [`delta_sync`] | delta sync ends where full-state sync ends | replicas that only ship deltas (reordered, duplicated, lost and resent) converge |
//! | `roundtrip` (feature `arbitrary`) | `decode(encode(a)) == a` (serde, bincode 2) | a state survives the wire and the disk |
//! | [`valid`] | `validate(a)` accepts `a` | every reachable state passes the check peers' states go through |
//!
//! [`lattice`] runs the first five on three states. For related states (three
//! replicas of one history) use [`History`]; for [`delta_sync`] implement
//! [`Mutate`] (every type of this crate does).
//!
//! ```
//! use crdt_types::{laws, Lattice, OrSet, ReplicaId};
//! let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
//! let mut x = OrSet::new();
//! let _ = x.insert(a, "apple");
//! let mut y = x.clone();
//! let _ = y.remove(&"apple");
//! let _ = y.insert(b, "pear");
//! laws::lattice(&x, &y, &OrSet::new())?;
//! laws::delta_mutator(&x, |s| s.insert(b, "fig"))?;
//! laws::valid(&y, OrSet::validate)?;
//! # Ok::<(), laws::LawViolation>(())
//! ```
//!
//! A broken type fails with a report like this one (a join that keeps the
//! left side):
//!
//! ```text
//! law violated: join is commutative (a ⊔ b == b ⊔ a)
//!   a ⊔ b != b ⊔ a
//!   a     = KeepLeft(Some(1))
//!   b     = KeepLeft(Some(2))
//!   a ⊔ b = KeepLeft(Some(1))
//!   b ⊔ a = KeepLeft(Some(2))
//! ```

use std::error::Error;
use std::fmt::{self, Debug, Display};

use crdt_core::{Lattice, ReplicaId};

mod mutate;
#[cfg(test)]
mod tests;
mod trace;

pub use crate::causal_counter::CounterOp;
pub use crate::mv_register::RegisterOp;
pub use crate::or_map::MapOp;
pub use crate::or_set::SetOp;
pub use mutate::{History, Mutate, replica};
pub use trace::{Step, Trace, delta_sync};

/// Which law a [`LawViolation`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Law {
    /// `a ⊔ b == b ⊔ a`.
    Commutative,
    /// `(a ⊔ b) ⊔ c == a ⊔ (b ⊔ c)`.
    Associative,
    /// `a ⊔ a == a`.
    Idempotent,
    /// `⊥ ⊔ a == a ⊔ ⊥ == a`.
    Identity,
    /// `leq` and `is_bottom` agree with join.
    Order,
    /// `m(x) == x ⊔ mδ(x)`.
    DeltaMutator,
    /// Delta sync ends where full-state sync ends.
    DeltaSync,
    /// `decode(encode(a)) == a`.
    Roundtrip,
    /// Validation accepts every reachable state.
    Valid,
}

impl Law {
    /// The law in words, with its equation.
    #[must_use]
    pub fn statement(self) -> &'static str {
        match self {
            Self::Commutative => "join is commutative (a ⊔ b == b ⊔ a)",
            Self::Associative => "join is associative ((a ⊔ b) ⊔ c == a ⊔ (b ⊔ c))",
            Self::Idempotent => "join is idempotent (a ⊔ a == a)",
            Self::Identity => "bottom is the identity of join (⊥ ⊔ a == a ⊔ ⊥ == a)",
            Self::Order => "leq agrees with join (a ≤ b ⇔ a ⊔ b == b)",
            Self::DeltaMutator => "a mutation is the join of its delta (m(x) == x ⊔ mδ(x))",
            Self::DeltaSync => "delta sync ends where full-state sync ends",
            Self::Roundtrip => {
                "decoding the encoding gives the state back (decode(encode(a)) == a)"
            }
            Self::Valid => "validation accepts every reachable state",
        }
    }
}

impl Display for Law {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.statement())
    }
}

/// A law that does not hold: which law, what differed, and the states
/// involved in `Debug` form.
///
/// `Display` prints all of it on a few lines, which is what a fuzz target
/// should panic with:
///
/// ```
/// use crdt_types::{laws, Lattice};
/// #[derive(Clone, Debug, Default, PartialEq)]
/// struct Sum(u32); // a "counter" that adds on join: not idempotent
/// impl Lattice for Sum {
///     fn join(&mut self, other: &Self) { self.0 += other.0; }
/// }
/// let err = laws::idempotent(&Sum(2)).unwrap_err();
/// assert_eq!(err.law(), laws::Law::Idempotent);
/// assert!(err.to_string().contains("a ⊔ a = Sum(4)"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LawViolation {
    law: Law,
    detail: String,
    states: Vec<(String, String)>,
}

impl LawViolation {
    /// A violation of `law`: `detail` says what differed, `states` are the
    /// named states involved (shown with `{:?}`).
    #[must_use]
    pub fn new<'a>(
        law: Law,
        detail: impl Into<String>,
        states: impl IntoIterator<Item = (&'a str, &'a dyn Debug)>,
    ) -> Self {
        Self {
            law,
            detail: detail.into(),
            states: states
                .into_iter()
                .map(|(name, state)| (name.to_owned(), format!("{state:?}")))
                .collect(),
        }
    }

    /// The law that does not hold.
    #[must_use]
    pub fn law(&self) -> Law {
        self.law
    }

    /// What differed, in one line (for example `a ⊔ b != b ⊔ a`).
    #[must_use]
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The states involved: `(name, Debug form)`.
    pub fn states(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.states.iter().map(|(n, s)| (n.as_str(), s.as_str()))
    }
}

impl Display for LawViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "law violated: {}\n  {}", self.law, self.detail)?;
        let width = self.states.iter().map(|(n, _)| n.chars().count()).max();
        for (name, state) in &self.states {
            write!(f, "\n  {name:<w$} = {state}", w = width.unwrap_or(0))?;
        }
        Ok(())
    }
}

impl Error for LawViolation {}

/// Fails with `law` unless `holds`.
fn ensure<'a>(
    holds: bool,
    law: Law,
    detail: &str,
    states: impl IntoIterator<Item = (&'a str, &'a dyn Debug)>,
) -> Result<(), LawViolation> {
    if holds {
        Ok(())
    } else {
        Err(LawViolation::new(law, detail, states))
    }
}

/// `a ⊔ b == b ⊔ a`, and `join_owned` agrees with `join`.
pub fn commutative<T: Lattice + Debug>(a: &T, b: &T) -> Result<(), LawViolation> {
    let ab = a.clone().joined(b);
    let ba = b.clone().joined(a);
    ensure(
        ab == ba,
        Law::Commutative,
        "a ⊔ b != b ⊔ a",
        [
            ("a", a as &dyn Debug),
            ("b", b),
            ("a ⊔ b", &ab),
            ("b ⊔ a", &ba),
        ],
    )?;
    let mut owned = a.clone();
    owned.join_owned(b.clone());
    ensure(
        owned == ab,
        Law::Commutative,
        "a.join_owned(b) != a.join(&b)",
        [
            ("a", a as &dyn Debug),
            ("b", b),
            ("join", &ab),
            ("join_owned", &owned),
        ],
    )
}

/// `(a ⊔ b) ⊔ c == a ⊔ (b ⊔ c)`.
pub fn associative<T: Lattice + Debug>(a: &T, b: &T, c: &T) -> Result<(), LawViolation> {
    let left = a.clone().joined(b).joined(c);
    let right = a.clone().joined(&b.clone().joined(c));
    ensure(
        left == right,
        Law::Associative,
        "(a ⊔ b) ⊔ c != a ⊔ (b ⊔ c)",
        [
            ("a", a as &dyn Debug),
            ("b", b),
            ("c", c),
            ("(a ⊔ b) ⊔ c", &left),
            ("a ⊔ (b ⊔ c)", &right),
        ],
    )
}

/// `a ⊔ a == a`.
pub fn idempotent<T: Lattice + Debug>(a: &T) -> Result<(), LawViolation> {
    let aa = a.clone().joined(a);
    ensure(
        aa == *a,
        Law::Idempotent,
        "a ⊔ a != a",
        [("a", a as &dyn Debug), ("a ⊔ a", &aa)],
    )
}

/// `⊥ ⊔ a == a` and `a ⊔ ⊥ == a`, where `⊥` is `T::default()`.
pub fn identity<T: Lattice + Debug>(a: &T) -> Result<(), LawViolation> {
    let bottom = T::default();
    let left = bottom.clone().joined(a);
    let right = a.clone().joined(&bottom);
    ensure(
        left == *a && right == *a,
        Law::Identity,
        "⊥ ⊔ a or a ⊔ ⊥ differs from a",
        [("a", a as &dyn Debug), ("⊥ ⊔ a", &left), ("a ⊔ ⊥", &right)],
    )
}

/// `a.leq(b)` exactly when `a ⊔ b == b`; `a` and `b` are below `a ⊔ b`;
/// bottom is below `a`; and `a.is_bottom()` exactly when `a == T::default()`.
pub fn order<T: Lattice + Debug>(a: &T, b: &T) -> Result<(), LawViolation> {
    let ab = a.clone().joined(b);
    let states = [("a", a as &dyn Debug), ("b", b), ("a ⊔ b", &ab)];
    let le = a.leq(b);
    let detail = if le {
        "a.leq(b) but a ⊔ b != b"
    } else {
        "!a.leq(b) but a ⊔ b == b"
    };
    ensure(le == (ab == *b), Law::Order, detail, states)?;
    ensure(
        a.leq(&ab) && b.leq(&ab),
        Law::Order,
        "a or b is not leq a ⊔ b",
        states,
    )?;
    ensure(
        T::default().leq(a),
        Law::Order,
        "bottom (T::default()) is not leq a",
        states,
    )?;
    ensure(
        a.is_bottom() == (*a == T::default()),
        Law::Order,
        "a.is_bottom() disagrees with a == T::default()",
        states,
    )
}

/// The join laws on three states: [`commutative`] and [`order`] on every
/// pair, [`associative`], and [`idempotent`] and [`identity`] on each.
pub fn lattice<T: Lattice + Debug>(a: &T, b: &T, c: &T) -> Result<(), LawViolation> {
    for (x, y) in [(a, b), (b, c), (a, c)] {
        commutative(x, y)?;
        order(x, y)?;
        order(y, x)?;
    }
    associative(a, b, c)?;
    for x in [a, b, c] {
        idempotent(x)?;
        identity(x)?;
    }
    Ok(())
}

/// The delta-mutator law for one mutation: `mutate` changes a copy of
/// `state` and returns its delta; the changed copy must equal `state ⊔
/// delta`, and the delta must be below it.
///
/// ```
/// use crdt_types::{laws, PnCounter, ReplicaId};
/// let a = ReplicaId::from_u128(1);
/// let mut x = PnCounter::new();
/// let _ = x.increment(a, 3);
/// laws::delta_mutator(&x, |c| c.decrement(a, 5))?;
/// // A "delta" that forgets the mutation breaks the law.
/// let err = laws::delta_mutator(&x, |c| { let _ = c.decrement(a, 5); PnCounter::new() });
/// assert!(err.is_err());
/// # Ok::<(), laws::LawViolation>(())
/// ```
pub fn delta_mutator<T: Lattice + Debug>(
    state: &T,
    mutate: impl FnOnce(&mut T) -> T,
) -> Result<(), LawViolation> {
    let mut mutated = state.clone();
    let delta = mutate(&mut mutated);
    let joined = state.clone().joined(&delta);
    let states = [
        ("x", state as &dyn Debug),
        ("m(x)", &mutated),
        ("mδ(x)", &delta),
        ("x ⊔ mδ(x)", &joined),
    ];
    ensure(
        joined == mutated,
        Law::DeltaMutator,
        "m(x) != x ⊔ mδ(x)",
        states,
    )?;
    ensure(
        delta.leq(&mutated),
        Law::DeltaMutator,
        "mδ(x) is not leq m(x)",
        states,
    )
}

/// [`delta_mutator`] for the operation `op` of a [`Mutate`] type, applied at
/// `replica`.
pub fn mutation<T: Mutate>(state: &T, replica: ReplicaId, op: &T::Op) -> Result<(), LawViolation> {
    delta_mutator(state, |x| x.apply(replica, op)).map_err(|mut e| {
        e.detail = format!("{} for {op:?} at {replica:?}", e.detail);
        e
    })
}

/// `validate(state)` accepts `state`. Pass the type's own check, for
/// example `laws::valid(&set, OrSet::validate)`; call it on states that
/// replicas can reach (generated ones, joins of them).
pub fn valid<T: Debug, E: Display>(
    state: &T,
    validate: impl FnOnce(&T) -> Result<(), E>,
) -> Result<(), LawViolation> {
    validate(state).map_err(|e| {
        LawViolation::new(
            Law::Valid,
            format!("a reachable state fails validation: {e}"),
            [("a", state as &dyn Debug)],
        )
    })
}

/// `decode(encode(state)) == state` through serde with bincode 2 (standard
/// configuration, the one the sync layer uses), and the decoding reads every
/// byte. Needs the feature `arbitrary` (which brings bincode).
///
/// ```
/// use crdt_types::{laws, OrSet, ReplicaId};
/// let mut tags = OrSet::new();
/// let _ = tags.insert(ReplicaId::from_u128(1), "urgent".to_string());
/// laws::roundtrip(&tags)?;
/// # Ok::<(), laws::LawViolation>(())
/// ```
#[cfg(feature = "arbitrary")]
pub fn roundtrip<T>(state: &T) -> Result<(), LawViolation>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + Debug,
{
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(state, config).map_err(|e| {
        LawViolation::new(
            Law::Roundtrip,
            format!("encoding failed: {e}"),
            [("a", state as &dyn Debug)],
        )
    })?;
    let (back, read): (T, usize) =
        bincode::serde::decode_from_slice(&bytes, config).map_err(|e| {
            LawViolation::new(
                Law::Roundtrip,
                format!("decoding the encoding failed: {e}"),
                [("a", state as &dyn Debug), ("encoding", &bytes)],
            )
        })?;
    ensure(
        back == *state && read == bytes.len(),
        Law::Roundtrip,
        &format!(
            "decode(encode(a)) != a, or it read {read} of {} bytes",
            bytes.len()
        ),
        [
            ("a", state as &dyn Debug),
            ("decode(encode(a))", &back),
            ("encoding", &bytes),
        ],
    )
}
