//! The key-value store against a reference model: every put gets a unique
//! id; a put supersedes exactly the values its context read (at any
//! replica); a sync merges what two replicas know; a replica's values for a
//! key are the puts it knows that nothing it knows superseded. Counters are
//! checked against the plain sum of their increments.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use crdt_core::{Lattice, ReplicaId};
use crdt_net::KvState;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Put { key: u8, read_at: u8, at: u8 },
    Add { key: u8, at: u8, by: i8 },
    Sync { from: u8, to: u8 },
}

const N: usize = 3;

#[derive(Clone, Default)]
struct Model {
    known: BTreeSet<(u8, u32)>,
    superseded: BTreeSet<(u8, u32)>,
}

impl Model {
    fn values(&self, key: u8) -> Vec<String> {
        let mut v: Vec<String> = self
            .known
            .difference(&self.superseded)
            .filter(|(k, _)| *k == key)
            .map(|(_, id)| id.to_string())
            .collect();
        v.sort();
        v
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let ids: Vec<ReplicaId> = (0..N)
        .map(|i| ReplicaId::from_u128(i as u128 + 1))
        .collect();
    let mut stores = vec![KvState::new(); N];
    let mut models = vec![Model::default(); N];
    let mut next = 0u32;
    let mut totals = [0i64; 2];
    for op in ops.into_iter().take(64) {
        match op {
            Op::Put { key, read_at, at } => {
                let (key, read_at, at) = (key % 2, usize::from(read_at) % N, usize::from(at) % N);
                let name = format!("k{key}");
                let (mut read, context) = stores[read_at].get(&name);
                read.sort();
                assert_eq!(read, models[read_at].values(key));
                next += 1;
                let _ = stores[at].put(ids[at], &name, next.to_string(), &context);
                let superseded: Vec<(u8, u32)> = read
                    .iter()
                    .filter_map(|v| v.parse().ok())
                    .map(|id| (key, id))
                    .collect();
                models[at].superseded.extend(superseded);
                models[at].known.insert((key, next));
            }
            Op::Add { key, at, by } => {
                let (key, at) = (key % 2, usize::from(at) % N);
                let _ = stores[at].add(ids[at], &format!("c{key}"), i64::from(by));
                totals[usize::from(key)] += i64::from(by);
            }
            Op::Sync { from, to } => {
                let (from, to) = (usize::from(from) % N, usize::from(to) % N);
                let other = stores[from].clone();
                stores[to].join(&other);
                let m = models[from].clone();
                models[to].known.extend(m.known);
                models[to].superseded.extend(m.superseded);
            }
        }
        for i in 0..N {
            for key in 0..2u8 {
                let mut got = stores[i].get(&format!("k{key}")).0;
                got.sort();
                assert_eq!(got, models[i].values(key), "replica {i} key {key}");
            }
            assert!(crdt_sync::Replicated::validate(&stores[i]).is_ok());
        }
    }
    // After a full exchange every replica agrees, and counters hold the sum.
    let mut all = KvState::new();
    for s in &stores {
        all.join(s);
    }
    for (k, total) in totals.iter().enumerate() {
        assert_eq!(all.count(&format!("c{k}")), *total);
    }
});
