//! The types' integration tests: one test binary, each file a module.
//!
//! The crate is optimised in test builds (`[profile.dev.package]` in the
//! workspace manifest), so each test binary of its own cost CI 20 to 100
//! CPU-seconds of optimising and linking (at `opt-level = 2`); one binary
//! costs about half their sum. Tests that install their own global allocator stay in binaries of
//! their own. Run one file's tests with
//! `cargo test -p crdt-types --test suite <file>::`.

#[macro_use]
mod common;

mod convergence;
mod delta_laws;
mod derive_laws;
mod lattice_laws;
mod list;
mod readable_json;
mod semantics;
mod traces;
mod validation;
