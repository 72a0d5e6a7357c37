//! The sequential replay rows of the side-by-side bench in seconds rather
//! than the bench's twenty minutes: each trace replayed as local edits by
//! ours, diamond-types and cola-crdt in turn, `N` times (default 9), and by
//! loro 3 times; the fastest run of each, and our ratio to it. Every
//! replay's result is checked against the trace's `endContent`.
//!
//! `cd benches/peers && cargo run --release --example quick_replay [N] [trace]`
//!
//! yrs and automerge are left out (seconds per replay, see the bench).

use std::path::Path;
use std::time::Instant;

use crdt_peers::{Cola, Diamond, Loro, Ours, Peer, replay};

#[path = "../../../crates/crdt-types/tests/support/traces.rs"]
#[allow(dead_code)]
mod support;

/// Milliseconds one replay of `trace` by `P` takes; panics if the result
/// is not the trace's `endContent` (its length, for a library that keeps
/// positions only).
fn time<P: Peer>(trace: &support::Trace) -> f64 {
    let started = Instant::now();
    let doc = replay::<P>(
        &trace.start_content,
        trace.txns.iter().map(|t| t.patches.as_slice()),
    );
    let ms = started.elapsed().as_secs_f64() * 1e3;
    match doc.text() {
        Some(text) => assert!(text == trace.end_content, "{} differs", P::NAME),
        None => assert_eq!(doc.len(), trace.end_content.chars().count(), "{}", P::NAME),
    }
    ms
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map_or(9, |s| s.parse().expect("N is a number of runs"));
    // An optional second argument names the one trace to replay (for a
    // profiler: `quick_replay 1 seph-blog1`).
    let only = std::env::args().nth(2);
    for name in ["automerge-paper", "seph-blog1"] {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let trace = support::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/crdt-types"),
            name,
        );
        let mut best = [f64::MAX; 4];
        for i in 0..runs {
            best[0] = best[0].min(time::<Ours>(&trace));
            best[1] = best[1].min(time::<Diamond>(&trace));
            best[2] = best[2].min(time::<Cola>(&trace));
            if i < 3 {
                best[3] = best[3].min(time::<Loro>(&trace));
            }
        }
        let [ours, diamond, cola, loro] = best;
        println!(
            "{name}: ours {ours:.1} ms, {} {diamond:.1} ms ({:.2}x), {} {cola:.1} ms ({:.2}x), {} {loro:.1} ms ({:.2}x)",
            Diamond::NAME,
            ours / diamond,
            Cola::NAME,
            ours / cola,
            Loro::NAME,
            ours / loro,
        );
    }
}
