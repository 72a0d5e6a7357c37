//! Version vectors: replica -> highest contiguous counter.

use std::cmp::Ordering;
use std::fmt;
use std::num::NonZeroU64;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use crate::sorted::{deserialize_entries, serialize_entries};
use crate::{Decompose, Dot, Lattice, ReplicaId};

/// A version vector: for each replica, the number of its events seen (all of
/// `1..=n`, with no gaps).
///
/// Stored as a small sorted array of `(replica, counter)` pairs (inline up to
/// four replicas), with no zero entries, so equality is semantic and encoding
/// is canonical. Join is the pointwise maximum; the order is the pointwise
/// order, and `PartialOrd` answers before / after / equal / concurrent
/// (`None`).
///
/// ```
/// use std::cmp::Ordering;
/// use crdt_core::{Lattice, ReplicaId, VersionVector};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = VersionVector::new();
/// let _ = x.increment(a);
/// let mut y = x.clone();
/// let _ = y.increment(b);
/// assert_eq!(x.partial_cmp(&y), Some(Ordering::Less));
/// let _ = x.increment(a);
/// assert_eq!(x.partial_cmp(&y), None); // concurrent
/// x.join(&y);
/// assert_eq!((x.get(a), x.get(b)), (2, 1));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct VersionVector {
    entries: SmallVec<[(ReplicaId, NonZeroU64); 4]>,
}

impl VersionVector {
    /// The empty version vector (bottom).
    #[must_use]
    #[inline]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many events of `replica` this vector has seen (0 if none).
    #[must_use]
    #[inline]
    pub fn get(&self, replica: ReplicaId) -> u64 {
        match self.find(replica) {
            Ok(i) => self.entries[i].1.get(),
            Err(_) => 0,
        }
    }

    /// Records the next event of `replica` and returns its dot.
    ///
    /// Saturates at `u64::MAX` (which no replica reaches: it would take
    /// centuries at a billion events per second).
    #[inline]
    pub fn increment(&mut self, replica: ReplicaId) -> Dot {
        self.increment_by(replica, NonZeroU64::MIN)
    }

    /// Records `by` more events of `replica` (one search) and returns the
    /// dot of the last of them. Saturates at `u64::MAX`.
    #[inline]
    pub fn increment_by(&mut self, replica: ReplicaId, by: NonZeroU64) -> Dot {
        let counter = match self.find(replica) {
            Ok(i) => {
                let next = self.entries[i].1.saturating_add(by.get());
                self.entries[i].1 = next;
                next
            }
            Err(i) => {
                self.entries.insert(i, (replica, by));
                by
            }
        };
        Dot { replica, counter }
    }

    /// Raises the entry of `dot.replica` to at least `dot.counter`.
    #[inline]
    pub fn observe(&mut self, dot: Dot) {
        match self.find(dot.replica) {
            Ok(i) => {
                if self.entries[i].1 < dot.counter {
                    self.entries[i].1 = dot.counter;
                }
            }
            Err(i) => self.entries.insert(i, (dot.replica, dot.counter)),
        }
    }

    /// Whether this vector has seen `dot` (its counter is within the entry).
    #[must_use]
    #[inline]
    pub fn contains(&self, dot: Dot) -> bool {
        self.get(dot.replica) >= dot.counter()
    }

    /// Whether `self` has seen everything `other` has (`other ≤ self`).
    #[must_use]
    pub fn dominates(&self, other: &Self) -> bool {
        other.leq(self)
    }

    /// The number of replicas with a non-zero entry.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no replica has an entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `(replica, counter)` entries in replica order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (ReplicaId, u64)> + '_ {
        self.entries.iter().map(|&(r, n)| (r, n.get()))
    }

    /// The last dot of each replica, in replica order.
    pub fn dots(&self) -> impl ExactSizeIterator<Item = Dot> + '_ {
        self.entries
            .iter()
            .map(|&(replica, counter)| Dot { replica, counter })
    }

    #[inline]
    fn find(&self, replica: ReplicaId) -> Result<usize, usize> {
        self.entries.binary_search_by(|(r, _)| r.cmp(&replica))
    }
}

impl Lattice for VersionVector {
    /// Pointwise maximum, in place: no allocation unless `other` names
    /// replicas that `self` lacks (then one merge from the back).
    fn join(&mut self, other: &Self) {
        if let [(replica, counter)] = other.entries.as_slice() {
            // One entry (a delta): one search.
            self.observe(Dot {
                replica: *replica,
                counter: *counter,
            });
            return;
        }
        let (a, b) = (&mut self.entries, &other.entries);
        let mut missing = 0;
        let (mut i, mut j) = (0, 0);
        while j < b.len() {
            if i == a.len() {
                missing += b.len() - j;
                break;
            }
            match a[i].0.cmp(&b[j].0) {
                Ordering::Less => i += 1,
                Ordering::Greater => {
                    missing += 1;
                    j += 1;
                }
                Ordering::Equal => {
                    if a[i].1 < b[j].1 {
                        a[i].1 = b[j].1;
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        if missing == 0 {
            return;
        }
        // Grow, then merge from the back so nothing is overwritten early.
        let old = a.len();
        a.resize(old + missing, (ReplicaId::default(), NonZeroU64::MIN));
        let (mut i, mut j, mut k) = (old, b.len(), old + missing);
        while j > 0 {
            k -= 1;
            if i > 0 && a[i - 1].0 > b[j - 1].0 {
                a[k] = a[i - 1];
                i -= 1;
            } else if i > 0 && a[i - 1].0 == b[j - 1].0 {
                a[k] = a[i - 1]; // already raised to the maximum above
                i -= 1;
                j -= 1;
            } else {
                a[k] = b[j - 1];
                j -= 1;
            }
        }
    }

    fn leq(&self, other: &Self) -> bool {
        self.entries.iter().all(|&(r, n)| other.get(r) >= n.get())
    }

    fn is_bottom(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Decompose for VersionVector {
    /// One single-entry vector per replica.
    fn decompose(&self) -> Vec<Self> {
        self.entries
            .iter()
            .map(|&(replica, counter)| Self::from(Dot { replica, counter }))
            .collect()
    }

    fn delta_from(&self, known: &Self) -> Self {
        Self {
            entries: self
                .entries
                .iter()
                .copied()
                .filter(|&(r, n)| known.get(r) < n.get())
                .collect(),
        }
    }
}

impl PartialOrd for VersionVector {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        crate::lattice::order_from_leq(self.leq(other), other.leq(self))
    }
}

impl From<Dot> for VersionVector {
    /// The least vector that contains `dot`.
    #[inline]
    fn from(dot: Dot) -> Self {
        let mut entries = SmallVec::new();
        entries.push((dot.replica, dot.counter));
        Self { entries }
    }
}

impl FromIterator<Dot> for VersionVector {
    /// The least vector that contains every dot.
    fn from_iter<I: IntoIterator<Item = Dot>>(iter: I) -> Self {
        let mut vv = Self::new();
        for dot in iter {
            vv.observe(dot);
        }
        vv
    }
}

impl fmt::Debug for VersionVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A sequence of `(replica, counter)` pairs; in a human-readable format
/// (`serializer.is_human_readable()`, e.g. JSON) a map from replica ids
/// (UUID strings) to counters.
impl Serialize for VersionVector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_entries(serializer, &self.entries)
    }
}

impl<'de> Deserialize<'de> for VersionVector {
    /// Rejects entries that are not strictly sorted by replica, and zero
    /// counters.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries: SmallVec<[(ReplicaId, NonZeroU64); 4]> =
            deserialize_entries(deserializer, "version vector")?;
        Ok(Self { entries })
    }
}
