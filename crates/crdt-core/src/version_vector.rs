//! Version vectors: replica -> highest contiguous counter.

use std::cmp::Ordering;
use std::fmt;
use std::num::NonZeroU64;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use crate::sorted::{deserialize_strictly_sorted, serialize_seq};
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
    pub fn new() -> Self {
        Self::default()
    }

    /// How many events of `replica` this vector has seen (0 if none).
    #[must_use]
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
    pub fn increment(&mut self, replica: ReplicaId) -> Dot {
        let counter = match self.find(replica) {
            Ok(i) => {
                let next = self.entries[i].1.saturating_add(1);
                self.entries[i].1 = next;
                next
            }
            Err(i) => {
                self.entries.insert(i, (replica, NonZeroU64::MIN));
                NonZeroU64::MIN
            }
        };
        Dot { replica, counter }
    }

    /// Raises the entry of `dot.replica` to at least `dot.counter`.
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

    fn find(&self, replica: ReplicaId) -> Result<usize, usize> {
        self.entries.binary_search_by(|(r, _)| r.cmp(&replica))
    }
}

impl Lattice for VersionVector {
    fn join(&mut self, other: &Self) {
        if other.entries.is_empty() {
            return;
        }
        let mut out = SmallVec::with_capacity(self.entries.len().max(other.entries.len()));
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.entries, &other.entries);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                Ordering::Less => {
                    out.push(a[i]);
                    i += 1;
                }
                Ordering::Greater => {
                    out.push(b[j]);
                    j += 1;
                }
                Ordering::Equal => {
                    out.push((a[i].0, a[i].1.max(b[j].1)));
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        self.entries = out;
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
            .map(|&e| Self {
                entries: SmallVec::from_elem(e, 1),
            })
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
        match (self.leq(other), other.leq(self)) {
            (true, true) => Some(Ordering::Equal),
            (true, false) => Some(Ordering::Less),
            (false, true) => Some(Ordering::Greater),
            (false, false) => None,
        }
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

impl Serialize for VersionVector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_seq(serializer, &self.entries)
    }
}

impl<'de> Deserialize<'de> for VersionVector {
    /// Rejects entries that are not strictly sorted by replica.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries: SmallVec<[(ReplicaId, NonZeroU64); 4]> = deserialize_strictly_sorted(
            deserializer,
            "version vector",
            |a: &(ReplicaId, NonZeroU64), b| a.0.cmp(&b.0),
        )?;
        Ok(Self { entries })
    }
}
