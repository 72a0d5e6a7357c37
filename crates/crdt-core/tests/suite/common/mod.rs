//! Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code, unreachable_pub)]

use crdt_core::{Causal, DotFun, DotMap, DotSet};
use quickcheck::{Arbitrary, Gen};

/// A key drawn from four values, so generated maps share keys often.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Key(pub u8);

impl Arbitrary for Key {
    fn arbitrary(g: &mut Gen) -> Self {
        Key(u8::arbitrary(g) % 4)
    }
}

/// A small payload, so clashes of reused dots are likely.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Val(pub u8);

impl Arbitrary for Val {
    fn arbitrary(g: &mut Gen) -> Self {
        Val(u8::arbitrary(g) % 3)
    }
}

/// An enable-wins flag.
pub type Flag = Causal<DotSet>;
/// A multi-value register.
pub type Mv = Causal<DotFun<Val>>;
/// An add-wins set.
pub type Set = Causal<DotMap<Key, DotSet>>;
/// A map of maps of registers.
pub type Nested = Causal<DotMap<Key, DotMap<Key, DotFun<Val>>>>;
