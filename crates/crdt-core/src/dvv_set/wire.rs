//! The wire form of a [`DvvSet`]: entries decoded with their values
//! bounded by their counters, then validated as a whole.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{DvvSet, Entry, InvalidDvvSet};
use crate::ReplicaId;
use crate::sorted::deserialize_strictly_sorted;

/// The most values pre-allocated on the strength of a peer's length prefix.
const MAX_PREALLOC: usize = 1024;

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
