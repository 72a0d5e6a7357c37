//! Hostile bytes into live engines holding collaborative text: the run of
//! `engine_bytes` (three honest engines, a lossy and reordering network, a
//! forger's arbitrary, tampered, spliced, truncated and replayed messages,
//! then a healing phase after which every engine must report
//! `is_synced()` and hold the same text), with a [`Text`] typed on and
//! deleted from by the honest engines instead of a map of sets. A text's
//! messages are the most intricate the engine decodes (packed runs,
//! origins, tombstones, pending runs, one dot with two versions).
//!
//! Run as the README says: `cargo +nightly fuzz run engine_text --
//! -rss_limit_mb=512 -timeout=2`.
#![no_main]

use crdt_fuzz::engine_bytes::Input;
use crdt_fuzz::engine_run::run;
use crdt_types::Text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: Input| run::<Text>(input));
