//! The packed encoding of maps and dot sets (state format 2, message
//! format 3 of `crdt-sync`), used by every format that is not human
//! readable.
//!
//! An OR-set element used to cost one serde entry per key and per dot: a
//! random `u64` key is a 9-byte bincode varint, a dot a sequence length, a
//! replica index and a varint counter (3 to 5 bytes past 250). Packed:
//!
//! * a map writes a header `len << 2 | key kind`, then its columns. When
//!   every key serializes as one integer (probed through serde, see
//!   `int_key.rs`) the keys are deltas in a byte column (sorted keys are
//!   close: 7 bytes for 100k random `u64`s); otherwise they are written
//!   one by one as before. Numbers in a column are prefix varints (`V`
//!   below, see [`put`]): the first byte's leading ones count the bytes
//!   that follow.
//! * a value that has a packed form (a [`DotSet`]) goes into the same byte
//!   column: `V(index << 1 | more)`, then `V(count - 1)` if `more`, the
//!   first counter, and `(index, counter)` for every further dot.
//! * everything else (nested maps, dot functions) is written per entry as
//!   before, against the same interned replicas.
//!
//! Counts are checked against the bytes that must carry them before
//! anything is allocated or looped over: an integer key takes at least one
//! byte of the column, a packed value two, and a store written per entry at
//! least one byte of the input.
//!
//! The previous encoding ([`StoreEncoding::V1`]) is still read (and, for
//! tests and migrations, written) inside [`with_store_encoding`]; the codec
//! uses it for saved states of format 1.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::num::NonZeroU64;

use serde::de::{DeserializeOwned, Error as _, SeqAccess, Visitor};
use serde::ser::{Error as _, SerializeTuple};
use serde::{Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use super::int_key::{IntKey, IntKeyDe, probe};
use super::wire::{
    EMPTY_ENTRY, Interned, InternedDeserialize, InternedSerialize, OUTSIDE, Seed, check_entries,
    replica_at, replica_index,
};
use super::{DotMap, DotSet, DotStore};
use crate::byte_column::{Bytes, Column};
use crate::sorted::capacity_for;
use crate::{Dot, ReplicaId};

/// How the kernel stores ([`DotMap`], [`DotSet`]) are written inside a
/// [`Causal`](super::Causal) by formats that are not human readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StoreEncoding {
    /// One serde entry per key and per dot: what `crdt-sync` wrote in state
    /// format 1 and message formats 1 and 2.
    V1,
    /// Integer keys as deltas and dot sets packed into byte columns (the
    /// default; state format 2, message format 3).
    #[default]
    V2,
}

thread_local! {
    static ENCODING: Cell<StoreEncoding> = const { Cell::new(StoreEncoding::V2) };
}

/// Runs `f` with the kernel stores encoded and decoded in `encoding` on
/// this thread (restored afterwards, also when `f` panics). Outside of it
/// they use [`StoreEncoding::V2`]. A codec reading data saved by an older
/// build wraps the decoding in `with_store_encoding(StoreEncoding::V1, ..)`.
///
/// ```
/// use crdt_core::{Causal, DotMap, DotSet, ReplicaId, StoreEncoding, with_store_encoding};
///
/// let mut set: Causal<DotMap<u64, DotSet>> = Causal::new();
/// let dot = set.next_dot(ReplicaId::from_u128(1));
/// set.parts_mut().1.insert(dot);
/// set.parts_mut().0.insert(42, DotSet::from(dot));
///
/// let config = bincode::config::standard();
/// let old = with_store_encoding(StoreEncoding::V1, || {
///     bincode::serde::encode_to_vec(&set, config).unwrap()
/// });
/// let (back, _): (Causal<DotMap<u64, DotSet>>, usize) = with_store_encoding(StoreEncoding::V1, || {
///     bincode::serde::decode_from_slice(&old, config).unwrap()
/// });
/// assert_eq!(back, set);
/// ```
pub fn with_store_encoding<R>(encoding: StoreEncoding, f: impl FnOnce() -> R) -> R {
    struct Restore(StoreEncoding);
    impl Drop for Restore {
        fn drop(&mut self) {
            ENCODING.with(|e| e.set(self.0));
        }
    }
    let _restore = Restore(ENCODING.with(|e| e.replace(encoding)));
    f()
}

/// Whether this thread is inside `with_store_encoding(StoreEncoding::V1, ..)`.
pub(super) fn legacy() -> bool {
    ENCODING.with(Cell::get) == StoreEncoding::V1
}

/// Appends `v` as a prefix varint: the leading ones of the first byte
/// count the bytes that follow (0 to 8), its other bits are the value's
/// low bits, and the bytes that follow the rest, little-endian. Seven bits
/// a byte up to 2^56 (as LEB128), nine bytes past that, and read with one
/// branch instead of one per byte.
fn put(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
        return;
    }
    let bits = 64 - v.leading_zeros();
    // `k` bytes follow (1 to 8); the first keeps 7 - k bits after k ones
    // and a 0, or is 0xFF with all 64 bits after it.
    let mut buf = [0xFF; 9];
    let k = if bits > 56 {
        buf[1..].copy_from_slice(&v.to_le_bytes());
        8
    } else {
        let k = (bits - 1) / 7;
        buf[0] = !(0xFF >> k) | (v as u8 & (0x7F >> k));
        buf[1..].copy_from_slice(&(v >> (7 - k)).to_le_bytes());
        k as usize
    };
    // A fixed 9-byte copy, then the unused tail dropped: no call to
    // `memcpy` for a few bytes.
    out.extend_from_slice(&buf);
    out.truncate(out.len() - (8 - k));
}

/// Reads one prefix varint in its shortest form from the front of `bytes`.
fn get(bytes: &mut &[u8]) -> Result<u64, &'static str> {
    const END: &str = "a packed column ends inside a number";
    let (&first, rest) = bytes.split_first().ok_or(END)?;
    let k = first.leading_ones() as usize;
    if k == 0 {
        *bytes = rest;
        return Ok(first.into());
    }
    let mut word = [0u8; 8];
    word[..k].copy_from_slice(rest.get(..k).ok_or(END)?);
    let high = u64::from_le_bytes(word);
    let (v, least) = if k == 8 {
        (high, 1 << 56)
    } else {
        (
            (high << (7 - k)) | u64::from(first & (0x7F >> k)),
            1 << (7 * k),
        )
    };
    if v < least {
        return Err("a packed number is not in its shortest form");
    }
    *bytes = &rest[k..];
    Ok(v)
}

fn get_dot(bytes: &mut &[u8], replicas: &[ReplicaId], index: u64) -> Result<Dot, &'static str> {
    let counter = NonZeroU64::new(get(bytes)?).ok_or("a packed dot has counter 0")?;
    let replica = replica_at(replicas, index).ok_or(OUTSIDE)?;
    Ok(Dot { replica, counter })
}

fn index(replicas: &[ReplicaId], dot: Dot) -> Result<u64, String> {
    replica_index(replicas, dot)
        .map(u64::from)
        .ok_or_else(|| format!("dot {dot} is outside the causal context"))
}

/// Appends the packed form of a non-empty dot set.
pub(super) fn pack_set(
    set: &DotSet,
    replicas: &[ReplicaId],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let mut dots = set.iter();
    let first = dots.next().ok_or("an empty dot set has no packed form")?;
    let more = set.len() > 1;
    put(out, (index(replicas, first)? << 1) | u64::from(more));
    if more {
        put(out, (set.len() - 1) as u64);
    }
    put(out, first.counter.get());
    for dot in dots {
        put(out, index(replicas, dot)?);
        put(out, dot.counter.get());
    }
    Ok(())
}

/// Reads one packed, non-empty dot set from the front of `bytes`.
pub(super) fn unpack_set(
    replicas: &[ReplicaId],
    bytes: &mut &[u8],
) -> Result<DotSet, &'static str> {
    let head = get(bytes)?;
    if head & 1 == 0 {
        // One dot, the common case: no vector to build.
        return get_dot(bytes, replicas, head >> 1).map(DotSet::from);
    }
    let rest = get(bytes)?;
    // Every further dot takes two bytes at least.
    if rest == 0 || rest > (bytes.len() / 2) as u64 {
        return Err("a packed dot set claims more dots than its bytes hold");
    }
    let rest = rest as usize;
    let mut dots: SmallVec<[Dot; 1]> = SmallVec::with_capacity(1 + rest);
    dots.push(get_dot(bytes, replicas, head >> 1)?);
    for _ in 0..rest {
        let i = get(bytes)?;
        let dot = get_dot(bytes, replicas, i)?;
        if dots.last().is_some_and(|&l| l >= dot) {
            return Err("dot set entries are not strictly sorted");
        }
        dots.push(dot);
    }
    Ok(DotSet::from_sorted(dots))
}

/// A standalone dot set: one byte column, empty for the empty set.
pub(super) fn serialize_set<S: Serializer>(
    set: &DotSet,
    replicas: &[ReplicaId],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut out = Vec::new();
    if !set.is_empty() {
        pack_set(set, replicas, &mut out).map_err(S::Error::custom)?;
    }
    serializer.serialize_bytes(&out)
}

/// Reads what [`serialize_set`] wrote.
pub(super) fn deserialize_set<'de, D: Deserializer<'de>>(
    replicas: &[ReplicaId],
    deserializer: D,
) -> Result<DotSet, D::Error> {
    deserializer.deserialize_bytes(Bytes(|bytes: &[u8]| {
        let mut rest = bytes;
        if rest.is_empty() {
            return Ok(DotSet::new());
        }
        let set = unpack_set(replicas, &mut rest)?;
        if !rest.is_empty() {
            return Err("bytes left after a packed dot set");
        }
        Ok(set)
    }))
}

/// The kind of keys a map's header announces.
const GENERIC: u64 = 0;
const UNSIGNED: u64 = 1;
const SIGNED: u64 = 2;

/// The map's keys as prefix-varint deltas appended to `out`, and their kind; or
/// [`GENERIC`] (and `out` untouched) when some key is not an integer or
/// the kinds differ.
fn int_keys<'a, K: Serialize + 'a>(keys: impl Iterator<Item = &'a K>, out: &mut Vec<u8>) -> u64 {
    let start = out.len();
    let mut prev: Option<IntKey> = None;
    for key in keys {
        let Some(k) = probe(key).filter(|k| prev.is_none_or(|p| p.same_kind(*k))) else {
            out.truncate(start);
            return GENERIC;
        };
        put(
            out,
            match (prev, k) {
                (Some(p), _) => k.bits().wrapping_sub(p.bits()),
                // The first key absolute, a signed one zigzagged.
                (None, IntKey::Unsigned(v)) => v,
                (None, IntKey::Signed(v)) => ((v << 1) ^ (v >> 63)) as u64,
            },
        );
        prev = Some(k);
    }
    match prev {
        Some(IntKey::Signed(_)) => SIGNED,
        _ => UNSIGNED,
    }
}

/// Reads `n` keys of `kind` written by [`int_keys`] from the front of
/// `bytes`, each with an empty store for the caller to fill.
fn read_int_keys<K: DeserializeOwned, S: Default>(
    n: usize,
    kind: u64,
    bytes: &mut &[u8],
) -> Result<Vec<(K, S)>, &'static str> {
    let mut entries = Vec::with_capacity(n);
    let mut prev = None;
    for _ in 0..n {
        let (key, bits) = read_int_key(kind, get(bytes)?, prev)?;
        prev = Some(bits);
        entries.push((key, S::default()));
    }
    Ok(entries)
}

/// One key of `kind` from its column number `raw`: the first key (`prev`
/// none) absolute, a signed one zigzagged; a later one the delta from the
/// bits of the key before it. Returns the key and its bits.
fn read_int_key<K: DeserializeOwned>(
    kind: u64,
    raw: u64,
    prev: Option<u64>,
) -> Result<(K, u64), &'static str> {
    let bits = match (prev, kind) {
        (Some(p), _) => p.wrapping_add(raw),
        (None, SIGNED) => ((raw >> 1) as i64 ^ -((raw & 1) as i64)) as u64,
        (None, _) => raw,
    };
    let key = if kind == SIGNED {
        IntKey::Signed(bits as i64)
    } else {
        IntKey::Unsigned(bits)
    };
    K::deserialize(IntKeyDe(key))
        .map(|k| (k, bits))
        .map_err(|_| "a packed key does not decode as the map's key type")
}

/// Why a map's column is refused when bytes follow its last store.
const LEFT_OVER: &str = "bytes left after a packed map's columns";

/// The map of one decoded entry, which may not hold an empty store.
fn one<K: Ord + Clone, S: DotStore>(key: K, store: S) -> Result<DotMap<K, S>, &'static str> {
    if store.is_bottom() {
        return Err(EMPTY_ENTRY);
    }
    Ok(DotMap::singleton(key, store))
}

/// A map: one tuple `(header, [column], entries...)`, see the module
/// documentation. After the header and the column come, flat, the keys
/// that are not in the column and the stores that are not: `key, store`
/// pairs, or keys alone, or stores alone.
pub(super) fn serialize_map<K, S, Ser>(
    map: &DotMap<K, S>,
    replicas: &[ReplicaId],
    serializer: Ser,
) -> Result<Ser::Ok, Ser::Error>
where
    K: Ord + Clone + fmt::Debug + Serialize,
    S: InternedSerialize,
    Ser: Serializer,
{
    let n = map.len();
    let packed = <S as InternedSerialize>::PACKED;
    // A packed entry takes 3 to 12 bytes: start at the low end.
    let mut column = Vec::with_capacity(if packed { 4 * n } else { 0 });
    // A single key over a nested store gains nothing from a column (no
    // neighbour to delta against) and would cost its length byte and a
    // second read per level: it is written inline, as generic keys are.
    let kind = if n > 0 && (packed || n > 1) {
        int_keys(map.iter().map(|(k, _)| k), &mut column)
    } else {
        GENERIC
    };
    if packed {
        for (_, s) in map.iter() {
            s.pack(replicas, &mut column).map_err(Ser::Error::custom)?;
        }
    }
    let header = (n as u64)
        .checked_mul(4)
        .ok_or_else(|| Ser::Error::custom("a map too large to encode"))?
        | kind;
    let inline_keys = kind == GENERIC;
    let has_column = n > 0 && (!inline_keys || packed);
    let per_entry = usize::from(inline_keys) + usize::from(!packed);
    let mut t = serializer.serialize_tuple(1 + usize::from(has_column) + n * per_entry)?;
    t.serialize_element(&header)?;
    if has_column {
        t.serialize_element(&Column(&column))?;
    }
    if per_entry > 0 {
        for (k, s) in map.iter() {
            if inline_keys {
                t.serialize_element(k)?;
            }
            if !packed {
                t.serialize_element(&Interned(s, replicas))?;
            }
        }
    }
    t.end()
}

/// Reads what [`serialize_map`] wrote.
pub(super) fn deserialize_map<'de, K, S, D>(
    replicas: &[ReplicaId],
    deserializer: D,
) -> Result<DotMap<K, S>, D::Error>
where
    K: DeserializeOwned + Ord + Clone + fmt::Debug,
    S: InternedDeserialize,
    D: Deserializer<'de>,
{
    struct Map<'a, K, S>(&'a [ReplicaId], PhantomData<fn() -> (K, S)>);
    impl<'de, K, S> Visitor<'de> for Map<'_, K, S>
    where
        K: DeserializeOwned + Ord + Clone + fmt::Debug,
        S: InternedDeserialize,
    {
        type Value = DotMap<K, S>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a packed dot map (header, column, entries)")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DotMap<K, S>, A::Error> {
            let replicas = self.0;
            let header: u64 = seq
                .next_element()?
                .ok_or_else(|| A::Error::invalid_length(0, &self))?;
            let (kind, n) = (header & 3, header >> 2);
            if kind == 3 || (n == 0 && kind != GENERIC) {
                return Err(A::Error::custom("a packed dot map has an unknown header"));
            }
            if n == 0 {
                return Ok(DotMap::new());
            }
            let n = usize::try_from(n).map_err(|_| A::Error::custom("a dot map too large"))?;
            let packed = <S as InternedDeserialize>::PACKED;
            let inline_keys = kind == GENERIC;
            let missing = |i| A::Error::invalid_length(i, &"the entries a map's header announces");
            if n == 1 && inline_keys && !packed {
                // One key over a nested store, each level of a path in a
                // nested state: built directly, with no vector to size and
                // no order to check.
                let key: K = seq.next_element()?.ok_or_else(|| missing(1))?;
                let store = seq
                    .next_element_seed(Seed::<S>(replicas, PhantomData))?
                    .ok_or_else(|| missing(2))?;
                return one(key, store).map_err(A::Error::custom);
            }
            if n == 1 && !inline_keys && packed {
                // One integer key over a packed store (a leaf): both read
                // from the column into the map directly.
                return seq
                    .next_element_seed(Bytes(|bytes: &[u8]| {
                        let mut rest = bytes;
                        let (key, _) = read_int_key(kind, get(&mut rest)?, None)?;
                        let store = S::unpack(replicas, &mut rest)?;
                        if !rest.is_empty() {
                            return Err(LEFT_OVER);
                        }
                        one(key, store)
                    }))?
                    .ok_or_else(|| missing(1));
            }
            // From the column: integer keys (as entries with empty stores
            // for now) and packed stores. Its length bounds `n`.
            let (mut entries, stores): (Vec<(K, S)>, Vec<S>) = if !inline_keys || packed {
                seq.next_element_seed(Bytes(|bytes: &[u8]| {
                    let need = if inline_keys { 0 } else { n } + if packed { 2 * n } else { 0 };
                    if need > bytes.len() {
                        return Err("a packed map claims more entries than its bytes hold");
                    }
                    let mut rest = bytes;
                    let mut entries: Vec<(K, S)> = Vec::new();
                    let mut stores = Vec::new();
                    if !inline_keys {
                        entries = read_int_keys(n, kind, &mut rest)?;
                    }
                    if packed && inline_keys {
                        stores.reserve_exact(n);
                        for _ in 0..n {
                            stores.push(S::unpack(replicas, &mut rest)?);
                        }
                    } else if packed {
                        for (_, s) in &mut entries {
                            *s = S::unpack(replicas, &mut rest)?;
                        }
                    }
                    if !rest.is_empty() {
                        return Err(LEFT_OVER);
                    }
                    Ok((entries, stores))
                }))?
                .ok_or_else(|| missing(1))?
            } else {
                // Pairs inline: each store takes one byte of input at
                // least, so a lying `n` runs out of input.
                (
                    Vec::with_capacity(capacity_for::<(K, S)>(Some(n))),
                    Vec::new(),
                )
            };
            if inline_keys && packed {
                entries.reserve_exact(n);
                for (i, store) in stores.into_iter().enumerate() {
                    let key: K = seq.next_element()?.ok_or_else(|| missing(2 + i))?;
                    entries.push((key, store));
                }
            } else if inline_keys {
                for i in 0..n {
                    let key: K = seq.next_element()?.ok_or_else(|| missing(2 + i))?;
                    let store = seq
                        .next_element_seed(Seed::<S>(replicas, PhantomData))?
                        .ok_or_else(|| missing(2 + i))?;
                    entries.push((key, store));
                }
            } else if !packed {
                for (i, (_, s)) in entries.iter_mut().enumerate() {
                    *s = seq
                        .next_element_seed(Seed::<S>(replicas, PhantomData))?
                        .ok_or_else(|| missing(2 + i))?;
                }
            }
            check_entries(&entries).map_err(A::Error::custom)?;
            Ok(DotMap::from_sorted_entries(entries))
        }
    }
    // The length is the most a map may hold: the header says how many
    // elements follow, and only those are read.
    deserializer.deserialize_tuple(usize::MAX, Map(replicas, PhantomData))
}
