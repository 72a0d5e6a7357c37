//! Throwaway probe: accumulating typing-and-backspacing deltas.
use crdt_benches::{replica, typed_text};
use crdt_core::Lattice;
use crdt_types::Text;
use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(4096);
    let big = typed_text(100_000);
    let mut x = big.clone();
    let mut ds = Vec::new();
    let mut at = 0usize;
    for i in 0..n {
        if i % 8 == 0 {
            at = (i * 7919) % x.len();
        }
        if i % 4 == 3 {
            at -= 1;
            ds.push(x.delete(at, 1));
        } else {
            ds.push(x.insert_str(replica(1), at, "q"));
            at += 1;
        }
    }
    let t = Instant::now();
    let mut c = Text::new();
    for d in &ds {
        c.join(d);
    }
    println!(
        "{n} deltas joined: {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut y = big.clone();
    y.join(&c);
    assert!(y == x);
}
