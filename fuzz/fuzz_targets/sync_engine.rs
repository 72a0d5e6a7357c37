//! The sync engine under an arbitrary schedule: local writes, deliveries in
//! any order, drops, duplicates, timer ticks, snapshots and crash-restarts
//! from old snapshots, on a topology (two engines, a line of three, a full
//! mesh of three) and a message limit (so splitting and coarsened digests
//! happen) that the input chooses. At every step, two linked engines that
//! both report `is_synced()` hold equal states; after a final fault-free
//! exchange (messages only, no state is joined by hand) every engine reports
//! `is_synced()`, all are equal, and no dot was ever minted twice.
//!
//! The input and the run live in `crdt_fuzz::sync_engine`, shared with the
//! seed writer (`cargo run --example write_seeds`).
#![no_main]

use crdt_fuzz::sync_engine::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: Input| {
    let _ = input.run();
});
