//! Replicated data types built on the `crdt-core` dot-store kernel.
//!
//! This crate is being built; its types land with the `crdt-types` issue.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
