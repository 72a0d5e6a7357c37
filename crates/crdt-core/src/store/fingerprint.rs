//! Content fingerprints of a causal state, per origin replica, and the
//! canonical hash they are built from.
//!
//! Two replicas that hold the same dot with different content (a forged or
//! reused dot) can stay different forever under delta sync: a delta drops
//! every dot the receiver has seen, so the one conflicting dot never
//! travels. A [`Fingerprint`] summarises, for one origin replica, the dots
//! of that replica a state has seen and the content of those it holds, in
//! 16 bytes; two replicas compare them and exchange
//! [`Causal::project`](super::Causal::project)ions for the origins that
//! differ.
//!
//! Content is hashed through its serde encoding with [`content_hash`]: a
//! `Serializer` that feeds canonical little-endian bytes into a fixed
//! 64-bit mixer, so peers on any platform and build agree.

use std::fmt;

use serde::ser::{self, Serialize};

use super::{Causal, DotStore, InternedSerialize};
use crate::{CausalContext, Dot, ReplicaId};

/// What a state holds of one origin replica's dots, summarised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    /// The origin replica (the one that minted the dots).
    pub replica: ReplicaId,
    /// A hash of the dots of `replica` the state has seen (its context
    /// restricted to `replica`).
    pub seen: u64,
    /// An order-independent hash of the dots of `replica` the state holds,
    /// each with its content (its key path and value).
    pub live: u64,
}

impl<S: InternedSerialize> Causal<S> {
    /// One [`Fingerprint`] per replica in the context, in replica order,
    /// keyed by `seed` (both sides of a comparison must use the same seed).
    /// `O(n)` in the live dots, plus the hashing of their keys and values.
    ///
    /// Two states whose fingerprints for `r` differ in `live` while equal in
    /// `seen` have seen the same dots of `r` and hold different ones, or the
    /// same ones with different content: joining their
    /// [`Causal::project`]ions onto `r` both ways makes them agree on `r`.
    ///
    /// ```
    /// use crdt_core::{Causal, DotFun, ReplicaId};
    /// let r = ReplicaId::from_u128(7);
    /// let write = |v: &str| {
    ///     let mut s: Causal<DotFun<String>> = Causal::new();
    ///     let dot = s.next_dot(r);
    ///     let (store, ctx) = s.parts_mut();
    ///     ctx.insert(dot);
    ///     store.insert(dot, v.to_string());
    ///     s
    /// };
    /// let (x, y) = (write("x"), write("y")); // one dot, two values
    /// let (fx, fy) = (x.fingerprints(9), y.fingerprints(9));
    /// assert_eq!(fx[0].seen, fy[0].seen);
    /// assert_ne!(fx[0].live, fy[0].live);
    /// ```
    #[must_use]
    pub fn fingerprints(&self, seed: u64) -> Vec<Fingerprint> {
        let mut out: Vec<Fingerprint> = self
            .context()
            .replicas()
            .map(|replica| Fingerprint {
                replica,
                seen: seen_hash(seed, self.context(), replica),
                live: 0,
            })
            .collect();
        self.store().hash_dots(seed, &mut |dot, content| {
            if let Ok(i) = out.binary_search_by(|f| f.replica.cmp(&dot.replica)) {
                out[i].live = out[i].live.wrapping_add(dot_hash(seed, dot, content));
            }
        });
        out
    }
}

impl<S: DotStore> Causal<S> {
    /// The part of `self` minted by `origins` (sorted): the live dots of
    /// those replicas with their content, and the context restricted to
    /// them. A valid state (a delta) whose join into a state `t` applies,
    /// for those replicas' dots, exactly the rule of the full join `t ⊔
    /// self`, and leaves every other dot of `t` alone.
    #[must_use]
    pub fn project(&self, origins: &[ReplicaId]) -> Self {
        let mine = |r: &ReplicaId| origins.binary_search(r).is_ok();
        let mut context = CausalContext::new();
        for (r, lo, hi) in self.context().ranges().filter(|(r, _, _)| mine(r)) {
            context.insert_range(r, lo, hi);
        }
        let store = self.store().filtered(&mut |d| mine(&d.replica));
        Self::from_parts_unchecked(store, context)
    }
}

/// The 64-bit mixer (the finaliser of splitmix64 / murmur3): a bijection
/// with full avalanche.
#[must_use]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A canonical 64-bit hash of `value`'s serde encoding, keyed by `seed`.
/// Equal on every platform for equal values of the same type (integers are
/// hashed as little-endian `u64`/`i64`, lengths as `u64`).
#[must_use]
pub fn content_hash<T: Serialize + ?Sized>(seed: u64, value: &T) -> u64 {
    let mut h = ContentHasher(mix(seed ^ 0x6A09_E667_F3BC_C908));
    match value.serialize(&mut h) {
        Ok(()) => h.0,
        // A value whose Serialize fails: its error message stands in for it.
        Err(Unhashable(why)) => content_hash(seed ^ 1, why.as_str()),
    }
}

/// The hash of one held dot with its content hash.
fn dot_hash(seed: u64, dot: Dot, content: u64) -> u64 {
    let id = dot.replica.as_u128();
    let mut h = mix(seed ^ (id as u64));
    h = mix(h ^ ((id >> 64) as u64));
    h = mix(h ^ dot.counter());
    mix(h ^ content)
}

/// The hash of the dots of `replica` in `context`.
fn seen_hash(seed: u64, context: &CausalContext, replica: ReplicaId) -> u64 {
    let mut h = mix(seed ^ 0xBB67_AE85_84CA_A73B);
    for (_, lo, hi) in context.ranges_of(replica) {
        h = mix(mix(h ^ lo) ^ hi);
    }
    h
}

/// A `Serializer` that hashes what it is given (see [`content_hash`]).
pub(crate) struct ContentHasher(u64);

impl ContentHasher {
    fn word(&mut self, x: u64) {
        self.0 = mix(self.0.rotate_left(23) ^ x);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.word(b.len() as u64);
        for chunk in b.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
    }
}

/// The error of a value whose `Serialize` impl failed while hashed.
#[derive(Debug)]
pub(crate) struct Unhashable(String);

impl fmt::Display for Unhashable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "value cannot be hashed: {}", self.0)
    }
}

impl std::error::Error for Unhashable {}

impl ser::Error for Unhashable {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

type R = Result<(), Unhashable>;

impl ser::Serializer for &mut ContentHasher {
    type Ok = ();
    type Error = Unhashable;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn is_human_readable(&self) -> bool {
        false // the compact forms (a replica id as 16 bytes, not a string)
    }

    fn serialize_bool(self, v: bool) -> R {
        self.word(u64::from(v));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> R {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> R {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> R {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> R {
        self.word(u64::from_le_bytes(v.to_le_bytes()));
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> R {
        self.bytes(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> R {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> R {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> R {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> R {
        self.word(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> R {
        self.bytes(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> R {
        self.serialize_u64(u64::from(v.to_bits()))
    }
    fn serialize_f64(self, v: f64) -> R {
        self.serialize_u64(v.to_bits())
    }
    fn serialize_char(self, v: char) -> R {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_str(self, v: &str) -> R {
        self.bytes(v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        self.bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> R {
        self.word(0);
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> R {
        self.word(1);
        value.serialize(self)
    }
    fn serialize_unit(self) -> R {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> R {
        Ok(())
    }
    fn serialize_unit_variant(self, _name: &'static str, index: u32, _v: &'static str) -> R {
        self.serialize_u32(index)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _name: &'static str, v: &T) -> R {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> R {
        self.word(u64::from(index));
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, Unhashable> {
        // Sequences of unknown length are ended by a marker instead.
        self.word(len.map_or(u64::MAX, |n| n as u64));
        Ok(self)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self, Unhashable> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self, Unhashable> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self, Unhashable> {
        self.word(u64::from(index));
        Ok(self)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, Unhashable> {
        self.serialize_seq(len)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self, Unhashable> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, Unhashable> {
        self.serialize_tuple_variant(name, index, variant, len)
    }
}

/// Every compound form hashes its elements in order.
macro_rules! compound {
    ($($tr:ident { $($m:ident ($($arg:ident : $t:ty),*))* })*) => {$(
        impl ser::$tr for &mut ContentHasher {
            type Ok = ();
            type Error = Unhashable;
            $(fn $m<T: ?Sized + Serialize>(&mut self, $($arg: $t,)* value: &T) -> R {
                $(let _ = $arg;)*
                value.serialize(&mut **self)
            })*
            fn end(self) -> R {
                Ok(())
            }
        }
    )*};
}

compound! {
    SerializeSeq { serialize_element() }
    SerializeTuple { serialize_element() }
    SerializeTupleStruct { serialize_field() }
    SerializeTupleVariant { serialize_field() }
    SerializeMap { serialize_key() serialize_value() }
    SerializeStruct { serialize_field(_key: &'static str) }
    SerializeStructVariant { serialize_field(_key: &'static str) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_hash_equal_and_different_ones_differ() {
        assert_eq!(content_hash(1, "x"), content_hash(1, &"x".to_string()));
        assert_ne!(content_hash(1, "x"), content_hash(1, "y"));
        assert_ne!(
            content_hash(1, "x"),
            content_hash(2, "x"),
            "keyed by the seed"
        );
        assert_ne!(content_hash(1, &(1u8, 2u8)), content_hash(1, &(2u8, 1u8)));
        assert_ne!(
            content_hash(1, &vec![vec![1u8], vec![]]),
            content_hash(1, &vec![vec![], vec![1u8]]),
            "lengths are part of the hash"
        );
        assert_eq!(
            content_hash(7, &5u8),
            content_hash(7, &5u64),
            "integers widen"
        );
    }

    #[test]
    fn the_hash_is_pinned() {
        // A change here changes what peers compare: it must be deliberate.
        assert_eq!(content_hash(0, &42u64), 0x26D9_7861_0E4A_B18D);
    }
}
