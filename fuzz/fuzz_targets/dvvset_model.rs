//! `DvvSet` against a reference model of a key-value register: every put
//! gets a unique id; a put supersedes exactly the puts its read context had
//! seen; a replica's values are the puts it knows that nothing it knows
//! superseded. Syncs merge what two replicas know.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use crdt_core::{DvvSet, Lattice, ReplicaId, VersionVector};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    /// A client reads at replica `read_at`, then puts through coordinator `at`.
    Put {
        read_at: u8,
        at: u8,
    },
    /// A blind put (empty context) through coordinator `at`.
    BlindPut {
        at: u8,
    },
    Sync {
        from: u8,
        to: u8,
    },
}

#[derive(Clone, Default)]
struct Model {
    known: BTreeSet<u32>,
    superseded: BTreeSet<u32>,
}

impl Model {
    fn values(&self) -> Vec<u32> {
        self.known.difference(&self.superseded).copied().collect()
    }
}

const N: usize = 3;

fuzz_target!(|ops: Vec<Op>| {
    let mut sets: Vec<DvvSet<u32>> = vec![DvvSet::new(); N];
    let mut models: Vec<Model> = vec![Model::default(); N];
    // Each op's number is the value a put there writes.
    for (next_id, op) in (0u32..).zip(ops.into_iter().take(64)) {
        match op {
            Op::Put { read_at, at } => {
                let (read_at, at) = (usize::from(read_at) % N, usize::from(at) % N);
                let context = sets[read_at].context();
                // Everything the reader has seen, superseded puts included.
                let m = &models[read_at];
                let seen: BTreeSet<u32> = m.known.union(&m.superseded).copied().collect();
                put(&mut sets, &mut models, at, &context, &seen, next_id);
            }
            Op::BlindPut { at } => {
                let at = usize::from(at) % N;
                put(
                    &mut sets,
                    &mut models,
                    at,
                    &VersionVector::new(),
                    &BTreeSet::new(),
                    next_id,
                );
            }
            Op::Sync { from, to } => {
                let (from, to) = (usize::from(from) % N, usize::from(to) % N);
                let other = sets[from].clone();
                sets[to].join(&other);
                let m = models[from].clone();
                models[to].known.extend(m.known);
                models[to].superseded.extend(m.superseded);
            }
        }
        for (s, m) in sets.iter().zip(&models) {
            let mut values: Vec<u32> = s.values().copied().collect();
            values.sort_unstable();
            assert_eq!(values, m.values(), "DvvSet disagrees with the model");
            assert!(s.validate().is_ok());
        }
    }
});

fn put(
    sets: &mut [DvvSet<u32>],
    models: &mut [Model],
    at: usize,
    context: &VersionVector,
    seen: &BTreeSet<u32>,
    id: u32,
) {
    let replica = ReplicaId::from_u128(at as u128 + 1);
    let _ = sets[at].update(context, replica, id);
    let m = &mut models[at];
    m.superseded.extend(seen.iter().copied());
    m.known.insert(id);
}
