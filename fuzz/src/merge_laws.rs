//! The input of the `merge_laws` target (a list of operations on three
//! replicas) and its inverse: operations written as the bytes `arbitrary`
//! reads back into them.
//!
//! ```
//! use arbitrary::{Arbitrary, Unstructured};
//! use crdt_fuzz::merge_laws::{Op, to_bytes};
//!
//! let ops = vec![Op::Insert(0, 1), Op::Count(1, -5), Op::Sync(0, 1)];
//! let bytes = to_bytes(&ops);
//! assert_eq!(Vec::<Op>::arbitrary_take_rest(Unstructured::new(&bytes)).unwrap(), ops);
//! ```

use arbitrary::Arbitrary;

/// How many operations of an input the target runs.
pub const MAX_OPS: usize = 96;

/// One operation; the first field picks the replica (modulo 3).
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Insert an element (modulo 8) into the replica's set.
    Insert(u8, u8),
    /// Remove an element (modulo 8) from the set.
    Remove(u8, u8),
    /// Clear the set.
    Clear(u8),
    /// Insert `.2 % 4` into the map's set under key `.1 % 4`.
    MapInsert(u8, u8, u8),
    /// Remove key `.1 % 4` from the map.
    MapRemoveKey(u8, u8),
    /// Write the multi-value register.
    MvWrite(u8, u8),
    /// Add to the counter.
    Count(u8, i8),
    /// Replica `.0` sends to replica `.1` (both modulo 3): its whole state
    /// to the full-state copy, its deltas to the delta copy.
    Sync(u8, u8),
}

/// The bytes `Vec::<Op>::arbitrary_take_rest` reads back into `ops`.
#[must_use]
pub fn to_bytes(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    for &op in ops {
        out.push(1);
        let (index, fields) = match op {
            Op::Insert(a, b) => (0, vec![a, b]),
            Op::Remove(a, b) => (1, vec![a, b]),
            Op::Clear(a) => (2, vec![a]),
            Op::MapInsert(a, b, c) => (3, vec![a, b, c]),
            Op::MapRemoveKey(a, b) => (4, vec![a, b]),
            Op::MvWrite(a, b) => (5, vec![a, b]),
            Op::Count(a, n) => (6, vec![a, n.to_le_bytes()[0]]),
            Op::Sync(a, b) => (7, vec![a, b]),
        };
        crate::write_variant(&mut out, index, 8);
        out.extend(fields);
    }
    out
}
