//! Heap bytes and encoded bytes per element, measured with a counting
//! allocator. Prints a table; asserts nothing about speed.
//!
//! Run with `cargo bench -p crdt-benches --bench memory`.

use std::alloc::System;

use crdt_core::{Causal, DotMap, DotSet, ReplicaId};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const N: u64 = 100_000;

/// Net heap bytes allocated while building a value with `build` (the value
/// is returned so it is still alive when the region is read).
fn heap_bytes<T>(build: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let value = build();
    let change = region.change();
    // Reallocations are counted as a signed size change.
    let net = change.bytes_allocated as i128 - change.bytes_deallocated as i128
        + change.bytes_reallocated as i128;
    let net = usize::try_from(net).unwrap_or(0);
    (value, net)
}

fn encoded_bytes<T: serde::Serialize>(value: &T) -> usize {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map(|b| b.len())
        .unwrap_or(0)
}

fn kernel_set(keys: &[u64]) -> Causal<DotMap<u64, DotSet>> {
    let me = ReplicaId::random();
    let mut s: Causal<DotMap<u64, DotSet>> = Causal::new();
    for &x in keys {
        let dot = s.next_dot(me);
        let (store, ctx) = s.parts_mut();
        ctx.insert(dot);
        store.insert(x, DotSet::from(dot));
    }
    s
}

fn row(name: &str, heap: usize, encoded: usize) {
    println!(
        "| {name} | {:.1} | {:.1} |",
        heap as f64 / N as f64,
        encoded as f64 / N as f64
    );
}

fn main() {
    let sequential: Vec<u64> = (0..N).collect();
    let random: Vec<u64> = (0..N)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    println!("| {N} u64 elements | heap bytes / element | encoded bytes / element |");
    println!("|---|---|---|");
    let (s, heap) = heap_bytes(|| kernel_set(&sequential));
    row("crdt-core add-wins set, keys 0..N", heap, encoded_bytes(&s));
    drop(s);
    let (s, heap) = heap_bytes(|| kernel_set(&random));
    row(
        "crdt-core add-wins set, random keys",
        heap,
        encoded_bytes(&s),
    );
}
