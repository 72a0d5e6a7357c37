//! Serde helpers for canonical (strictly sorted) sequences.
//!
//! Every ordered collection in this crate encodes as a plain sequence and
//! decodes only if it is strictly sorted: an unsorted or duplicated entry from
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
    C: Default + Extend<T> + Deref<Target = [T]>,
{
    struct SortedVisitor<T, C> {
        what: &'static str,
        cmp: fn(&T, &T) -> Ordering,
        marker: PhantomData<fn() -> C>,
    }

    impl<'de, T, C> Visitor<'de> for SortedVisitor<T, C>
    where
        T: Deserialize<'de>,
        C: Default + Extend<T> + Deref<Target = [T]>,
    {
        type Value = C;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a strictly sorted {}", self.what)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<C, A::Error> {
            let mut out = C::default();
            while let Some(item) = seq.next_element::<T>()? {
                if let Some(last) = out.last()
                    && (self.cmp)(last, &item) != Ordering::Less
                {
                    return Err(A::Error::custom(format_args!(
                        "{} entries are not strictly sorted",
                        self.what
                    )));
                }
                out.extend(std::iter::once(item));
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
