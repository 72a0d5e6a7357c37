//! DVV sets: the compact per-key sibling set of Riak-style key-value stores.

use serde::Serialize;
use std::cmp::Ordering;
use std::fmt;

use crate::{Dot, Lattice, ReplicaId, VersionVector};

/// The values of one key in a replicated key-value store, with exactly the
/// causality metadata needed to keep every concurrent write: a *dotted
/// version vector set* (Almeida, Baquero, Gonçalves, Preguiça, Fonte,
/// "Scalable and Accurate Causality Tracking for Eventually Consistent
/// Stores", DAIS 2014).
///
/// **Semantics:** a put removes exactly the values its read context had seen
/// and keeps every value it had not seen, so concurrent puts survive as
/// siblings until a put that saw them replaces them.
///
/// **Representation:** for each replica that coordinated a put, in replica
/// order, one entry `(replica, n, values)`: the replica's puts `1..=n` have
/// been seen, and `values` are the ones not yet overwritten, newest first —
/// the `i`-th value (from 0) is the write with dot `(replica, n - i)`, so an
/// entry holds at most `n` values and its live dots are always a suffix of
/// the replica's history. Metadata is therefore one entry per replica,
/// however many siblings there are. A second list holds *anonymous* values:
/// values that reached the set without a dot (see the design note).
///
/// **Join** ([`DvvSet::sync`], [`Lattice::join`]), per replica:
/// `(n₁, f₁) ⊔ (n₂, f₂) = (max(n₁, n₂), max(f₁, f₂))` where `f = n − |values|`
/// is the floor below which every value is overwritten: a value survives if
/// it is above both floors (neither side has seen it overwritten). The values
/// kept are those of the side with the higher `n`.
///
/// # Example: the lost update a vector-clock store makes
///
/// A store that keeps one version vector per key and bumps the coordinator's
/// entry on every put gets this wrong: Bob's put (read context `{}`) arrives
/// after Alice's put was stored as `{r1: 1}`, is stamped `{r1: 2}`, which
/// dominates Alice's, and Alice's value is silently dropped. With a
/// `DvvSet` both survive, and a later put replaces exactly what it read:
///
/// ```
/// use crdt_core::{DvvSet, Lattice, ReplicaId, VersionVector};
/// let (r1, r2) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let sorted = |s: &DvvSet<&'static str>| {
///     let mut v: Vec<_> = s.values().copied().collect();
///     v.sort();
///     v
/// };
///
/// let mut node1 = DvvSet::new();
/// let read = node1.context(); // Alice and Bob both read the (empty) key...
/// let _ = node1.update(&read, r1, "alice"); // ...and both put through r1.
/// let _ = node1.update(&read, r1, "bob");
/// assert_eq!(sorted(&node1), ["alice", "bob"]); // siblings, nothing lost
///
/// let seen = node1.context(); // Carol reads both siblings.
/// let _ = node1.update(&read, r1, "dave"); // Dave, on the old read, puts.
/// let _ = node1.update(&seen, r1, "carol"); // Carol's put replaces what she saw.
/// assert_eq!(sorted(&node1), ["carol", "dave"]);
/// assert_eq!(node1.context().len(), 1); // one metadata entry for r1
///
/// // Another replica takes a put of its own; both converge either way round.
/// let mut node2 = DvvSet::new();
/// let _ = node2.update(&VersionVector::new(), r2, "erin");
/// let merged = node1.clone().joined(&node2);
/// node2.sync(&node1);
/// assert_eq!(merged, node2);
/// assert_eq!(sorted(&merged), ["carol", "dave", "erin"]);
/// ```
///
/// # Design notes
///
/// *Anonymous values.* A value without a dot cannot be told apart from a
/// later value with the same history, so nothing can say whether a put saw
/// it. Riak's `dvvset` keeps the anonymous values of the side whose history
/// is not strictly older, and unions them when the histories are
/// concurrent; that sync is not associative (join `(h₁, {x})` with
/// `(h₂, {})` and `(h₁ ⊔ h₂, {})`: one grouping keeps `x`, the other drops
/// it), so replicas could disagree forever. Options: a grow-only set (never
/// removable, so siblings pile up), tombstones (the design forbids them), or
/// tying anonymous values to the exact history they were stored at. We take
/// the last: a sync keeps a side's anonymous values only when that side's
/// counters equal the joined counters (a lexicographic product), which is a
/// lattice. The cost is that anonymous values are transient: any sync that
/// brings news drops them. Write through [`DvvSet::update`], which gives each
/// value a dot, for values that must not be lost. [`DvvSet::update`] drops
/// the anonymous values when its context covers the set's counters, and
/// keeps them (at the new history) otherwise.
///
/// *Conflicting values for one dot.* Dots are never minted twice (design
/// invariant 1), so two sides that both hold a dot hold the same value. If a
/// faulty peer breaks this, sync keeps the greater value (`Ord`) for that
/// dot: replicas still converge, and the join stays a lattice, at the price
/// of comparing the values of shared dots on every sync.
///
/// *Order of values.* [`DvvSet::values`] yields the dotted values by replica
/// and, within a replica, newest first, then the anonymous values in
/// ascending order; equal states iterate and encode identically.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct DvvSet<T> {
    entries: Vec<Entry<T>>,
    anonymous: Vec<T>,
}

/// One replica's metadata and live values; on the wire the tuple
/// `(replica, counter, values)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Entry<T> {
    replica: ReplicaId,
    /// The replica's puts `1..=counter` have been seen (never 0).
    counter: u64,
    /// Live values, newest first: `values[i]` has dot `counter - i`.
    values: Vec<T>,
}

impl<T> Entry<T> {
    /// Every dot of this replica up to the floor is overwritten.
    fn floor(&self) -> u64 {
        self.counter.saturating_sub(len_u64(self.values.len()))
    }

    /// The live value with dot `(self.replica, counter)`, if any.
    fn value_of(&self, counter: u64) -> Option<&T> {
        if counter <= self.floor() || counter > self.counter {
            return None;
        }
        usize::try_from(self.counter - counter)
            .ok()
            .and_then(|i| self.values.get(i))
    }

    /// Raises the entry to a context that has seen `n` puts of its replica:
    /// every value with a dot `<= n` is overwritten.
    fn cover(&mut self, n: u64) {
        if n >= self.counter {
            self.counter = n;
            self.values.clear();
        } else {
            let keep = usize::try_from(self.counter - n).unwrap_or(usize::MAX);
            self.values.truncate(keep);
        }
    }
}

impl<T: Clone + Ord> Entry<T> {
    /// The per-replica join (same replica on both sides).
    fn merged(mut self, other: &Entry<T>) -> Entry<T> {
        let floor = self.floor().max(other.floor());
        if self.counter >= other.counter {
            let keep = usize::try_from(self.counter - floor).unwrap_or(usize::MAX);
            self.values.truncate(keep);
            let mut counter = self.counter;
            for value in &mut self.values {
                if let Some(theirs) = other.value_of(counter)
                    && *theirs > *value
                {
                    value.clone_from(theirs);
                }
                counter = counter.saturating_sub(1);
            }
            self
        } else {
            let keep = usize::try_from(other.counter - floor)
                .unwrap_or(usize::MAX)
                .min(other.values.len());
            let values = other.values[..keep]
                .iter()
                .zip((0..=other.counter).rev())
                .map(|(theirs, counter)| match self.value_of(counter) {
                    Some(mine) if *mine > *theirs => mine.clone(),
                    _ => theirs.clone(),
                })
                .collect();
            Entry {
                replica: self.replica,
                counter: other.counter,
                values,
            }
        }
    }

    /// `self ⊔ other == other` for entries of the same replica.
    fn leq(&self, other: &Entry<T>) -> bool {
        if other.counter < self.counter || other.floor() < self.floor() {
            return false;
        }
        // Dots live on both sides: ours must not win the per-dot maximum.
        (other.floor() + 1..=self.counter).all(|c| match (self.value_of(c), other.value_of(c)) {
            (Some(mine), Some(theirs)) => mine <= theirs,
            _ => true,
        })
    }
}

fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// Whether every replica's counter in `a` is at most its counter in `b`.
fn counters_leq<T>(a: &[Entry<T>], b: &[Entry<T>]) -> bool {
    a.iter().all(|e| {
        b.binary_search_by(|f| f.replica.cmp(&e.replica))
            .is_ok_and(|i| b[i].counter >= e.counter)
    })
}

/// The sorted, duplicate-free union of two sorted, duplicate-free lists.
fn union_sorted<T: Clone + Ord>(mine: Vec<T>, theirs: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(mine.len() + theirs.len());
    let mut rest = theirs.iter().peekable();
    for value in mine {
        while let Some(next) = rest.next_if(|t| **t < value) {
            out.push(next.clone());
        }
        if rest.peek().is_some_and(|t| **t == value) {
            let _ = rest.next();
        }
        out.push(value);
    }
    out.extend(rest.cloned());
    out
}

impl<T> Default for DvvSet<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            anonymous: Vec::new(),
        }
    }
}

impl<T: Clone + Ord> DvvSet<T> {
    /// The empty set (bottom): no values, no history.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A set holding `value` as an anonymous value (no dot, empty history),
    /// as Riak's `dvvset:new(V)`: a value imported from outside the store.
    ///
    /// Anonymous values are transient (see the design note on [`DvvSet`]):
    /// a sync with any state that has a history drops them. Use
    /// [`DvvSet::update`] to store a value durably.
    #[must_use]
    pub fn from_value(value: T) -> Self {
        Self {
            entries: Vec::new(),
            anonymous: vec![value],
        }
    }

    /// A put of `value`, coordinated by `replica`, from a client whose read
    /// context was `context` (what [`DvvSet::context`] returned when it
    /// read). Returns the new value's dot.
    ///
    /// Every value whose dot the context covers is removed; every other
    /// value stays as a sibling. The new value gets the next dot of
    /// `replica`, above both this set's and the context's counter for it.
    /// Anonymous values are removed if the context covers the set's whole
    /// history ([`DvvSet::context`] `≤ context`), and kept otherwise.
    ///
    /// Only `replica` itself may coordinate its puts, on its own latest
    /// state (design invariant 1: a dot is never minted twice).
    ///
    /// *Overflow:* a counter at `u64::MAX` saturates, as in
    /// [`VersionVector::increment`]: the new value then reuses the dot
    /// `(replica, u64::MAX)` in place of the value there. No replica reaches
    /// it by counting; a context from a hostile peer could claim it, which
    /// only exhausts that replica id (switch to a fresh one).
    pub fn update(&mut self, context: &VersionVector, replica: ReplicaId, value: T) -> Dot {
        if counters_leq(&self.entries, &context_entries(context)) {
            self.anonymous.clear();
        }
        for (r, n) in context.iter() {
            match self.find(r) {
                Ok(i) => self.entries[i].cover(n),
                Err(i) => self.entries.insert(
                    i,
                    Entry {
                        replica: r,
                        counter: n,
                        values: Vec::new(),
                    },
                ),
            }
        }
        let counter = match self.find(replica) {
            Ok(i) => {
                let entry = &mut self.entries[i];
                match entry.counter.checked_add(1) {
                    Some(next) => {
                        entry.counter = next;
                        entry.values.insert(0, value);
                    }
                    None => match entry.values.first_mut() {
                        Some(first) => *first = value,
                        None => entry.values.push(value),
                    },
                }
                entry.counter
            }
            Err(i) => {
                self.entries.insert(
                    i,
                    Entry {
                        replica,
                        counter: 1,
                        values: vec![value],
                    },
                );
                1
            }
        };
        Dot::new(replica, counter).unwrap_or(Dot {
            replica,
            counter: std::num::NonZeroU64::MAX,
        })
    }

    /// Replaces all siblings by one value: `resolve` gets every current
    /// value and returns their reconciliation, which is then put by
    /// `replica` with this set's whole context, so it supersedes exactly
    /// the values it was computed from and syncs like any other put.
    /// Returns the new value's dot.
    ///
    /// ```
    /// use crdt_core::{DvvSet, ReplicaId, VersionVector};
    /// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    /// let mut s = DvvSet::new();
    /// let _ = s.update(&VersionVector::new(), a, 3);
    /// let _ = s.update(&VersionVector::new(), b, 5);
    /// let _ = s.reconcile(a, |vs| vs.into_iter().copied().max().unwrap_or(0));
    /// assert_eq!(s.values().collect::<Vec<_>>(), [&5]);
    /// ```
    pub fn reconcile(&mut self, replica: ReplicaId, resolve: impl FnOnce(Vec<&T>) -> T) -> Dot {
        let context = self.context();
        let value = resolve(self.values().collect());
        self.update(&context, replica, value)
    }

    /// `self := self ⊔ other`: the state that has seen both (the same as
    /// [`Lattice::join`]).
    pub fn sync(&mut self, other: &Self) {
        let keep_mine = counters_leq(&other.entries, &self.entries);
        let keep_theirs = counters_leq(&self.entries, &other.entries);

        let mut entries = Vec::with_capacity(self.entries.len().max(other.entries.len()));
        let mut mine = std::mem::take(&mut self.entries).into_iter().peekable();
        let mut theirs = other.entries.iter().peekable();
        loop {
            let order = match (mine.peek(), theirs.peek()) {
                (Some(a), Some(b)) => a.replica.cmp(&b.replica),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => break,
            };
            let next = match order {
                Ordering::Less => mine.next(),
                Ordering::Greater => theirs.next().cloned(),
                Ordering::Equal => mine.next().zip(theirs.next()).map(|(a, b)| a.merged(b)),
            };
            entries.extend(next);
        }
        self.entries = entries;

        self.anonymous = match (keep_mine, keep_theirs) {
            (true, true) => union_sorted(std::mem::take(&mut self.anonymous), &other.anonymous),
            (true, false) => std::mem::take(&mut self.anonymous),
            (false, true) => other.anonymous.clone(),
            (false, false) => Vec::new(),
        };
    }

    /// Checks the invariants a decoded or hand-built set must satisfy:
    /// entries strictly sorted by replica, no zero counter, no entry with
    /// more values than its counter, anonymous values strictly sorted.
    ///
    /// Sets built through this API always pass; deserialization runs this
    /// check and rejects what fails it.
    pub fn validate(&self) -> Result<(), InvalidDvvSet> {
        for pair in self.entries.windows(2) {
            match pair[0].replica.cmp(&pair[1].replica) {
                Ordering::Less => {}
                Ordering::Equal => return Err(InvalidDvvSet::DuplicateReplica(pair[0].replica)),
                Ordering::Greater => {
                    return Err(InvalidDvvSet::UnsortedReplicas {
                        before: pair[0].replica,
                        after: pair[1].replica,
                    });
                }
            }
        }
        for entry in &self.entries {
            if entry.counter == 0 {
                return Err(InvalidDvvSet::ZeroCounter(entry.replica));
            }
            if len_u64(entry.values.len()) > entry.counter {
                return Err(InvalidDvvSet::TooManyValues {
                    replica: entry.replica,
                    counter: entry.counter,
                    values: entry.values.len(),
                });
            }
        }
        if self.anonymous.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(InvalidDvvSet::UnsortedAnonymous);
        }
        Ok(())
    }
}

impl<T> DvvSet<T> {
    /// The causal context a client reads together with the values: every
    /// put this set has seen. Pass it back to [`DvvSet::update`] to
    /// overwrite exactly what was read.
    #[must_use]
    pub fn context(&self) -> VersionVector {
        self.entries
            .iter()
            .filter_map(|e| Dot::new(e.replica, e.counter))
            .collect()
    }

    /// The current values (siblings): dotted values by replica, newest
    /// first within a replica, then anonymous values in ascending order.
    pub fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.entries
            .iter()
            .flat_map(|e| e.values.iter())
            .chain(self.anonymous.iter())
    }

    /// The number of values (siblings).
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.iter().map(|e| e.values.len()).sum::<usize>() + self.anonymous.len()
    }

    /// Whether there is no value. A set can be empty and still carry a
    /// history (it is then not [`Lattice::is_bottom`]).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.anonymous.is_empty() && self.entries.iter().all(|e| e.values.is_empty())
    }

    fn find(&self, replica: ReplicaId) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.replica.cmp(&replica))
    }
}

/// A context as value-less entries (for comparing counters).
fn context_entries<T>(context: &VersionVector) -> Vec<Entry<T>> {
    context
        .iter()
        .map(|(replica, counter)| Entry {
            replica,
            counter,
            values: Vec::new(),
        })
        .collect()
}

impl<T: Clone + Ord> Lattice for DvvSet<T> {
    fn join(&mut self, other: &Self) {
        self.sync(other);
    }

    fn leq(&self, other: &Self) -> bool {
        let entries_leq = self.entries.iter().all(|e| {
            other
                .find(e.replica)
                .is_ok_and(|i| e.leq(&other.entries[i]))
        });
        if !entries_leq {
            return false;
        }
        // Equal counters: our anonymous values must all be theirs too;
        // strictly older counters: the join drops ours.
        !counters_leq(&other.entries, &self.entries)
            || self
                .anonymous
                .iter()
                .all(|v| other.anonymous.binary_search(v).is_ok())
    }

    fn is_bottom(&self) -> bool {
        self.entries.is_empty() && self.anonymous.is_empty()
    }
}

/// Why a [`DvvSet`] (usually one decoded from a peer) is not well formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidDvvSet {
    /// The entries are not sorted by replica.
    UnsortedReplicas {
        /// The replica of the earlier entry.
        before: ReplicaId,
        /// The smaller replica of the entry after it.
        after: ReplicaId,
    },
    /// Two entries have the same replica.
    DuplicateReplica(ReplicaId),
    /// An entry has counter 0 (puts are counted from 1).
    ZeroCounter(ReplicaId),
    /// An entry holds more values than its replica made puts.
    TooManyValues {
        /// The entry's replica.
        replica: ReplicaId,
        /// The entry's counter.
        counter: u64,
        /// How many values it holds (when decoding, how many had been read
        /// when the excess was detected).
        values: usize,
    },
    /// The anonymous values are not strictly ascending (unsorted or
    /// duplicated).
    UnsortedAnonymous,
}

impl fmt::Display for InvalidDvvSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsortedReplicas { before, after } => write!(
                f,
                "DVV set entries are not sorted by replica: {before} comes before {after}"
            ),
            Self::DuplicateReplica(r) => {
                write!(f, "DVV set has two entries for replica {r}")
            }
            Self::ZeroCounter(r) => {
                write!(
                    f,
                    "DVV set entry for replica {r} has counter 0 (counters start at 1)"
                )
            }
            Self::TooManyValues {
                replica,
                counter,
                values,
            } => write!(
                f,
                "DVV set entry for replica {replica} holds {values} values but only {counter} puts"
            ),
            Self::UnsortedAnonymous => write!(
                f,
                "DVV set anonymous values are not strictly ascending (unsorted or duplicated)"
            ),
        }
    }
}

impl std::error::Error for InvalidDvvSet {}

mod wire;

#[cfg(feature = "quickcheck")]
mod arbitrary;

#[cfg(test)]
mod tests;
