//! Replica identifiers.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The identity of one replica (one incarnation of one writer).
///
/// A `ReplicaId` is a UUID. [`ReplicaId::random`] draws a fresh v4 id, which is
/// what a replica should do every time it starts from a snapshot that might not
/// be its latest state (see invariant 1 in the design: a dot is never minted
/// twice). [`ReplicaId::from_u128`] builds readable ids for tests.
///
/// Ids are totally ordered (by their 128-bit value), so every structure keyed
/// by replica iterates in the same order on every machine.
///
/// On the wire a `ReplicaId` is 16 raw bytes in binary formats and the
/// hyphenated UUID string in human-readable ones.
///
/// ```
/// use crdt_core::ReplicaId;
/// let a = ReplicaId::from_u128(1);
/// let b = ReplicaId::from_u128(2);
/// assert!(a < b);
/// assert_ne!(ReplicaId::random(), ReplicaId::random());
/// ```
///
/// Design note: the id is stored as two `u64` halves (high first, so the
/// derived order is the numeric order) rather than one `u128`, because a
/// `u128` is 16-byte aligned and would pad every [`crate::Dot`] from 24 to 32
/// bytes; dots are the most numerous thing in a causal state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReplicaId {
    hi: u64,
    lo: u64,
}

/// The numeric order of the 128-bit values (the order `(hi, lo)` derives),
/// compared as one `u128`: a branch-free comparison, which makes the binary
/// searches over replicas (version vectors, contexts, counters) about twice
/// as fast as the derived field-by-field one.
impl Ord for ReplicaId {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_u128().cmp(&other.as_u128())
    }
}

impl PartialOrd for ReplicaId {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl ReplicaId {
    /// A fresh random (v4) replica id.
    #[must_use]
    pub fn random() -> Self {
        Self::from_u128(Uuid::new_v4().as_u128())
    }

    /// The replica id with this 128-bit value (handy in tests: `from_u128(1)`).
    #[must_use]
    #[inline]
    pub const fn from_u128(value: u128) -> Self {
        Self {
            hi: (value >> 64) as u64,
            lo: value as u64,
        }
    }

    /// The 128-bit value of this id.
    #[must_use]
    #[inline]
    pub const fn as_u128(self) -> u128 {
        ((self.hi as u128) << 64) | self.lo as u128
    }

    /// This id as a [`Uuid`].
    #[must_use]
    pub const fn to_uuid(self) -> Uuid {
        Uuid::from_u128(self.as_u128())
    }
}

impl From<Uuid> for ReplicaId {
    fn from(value: Uuid) -> Self {
        Self::from_u128(value.as_u128())
    }
}

impl From<ReplicaId> for Uuid {
    fn from(value: ReplicaId) -> Self {
        value.to_uuid()
    }
}

impl fmt::Debug for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Small ids (tests) print as numbers, real ones as UUIDs.
        if self.hi == 0 && self.lo < 1 << 32 {
            write!(f, "R{}", self.lo)
        } else {
            write!(f, "{}", self.to_uuid())
        }
    }
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Serialize for ReplicaId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            self.to_uuid().serialize(serializer)
        } else {
            self.as_u128().to_be_bytes().serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for ReplicaId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            Uuid::deserialize(deserializer).map(Self::from)
        } else {
            <[u8; 16]>::deserialize(deserializer).map(|b| Self::from_u128(u128::from_be_bytes(b)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_the_numeric_order_of_the_128_bit_value() {
        let values = [
            0u128,
            1,
            u128::from(u64::MAX),
            1 << 64,
            (1 << 64) + 1,
            u128::MAX - 1,
            u128::MAX,
        ];
        for &a in &values {
            for &b in &values {
                let (x, y) = (ReplicaId::from_u128(a), ReplicaId::from_u128(b));
                assert_eq!(x.cmp(&y), a.cmp(&b), "{a} vs {b}");
                assert_eq!(x.partial_cmp(&y), Some(a.cmp(&b)));
            }
        }
    }

    #[test]
    fn random_ids_are_v4_and_distinct() {
        let a = ReplicaId::random();
        assert_eq!(a.to_uuid().get_version_num(), 4);
        assert_ne!(a, ReplicaId::random());
    }

    #[test]
    fn binary_encoding_is_sixteen_raw_bytes() {
        let id = ReplicaId::from_u128(0x0102_0304);
        let bytes = bincode::serde::encode_to_vec(id, bincode::config::standard()).unwrap();
        assert_eq!(bytes.len(), 16);
        let (back, _): (ReplicaId, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn dots_stay_small() {
        assert_eq!(std::mem::size_of::<ReplicaId>(), 16);
        assert_eq!(std::mem::align_of::<ReplicaId>(), 8);
        assert_eq!(std::mem::size_of::<crate::Dot>(), 24);
    }

    #[test]
    fn order_follows_the_numeric_value() {
        assert!(ReplicaId::from_u128(1) < ReplicaId::from_u128(2));
        assert!(ReplicaId::from_u128(u128::from(u64::MAX)) < ReplicaId::from_u128(1 << 64));
        let big = ReplicaId::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        assert_eq!(big.as_u128(), 0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        assert_eq!(format!("{:?}", ReplicaId::from_u128(7)), "R7");
    }
}
