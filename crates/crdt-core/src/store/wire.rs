//! Compact encoding of a store inside a [`Causal`] state.
//!
//! Every dot in a store is in its context (invariant 2), so the replicas of
//! all its dots are among the context's replicas. A [`Causal`] therefore
//! encodes its context first and then writes each dot of the store as
//! `(index of its replica in the context, counter)`: a one-byte varint
//! instead of 16 bytes of replica id per dot. Decoding resolves the indices
//! against the context just read; an index out of range is an error.
//!
//! In a human-readable format (`is_human_readable()`, e.g. JSON) a dot is
//! written `[replica, counter]` with the replica id as a UUID string, and a
//! decoded dot whose replica is not in the context is an error.

use std::fmt;
use std::marker::PhantomData;
use std::num::NonZeroU64;

use serde::de::{DeserializeOwned, DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use super::{DotFun, DotMap, DotSet, DotStore, content_hash, packed};
use crate::sorted::capacity_for;
use crate::{Dot, ReplicaId};

/// A dot store that can be encoded with its dots' replicas written as indices
/// into the enclosing context's (sorted) replica list. Implemented by the
/// kernel stores; [`Causal`](super::Causal) implements `Serialize` through it.
pub trait InternedSerialize: DotStore {
    /// Encodes `self`, writing each dot's replica as its position in
    /// `replicas` (sorted; every dot's replica must be there).
    fn serialize_interned<S: Serializer>(
        &self,
        replicas: &[ReplicaId],
        serializer: S,
    ) -> Result<S::Ok, S::Error>;

    /// Whether the store has a packed form ([`InternedSerialize::pack`]),
    /// which a map then writes into its byte column instead of one serde
    /// entry per value. Must equal [`InternedDeserialize::PACKED`]. Only
    /// [`DotSet`] has one.
    const PACKED: bool = false;

    /// Appends the packed form of `self` (never empty) to `out`; an error
    /// for a store without one or with a dot outside `replicas`.
    fn pack(&self, replicas: &[ReplicaId], out: &mut Vec<u8>) -> Result<(), String> {
        let _ = (replicas, out);
        Err("this store has no packed form".into())
    }

    /// Calls `f` with every held dot and a canonical hash of its content
    /// (the key path above it and its value), keyed by `seed`: what
    /// [`Causal::fingerprints`](super::Causal::fingerprints) sums. The
    /// default passes `seed` for every dot (content-blind: it still tells
    /// which dots are held); the kernel stores hash keys and values with
    /// [`content_hash`](super::content_hash).
    fn hash_dots(&self, seed: u64, f: &mut dyn FnMut(Dot, u64)) {
        for dot in self.dots() {
            f(dot, seed);
        }
    }
}

/// The decoding half of [`InternedSerialize`]; [`Causal`](super::Causal)
/// implements `Deserialize` through it.
pub trait InternedDeserialize: DotStore {
    /// Decodes a store written by [`InternedSerialize::serialize_interned`]
    /// with the same `replicas`.
    fn deserialize_interned<'de, D: Deserializer<'de>>(
        replicas: &[ReplicaId],
        deserializer: D,
    ) -> Result<Self, D::Error>;

    /// Whether the store is read with [`InternedDeserialize::unpack`]
    /// inside a map; equal to [`InternedSerialize::PACKED`].
    const PACKED: bool = false;

    /// Reads one store written by [`InternedSerialize::pack`] from the
    /// front of `bytes`, advancing it.
    fn unpack(replicas: &[ReplicaId], bytes: &mut &[u8]) -> Result<Self, &'static str> {
        let _ = (replicas, bytes);
        Err("this store has no packed form")
    }
}

/// `value` encoded against `replicas`.
pub(crate) struct Interned<'a, T>(pub(crate) &'a T, pub(crate) &'a [ReplicaId]);

impl<T: InternedSerialize> Serialize for Interned<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_interned(self.1, serializer)
    }
}

/// Decodes a `T` against `replicas`.
pub(crate) struct Seed<'a, T>(
    pub(crate) &'a [ReplicaId],
    pub(crate) PhantomData<fn() -> T>,
);

impl<'de, T: InternedDeserialize> DeserializeSeed<'de> for Seed<'_, T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        T::deserialize_interned(self.0, deserializer)
    }
}

/// Reads one `(key, store)` pair of a map against the interned replicas.
struct Entry<'a, K, S>(&'a [ReplicaId], PhantomData<fn() -> (K, S)>);
impl<'de, K: DeserializeOwned, S: InternedDeserialize> DeserializeSeed<'de> for Entry<'_, K, S> {
    type Value = (K, S);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(K, S), D::Error> {
        d.deserialize_tuple(2, self)
    }
}
impl<'de, K: DeserializeOwned, S: InternedDeserialize> Visitor<'de> for Entry<'_, K, S> {
    type Value = (K, S);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a (key, store) pair")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(K, S), A::Error> {
        let k = seq
            .next_element::<K>()?
            .ok_or_else(|| A::Error::invalid_length(0, &self))?;
        let s = seq
            .next_element_seed(Seed::<S>(self.0, PhantomData))?
            .ok_or_else(|| A::Error::invalid_length(1, &self))?;
        Ok((k, s))
    }
}

/// A dot as written: `(index, counter)`, or `(replica, counter)` when
/// readable.
#[derive(Serialize)]
#[serde(untagged)]
enum DotRef {
    Interned(u32, NonZeroU64),
    Readable(ReplicaId, NonZeroU64),
}

fn dot_ref<E: serde::ser::Error>(
    replicas: &[ReplicaId],
    dot: Dot,
    readable: bool,
) -> Result<DotRef, E> {
    let index = index_of::<E>(replicas, dot)?;
    Ok(if readable {
        DotRef::Readable(dot.replica, dot.counter)
    } else {
        DotRef::Interned(index, dot.counter)
    })
}

/// A dot as read: `(index, counter)`, or `(replica, counter)` when readable;
/// either way it must be in the context's `replicas`.
fn read_dot<'de, A: SeqAccess<'de>>(
    seq: &mut A,
    replicas: &[ReplicaId],
    readable: bool,
) -> Result<Option<Dot>, A::Error> {
    if readable {
        let Some((replica, counter)) = seq.next_element::<(ReplicaId, NonZeroU64)>()? else {
            return Ok(None);
        };
        readable_dot::<A::Error>(replicas, replica, counter).map(Some)
    } else {
        match seq.next_element::<(u32, NonZeroU64)>()? {
            Some((i, c)) => resolve::<A::Error>(replicas, i, c).map(Some),
            None => Ok(None),
        }
    }
}

/// A readable dot, checked to be among the context's `replicas`.
fn readable_dot<E: serde::de::Error>(
    replicas: &[ReplicaId],
    replica: ReplicaId,
    counter: NonZeroU64,
) -> Result<Dot, E> {
    if replicas.binary_search(&replica).is_err() {
        return Err(E::custom(
            "dot refers to a replica outside the causal context",
        ));
    }
    Ok(Dot { replica, counter })
}

/// The position of `dot`'s replica among the context's `replicas`.
pub(super) fn replica_index(replicas: &[ReplicaId], dot: Dot) -> Option<u32> {
    replicas
        .binary_search(&dot.replica)
        .ok()
        .and_then(|i| u32::try_from(i).ok())
}

/// The replica at `index` among the context's `replicas`.
pub(super) fn replica_at(replicas: &[ReplicaId], index: u64) -> Option<ReplicaId> {
    usize::try_from(index)
        .ok()
        .and_then(|i| replicas.get(i))
        .copied()
}

/// Why a decoded dot's replica index was refused.
pub(super) const OUTSIDE: &str = "dot refers to a replica outside the causal context";

/// Why a decoded map is refused when an entry holds an empty store.
pub(super) const EMPTY_ENTRY: &str = "dot map entry holds an empty store";

/// The checks every decoded map's entries pass, in either encoding.
pub(super) fn check_entries<K: Ord, S: DotStore>(entries: &[(K, S)]) -> Result<(), &'static str> {
    if !entries.windows(2).all(|w| w[0].0 < w[1].0) {
        return Err("dot map keys are not strictly sorted");
    }
    if entries.iter().any(|(_, s)| s.is_bottom()) {
        return Err(EMPTY_ENTRY);
    }
    Ok(())
}

fn index_of<E: serde::ser::Error>(replicas: &[ReplicaId], dot: Dot) -> Result<u32, E> {
    replica_index(replicas, dot)
        .ok_or_else(|| E::custom(format_args!("dot {dot} is outside the causal context")))
}

fn resolve<E: serde::de::Error>(
    replicas: &[ReplicaId],
    index: u32,
    counter: NonZeroU64,
) -> Result<Dot, E> {
    replica_at(replicas, index.into())
        .map(|replica| Dot { replica, counter })
        .ok_or_else(|| E::custom(OUTSIDE))
}

/// Serializes `items` as a sequence, each through `f`.
fn seq<S: Serializer, T>(
    serializer: S,
    items: impl ExactSizeIterator<Item = T>,
    mut f: impl FnMut(&mut S::SerializeSeq, T) -> Result<(), S::Error>,
) -> Result<S::Ok, S::Error> {
    let mut s = serializer.serialize_seq(Some(items.len()))?;
    for item in items {
        f(&mut s, item)?;
    }
    s.end()
}

impl InternedSerialize for DotSet {
    fn serialize_interned<S: Serializer>(
        &self,
        replicas: &[ReplicaId],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let readable = serializer.is_human_readable();
        if !readable && !packed::legacy() {
            return packed::serialize_set(self, replicas, serializer);
        }
        seq(serializer, self.iter(), |s, dot| {
            s.serialize_element(&dot_ref::<S::Error>(replicas, dot, readable)?)
        })
    }

    const PACKED: bool = true;

    fn pack(&self, replicas: &[ReplicaId], out: &mut Vec<u8>) -> Result<(), String> {
        packed::pack_set(self, replicas, out)
    }
}

impl InternedDeserialize for DotSet {
    fn deserialize_interned<'de, D: Deserializer<'de>>(
        replicas: &[ReplicaId],
        deserializer: D,
    ) -> Result<Self, D::Error> {
        struct V<'a>(&'a [ReplicaId], bool);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = DotSet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sorted sequence of interned dots")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DotSet, A::Error> {
                // Collected, then built once: inserting one by one copies
                // the set per dot, quadratic in a set of many siblings.
                let mut dots: SmallVec<[Dot; 1]> =
                    SmallVec::with_capacity(capacity_for::<Dot>(seq.size_hint()));
                while let Some(dot) = read_dot(&mut seq, self.0, self.1)? {
                    if dots.last().is_some_and(|&l| l >= dot) {
                        return Err(A::Error::custom("dot set entries are not strictly sorted"));
                    }
                    dots.push(dot);
                }
                Ok(DotSet::from_sorted(dots))
            }
        }
        let readable = deserializer.is_human_readable();
        if !readable && !packed::legacy() {
            return packed::deserialize_set(replicas, deserializer);
        }
        deserializer.deserialize_seq(V(replicas, readable))
    }

    const PACKED: bool = true;

    fn unpack(replicas: &[ReplicaId], bytes: &mut &[u8]) -> Result<Self, &'static str> {
        packed::unpack_set(replicas, bytes)
    }
}

impl<V: Clone + Ord + fmt::Debug + Serialize> InternedSerialize for DotFun<V> {
    fn serialize_interned<S: Serializer>(
        &self,
        replicas: &[ReplicaId],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let readable = serializer.is_human_readable();
        seq(serializer, self.iter(), |s, (dot, v)| {
            s.serialize_element(&(dot_ref::<S::Error>(replicas, dot, readable)?, v))
        })
    }

    fn hash_dots(&self, seed: u64, f: &mut dyn FnMut(Dot, u64)) {
        for (dot, v) in self.iter() {
            f(dot, content_hash(seed, v));
        }
    }
}

impl<V: Clone + Ord + fmt::Debug + DeserializeOwned> InternedDeserialize for DotFun<V> {
    fn deserialize_interned<'de, D: Deserializer<'de>>(
        replicas: &[ReplicaId],
        deserializer: D,
    ) -> Result<Self, D::Error> {
        struct Vis<'a, V>(&'a [ReplicaId], bool, PhantomData<fn() -> V>);
        impl<'de, V: DeserializeOwned> Visitor<'de> for Vis<'_, V> {
            type Value = DotFun<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sorted sequence of interned (dot, value) entries")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DotFun<V>, A::Error> {
                let mut entries: SmallVec<[(Dot, V); 1]> =
                    SmallVec::with_capacity(capacity_for::<(Dot, V)>(seq.size_hint()));
                loop {
                    let (dot, v) = if self.1 {
                        let Some(((replica, counter), v)) =
                            seq.next_element::<((ReplicaId, NonZeroU64), V)>()?
                        else {
                            break;
                        };
                        (readable_dot::<A::Error>(self.0, replica, counter)?, v)
                    } else {
                        let Some((i, c, v)) = seq.next_element::<(u32, NonZeroU64, V)>()? else {
                            break;
                        };
                        (resolve::<A::Error>(self.0, i, c)?, v)
                    };
                    if entries.last().is_some_and(|(l, _)| *l >= dot) {
                        return Err(A::Error::custom(
                            "dot function entries are not strictly sorted",
                        ));
                    }
                    entries.push((dot, v));
                }
                Ok(DotFun::from_sorted(entries))
            }
        }
        let readable = deserializer.is_human_readable();
        deserializer.deserialize_seq(Vis(replicas, readable, PhantomData))
    }
}

impl<K: Ord + Clone + fmt::Debug + Serialize, S: InternedSerialize> InternedSerialize
    for DotMap<K, S>
{
    fn serialize_interned<Ser: Serializer>(
        &self,
        replicas: &[ReplicaId],
        serializer: Ser,
    ) -> Result<Ser::Ok, Ser::Error> {
        if !serializer.is_human_readable() && !packed::legacy() {
            return packed::serialize_map(self, replicas, serializer);
        }
        seq(serializer, self.iter(), |s, (k, store)| {
            s.serialize_element(&(k, Interned(store, replicas)))
        })
    }

    fn hash_dots(&self, seed: u64, f: &mut dyn FnMut(Dot, u64)) {
        for (k, store) in self.iter() {
            store.hash_dots(content_hash(seed, k), f);
        }
    }
}

impl<K: Ord + Clone + fmt::Debug + DeserializeOwned, S: InternedDeserialize> InternedDeserialize
    for DotMap<K, S>
{
    fn deserialize_interned<'de, D: Deserializer<'de>>(
        replicas: &[ReplicaId],
        deserializer: D,
    ) -> Result<Self, D::Error> {
        struct Map<'a, K, S>(&'a [ReplicaId], PhantomData<fn() -> (K, S)>);
        impl<'de, K: DeserializeOwned + Ord + Clone + fmt::Debug, S: InternedDeserialize>
            Visitor<'de> for Map<'_, K, S>
        {
            type Value = DotMap<K, S>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence of (key, store) entries with strictly increasing keys")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DotMap<K, S>, A::Error> {
                let mut entries: Vec<(K, S)> =
                    Vec::with_capacity(capacity_for::<(K, S)>(seq.size_hint()));
                while let Some((k, s)) =
                    seq.next_element_seed(Entry::<K, S>(self.0, PhantomData))?
                {
                    entries.push((k, s));
                }
                check_entries(&entries).map_err(A::Error::custom)?;
                Ok(DotMap::from_sorted_entries(entries))
            }
        }
        if !deserializer.is_human_readable() && !packed::legacy() {
            return packed::deserialize_map(replicas, deserializer);
        }
        deserializer.deserialize_seq(Map(replicas, PhantomData))
    }
}
