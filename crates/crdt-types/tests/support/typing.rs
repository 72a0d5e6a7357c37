//! A text typed as people type, shared by the tests that need one and the
//! budget example of `crdt-sync` (included there by path).

use crdt_types::{ReplicaId, Text};

/// A text of `n` characters typed by `writer`, every twentieth at a
/// scattered place (about 14k runs for 100k characters), the others
/// typed on at the end.
pub(crate) fn typed(n: u64, writer: ReplicaId) -> Text {
    let mut text = Text::new();
    let mut x = 0x2545_F491_4F6C_DD1D_u64;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = match i % 20 {
            0 => usize::try_from(x % (text.len() as u64 + 1)).unwrap_or(0),
            _ => text.len(),
        };
        let _ = text.insert_str(writer, at, "a");
    }
    text
}
