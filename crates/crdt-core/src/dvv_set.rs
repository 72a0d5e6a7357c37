//! DVV sets: the compact per-key sibling set of Riak-style key-value stores.

use std::cmp::Ordering;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::sorted::{MAX_PREALLOC, deserialize_strictly_sorted};
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

impl<T: Serialize> Serialize for Entry<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (&self.replica, self.counter, &self.values).serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entry<T> {
    /// Rejects a zero counter before reading the values, and stops reading
    /// values as soon as there are more than the counter allows, so a peer
    /// cannot make us buffer values that will be rejected anyway.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor<T>(PhantomData<fn() -> T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for EntryVisitor<T> {
            type Value = Entry<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DVV set entry (replica, counter, values)")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry<T>, A::Error> {
                let replica: ReplicaId = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let counter: u64 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                if counter == 0 {
                    return Err(A::Error::custom(InvalidDvvSet::ZeroCounter(replica)));
                }
                let bounded = BoundedValues {
                    replica,
                    counter,
                    marker: PhantomData,
                };
                let values = seq
                    .next_element_seed(bounded)?
                    .ok_or_else(|| A::Error::invalid_length(2, &self))?;
                Ok(Entry {
                    replica,
                    counter,
                    values,
                })
            }
        }

        deserializer.deserialize_tuple(3, EntryVisitor(PhantomData))
    }
}

/// Decodes an entry's values, at most `counter` of them.
struct BoundedValues<T> {
    replica: ReplicaId,
    counter: u64,
    marker: PhantomData<fn() -> T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for BoundedValues<T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for BoundedValues<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at most {} values", self.counter)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let limit = usize::try_from(self.counter).unwrap_or(usize::MAX);
        let hint = seq.size_hint().unwrap_or(0);
        let mut values = Vec::with_capacity(hint.min(limit).min(MAX_PREALLOC));
        while let Some(value) = seq.next_element()? {
            if values.len() >= limit {
                return Err(A::Error::custom(InvalidDvvSet::TooManyValues {
                    replica: self.replica,
                    counter: self.counter,
                    values: values.len() + 1,
                }));
            }
            values.push(value);
        }
        Ok(values)
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

/// The wire shape, decoded before validation.
#[derive(Deserialize)]
#[serde(rename = "DvvSet", bound(deserialize = "T: Deserialize<'de> + Ord"))]
struct Wire<T> {
    #[serde(deserialize_with = "deserialize_entries")]
    entries: Vec<Entry<T>>,
    #[serde(deserialize_with = "deserialize_anonymous")]
    anonymous: Vec<T>,
}

fn deserialize_entries<'de, D, T>(deserializer: D) -> Result<Vec<Entry<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    deserialize_strictly_sorted(deserializer, "DVV set entry", |a: &Entry<T>, b| {
        a.replica.cmp(&b.replica)
    })
}

fn deserialize_anonymous<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Ord,
{
    deserialize_strictly_sorted(deserializer, "DVV set anonymous value", T::cmp)
}

impl<'de, T> Deserialize<'de> for DvvSet<T>
where
    T: Deserialize<'de> + Clone + Ord,
{
    /// Decodes and [validates](DvvSet::validate): non-canonical input
    /// (unsorted or duplicate replicas or anonymous values, zero counters,
    /// more values than puts) is an error.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::<T>::deserialize(deserializer)?;
        let set = Self {
            entries: wire.entries,
            anonymous: wire.anonymous,
        };
        set.validate().map_err(D::Error::custom)?;
        Ok(set)
    }
}

#[cfg(feature = "quickcheck")]
mod arbitrary {
    use quickcheck::{Arbitrary, Gen};

    use super::DvvSet;
    use crate::{Lattice, ReplicaId, VersionVector};

    /// Node `i` of the simulated cluster coordinates replica `i + 1`.
    fn replica(node: usize) -> ReplicaId {
        ReplicaId::from_u128(u128::try_from(node).unwrap_or(0) + 1)
    }

    fn pick(g: &mut Gen, n: usize) -> usize {
        usize::from(u8::arbitrary(g)) % n
    }

    /// Generated by running a random sequence of valid operations (puts
    /// with fresh or stale read contexts, syncs, anonymous values) on a
    /// cluster of four replicas (ids 1..=4) and taking one replica's state.
    impl<T: Arbitrary + Ord> Arbitrary for DvvSet<T> {
        fn arbitrary(g: &mut Gen) -> Self {
            let mut nodes: Vec<DvvSet<T>> = vec![DvvSet::new(); 4];
            let mut reads = vec![VersionVector::new()];
            let steps = pick(g, g.size().clamp(1, 24) + 1);
            for _ in 0..steps {
                let node = pick(g, 4);
                match pick(g, 8) {
                    0..=3 => {
                        let read = pick(g, reads.len());
                        let value = T::arbitrary(g);
                        let _ = nodes[node].update(&reads[read], replica(node), value);
                    }
                    4 => reads.push(nodes[node].context()),
                    5 | 6 => {
                        let from = nodes[pick(g, 4)].clone();
                        nodes[node].join(&from);
                    }
                    _ => {
                        // A value stored without a dot at this exact history.
                        let mut anonymous = DvvSet::from_value(T::arbitrary(g));
                        anonymous.entries.clone_from(&nodes[node].entries);
                        nodes[node].join(&anonymous);
                    }
                }
            }
            nodes.swap_remove(pick(g, 4))
        }

        /// Every candidate is valid: drop anonymous values, drop an entry,
        /// drop an entry's oldest value, lower a counter that has slack, or
        /// shrink one value.
        fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
            let mut out = Vec::new();
            if !self.anonymous.is_empty() {
                let mut s = self.clone();
                s.anonymous.clear();
                out.push(s);
            }
            for i in 0..self.entries.len() {
                let mut s = self.clone();
                let _ = s.entries.remove(i);
                out.push(s);
                let mut s = self.clone();
                if s.entries[i].values.pop().is_some() {
                    out.push(s);
                }
                let e = &self.entries[i];
                if e.counter > 1 && super::len_u64(e.values.len()) < e.counter {
                    let mut s = self.clone();
                    s.entries[i].counter -= 1;
                    out.push(s);
                }
                for (j, value) in e.values.iter().enumerate() {
                    for smaller in value.shrink().take(4) {
                        let mut s = self.clone();
                        s.entries[i].values[j] = smaller;
                        out.push(s);
                    }
                }
            }
            for (j, value) in self.anonymous.iter().enumerate() {
                let mut s = self.clone();
                let _ = s.anonymous.remove(j);
                out.push(s);
                for smaller in value.shrink().take(4) {
                    let mut s = self.clone();
                    s.anonymous[j] = smaller;
                    s.anonymous.sort();
                    s.anonymous.dedup();
                    out.push(s);
                }
            }
            Box::new(out.into_iter())
        }
    }
}

#[cfg(test)]
mod tests {
    use quickcheck::{Arbitrary, Gen, quickcheck};

    use super::*;

    fn r(n: u128) -> ReplicaId {
        ReplicaId::from_u128(n)
    }

    fn vv(entries: &[(u128, u64)]) -> VersionVector {
        entries
            .iter()
            .filter_map(|&(a, n)| Dot::new(r(a), n))
            .collect()
    }

    fn sorted<T: Clone + Ord>(s: &DvvSet<T>) -> Vec<T> {
        let mut v: Vec<T> = s.values().cloned().collect();
        v.sort();
        v
    }

    /// Every value with its dot (`None` for anonymous values), sorted.
    fn dotted<T: Clone + Ord>(s: &DvvSet<T>) -> Vec<(Option<Dot>, T)> {
        let mut out: Vec<(Option<Dot>, T)> = s
            .entries
            .iter()
            .flat_map(|e| {
                e.values
                    .iter()
                    .zip((0..=e.counter).rev())
                    .map(move |(v, c)| (Dot::new(e.replica, c), v.clone()))
            })
            .chain(s.anonymous.iter().map(|v| (None, v.clone())))
            .collect();
        out.sort();
        out
    }

    /// A distributed trace: four nodes (node `i` coordinates replica
    /// `i + 1`), each step `(kind, node, arg)` is a read, a put with one of
    /// the contexts read so far, or a sync from node `arg`.
    #[derive(Clone, Debug)]
    struct Trace(Vec<(u8, u8, u8)>);

    impl Arbitrary for Trace {
        fn arbitrary(g: &mut Gen) -> Self {
            Trace(Arbitrary::arbitrary(g))
        }

        fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
            Box::new(self.0.shrink().map(Trace))
        }
    }

    /// What a trace did: the final node states and every put.
    struct Run {
        nodes: Vec<DvvSet<u32>>,
        /// `(dot, value, read context)` of every put.
        puts: Vec<(Dot, u32, VersionVector)>,
    }

    impl Trace {
        fn run(&self) -> Run {
            let mut nodes = vec![DvvSet::new(); 4];
            let mut reads = vec![VersionVector::new()];
            let mut puts = Vec::new();
            for (step, &(kind, node, arg)) in self.0.iter().enumerate() {
                let node = usize::from(node % 4);
                match kind % 4 {
                    0 => reads.push(nodes[node].context()),
                    1 | 2 => {
                        let context = reads[usize::from(arg) % reads.len()].clone();
                        let value = u32::try_from(step).unwrap();
                        let replica = r(u128::try_from(node).unwrap() + 1);
                        let dot = nodes[node].update(&context, replica, value);
                        puts.push((dot, value, context));
                    }
                    _ => {
                        let from = nodes[usize::from(arg % 4)].clone();
                        nodes[node].sync(&from);
                    }
                }
            }
            Run { nodes, puts }
        }
    }

    // ---- traces of puts, reads and syncs -------------------------------

    quickcheck! {
        fn trace_keeps_exactly_the_unseen_puts(trace: Trace) -> bool {
            let Run { nodes, puts } = trace.run();
            let all = nodes.iter().fold(DvvSet::new(), |acc, n| acc.joined(n));
            let mut expected: Vec<(Option<Dot>, u32)> = puts
                .iter()
                .filter(|(dot, _, _)| !puts.iter().any(|(_, _, ctx)| ctx.contains(*dot)))
                .map(|(dot, value, _)| (Some(*dot), *value))
                .collect();
            expected.sort();
            dotted(&all) == expected
        }

        fn trace_converges_in_any_sync_order(trace: Trace) -> bool {
            let Run { nodes, .. } = trace.run();
            let forward = nodes.iter().fold(DvvSet::new(), |acc, n| acc.joined(n));
            let backward = nodes.iter().rev().fold(DvvSet::new(), |acc, n| acc.joined(n));
            let pairwise = nodes[3]
                .clone()
                .joined(&nodes[1])
                .joined(&nodes[2].clone().joined(&nodes[0]));
            forward == backward && forward == pairwise
        }

        fn metadata_has_one_entry_per_replica(trace: Trace) -> bool {
            let Run { nodes, .. } = trace.run();
            nodes.iter().all(|n| {
                n.validate().is_ok()
                    && n.entries.len() <= 4
                    && n.entries.windows(2).all(|w| w[0].replica < w[1].replica)
            })
        }
    }

    /// Properties over the `quickcheck` feature's generators.
    #[cfg(feature = "quickcheck")]
    mod properties {
        use quickcheck::quickcheck;

        use super::*;

        /// A small arbitrary context over replicas 1..=4.
        #[derive(Clone, Debug)]
        struct Ctx(VersionVector);

        impl Arbitrary for Ctx {
            fn arbitrary(g: &mut Gen) -> Self {
                let pairs: Vec<(u8, u8)> = Arbitrary::arbitrary(g);
                Ctx(pairs
                    .into_iter()
                    .filter_map(|(a, n)| Dot::new(r(u128::from(a % 4) + 1), u64::from(n % 6)))
                    .collect())
            }

            fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
                let dots: Vec<Dot> = self.0.dots().collect();
                Box::new((0..dots.len()).map(move |i| {
                    Ctx(dots
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .map(|(_, d)| *d)
                        .collect())
                }))
            }
        }

        quickcheck! {
            fn join_is_commutative(a: DvvSet<u8>, b: DvvSet<u8>) -> bool {
                a.clone().joined(&b) == b.joined(&a)
            }

            fn join_is_associative(a: DvvSet<u8>, b: DvvSet<u8>, c: DvvSet<u8>) -> bool {
                a.clone().joined(&b).joined(&c) == a.joined(&b.joined(&c))
            }

            fn join_is_idempotent(a: DvvSet<u8>) -> bool {
                a.clone().joined(&a) == a
            }

            fn bottom_is_the_identity(a: DvvSet<u8>) -> bool {
                DvvSet::new().joined(&a) == a && a.clone().joined(&DvvSet::new()) == a
            }

            fn leq_iff_join_is_the_other(a: DvvSet<u8>, b: DvvSet<u8>) -> bool {
                let ab = a.clone().joined(&b);
                a.leq(&b) == (ab == b) && a.leq(&ab) && b.leq(&ab)
            }

            fn join_keeps_sets_valid(a: DvvSet<u8>, b: DvvSet<u8>) -> bool {
                a.validate().is_ok() && a.joined(&b).validate().is_ok()
            }

            fn update_inflates(a: DvvSet<u8>, ctx: Ctx, who: u8, value: u8) -> bool {
                let mut after = a.clone();
                let _ = after.update(&ctx.0, r(u128::from(who % 4) + 1), value);
                a.leq(&after) && !after.leq(&a) && after.validate().is_ok()
            }

            fn put_removes_exactly_the_covered_siblings(
                a: DvvSet<u8>,
                ctx: Ctx,
                who: u8,
                value: u8
            ) -> bool {
                let ctx = ctx.0;
                let drops_anonymous = a.context().leq(&ctx);
                let mut after = a.clone();
                let dot = after.update(&ctx, r(u128::from(who % 4) + 1), value);
                let mut expected: Vec<(Option<Dot>, u8)> = dotted(&a)
                    .into_iter()
                    .filter(|(d, _)| match d {
                        Some(d) => !ctx.contains(*d),
                        None => !drops_anonymous,
                    })
                    .collect();
                expected.push((Some(dot), value));
                expected.sort();
                dotted(&after) == expected
                    && !a.context().contains(dot)
                    && !ctx.contains(dot)
            }

            fn concurrent_update_is_never_lost(a: DvvSet<u8>, who: u8, x: u8, y: u8) -> bool {
                // Two clients read the same context; both puts survive, here and
                // on a replica that syncs them in the other order.
                let read = a.context();
                let (p, q) = (r(u128::from(who % 4) + 1), r(u128::from(who.wrapping_add(1) % 4) + 1));
                let mut one = a.clone();
                let dx = one.update(&read, p, x);
                let mut two = a.clone();
                let dy = two.update(&read, q, y);
                let mut both = one.clone();
                let _ = both.update(&read, p, y);
                let synced = two.clone().joined(&one);
                let has = |s: &DvvSet<u8>, d: Dot| dotted(s).iter().any(|(e, _)| *e == Some(d));
                has(&synced, dx) && has(&synced, dy) && both.len() == 2 && sorted(&both) == {
                    let mut v = vec![x, y];
                    v.sort();
                    v
                }
            }

            fn bincode_round_trip(a: DvvSet<u8>) -> bool {
                let bytes = bincode::serde::encode_to_vec(&a, bincode::config::standard()).unwrap();
                let decoded: (DvvSet<u8>, usize) =
                    bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
                decoded == (a, bytes.len())
            }
        }
    }

    #[test]
    fn many_siblings_share_one_entry() {
        let mut s = DvvSet::new();
        let read = VersionVector::new();
        for v in 0..100_u32 {
            let _ = s.update(&read, r(1), v);
        }
        assert_eq!(s.len(), 100);
        assert_eq!(s.entries.len(), 1);
        assert_eq!(s.context(), vv(&[(1, 100)]));
        // Newest first within the replica.
        assert_eq!(s.values().next(), Some(&99));
    }

    #[test]
    fn put_with_full_context_replaces_all_siblings() {
        let mut s = DvvSet::new();
        let _ = s.update(&VersionVector::new(), r(1), "a");
        let _ = s.update(&VersionVector::new(), r(2), "b");
        let ctx = s.context();
        let dot = s.update(&ctx, r(2), "c");
        assert_eq!(sorted(&s), ["c"]);
        assert_eq!(dot, Dot::new(r(2), 2).unwrap());
    }

    #[test]
    fn context_ahead_of_the_coordinator_raises_its_counter() {
        let mut s: DvvSet<u8> = DvvSet::new();
        let dot = s.update(&vv(&[(1, 7), (3, 2)]), r(1), 9);
        assert_eq!(dot, Dot::new(r(1), 8).unwrap());
        assert_eq!(s.context(), vv(&[(1, 8), (3, 2)]));
        assert_eq!(s.len(), 1);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn reconcile_supersedes_every_sibling() {
        let mut a = DvvSet::new();
        let _ = a.update(&VersionVector::new(), r(1), 1_u8);
        let mut b = DvvSet::new();
        let _ = b.update(&VersionVector::new(), r(2), 2_u8);
        a.sync(&b);
        let stale = a.clone();
        let _ = a.reconcile(r(3), |vs| vs.into_iter().sum());
        assert_eq!(sorted(&a), [3]);
        assert_eq!(a.clone().joined(&stale), a);
        assert_eq!(b.joined(&a), a);
    }

    #[test]
    fn anonymous_value_is_replaced_by_a_put_that_read_it() {
        let mut s = DvvSet::from_value("imported");
        let read = s.context();
        assert_eq!(sorted(&s), ["imported"]);
        let _ = s.update(&read, r(1), "edited");
        assert_eq!(sorted(&s), ["edited"]);
    }

    #[test]
    fn anonymous_value_survives_a_put_with_an_older_context() {
        let mut s = DvvSet::new();
        let _ = s.update(&VersionVector::new(), r(1), "x");
        s.sync(&DvvSet {
            entries: s.entries.clone(),
            anonymous: vec!["anon"],
        });
        let _ = s.update(&VersionVector::new(), r(1), "y");
        assert_eq!(sorted(&s), ["anon", "x", "y"]);
    }

    #[test]
    fn anonymous_values_sync_associatively() {
        // The triple for which Riak's union-on-concurrent sync is not
        // associative: here both groupings agree.
        let mut h1 = DvvSet::new();
        let _ = h1.update(&VersionVector::new(), r(1), 10_u8);
        let mut h2 = DvvSet::new();
        let _ = h2.update(&VersionVector::new(), r(2), 20_u8);
        let a = DvvSet {
            entries: h1.entries.clone(),
            anonymous: vec![1],
        };
        let b = h2.clone();
        let c = h1.joined(&h2);
        let left = a.clone().joined(&b).joined(&c);
        let right = a.joined(&b.joined(&c));
        assert_eq!(left, right);
        assert_eq!(sorted(&left), [10, 20]);
    }

    #[test]
    fn conflicting_values_for_one_dot_converge_to_the_greater() {
        let mut a = DvvSet::new();
        let _ = a.update(&VersionVector::new(), r(1), 1_u8);
        let mut b = DvvSet::new();
        let _ = b.update(&VersionVector::new(), r(1), 2_u8);
        assert_eq!(a.clone().joined(&b), b.clone().joined(&a));
        assert_eq!(sorted(&a.joined(&b)), [2]);
    }

    #[test]
    fn saturated_counter_does_not_panic() {
        let mut s: DvvSet<u8> = DvvSet::new();
        let max = vv(&[(1, u64::MAX)]);
        let dot = s.update(&max, r(1), 1);
        assert_eq!(dot, Dot::new(r(1), u64::MAX).unwrap());
        let again = s.update(&max, r(1), 2);
        assert_eq!(again, dot);
        assert_eq!(sorted(&s), [2]);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn empty_with_history_is_not_bottom() {
        let mut s = DvvSet::new();
        let _ = s.update(&VersionVector::new(), r(1), 1_u8);
        let ctx = s.context();
        let mut t = s.clone();
        let _ = t.update(&ctx, r(1), 2);
        let _ = t.reconcile(r(1), |_| 3);
        assert!(!t.is_empty());
        let mut u: DvvSet<u8> = DvvSet::new();
        u.sync(&DvvSet {
            entries: context_entries(&ctx),
            anonymous: Vec::new(),
        });
        assert!(u.is_empty() && !u.is_bottom());
        assert!(DvvSet::<u8>::new().is_bottom());
    }

    // ---- wire format --------------------------------------------------

    type RawEntry = (ReplicaId, u64, Vec<u8>);

    fn decode(entries: Vec<RawEntry>, anonymous: Vec<u8>) -> Result<DvvSet<u8>, String> {
        let bytes =
            bincode::serde::encode_to_vec((entries, anonymous), bincode::config::standard())
                .unwrap();
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard())
            .map(|(s, _)| s)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn hand_made_canonical_encoding_decodes() {
        let s = decode(vec![(r(1), 2, vec![7, 8]), (r(3), 1, vec![])], vec![1, 4]).unwrap();
        assert_eq!(s.context(), vv(&[(1, 2), (3, 1)]));
        assert_eq!(s.values().copied().collect::<Vec<_>>(), [7, 8, 1, 4]);
    }

    #[test]
    fn non_canonical_encodings_are_rejected() {
        let cases: [(Vec<RawEntry>, Vec<u8>, &str); 6] = [
            (vec![(r(2), 1, vec![]), (r(1), 1, vec![])], vec![], "sorted"),
            (vec![(r(1), 1, vec![]), (r(1), 2, vec![])], vec![], "sorted"),
            (vec![(r(1), 0, vec![])], vec![], "counter 0"),
            (
                vec![(r(1), 1, vec![1, 2])],
                vec![],
                "2 values but only 1 puts",
            ),
            (vec![], vec![2, 1], "sorted"),
            (vec![], vec![1, 1], "sorted"),
        ];
        for (entries, anonymous, why) in cases {
            let err = decode(entries.clone(), anonymous.clone()).unwrap_err();
            assert!(err.contains(why), "{entries:?} {anonymous:?}: {err}");
        }
    }

    #[test]
    fn validate_names_each_defect() {
        let entry = |a, counter, values: Vec<u8>| Entry {
            replica: r(a),
            counter,
            values,
        };
        let set = |entries, anonymous| DvvSet { entries, anonymous };
        assert_eq!(
            set(vec![entry(2, 1, vec![]), entry(1, 1, vec![])], vec![]).validate(),
            Err(InvalidDvvSet::UnsortedReplicas {
                before: r(2),
                after: r(1)
            })
        );
        assert_eq!(
            set(vec![entry(1, 1, vec![]), entry(1, 1, vec![])], vec![]).validate(),
            Err(InvalidDvvSet::DuplicateReplica(r(1)))
        );
        assert_eq!(
            set(vec![entry(1, 0, vec![])], vec![]).validate(),
            Err(InvalidDvvSet::ZeroCounter(r(1)))
        );
        let too_many = set(vec![entry(1, 1, vec![1, 2])], vec![]).validate();
        assert_eq!(
            too_many,
            Err(InvalidDvvSet::TooManyValues {
                replica: r(1),
                counter: 1,
                values: 2
            })
        );
        assert_eq!(
            too_many.unwrap_err().to_string(),
            "DVV set entry for replica R1 holds 2 values but only 1 puts"
        );
        assert_eq!(
            set(vec![], vec![3, 3]).validate(),
            Err(InvalidDvvSet::UnsortedAnonymous)
        );
    }
}
