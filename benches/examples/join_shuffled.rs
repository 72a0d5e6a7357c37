//! Joins one replica's `Text` deltas into a fresh replica one by one, in
//! the order they were made or shuffled, and prints the time of the joins
//! (the typing is not timed): the cost of deltas received out of order
//! (`docs/measurements.md`, "Deltas out of order").
//!
//! `cargo run --release -p crdt-benches --example join_shuffled -- [n] [mode]`
//!
//! `n` deltas (default 20,000); `mode` (default `shuffled`) combines
//! `random` (keystrokes at random places, not at the end), `deletions`
//! (a third of the edits delete one character) and `shuffled` (the deltas
//! joined in a fixed-seed random order), e.g. `random-deletions-shuffled`;
//! `in-order` alone types at the end and joins in order.

use std::time::Instant;

use crdt_benches::replica;
use crdt_core::Lattice;
use crdt_types::Text;

/// A fixed-seed generator (a linear congruential step; its high bits).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = (self.0)
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(20_000, |s| s.parse().expect("a count"));
    let mode = args.next().unwrap_or_else(|| "shuffled".to_owned());
    let mut rng = Lcg(12_345);
    let mut typed = Text::new();
    let mut deltas = Vec::with_capacity(n);
    for _ in 0..n {
        let len = typed.len();
        let d = if mode.contains("deletions") && len > 10 && rng.below(3) == 0 {
            typed.delete(rng.below(len), 1)
        } else if mode.contains("random") {
            typed.insert_str(replica(1), rng.below(len + 1), "x")
        } else {
            typed.insert_str(replica(1), len, "x")
        };
        deltas.push(d);
    }
    if mode.contains("shuffled") {
        for i in (1..deltas.len()).rev() {
            deltas.swap(i, rng.below(i + 1));
        }
    }
    let started = Instant::now();
    let mut joined = Text::new();
    for d in &deltas {
        joined.join(d);
    }
    let elapsed = started.elapsed();
    assert!(joined == typed, "the joined replica equals the typing one");
    println!(
        "{mode}, {n} deltas: joins {:.2} ms",
        elapsed.as_secs_f64() * 1e3
    );
}
