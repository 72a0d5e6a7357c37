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

causal_crdt!(impl[T: Ord + Clone + Debug] MvRegister<T> => DotFun<T>, join = join_small);

/// The largest store of siblings joined by [`join_small`]'s lookups; a
/// larger one takes the kernel's linear merge.
const SMALL_JOIN: usize = 8;

/// The kernel's causal join, `(s, c) ⊔ (s', c')`, computed in place when
/// `other` holds at most [`SMALL_JOIN`] siblings (a delta, or a replica's
/// register).
///
/// Design note: the kernel's join of two `Causal<DotFun<T>>` intersects the
/// two contexts (a new context, on the heap past two replicas) and merges
/// the two stores into a new one, so joining sixteen registers written
/// concurrently allocated twice per register. Here, in place and with no
/// allocation but the store's and context's own growth: a sibling of ours
/// goes if `other` has seen its write and no longer holds it; a sibling of
/// `other` comes in if we have not seen its write; one held by both keeps
/// the greater value (the kernel's rule for a reused dot). Each is a lookup
/// (`O(log n)`) and each arrival an insert into a sorted array, so a big
/// `other` (a peer's pathological state) goes to the kernel's linear merge
/// instead. Tests `join_matches_the_kernel_join` (arbitrary states) and
/// `join_of_many_siblings_matches_the_kernel_join` (both paths) check it
/// against the kernel's join.
fn join_small<T: Ord + Clone + Debug>(this: &mut MvRegister<T>, other: &MvRegister<T>) {
    let (theirs, their_ctx) = (other.0.store(), other.0.context());
    if theirs.len() > SMALL_JOIN {
        this.0.join(&other.0);
        return;
    }
    let (store, ctx) = this.0.parts_mut();
    store.retain(|d, _| !their_ctx.contains(d) || theirs.get(d).is_some());
    for (dot, value) in theirs.iter() {
        // New to us, or held by both with a greater value in `other`.
        if !ctx.contains(dot) || store.get(dot).is_some_and(|mine| mine < value) {
            let _ = store.insert(dot, value.clone());
        }
    }
    ctx.join(their_ctx);
}

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

    /// `x ⊔ y` by the kernel's causal join alone.
    fn kernel_join<T: Ord + Clone + Debug>(x: &MvRegister<T>, y: &MvRegister<T>) -> MvRegister<T> {
        let mut k = x.0.clone();
        k.join(&y.0);
        MvRegister(k)
    }

    quickcheck::quickcheck! {
        fn join_matches_the_kernel_join(x: MvRegister<u8>, y: MvRegister<u8>) -> bool {
            let mut by_ref = x.clone();
            by_ref.join(&y);
            let mut owned = x.clone();
            owned.join_owned(y.clone());
            let kernel = kernel_join(&x, &y);
            by_ref == kernel && owned == kernel && by_ref.validate().is_ok()
        }
    }

    #[test]
    fn join_of_a_reused_dot_keeps_the_greater_value_as_the_kernel_does() {
        let a = ReplicaId::from_u128(1);
        let (mut x, mut y) = (MvRegister::new(), MvRegister::new());
        let _ = x.write(a, 7u8);
        let _ = y.write(a, 3u8); // the same dot, another value
        for (p, q) in [(&x, &y), (&y, &x)] {
            let mut j = p.clone();
            j.join(q);
            assert_eq!(j, kernel_join(p, q));
            assert_eq!(j.values().collect::<Vec<_>>(), [&7]);
        }
    }

    #[test]
    fn join_of_many_siblings_matches_the_kernel_join() {
        // Past `SMALL_JOIN` siblings on either side, and a write that
        // replaces some of them.
        let base = {
            let mut b = MvRegister::new();
            let _ = b.write(ReplicaId::from_u128(99), 0u64);
            b
        };
        let mut fast = MvRegister::new();
        let mut kernel = MvRegister::new();
        for r in 0..3 * SMALL_JOIN as u128 {
            let mut x = base.clone();
            let _ = x.write(ReplicaId::from_u128(r), 100 + r as u64);
            kernel = kernel_join(&kernel, &x);
            fast.join(&x);
            assert_eq!(fast, kernel);
        }
        assert_eq!(fast.len(), 3 * SMALL_JOIN);
        let mut replaced = fast.clone();
        let _ = replaced.write(ReplicaId::from_u128(1), 1);
        let mut late = base.clone();
        let _ = late.write(ReplicaId::from_u128(500), 5);
        for (p, q) in [
            (&fast, &replaced),
            (&replaced, &fast),
            (&late, &fast),
            (&fast, &late),
        ] {
            let mut j = p.clone();
            j.join(q);
            assert_eq!(j, kernel_join(p, q));
        }
        let mut j = late.clone();
        j.join(&replaced);
        assert_eq!(j.values().collect::<Vec<_>>(), [&1, &5]);
    }

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
