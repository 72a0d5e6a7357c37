//! The budget of issue 11 (decode plus apply cost follows a message's
//! bytes), guarded where a crafted message once broke it. The figures for
//! every crafted case come from `cargo run --release -p crdt-sync --example
//! budget`; these tests assert on allocated bytes, never on time.
//!
//! One test per binary: the allocator's counters are global, so a test
//! running alongside would add its allocations to the region measured.

use std::alloc::System;
use std::time::Instant;

use crdt_core::{Causal, CausalContext, DotMap, DotSet};
use crdt_sync::{Config, Engine, Envelope, Message, Payload, PeerId, codec};
use crdt_types::{CausalCrdt, OrSet, ReplicaId};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// One element held by `n` concurrent adds, each under its own replica id.
fn siblings(n: u64) -> OrSet<u64> {
    let context: CausalContext = (0..n)
        .map(|i| crdt_core::Dot::new(ReplicaId::from_u128(1000 + u128::from(i)), 1).unwrap())
        .collect();
    let mut store: DotMap<u64, DotSet> = DotMap::new();
    store.insert(7, context.iter().collect());
    OrSet::from_causal(Causal::from_parts(store, context).unwrap())
}

/// Every byte allocated (reallocation growth included) while `f` runs.
fn allocated<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let region = Region::new(GLOBAL);
    let r = f();
    (r, region.change().bytes_allocated)
}

/// Decoding a dot set inserted its dots one by one, copying the whole set
/// each time: 45k siblings in one 1 MiB message took 4 s and allocated
/// about 25 GB in total. They are now collected and built once.
#[test]
fn a_set_of_many_siblings_decodes_in_allocations_linear_in_its_bytes() {
    let n = 4_000;
    let bytes = codec::encode(&Envelope {
        from_epoch: 1,
        to_epoch: 0,
        message: Message::Delta(Payload {
            id: 1,
            part: 0,
            parts: 1,
            state: siblings(n),
        }),
    })
    .unwrap();
    let (decoded, total) = allocated(|| codec::decode::<OrSet<u64>>(&bytes, 1 << 20));
    let Message::Delta(p) = decoded.unwrap().message else {
        panic!("a delta");
    };
    assert_eq!(
        p.state.as_causal().store().get(&7).map(DotSet::len),
        Some(n as usize)
    );
    // Quadratic decoding allocated 24 * n^2 / 2 = 192 MB here.
    assert!(
        total <= 16 * bytes.len(),
        "decoding {} bytes allocated {total} bytes",
        bytes.len()
    );
    // Through the public path, into an engine: applied, not refused.
    let t = Instant::now();
    let mut e: Engine<OrSet<u64>> =
        Engine::new(ReplicaId::from_u128(1), OrSet::new(), Config::default(), t).unwrap();
    e.handle_message(t, PeerId(2), &bytes).unwrap();
    assert!(e.state().contains(&7));
}
