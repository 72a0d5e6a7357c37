//! Keys that are bare integers, seen through serde.
//!
//! The packed map encoding (see `packed.rs`) writes the keys of a map as
//! varint deltas when every key serializes as one integer (`u8` to `u64`,
//! `i8` to `i64`, possibly inside newtype structs). Serde gives no way to
//! ask a type whether it is an integer, so [`probe`] serializes a key into
//! a serializer that accepts exactly one integer, and [`IntKeyDe`] hands
//! such an integer back to the key type's `Deserialize`, which range-checks
//! it as it would any other integer.

use std::fmt;

use serde::de::{Deserializer, Visitor};
use serde::ser::{Impossible, Serialize, Serializer};

/// A key that serialized as one integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IntKey {
    /// `u8` to `u64`.
    Unsigned(u64),
    /// `i8` to `i64`.
    Signed(i64),
}

impl IntKey {
    /// The key's bits as a `u64` (two's complement for signed keys): the
    /// space in which consecutive keys are delta-coded.
    pub(super) fn bits(self) -> u64 {
        match self {
            Self::Unsigned(v) => v,
            Self::Signed(v) => v as u64,
        }
    }

    /// Whether both are of the same signedness.
    pub(super) fn same_kind(self, other: Self) -> bool {
        matches!(
            (self, other),
            (Self::Unsigned(_), Self::Unsigned(_)) | (Self::Signed(_), Self::Signed(_))
        )
    }
}

/// The key as one integer, or `None` when it serializes as anything else.
pub(super) fn probe<K: Serialize + ?Sized>(key: &K) -> Option<IntKey> {
    key.serialize(Probe).ok()
}

/// The error of [`Probe`]: the value is not one integer.
#[derive(Debug)]
pub(super) struct NotInt;

impl fmt::Display for NotInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a bare integer")
    }
}

impl std::error::Error for NotInt {}

impl serde::ser::Error for NotInt {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotInt
    }
}

/// A serializer that accepts one integer (through newtype structs) and
/// refuses everything else.
struct Probe;

macro_rules! refuse {
    ($($f:ident($($t:ty),*)),* $(,)?) => {
        $(fn $f(self, $(_: $t),*) -> Result<IntKey, NotInt> { Err(NotInt) })*
    };
}

macro_rules! accept {
    ($($f:ident($t:ty) => $kind:ident),* $(,)?) => {
        $(fn $f(self, v: $t) -> Result<IntKey, NotInt> { Ok(IntKey::$kind(v.into())) })*
    };
}

impl Serializer for Probe {
    type Ok = IntKey;
    type Error = NotInt;
    type SerializeSeq = Impossible<IntKey, NotInt>;
    type SerializeTuple = Impossible<IntKey, NotInt>;
    type SerializeTupleStruct = Impossible<IntKey, NotInt>;
    type SerializeTupleVariant = Impossible<IntKey, NotInt>;
    type SerializeMap = Impossible<IntKey, NotInt>;
    type SerializeStruct = Impossible<IntKey, NotInt>;
    type SerializeStructVariant = Impossible<IntKey, NotInt>;

    fn is_human_readable(&self) -> bool {
        false
    }

    accept!(
        serialize_u8(u8) => Unsigned,
        serialize_u16(u16) => Unsigned,
        serialize_u32(u32) => Unsigned,
        serialize_u64(u64) => Unsigned,
        serialize_i8(i8) => Signed,
        serialize_i16(i16) => Signed,
        serialize_i32(i32) => Signed,
        serialize_i64(i64) => Signed,
    );
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<IntKey, NotInt> {
        value.serialize(self)
    }

    refuse!(
        serialize_bool(bool),
        serialize_i128(i128),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<IntKey, NotInt> {
        Err(NotInt)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<IntKey, NotInt> {
        Err(NotInt)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotInt> {
        Err(NotInt)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotInt> {
        Err(NotInt)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotInt> {
        Err(NotInt)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotInt> {
        Err(NotInt)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotInt> {
        Err(NotInt)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, NotInt> {
        Err(NotInt)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotInt> {
        Err(NotInt)
    }
}

/// A deserializer holding one integer key: `deserialize_any` (and every
/// typed request) visits it as a `u64` or `i64`, and a newtype struct is
/// visited with the integer inside. Errors are serde's value errors.
pub(super) struct IntKeyDe(pub(super) IntKey);

impl<'de> Deserializer<'de> for IntKeyDe {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            IntKey::Unsigned(v) => visitor.visit_u64(v),
            IntKey::Signed(v) => visitor.visit_i64(v),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn is_human_readable(&self) -> bool {
        false
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(serde::Serialize, Deserialize, Debug, PartialEq)]
    struct UserId(u32);

    #[test]
    fn integers_and_newtypes_probe_as_integers_and_come_back() {
        assert_eq!(probe(&7u8), Some(IntKey::Unsigned(7)));
        assert_eq!(probe(&u64::MAX), Some(IntKey::Unsigned(u64::MAX)));
        assert_eq!(probe(&-3i16), Some(IntKey::Signed(-3)));
        assert_eq!(probe(&UserId(9)), Some(IntKey::Unsigned(9)));
        assert_eq!(
            UserId::deserialize(IntKeyDe(IntKey::Unsigned(9))).ok(),
            Some(UserId(9))
        );
        assert_eq!(
            i16::deserialize(IntKeyDe(IntKey::Signed(-3))).ok(),
            Some(-3)
        );
    }

    #[test]
    fn other_keys_do_not_probe_and_out_of_range_integers_are_refused() {
        assert_eq!(probe("text"), None);
        assert_eq!(probe(&(1u8, 2u8)), None);
        assert_eq!(probe(&1u128), None);
        assert_eq!(probe(&Some(1u8)), None);
        assert!(u8::deserialize(IntKeyDe(IntKey::Unsigned(256))).is_err());
        assert!(u64::deserialize(IntKeyDe(IntKey::Signed(-1))).is_err());
        assert!(String::deserialize(IntKeyDe(IntKey::Unsigned(1))).is_err());
    }
}
