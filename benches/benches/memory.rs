//! Heap bytes and encoded bytes per element, measured with a counting
//! allocator. Prints a table; asserts nothing about speed.
//!
//! Run with `cargo bench -p crdt-benches --bench memory`.

use std::alloc::System;

use crdt_benches::{keys, map_of_sets, or_set, replica, scrambled_keys, theirs};
use crdt_core::{Causal, DotMap, DotSet, ReplicaId};
use crdt_types::MvRegister;
use crdts::CmRDT;
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
    // `bytes_allocated` already includes what reallocations grew by, and
    // `bytes_deallocated` what they shrank by.
    let net = change
        .bytes_allocated
        .saturating_sub(change.bytes_deallocated);
    (value, net)
}

fn encoded_bytes<T: serde::Serialize>(value: &T) -> usize {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map(|b| b.len())
        .unwrap_or(0)
}

fn kernel_set(keys: &[u64]) -> Causal<DotMap<u64, DotSet>> {
    let me = ReplicaId::random(); // a real 128-bit id
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
    let sequential = keys(N, true);
    let random = keys(N, false);
    println!("| {N} u64 elements | heap bytes / element | encoded bytes / element |");
    println!("|---|---|---|");
    for (name, ks) in [("keys 0..N", &sequential), ("random keys", &random)] {
        let (s, heap) = heap_bytes(|| kernel_set(ks));
        row(
            &format!("crdt-core `Causal<DotMap<u64, DotSet>>`, {name}"),
            heap,
            encoded_bytes(&s),
        );
        drop(s);
        let (s, heap) = heap_bytes(|| or_set(ks, replica(1)));
        row(
            &format!("crdt-types `OrSet<u64>`, {name}"),
            heap,
            encoded_bytes(&s),
        );
        drop(s);
        // The same set after joining a remote remove of one element: a
        // large map builds its dot index then (issue 14), and keeps it.
        let (s, heap) = heap_bytes(|| {
            let mut s = or_set(ks, replica(1));
            let remove = s.clone().remove(&ks[0]);
            crdt_core::Lattice::join(&mut s, &remove);
            s
        });
        row(
            &format!("crdt-types `OrSet<u64>`, {name}, a remote remove joined (dot index)"),
            heap,
            encoded_bytes(&s),
        );
        drop(s);
        let (s, heap) = heap_bytes(|| theirs::or_set(ks, replica(1).as_u128()));
        row(
            &format!("crdts 7.3.2 `Orswot<u64, u128>`, {name}"),
            heap,
            encoded_bytes(&s),
        );
        drop(s);
    }

    // A multi-value register holding 16 concurrent siblings, per sibling.
    println!();
    println!(
        "| MV register, 16 concurrent siblings | heap bytes / sibling | encoded bytes / sibling |"
    );
    println!("|---|---|---|");
    let (ours, heap) = heap_bytes(|| {
        let mut acc = MvRegister::new();
        for r in 0..16u128 {
            let mut x = MvRegister::new();
            let delta = x.write(replica(r), r as u64);
            crdt_core::Lattice::join(&mut acc, &delta);
        }
        acc
    });
    sibling_row("crdt-types `MvRegister<u64>`", heap, encoded_bytes(&ours));
    let (theirs, heap) = heap_bytes(|| {
        let mut acc = crdts::MVReg::<u64, u128>::new();
        for r in 0..16u128 {
            let x = crdts::MVReg::<u64, u128>::new();
            let actor = replica(r).as_u128();
            acc.apply(x.write(r as u64, x.read_ctx().derive_add_ctx(actor)));
        }
        acc
    });
    sibling_row(
        "crdts 7.3.2 `MVReg<u64, u128>`",
        heap,
        encoded_bytes(&theirs),
    );

    // Small sets under scrambled keys (tags on documents): the inner maps'
    // own size counts here.
    println!();
    println!("| OR-map of OR-sets | heap bytes / element | encoded bytes / element |");
    println!("|---|---|---|");
    map_of_sets_rows(4_096, 16);
    map_of_sets_rows(32_768, 2);
}

/// Heap and encoded bytes per element of an OR-map of OR-sets, `docs`
/// scrambled keys with `tags` elements each, against `crdts`' `Map` of
/// `Orswot`s built the same way.
fn map_of_sets_rows(docs: u64, tags: u64) {
    let keys = scrambled_keys(docs);
    let n = (docs * tags) as f64;
    let r = replica(1);
    let (ours, heap) = heap_bytes(|| map_of_sets(&keys, tags, r));
    let encoded = encoded_bytes(&ours);
    println!(
        "| crdt-types `OrMap<u64, OrSet<u64>>`, {docs} keys x {tags} | {:.1} | {:.1} |",
        heap as f64 / n,
        encoded as f64 / n
    );
    let (theirs, heap) = heap_bytes(|| theirs::map_of_sets(&keys, tags, r.as_u128()));
    let encoded = encoded_bytes(&theirs);
    println!(
        "| crdts 7.3.2 `Map<u64, Orswot<u64, u128>, u128>`, {docs} keys x {tags} | {:.1} | {:.1} |",
        heap as f64 / n,
        encoded as f64 / n
    );
}

fn sibling_row(name: &str, heap: usize, encoded: usize) {
    println!(
        "| {name} | {:.1} | {:.1} |",
        heap as f64 / 16.0,
        encoded as f64 / 16.0
    );
}
