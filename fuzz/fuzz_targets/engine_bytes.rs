//! Hostile bytes into live engines: three honest engines in a full mesh hold
//! real state (a map of sets with nested removes, pre-filled) and sync over a
//! lossy, reordering network, while the input also hands them bytes claimed
//! to come from one of their peers: arbitrary bytes, honest messages with
//! bytes overwritten, spliced or truncated, and honest messages replayed to
//! the wrong engine. Every call must return (an `Err` is fine) without a
//! panic, an allocation beyond `-rss_limit_mb` or a stall beyond `-timeout`.
//!
//! Afterwards the forger stops and the network heals: with honest messages
//! only (no state joined by hand) every engine must report `is_synced()`
//! and all must hold the same state. Forged messages may legitimately add
//! writes (without authentication a forged write is indistinguishable from
//! a relayed one); they must never leave honest replicas apart.
//!
//! Run as the README says: `cargo +nightly fuzz run engine_bytes --
//! -rss_limit_mb=512 -timeout=2`.
#![no_main]

use crdt_fuzz::engine_bytes::{Input, State};
use crdt_fuzz::engine_run::run;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: Input| run::<State>(input));
