//! The structured input of the `engine_bytes` target, and its inverse: an
//! [`Input`] written as the bytes `arbitrary` reads back into it, so seed
//! inputs can be built as values rather than guessed as bytes.

use std::fmt::Debug;

use arbitrary::Arbitrary;
use crdt_core::ReplicaId;
use crdt_sync::Replicated;
use crdt_types::{OrMap, OrSet, Text};

/// The state every engine of the `engine_bytes` target holds: a map of
/// sets (`engine_text` holds a [`Text`]).
pub type State = OrMap<u8, OrSet<u16>>;

/// A state the engines of a target hold: how it is filled before the
/// schedule and how it reads the schedule's honest writes.
pub trait Workload: Replicated + PartialEq + Debug {
    /// The state of engine `i` (replica `me`) before the schedule, `n`
    /// of its own writes in.
    fn prefilled(me: ReplicaId, i: usize, n: u16) -> Self;
    /// Applies the honest write `op` of `me` (an [`Op::Insert`],
    /// [`Op::RemoveElement`] or [`Op::RemoveKey`]; any other op changes
    /// nothing) and returns its delta.
    fn write(&mut self, me: ReplicaId, op: &Op) -> Self;
}

impl Workload for State {
    fn prefilled(me: ReplicaId, i: usize, n: u16) -> Self {
        let mut state = Self::new();
        for x in 0..n {
            let _ = state.update((x % 7) as u8, |s| s.insert(me, x * 3 + i as u16));
        }
        state
    }

    /// Insert `x` into the set under `key`, remove it, or remove the key.
    fn write(&mut self, me: ReplicaId, op: &Op) -> Self {
        match *op {
            Op::Insert { key, x, .. } => self.update(key % 8, |set| set.insert(me, x % 64)),
            Op::RemoveElement { key, x, .. } => self.update(key % 8, |set| set.remove(&(x % 64))),
            Op::RemoveKey { key, .. } => self.remove(&(key % 8)),
            _ => Self::new(),
        }
    }
}

impl Workload for Text {
    /// `n` characters typed here and there (every fifth at a scattered
    /// place): runs of one replica, some split by the others.
    fn prefilled(me: ReplicaId, i: usize, n: u16) -> Self {
        let mut text = Self::new();
        for x in 0..usize::from(n) {
            let at = if x % 5 == 0 {
                (x * 7 + i) % (text.len() + 1)
            } else {
                text.len()
            };
            let _ = text.insert_str(me, at, letter(x));
        }
        text
    }

    /// `Insert`: one to three letters at position `key` (modulo the length
    /// plus one); `RemoveElement`: delete one to four characters there;
    /// `RemoveKey`: type two letters over two characters there.
    fn write(&mut self, me: ReplicaId, op: &Op) -> Self {
        let at = |key: u8| usize::from(key) % (self.len() + 1);
        match *op {
            Op::Insert { key, x, .. } => {
                let s: String = (0..=usize::from(x % 3))
                    .map(|k| letter(usize::from(x) + k))
                    .collect();
                let at = at(key);
                self.insert_str(me, at, &s)
            }
            Op::RemoveElement { key, x, .. } => {
                let at = at(key);
                self.delete(at, usize::from(x % 4) + 1)
            }
            Op::RemoveKey { key, .. } => {
                let at = at(key);
                self.splice(me, at, 2, "xy")
            }
            _ => Self::new(),
        }
    }
}

/// A letter picked by `x`.
fn letter(x: usize) -> &'static str {
    const LETTERS: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];
    LETTERS[x % LETTERS.len()]
}

/// How many engines the target runs.
pub const N: usize = 3;

/// The replica id of engine `i` (its peer id is `PeerId(i)`).
#[must_use]
pub fn replica(i: usize) -> ReplicaId {
    ReplicaId::from_u128(i as u128 + 1)
}

/// One step of a schedule.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// An honest write: insert `x` into the set under `key`.
    Insert {
        /// Picks a live engine.
        at: u8,
        /// The map key (taken modulo 8).
        key: u8,
        /// The element (taken modulo 64).
        x: u16,
    },
    /// An honest remove of one element.
    RemoveElement {
        /// Picks a live engine.
        at: u8,
        /// The map key (taken modulo 8).
        key: u8,
        /// The element (taken modulo 64).
        x: u16,
    },
    /// An honest remove of a whole key.
    RemoveKey {
        /// Picks a live engine.
        at: u8,
        /// The map key (taken modulo 8).
        key: u8,
    },
    /// Time passes (1 to 64 ms); every engine runs its timers.
    Tick(u8),
    /// The network delivers an honest message in flight.
    Deliver(u8),
    /// The network loses an honest message in flight.
    Drop(u8),
    /// The network duplicates an honest message in flight.
    Duplicate(u8),
    /// Arbitrary bytes to engine `to`, claimed to come from one of its peers.
    Raw {
        /// Picks a live engine.
        to: u8,
        /// Picks one of that engine's peers.
        from: u8,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// An in-flight honest message, with bytes overwritten, to any engine
    /// under any peer id.
    Tamper {
        /// Picks the message.
        k: u8,
        /// Picks a live engine.
        to: u8,
        /// Picks one of that engine's peers.
        from: u8,
        /// (position modulo the length, new byte), at most 16 applied.
        edits: Vec<(u16, u8)>,
    },
    /// The head of one honest message and the tail of another.
    Splice {
        /// Picks the message giving the head.
        a: u8,
        /// Picks the message giving the tail.
        b: u8,
        /// Where both are cut (modulo each length + 1).
        cut: u16,
        /// Picks a live engine.
        to: u8,
        /// Picks one of that engine's peers.
        from: u8,
    },
    /// An honest message cut short.
    Truncate {
        /// Picks the message.
        k: u8,
        /// The length kept (modulo the length + 1).
        len: u16,
        /// Picks a live engine.
        to: u8,
    },
    /// An honest message replayed to another engine, claimed by `from`.
    Replay {
        /// Picks the message.
        k: u8,
        /// Picks a live engine.
        to: u8,
        /// Picks one of that engine's peers.
        from: u8,
    },
}

/// A whole input: the setting, then the schedule (at most 300 ops are run).
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// Who talks to whom: 0 = engines 0 and 1 only, 1 = a line 0 - 1 - 2,
    /// otherwise a full mesh (taken modulo 3). A mesh repairs what one link
    /// loses; a pair or a line does not, so forged acknowledgements show
    /// there.
    pub topology: u8,
    /// How much state each engine holds before the schedule (up to 47
    /// elements each, in up to 7 keys; taken modulo 48).
    pub prefill: u8,
    /// The message limit: 256 bytes, 1 KiB or 1 MiB (taken modulo 3).
    pub limit: u8,
    /// The schedule.
    pub ops: Vec<Op>,
}

/// How many variants [`Op`] has (the derive picks one from a `u32`).
const OP_VARIANTS: u64 = 12;

impl Input {
    /// The bytes `Input::arbitrary_take_rest` reads back into `self`
    /// (arbitrary 1.x: integers little-endian, a variant index scaled from
    /// a `u32`, each collection element behind a continue byte).
    ///
    /// ```
    /// use arbitrary::{Arbitrary, Unstructured};
    /// use crdt_fuzz::engine_bytes::{Input, Op};
    ///
    /// let input = Input {
    ///     topology: 2,
    ///     prefill: 5,
    ///     limit: 0,
    ///     ops: vec![Op::Tick(9), Op::Raw { to: 1, from: 0, bytes: vec![1, 2] }],
    /// };
    /// let bytes = input.to_bytes();
    /// assert_eq!(Input::arbitrary_take_rest(Unstructured::new(&bytes)).unwrap(), input);
    /// ```
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.topology, self.prefill, self.limit];
        for op in &self.ops {
            out.push(1);
            op.write(&mut out);
        }
        out
    }
}

impl Op {
    fn write(&self, out: &mut Vec<u8>) {
        let (index, fields): (u64, Vec<Field<'_>>) = match self {
            Self::Insert { at, key, x } => (0, vec![B(*at), B(*key), W(*x)]),
            Self::RemoveElement { at, key, x } => (1, vec![B(*at), B(*key), W(*x)]),
            Self::RemoveKey { at, key } => (2, vec![B(*at), B(*key)]),
            Self::Tick(d) => (3, vec![B(*d)]),
            Self::Deliver(k) => (4, vec![B(*k)]),
            Self::Drop(k) => (5, vec![B(*k)]),
            Self::Duplicate(k) => (6, vec![B(*k)]),
            Self::Raw { to, from, bytes } => (7, vec![B(*to), B(*from), Bytes(bytes)]),
            Self::Tamper { k, to, from, edits } => (8, vec![B(*k), B(*to), B(*from), Edits(edits)]),
            Self::Splice {
                a,
                b,
                cut,
                to,
                from,
            } => (9, vec![B(*a), B(*b), W(*cut), B(*to), B(*from)]),
            Self::Truncate { k, len, to } => (10, vec![B(*k), W(*len), B(*to)]),
            Self::Replay { k, to, from } => (11, vec![B(*k), B(*to), B(*from)]),
        };
        crate::write_variant(out, index, OP_VARIANTS);
        for field in fields {
            match field {
                B(b) => out.push(b),
                W(w) => out.extend_from_slice(&w.to_le_bytes()),
                Bytes(bytes) => {
                    for &b in bytes {
                        out.extend_from_slice(&[1, b]);
                    }
                    out.push(0);
                }
                Edits(edits) => {
                    for &(pos, b) in edits {
                        out.push(1);
                        out.extend_from_slice(&pos.to_le_bytes());
                        out.push(b);
                    }
                    out.push(0);
                }
            }
        }
    }
}

/// A field of an [`Op`], as `arbitrary` reads it.
enum Field<'a> {
    B(u8),
    W(u16),
    Bytes(&'a [u8]),
    Edits(&'a [(u16, u8)]),
}
use Field::{B, Bytes, Edits, W};
