//! `quickcheck::Arbitrary` for every core type (feature `quickcheck`).
//!
//! Generators draw from small pools (replicas 1 to 4, counters 1 to 8) so
//! that independently generated states overlap and clash often, which is
//! where join bugs live. Every impl shrinks.
//!
//! Two generators matter for property tests of your own compositions:
//! [`ArbitraryStore`] builds a store holding exactly a given set of dots, and
//! [`Replicas`] builds several states of one history (the same dot always
//! carries the same payload), the shape real replicas have.

use quickcheck::{Arbitrary, Gen};

use crate::{Causal, CausalContext, Decompose, Dot, DotFun, DotMap, DotSet, DotStore, Lattice};
use crate::{ReplicaId, VersionVector};

fn small(g: &mut Gen, n: u64) -> u64 {
    u64::arbitrary(g) % n
}

impl Arbitrary for ReplicaId {
    fn arbitrary(g: &mut Gen) -> Self {
        ReplicaId::from_u128(u128::from(small(g, 4)) + 1)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let v = self.as_u128();
        Box::new((1..v.min(5)).map(ReplicaId::from_u128))
    }
}

impl Arbitrary for Dot {
    fn arbitrary(g: &mut Gen) -> Self {
        let replica = ReplicaId::arbitrary(g);
        Dot::new(replica, small(g, 8) + 1).unwrap_or(Dot {
            replica,
            counter: std::num::NonZeroU64::MIN,
        })
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let d = *self;
        let smaller_counter = (1..d.counter()).filter_map(move |n| Dot::new(d.replica, n));
        let smaller_replica = d.replica.shrink().map(move |r| Dot { replica: r, ..d });
        Box::new(smaller_replica.chain(smaller_counter))
    }
}

impl Arbitrary for VersionVector {
    fn arbitrary(g: &mut Gen) -> Self {
        Vec::<Dot>::arbitrary(g).into_iter().collect()
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let dots: Vec<Dot> = self.dots().collect();
        Box::new(dots.shrink().map(|d| d.into_iter().collect()))
    }
}

impl Arbitrary for CausalContext {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut ctx: CausalContext = Vec::<Dot>::arbitrary(g).into_iter().collect();
        if bool::arbitrary(g) {
            // Often start from a contiguous prefix, as real contexts do.
            let r = ReplicaId::arbitrary(g);
            ctx.insert_range(r, 1, small(g, 6));
        }
        ctx
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let dots: Vec<Dot> = self.iter().take(64).collect();
        Box::new(dots.shrink().map(|d| d.into_iter().collect()))
    }
}

/// A store that can be generated to hold exactly a given set of dots.
///
/// Implemented for the kernel stores; implement it for your own store to get
/// `Arbitrary` for `Causal<YourStore>` and [`Replicas<YourStore>`].
pub trait ArbitraryStore: DotStore + 'static {
    /// A store holding exactly `dots` (distinct), with arbitrary payloads.
    fn arbitrary_with(g: &mut Gen, dots: &[Dot]) -> Self;
}

impl ArbitraryStore for DotSet {
    fn arbitrary_with(_g: &mut Gen, dots: &[Dot]) -> Self {
        dots.iter().copied().collect()
    }
}

impl<V: Arbitrary + Ord + std::fmt::Debug> ArbitraryStore for DotFun<V> {
    fn arbitrary_with(g: &mut Gen, dots: &[Dot]) -> Self {
        dots.iter().map(|&d| (d, V::arbitrary(g))).collect()
    }
}

impl<K, S> ArbitraryStore for DotMap<K, S>
where
    K: Arbitrary + Ord + std::fmt::Debug,
    S: ArbitraryStore,
{
    fn arbitrary_with(g: &mut Gen, dots: &[Dot]) -> Self {
        let keys: Vec<K> = (0..=small(g, 3)).map(|_| K::arbitrary(g)).collect();
        let mut groups: Vec<Vec<Dot>> = vec![Vec::new(); keys.len()];
        for &d in dots {
            groups[small(g, keys.len() as u64) as usize].push(d);
        }
        let mut map = DotMap::new();
        for (k, group) in keys.into_iter().zip(groups) {
            let mut store = S::arbitrary_with(g, &group);
            if let Some(previous) = map.remove(&k) {
                // Two groups drew the same key: keep both groups' dots.
                let empty = CausalContext::new();
                store.merge(&empty, &previous, &empty);
            }
            map.insert(k, store);
        }
        map
    }
}

fn arbitrary_store<S: ArbitraryStore>(g: &mut Gen) -> S {
    let dots: Vec<Dot> = CausalContext::arbitrary(g).iter().collect();
    S::arbitrary_with(g, &dots)
}

/// Candidates with one dot fewer.
fn shrink_store<S: DotStore + 'static>(store: &S) -> Box<dyn Iterator<Item = S>> {
    let store = store.clone();
    let dots: Vec<Dot> = store.dots().take(32).collect();
    Box::new(
        dots.into_iter()
            .map(move |drop| store.filtered(&mut |d| d != drop)),
    )
}

impl Arbitrary for DotSet {
    fn arbitrary(g: &mut Gen) -> Self {
        arbitrary_store(g)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        shrink_store(self)
    }
}

impl<V: Arbitrary + Ord + std::fmt::Debug> Arbitrary for DotFun<V> {
    fn arbitrary(g: &mut Gen) -> Self {
        arbitrary_store(g)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        shrink_store(self)
    }
}

impl<K: Arbitrary + Ord + std::fmt::Debug, S: ArbitraryStore> Arbitrary for DotMap<K, S> {
    fn arbitrary(g: &mut Gen) -> Self {
        arbitrary_store(g)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        shrink_store(self)
    }
}

impl<S: ArbitraryStore> Arbitrary for Causal<S> {
    /// A valid state: an arbitrary context, a random part of it live.
    fn arbitrary(g: &mut Gen) -> Self {
        let context = CausalContext::arbitrary(g);
        let live: Vec<Dot> = context.iter().filter(|_| small(g, 3) != 0).collect();
        let store = S::arbitrary_with(g, &live);
        let mut state = Causal::new();
        let (s, c) = state.parts_mut();
        *s = store;
        *c = context;
        state
    }

    /// Drops one dot (live or removed) at a time.
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let parts = self.decompose();
        let n = parts.len().min(32);
        Box::new((0..n).map(move |skip| {
            let mut out = Causal::new();
            for (i, p) in parts.iter().enumerate() {
                if i != skip {
                    out.join(p);
                }
            }
            out
        }))
    }
}

/// Three states of one history: every dot carries the same payload in each
/// state that holds it (no replica id was reused), so the states are what
/// real replicas could hold. Each has seen an arbitrary subset of the dots
/// and holds an arbitrary subset of those.
#[derive(Clone, Debug)]
pub struct Replicas<S> {
    /// The states.
    pub states: Vec<Causal<S>>,
}

impl<S: ArbitraryStore> Arbitrary for Replicas<S> {
    fn arbitrary(g: &mut Gen) -> Self {
        let universe_ctx = CausalContext::arbitrary(g);
        let all: Vec<Dot> = universe_ctx.iter().collect();
        let universe = S::arbitrary_with(g, &all);
        let states = (0..3)
            .map(|_| {
                let seen: CausalContext =
                    all.iter().copied().filter(|_| bool::arbitrary(g)).collect();
                let live: CausalContext = seen.iter().filter(|_| small(g, 3) != 0).collect();
                let mut state = Causal::new();
                let (s, c) = state.parts_mut();
                *s = universe.filtered(&mut |d| live.contains(d));
                *c = seen;
                state
            })
            .collect();
        Self { states }
    }

    /// Forgets one dot everywhere.
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let mut all = CausalContext::new();
        for s in &self.states {
            all.join(s.context());
        }
        let this = self.clone();
        Box::new(
            all.iter()
                .take(32)
                .collect::<Vec<_>>()
                .into_iter()
                .map(move |drop| Replicas {
                    states: this
                        .states
                        .iter()
                        .map(|s| {
                            let mut s = s.clone();
                            let (store, ctx) = s.parts_mut();
                            store.retain_dots(&mut |d| d != drop);
                            *ctx = ctx.iter().filter(|&d| d != drop).collect();
                            s
                        })
                        .collect(),
                }),
        )
    }
}
