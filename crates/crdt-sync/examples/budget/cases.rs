//! The crafted worst cases: each a message (and the messages that set it
//! up), as large as `max_message_bytes` allows where size is the point.

use crdt_core::{Causal, CausalContext, Dot, DotFun, DotMap, DotSet, Fingerprint};
use crdt_sync::{Message, Payload, Replicated, codec};
use crdt_types::{CausalCrdt, MvRegister, OrMap, OrSet, ReplicaId};

/// What a case's messages may depend on: known only once the victim and
/// its honest peer are running.
pub(crate) struct Ctx<'a, T> {
    /// The fingerprint seed of the pair (from both incarnations).
    pub(crate) seed: u64,
    /// The id of the victim's payload in flight to the peer (after the
    /// case's priming messages), 0 if none.
    pub(crate) sent_id: u64,
    /// The victim's state before the case.
    pub(crate) base: &'a T,
}

/// Builds one message from a context.
pub(crate) type Build<T> = Box<dyn Fn(&Ctx<'_, T>) -> Message<T>>;

/// One crafted case.
pub(crate) struct Case<T> {
    /// What it is.
    pub(crate) name: String,
    /// Messages fed (and not measured) before the case's message.
    pub(crate) prime: Vec<Build<T>>,
    /// The measured message.
    pub(crate) message: Build<T>,
}

impl<T> Case<T> {
    pub(crate) fn new(name: impl Into<String>, message: Build<T>) -> Self {
        Self {
            name: name.into(),
            prime: Vec::new(),
            message,
        }
    }

    fn primed(mut self, prime: Build<T>) -> Self {
        self.prime.push(prime);
        self
    }
}

/// The ids the crafted messages use (never a writer of a base state).
pub(crate) fn rid(i: u64) -> ReplicaId {
    ReplicaId::from_u128((0x5EED << 64) + u128::from(i))
}

/// `n` crafted ids.
fn ids(n: usize) -> impl Iterator<Item = ReplicaId> {
    (0..n as u64).map(rid)
}

/// The writers of the base states.
pub(crate) fn writer(w: u64) -> ReplicaId {
    ReplicaId::from_u128(u128::from(w) + 1)
}

/// Writers of the base states.
pub(crate) const WRITERS: u64 = 8;

/// A huge counter: ranges reach it.
pub(crate) const HUGE: u64 = 1 << 60;

fn dot(r: ReplicaId, c: u64) -> Dot {
    Dot::new(r, c).expect("nonzero counter")
}

fn key(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A payload message of kind `Delta`.
pub(crate) fn delta<T>(state: T) -> Message<T> {
    Message::Delta(Payload {
        id: 7,
        part: 0,
        parts: 1,
        state,
    })
}

/// The largest `n` (up to `cap`) whose message `make(n)` encodes within
/// `limit`: a guess from the size of small messages, then a binary search
/// near it.
pub(crate) fn fit<T: Replicated>(
    limit: usize,
    cap: usize,
    make: impl Fn(usize) -> Message<T>,
) -> usize {
    let len = |n: usize| {
        let envelope = crdt_sync::Envelope {
            from_epoch: u32::MAX,
            to_epoch: u32::MAX,
            message: make(n),
        };
        codec::encode(&envelope).map_or(usize::MAX, |b| b.len())
    };
    let (small, big) = (len(256), len(512));
    let per = (big.saturating_sub(small) / 256).max(1);
    let guess = (limit.saturating_sub(small) / per + 256).min(cap);
    let (mut lo, mut hi) = (guess - guess / 8, (guess + guess / 8 + 1).min(cap));
    while lo > 1 && len(lo) > limit {
        lo /= 2;
    }
    if len(hi) <= limit {
        return hi;
    }
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if len(mid) <= limit {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// An add-wins set of `u64`.
pub(crate) type Set = OrSet<u64>;

fn set(store: DotMap<u64, DotSet>, context: CausalContext) -> Set {
    OrSet::from_causal(Causal::from_parts(store, context).expect("valid state"))
}

/// The realistic base: `n` elements written by [`WRITERS`] replicas.
pub(crate) fn big_set(n: u64) -> Set {
    let mut s = Set::new();
    for w in 0..WRITERS {
        let per = n / WRITERS;
        let _ = s.insert_all(writer(w), (w * per..(w + 1) * per).map(key));
    }
    s
}

/// A context of `ids` replicas, each with `ranges` (lo, hi) pairs.
fn context_of(ids: impl Iterator<Item = ReplicaId>, ranges: &[(u64, u64)]) -> CausalContext {
    let mut c = CausalContext::new();
    for r in ids {
        for &(lo, hi) in ranges {
            c.insert_range(r, lo, hi);
        }
    }
    c
}

/// One-dot ranges `1, 3, 5, ...` (`n` of them) of `r`.
fn gaps(r: ReplicaId, n: u64) -> CausalContext {
    (0..n).map(|i| dot(r, 2 * i + 1)).collect()
}

fn digest<T>(d: Option<CausalContext>) -> Message<T> {
    Message::Digest {
        digest: d,
        reply: true,
    }
}

/// The cases over an add-wins set.
pub(crate) fn set_cases(limit: usize) -> Vec<Case<Set>> {
    let mut cases = Vec::new();
    let n = fit(limit, 1 << 20, |n| {
        delta(set(DotMap::new(), context_of(ids(n), &[(1, 1)])))
    });
    cases.push(Case::new(
        format!("many replica ids: removal context of {n} ids"),
        Box::new(move |_| delta(set(DotMap::new(), context_of(ids(n), &[(1, 1)])))),
    ));
    let many_elements = |n: usize| {
        let mut store = DotMap::new();
        for i in 0..n as u64 {
            store.insert(key(i), DotSet::from(dot(rid(i), 1)));
        }
        set(store, context_of(ids(n), &[(1, 1)]))
    };
    let n = fit(limit, 1 << 20, |n| delta(many_elements(n)));
    cases.push(Case::new(
        format!("many replica ids: {n} elements, one id each"),
        Box::new(move |_| delta(many_elements(n))),
    ));
    let w0 = writer(0);
    let n = fit(limit, 1 << 22, |n| {
        delta(set(DotMap::new(), gaps(w0, n as u64)))
    });
    cases.push(Case::new(
        format!("many gaps: removal context of {n} one-dot ranges of a writer"),
        Box::new(move |_| delta(set(DotMap::new(), gaps(w0, n as u64)))),
    ));
    let gap_elements = |n: usize| {
        let c = gaps(rid(0), n as u64);
        let mut store = DotMap::new();
        for (i, d) in c.iter().enumerate() {
            store.insert(key(i as u64), DotSet::from(d));
        }
        set(store, c)
    };
    let n = fit(limit, 1 << 20, |n| delta(gap_elements(n)));
    cases.push(Case::new(
        format!("many gaps: {n} elements at one-dot ranges"),
        Box::new(move |_| delta(gap_elements(n))),
    ));
    let all_writers = move || context_of((0..WRITERS).map(writer), &[(1, HUGE)]);
    cases.push(Case::new(
        "huge ranges: removal of 1..=2^60 of every writer",
        Box::new(move |_| delta(set(DotMap::new(), all_writers()))),
    ));
    let n = fit(limit, 1 << 20, |n| {
        delta(set(DotMap::new(), context_of(ids(n), &[(1, HUGE)])))
    });
    cases.push(Case::new(
        format!("huge ranges: 1..=2^60 of {n} ids"),
        Box::new(move |_| delta(set(DotMap::new(), context_of(ids(n), &[(1, HUGE)])))),
    ));
    let huge_gaps = |n: usize| {
        let ranges: Vec<(u64, u64)> = (0..n as u64)
            .map(|i| (i * (1 << 40) + 1, i * (1 << 40) + (1 << 39)))
            .collect();
        context_of(std::iter::once(rid(0)), &ranges)
    };
    let n = fit(limit, 1 << 20, |n| delta(set(DotMap::new(), huge_gaps(n))));
    cases.push(Case::new(
        format!("huge ranges: {n} ranges of 2^39 with gaps, one id"),
        Box::new(move |_| delta(set(DotMap::new(), huge_gaps(n)))),
    ));
    let siblings = |n: usize| {
        let c = context_of(ids(n), &[(1, 1)]);
        let mut store = DotMap::new();
        store.insert(7, c.iter().collect::<DotSet>());
        set(store, c)
    };
    let n = fit(limit, 1 << 20, |n| delta(siblings(n)));
    cases.push(Case::new(
        format!("many siblings: one element with {n} concurrent dots"),
        Box::new(move |_| delta(siblings(n))),
    ));
    let largest = |n: usize| {
        let c = context_of(std::iter::once(rid(0)), &[(1, n as u64)]);
        let mut store = DotMap::new();
        for (i, d) in c.iter().enumerate() {
            store.insert(key(i as u64 + (1 << 40)), DotSet::from(d));
        }
        set(store, c)
    };
    let n = fit(limit, 1 << 20, |n| delta(largest(n)));
    cases.push(Case::new(
        format!("largest delta: {n} new elements"),
        Box::new(move |_| delta(largest(n))),
    ));
    cases.push(Case::new(
        format!("largest state message: {n} new elements"),
        Box::new(move |_| {
            Message::State(Payload {
                id: 7,
                part: 0,
                parts: 1,
                state: largest(n),
            })
        }),
    ));
    cases.extend(digest_cases(limit));
    cases.extend(control_cases(limit));
    cases
}

fn digest_cases(limit: usize) -> Vec<Case<Set>> {
    let mut cases = vec![
        Case::new(
            "digest asking for everything (empty context)",
            Box::new(|_| digest(Some(CausalContext::new()))),
        ),
        Case::new(
            "digest without context (full state asked)",
            Box::new(|_| digest(None)),
        ),
    ];
    let n = fit(limit, 1 << 20, |n| {
        digest::<Set>(Some(gaps(writer(0), n as u64)))
    });
    cases.push(Case::new(
        format!("digest of {n} one-dot ranges of a writer"),
        Box::new(move |_| digest(Some(gaps(writer(0), n as u64)))),
    ));
    let everyone = |n: usize| {
        let mut c = context_of(ids(n), &[(1, HUGE)]);
        for w in 0..WRITERS {
            c.insert_range(writer(w), 1, HUGE);
        }
        digest::<Set>(Some(c))
    };
    let n = fit(limit, 1 << 20, everyone);
    cases.push(Case::new(
        format!("digest of 1..=2^60 for {n} ids and every writer"),
        Box::new(move |_| everyone(n)),
    ));
    cases
}

/// Fingerprints: every print of the base with another `live` (a claimed
/// conflict on every origin), then `n` more ids.
fn prints<T: Replicated>(ctx: &Ctx<'_, T>, n: usize) -> Message<T> {
    let mut prints: Vec<Fingerprint> = ctx.base.fingerprints(ctx.seed).unwrap_or_default();
    for p in &mut prints {
        p.live ^= 1;
    }
    prints.extend((0..n as u64).map(|i| Fingerprint {
        replica: rid(i),
        seen: i,
        live: i,
    }));
    prints.sort_by_key(|p| p.replica);
    prints.dedup_by_key(|p| p.replica);
    Message::Fingerprints {
        seed: ctx.seed,
        total: 1,
        prints,
        reply: true,
    }
}

fn control_cases(limit: usize) -> Vec<Case<Set>> {
    let empty = Set::new();
    let sizing = Ctx {
        seed: u64::MAX,
        sent_id: 0,
        base: &empty,
    };
    // Room for the base's own prints too.
    let n = fit(limit, 1 << 20, |n| prints(&sizing, n)) - 64;
    vec![
        Case::new(
            format!("fingerprints: {n} prints, every origin claimed in conflict"),
            Box::new(move |ctx| prints(ctx, n)),
        ),
        // The second identical comparison confirms the conflict: a repair
        // (the projection on every origin) is sent.
        Case::new(
            format!("fingerprints, confirmed: {n} prints"),
            Box::new(move |ctx| prints(ctx, n)),
        )
        .primed(Box::new(move |ctx| prints(ctx, n))),
        Case::new(
            "ack of part u32::MAX of an unknown payload u64::MAX",
            Box::new(|_| Message::Ack {
                id: u64::MAX,
                part: u32::MAX,
            }),
        ),
        Case::new(
            "ack of part u32::MAX of the split catch-up in flight",
            Box::new(|ctx| Message::Ack {
                id: ctx.sent_id,
                part: u32::MAX,
            }),
        )
        .primed(Box::new(|_| Message::Digest {
            digest: Some(CausalContext::new()),
            reply: false,
        })),
    ]
}

/// A multi-value register of `u64`.
pub(crate) type Reg = MvRegister<u64>;

fn reg(store: DotFun<u64>, context: CausalContext) -> Reg {
    MvRegister::from_causal(Causal::from_parts(store, context).expect("valid state"))
}

/// A register with one sibling per writer.
pub(crate) fn some_siblings() -> Reg {
    let c = context_of((0..WRITERS).map(writer), &[(1, 1)]);
    let mut store = DotFun::new();
    for (i, d) in c.iter().enumerate() {
        store.insert(d, i as u64);
    }
    reg(store, c)
}

/// The cases over a multi-value register.
pub(crate) fn register_cases(limit: usize) -> Vec<Case<Reg>> {
    let siblings = |n: usize, spread: bool| {
        let c = if spread {
            context_of((0..n as u64).map(rid), &[(1, 1)])
        } else {
            gaps(rid(0), n as u64)
        };
        let mut store = DotFun::new();
        for (i, d) in c.iter().enumerate() {
            store.insert(d, key(i as u64));
        }
        reg(store, c)
    };
    let n = fit(limit, 1 << 20, |n| delta(siblings(n, true)));
    let m = fit(limit, 1 << 20, |n| delta(siblings(n, false)));
    vec![
        Case::new(
            format!("many siblings: {n} values, one id each"),
            Box::new(move |_| delta(siblings(n, true))),
        ),
        Case::new(
            format!("many siblings: {m} values at one-dot ranges of one id"),
            Box::new(move |_| delta(siblings(m, false))),
        ),
    ]
}

/// Seven levels of maps over a set: `OrMap<u64, ...OrMap<u64, OrSet<u64>>>`.
pub(crate) type Deep = OrMap<u64, OrMap<u64, OrMap<u64, OrMap<u64, OrMap<u64, OrMap<u64, Set>>>>>>;
type DeepStore = <Deep as CausalCrdt>::Store;

/// Inserts `dot` for the leaf `path`.
fn deep_insert(s: &mut DeepStore, p: [u64; 7], dot: Dot) {
    s.update(p[0], |s| {
        s.update(p[1], |s| {
            s.update(p[2], |s| {
                s.update(p[3], |s| {
                    s.update(p[4], |s| {
                        s.update(p[5], |s| s.update(p[6], |s| s.insert(dot)))
                    })
                })
            })
        })
    });
}

fn deep(store: DeepStore, context: CausalContext) -> Deep {
    OrMap::from_causal(Causal::from_parts(store, context).expect("valid state"))
}

/// A path per leaf: distinct at every level (`spread`) or only at the last.
fn path(i: u64, spread: bool) -> [u64; 7] {
    if spread {
        [
            key(i),
            key(i + 1),
            key(i + 2),
            key(i + 3),
            key(i + 4),
            key(i + 5),
            i,
        ]
    } else {
        [
            i % 10,
            i / 10 % 10,
            i / 100 % 10,
            i / 1000 % 10,
            i / 10_000 % 10,
            0,
            i,
        ]
    }
}

/// The realistic base: `n` leaves written by [`WRITERS`] replicas.
pub(crate) fn big_deep(n: u64) -> Deep {
    let per = n / WRITERS;
    let c = context_of((0..WRITERS).map(writer), &[(1, per)]);
    let mut store = DeepStore::new();
    for (i, d) in c.iter().enumerate() {
        deep_insert(&mut store, path(i as u64, false), d);
    }
    deep(store, c)
}

/// The cases over deeply nested maps.
pub(crate) fn deep_cases(limit: usize) -> Vec<Case<Deep>> {
    let leaves = |n: usize, spread: bool| {
        let c = context_of(std::iter::once(rid(0)), &[(1, n as u64)]);
        let mut store = DeepStore::new();
        for (i, d) in c.iter().enumerate() {
            deep_insert(&mut store, path(i as u64, spread), d);
        }
        deep(store, c)
    };
    let n = fit(limit, 1 << 20, |n| delta(leaves(n, true)));
    let m = fit(limit, 1 << 20, |n| delta(leaves(n, false)));
    vec![
        Case::new(
            format!("deep nesting: {n} leaves, distinct at every level"),
            Box::new(move |_| delta(leaves(n, true))),
        ),
        Case::new(
            format!("deep nesting: {m} leaves under shared paths"),
            Box::new(move |_| delta(leaves(m, false))),
        ),
        Case::new(
            "deep nesting: removal of 1..=2^60 of every writer",
            Box::new(|_| {
                let c = context_of((0..WRITERS).map(writer), &[(1, HUGE)]);
                delta(deep(DeepStore::new(), c))
            }),
        ),
        Case::new(
            "deep nesting: digest asking for everything",
            Box::new(|_| digest(Some(CausalContext::new()))),
        ),
    ]
}
