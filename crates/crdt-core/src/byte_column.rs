//! A byte column: bytes written with `serialize_bytes` and read in one
//! slice, for `#[serde(with = "crdt_core::byte_column")]` on a `Vec<u8>`.
//!
//! In bincode a byte string is its length and then its bytes, the same
//! bytes as a sequence of `u8`s, which is how serde writes a `Vec<u8>` by
//! default; but a sequence is read one `u8` at a time (about 70
//! instructions a byte through serde), a byte string in one borrowed slice.
//! The kernel's packed maps and dot sets are byte columns, and so are the
//! packed runs of `crdt-types`' lists.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Packed {
//!     #[serde(with = "crdt_core::byte_column")]
//!     bytes: Vec<u8>,
//! }
//! let p = Packed { bytes: vec![1, 2, 3] };
//! let config = bincode::config::standard();
//! let wire = bincode::serde::encode_to_vec(&p, config).unwrap();
//! assert_eq!(wire, [3, 1, 2, 3]);
//! let (back, _): (Packed, usize) = bincode::serde::decode_from_slice(&wire, config).unwrap();
//! assert_eq!(back, p);
//! ```

use std::fmt;

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserializer, Serialize, Serializer};

/// Writes `bytes` as one byte string.
///
/// # Errors
/// Whatever the serializer returns.
pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

/// Reads what [`serialize`] wrote.
///
/// # Errors
/// If the input holds no byte string there.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    deserializer.deserialize_bytes(Bytes(|bytes: &[u8]| Ok(bytes.to_vec())))
}

/// A byte column to serialize in place.
pub(crate) struct Column<'a>(pub(crate) &'a [u8]);

impl Serialize for Column<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize(self.0, serializer)
    }
}

/// A visitor of one byte column, parsed in place by `F`.
pub(crate) struct Bytes<F>(pub(crate) F);

impl<'de, T, F: FnOnce(&[u8]) -> Result<T, &'static str>> Visitor<'de> for Bytes<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a packed byte column")
    }
    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<T, E> {
        (self.0)(v).map_err(E::custom)
    }
    fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<T, E> {
        self.visit_bytes(v)
    }
    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<T, E> {
        self.visit_bytes(&v)
    }
    /// A format that writes bytes as a sequence of numbers (JSON): the
    /// bytes read one by one, the vector growing with what is read (no
    /// length from the input sizes it).
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        let mut bytes = Vec::new();
        while let Some(b) = seq.next_element()? {
            bytes.push(b);
        }
        self.visit_bytes(&bytes)
    }
}

impl<'de, T, F: FnOnce(&[u8]) -> Result<T, &'static str>> DeserializeSeed<'de> for Bytes<F> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_bytes(self)
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Packed {
        #[serde(with = "crate::byte_column")]
        bytes: Vec<u8>,
    }

    /// JSON writes a byte string as an array of numbers; the column reads
    /// it back (the kernel's visitor took byte strings only, and the list's
    /// own one, which it replaced, read sequences too).
    #[test]
    fn a_byte_column_round_trips_through_json() {
        let p = Packed {
            bytes: vec![0, 7, 255],
        };
        let json = serde_json::to_string(&p).expect("encodes");
        assert_eq!(json, r#"{"bytes":[0,7,255]}"#);
        let back: Packed = serde_json::from_str(&json).expect("decodes");
        assert_eq!(back, p);
        assert!(serde_json::from_str::<Packed>(r#"{"bytes":[256]}"#).is_err());
    }
}
