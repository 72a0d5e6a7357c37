//! `MvRegister<T>`: a multi-value register.

use std::fmt::Debug;

use crdt_core::{Causal, CausalContext, Dot, DotFun, Lattice, ReplicaId};

use crate::causal::{assemble, causal_crdt};
use crate::{CausalCrdt, View};

/// A multi-value register: a write replaces every value it has seen, and
/// concurrent writes are all kept, as siblings, until a later write
/// replaces them.
///
/// Join: the kernel's causal join on `Causal<DotFun<T>>`,
/// `(s, c) ⊔ (s', c') = ((s ∩ s') ∪ (s \ c') ∪ (s' \ c), c ∪ c')` — a value
/// survives unless the other side has seen its write and overwritten it.
///
/// No value is ever lost to a concurrent write, and there is no resolver
/// callback in the join: an application that wants one value calls
/// [`MvRegister::resolve`], which is an ordinary write that supersedes
/// exactly the siblings it saw.
///
/// ```
/// use crdt_types::{Lattice, MvRegister, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = MvRegister::new();
/// let mut y = MvRegister::new();
/// let dx = x.write(a, "tea");
/// let dy = y.write(b, "coffee");
/// x.join(&dy);
/// y.join(&dx);
/// assert_eq!(x, y);
/// assert_eq!(x.values().collect::<Vec<_>>(), [&"tea", &"coffee"]); // siblings
/// let d = x.resolve(a, |siblings| *siblings.values().min().unwrap());
/// y.join(&d);
/// assert_eq!(y.values().collect::<Vec<_>>(), [&"coffee"]);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MvRegister<T>(Causal<DotFun<T>>);

causal_crdt!(impl[T: Ord + Clone + Debug] MvRegister<T> => DotFun<T>);

impl<T: Ord + Clone + Debug> MvRegister<T> {
    /// The empty register (never written).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `value`, replacing every sibling this replica has seen. The
    /// delta is the new write, with the replaced writes in its context.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn write(&mut self, replica: ReplicaId, value: T) -> Self {
        // The fast path of `write_seen` when what was seen is every sibling.
        let dot = self.0.next_dot(replica);
        let (store, ctx) = self.0.parts_mut();
        let mut superseded: CausalContext = store.iter().map(|(d, _)| d).collect();
        superseded.insert(dot);
        ctx.insert(dot);
        store.clear();
        Self::finish(store, dot, value, superseded)
    }

    /// The dots of the current siblings: the read context a client keeps
    /// and hands back to [`MvRegister::write_seen`] (the `get` half of a
    /// key-value store's get/put).
    #[must_use]
    pub fn context(&self) -> CausalContext {
        self.0.store().iter().map(|(d, _)| d).collect()
    }

    /// Writes `value`, replacing exactly the siblings in `seen` (a context
    /// from [`MvRegister::context`], possibly read on another replica);
    /// siblings written concurrently with that read survive as siblings.
    /// This is the `put(key, value, context)` of a key-value store.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn write_seen(&mut self, replica: ReplicaId, value: T, seen: &CausalContext) -> Self {
        let dot = self.0.next_dot(replica);
        let (store, ctx) = self.0.parts_mut();
        if !seen.is_subset(ctx) {
            ctx.join(seen); // read elsewhere: those writes are now seen too
        }
        ctx.insert(dot);
        store.retain(|d, _| !seen.contains(d));
        let mut superseded = seen.clone();
        superseded.insert(dot);
        Self::finish(store, dot, value, superseded)
    }

    /// Puts the new write in the local store and returns its delta.
    fn finish(store: &mut DotFun<T>, dot: Dot, value: T, superseded: CausalContext) -> Self {
        store.insert(dot, value.clone());
        let mut delta = DotFun::new();
        delta.insert(dot, value);
        Self(assemble(delta, superseded))
    }

    /// Writes the value `merge` computes from the current siblings: the
    /// lattice-safe form of a "custom merge function". The write supersedes
    /// exactly the siblings `merge` saw; a sibling written concurrently
    /// elsewhere survives it.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn resolve(&mut self, replica: ReplicaId, merge: impl FnOnce(View<'_, Self>) -> T) -> Self {
        let value = merge(self.view());
        self.write(replica, value)
    }

    /// The current values: one unless writes were concurrent (then the
    /// siblings, in the order of their dots); none if never written.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &T> + '_ {
        self.view().values()
    }

    /// The number of siblings.
    #[must_use]
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// Whether the register holds no value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.view().is_empty()
    }
}

impl<'a, T: Ord + Clone + Debug> View<'a, MvRegister<T>> {
    /// The current values (siblings in the order of their dots).
    pub fn values(self) -> impl ExactSizeIterator<Item = &'a T> + 'a {
        self.store().values()
    }

    /// The number of siblings.
    #[must_use]
    pub fn len(self) -> usize {
        self.store().len()
    }

    /// Whether the register holds no value.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.store().is_empty()
    }
}

/// A mutation of a [`MvRegister`] as data: its
/// [`laws::Mutate`](crate::laws::Mutate) operation.
#[derive(Clone, Debug)]
pub enum RegisterOp<T> {
    /// [`MvRegister::write`].
    Write(T),
    /// [`MvRegister::resolve`] to the greatest sibling (nothing if empty).
    ResolveToMax,
}

#[cfg(feature = "quickcheck")]
impl<T: quickcheck::Arbitrary> quickcheck::Arbitrary for RegisterOp<T> {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        if u8::arbitrary(g) % 4 == 0 {
            Self::ResolveToMax
        } else {
            Self::Write(T::arbitrary(g))
        }
    }
}

impl<T: Ord + Clone + Debug> crate::laws::Mutate for MvRegister<T> {
    type Op = RegisterOp<T>;

    fn apply(&mut self, replica: ReplicaId, op: &RegisterOp<T>) -> Self {
        match op {
            RegisterOp::Write(v) => self.write(replica, v.clone()),
            RegisterOp::ResolveToMax => match self.values().max().cloned() {
                Some(max) => self.resolve(replica, |_| max),
                None => Self::new(),
            },
        }
    }

    fn validate(&self) -> Result<(), crdt_core::InvalidState> {
        Self::validate(self)
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[T: quickcheck::Arbitrary + Ord + Debug] MvRegister<T>);

#[cfg(test)]
mod tests {
    use super::*;
    use crdt_core::Lattice;

    #[test]
    fn a_write_after_join_replaces_all_siblings() {
        let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
        let mut x = MvRegister::new();
        let mut y = MvRegister::new();
        let dx = x.write(a, 1);
        let dy = y.write(b, 2);
        x.join(&dy);
        let d = x.write(a, 3);
        assert_eq!(d.as_causal().context().len(), 3);
        y.join(&dx);
        y.join(&d);
        assert_eq!(y.values().collect::<Vec<_>>(), [&3]);
    }
}
