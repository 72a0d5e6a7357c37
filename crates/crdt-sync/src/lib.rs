//! Delta-state anti-entropy for any `crdt-core` lattice.
//!
//! This crate is being built; the engine, codec and simulator land with the
//! `crdt-sync` issue.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
