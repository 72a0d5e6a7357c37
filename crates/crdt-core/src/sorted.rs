//! Serde helpers for canonical (strictly sorted) sequences.
//!
//! Every ordered collection in this crate encodes as a plain sequence (or,
//! keyed by replica in a human-readable format, as a map) and decodes only
//! if it is strictly sorted: an unsorted or duplicated entry from
//! a peer is a decode error, never silently reordered or merged, so equal
//! states have exactly one encoding. Pre-allocation from a peer's length
//! prefix is capped, so a lying prefix cannot make us allocate.

use std::cmp::Ordering;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How many `T`s to pre-allocate for a sequence whose length prefix says
/// `hint`: exact for an honest prefix, and at most 4 KiB whatever it says
/// (a lying prefix fails to decode before it could cost more).
pub(crate) fn capacity_for<T>(hint: Option<usize>) -> usize {
    hint.unwrap_or(0)
        .min(4096 / std::mem::size_of::<T>().max(1))
}

/// A growable sequence the decoders below build: a `Vec` or a `SmallVec`,
/// pre-allocated from the length prefix (capped by [`capacity_for`]) and
/// grown one `push` at a time. (They used to `extend` by one item per
/// element, which re-checked the capacity and set up an iterator each time:
/// a tenth of the decode of a context naming 34,842 replicas, issue 11.)
pub(crate) trait Sequence<T>: Deref<Target = [T]> {
    /// Empty, with room for `n` items.
    fn with_capacity(n: usize) -> Self;
    /// Appends `item`.
    fn push(&mut self, item: T);
}

impl<T> Sequence<T> for Vec<T> {
    fn with_capacity(n: usize) -> Self {
        Vec::with_capacity(n)
    }
    fn push(&mut self, item: T) {
        Vec::push(self, item);
    }
}

impl<A: smallvec::Array> Sequence<A::Item> for smallvec::SmallVec<A> {
    fn with_capacity(n: usize) -> Self {
        smallvec::SmallVec::with_capacity(n)
    }
    fn push(&mut self, item: A::Item) {
        smallvec::SmallVec::push(self, item);
    }
}

/// Serializes a slice as a sequence with a known length.
pub(crate) fn serialize_seq<S: Serializer, T: Serialize>(
    serializer: S,
    items: &[T],
) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(items.len()))?;
    for item in items {
        seq.serialize_element(item)?;
    }
    seq.end()
}

/// Deserializes a sequence whose elements must be strictly increasing under
/// `cmp` (no duplicates); anything else is an error naming `what`.
pub(crate) fn deserialize_strictly_sorted<'de, D, T, C>(
    deserializer: D,
    what: &'static str,
    cmp: fn(&T, &T) -> Ordering,
) -> Result<C, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
    C: Sequence<T>,
{
    struct SortedVisitor<T, C> {
        what: &'static str,
        cmp: fn(&T, &T) -> Ordering,
        marker: PhantomData<fn() -> C>,
    }

    impl<'de, T, C> Visitor<'de> for SortedVisitor<T, C>
    where
        T: Deserialize<'de>,
        C: Sequence<T>,
    {
        type Value = C;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a strictly sorted {}", self.what)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<C, A::Error> {
            let mut out = C::with_capacity(capacity_for::<T>(seq.size_hint()));
            while let Some(item) = seq.next_element::<T>()? {
                if let Some(last) = out.last()
                    && (self.cmp)(last, &item) != Ordering::Less
                {
                    return Err(A::Error::custom(format_args!(
                        "{} entries are not strictly sorted",
                        self.what
                    )));
                }
                out.push(item);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_seq(SortedVisitor {
        what,
        cmp,
        marker: PhantomData,
    })
}

/// Serializes `(key, value)` pairs as a map (the human-readable form of the
/// sorted collections keyed by replica: `{"<uuid>": ...}` in JSON).
pub(crate) fn serialize_map<S: Serializer, K: Serialize, V: Serialize>(
    serializer: S,
    entries: &[(K, V)],
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(entries.len()))?;
    for (k, v) in entries {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

/// Deserializes a map whose keys must be strictly increasing (no
/// duplicates), as [`serialize_map`] writes it; anything else is an error
/// naming `what`.
pub(crate) fn deserialize_strictly_sorted_map<'de, D, K, V, C>(
    deserializer: D,
    what: &'static str,
) -> Result<C, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
    C: Sequence<(K, V)> + Deref<Target = [(K, V)]>,
{
    struct MapVisitor<C> {
        what: &'static str,
        marker: PhantomData<fn() -> C>,
    }

    impl<'de, K, V, C> Visitor<'de> for MapVisitor<C>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        C: Sequence<(K, V)> + Deref<Target = [(K, V)]>,
    {
        type Value = C;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a {} as a map with strictly sorted keys", self.what)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<C, A::Error> {
            let mut out = C::with_capacity(capacity_for::<(K, V)>(map.size_hint()));
            while let Some((k, v)) = map.next_entry::<K, V>()? {
                if out.last().is_some_and(|(last, _)| *last >= k) {
                    return Err(A::Error::custom(format_args!(
                        "{} keys are not strictly sorted",
                        self.what
                    )));
                }
                out.push((k, v));
            }
            Ok(out)
        }
    }

    deserializer.deserialize_map(MapVisitor {
        what,
        marker: PhantomData,
    })
}

/// `(key, value)` entries sorted by key: a sequence of pairs, or a map in a
/// human-readable format.
pub(crate) fn serialize_entries<S: Serializer, K: Serialize, V: Serialize>(
    serializer: S,
    entries: &[(K, V)],
) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serialize_map(serializer, entries)
    } else {
        serialize_seq(serializer, entries)
    }
}

/// Reads what [`serialize_entries`] writes; keys must be strictly sorted.
pub(crate) fn deserialize_entries<'de, D, K, V, C>(
    deserializer: D,
    what: &'static str,
) -> Result<C, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
    C: Sequence<(K, V)> + Deref<Target = [(K, V)]>,
{
    if deserializer.is_human_readable() {
        deserialize_strictly_sorted_map(deserializer, what)
    } else {
        deserialize_strictly_sorted(deserializer, what, |a: &(K, V), b| a.0.cmp(&b.0))
    }
}
