//! Shared helpers for the criterion benches, and the README's example run as
//! a doctest (so the README cannot drift from the code).

#[doc = include_str!("../../README.md")]
pub mod readme {}
