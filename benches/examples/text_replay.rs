//! Replays one vendored editing trace as local edits of one replica, once,
//! and checks `endContent`: a small program to profile (callgrind counts
//! instructions repeatably on a shared machine, where wall times are noisy).
//!
//! `cargo build --release -p crdt-benches --example text_replay`, then
//! `valgrind --tool=callgrind target/release/examples/text_replay automerge-paper`.

use std::path::Path;
use std::time::Instant;

// Only the sequential replay is used here.
#[allow(dead_code)]
#[path = "../../crates/crdt-types/tests/support/traces.rs"]
mod support;

fn main() {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "automerge-paper".to_owned());
    let trace = support::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/crdt-types"),
        &name,
    );
    let started = Instant::now();
    let text = support::replay(&trace);
    let elapsed = started.elapsed();
    assert_eq!(text.to_string(), trace.end_content, "endContent of {name}");
    println!(
        "{name}: {} chars, {} runs, replay {:.1} ms",
        text.len(),
        text.as_list().run_count(),
        elapsed.as_secs_f64() * 1e3
    );
}
