//! A property: any sequence of local writes, received deltas, compactions
//! and reopens leaves on disk exactly the state held in memory, under the
//! same replica id.

mod common;

use common::TestDir;
use crdt_core::{Lattice, ReplicaId};
use crdt_store::{Identity, Options, Store};
use crdt_types::OrSet;
use quickcheck::{QuickCheck, TestResult};

type Set = OrSet<u8>;

fn store_matches_memory(ops: Vec<(u8, u8)>) -> TestResult {
    let dir = TestDir::new("model");
    let path = dir.file("m.redb");
    let options = Options::default().with_background_compaction(false);
    let (mut store, opened) = Store::<Set>::open(&path, options.clone()).unwrap();
    let me = opened.replica();
    let mut memory = opened.into_state();
    let mut peer = Set::new();
    let them = ReplicaId::from_u128(99);
    for (op, x) in ops.into_iter().take(40) {
        match op % 6 {
            0 | 1 => store.append_local(&memory.insert(me, x)).unwrap(),
            2 => store.append_local(&memory.remove(&x)).unwrap(),
            3 => {
                let d = peer.insert(them, x);
                memory.join(&d);
                store.append_received(&d).unwrap()
            }
            4 => store.compact().map(|c| c.entries).unwrap(),
            _ => {
                store.close().unwrap();
                let (s, opened) = Store::<Set>::open(&path, options.clone()).unwrap();
                if opened.identity() != Identity::Resumed
                    || opened.replica() != me
                    || opened.state() != &memory
                {
                    return TestResult::failed();
                }
                store = s;
                0
            }
        };
    }
    store.close().unwrap();
    let (_s, opened) = Store::<Set>::open(&path, options).unwrap();
    TestResult::from_bool(opened.state() == &memory && opened.replica() == me)
}

#[test]
fn any_history_reopens_to_the_state_in_memory() {
    QuickCheck::new()
        .tests(25)
        .quickcheck(store_matches_memory as fn(Vec<(u8, u8)>) -> TestResult);
}
