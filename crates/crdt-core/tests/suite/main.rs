//! The kernel's integration tests: one test binary, each file a module.
//!
//! The crate is optimised in test builds (`[profile.dev.package]` in the
//! workspace manifest), so each test binary of its own cost CI 20 to 100
//! CPU-seconds of optimising and linking (at `opt-level = 2`); one binary
//! costs about half their sum. Tests that install their own global allocator stay in binaries of
//! their own. Run one file's tests with
//! `cargo test -p crdt-core --test suite <file>::`.

mod common;

mod context_algebra;
mod delta;
mod digest_answer;
mod fingerprint;
mod lattice_laws;
mod packed;
mod validation;
