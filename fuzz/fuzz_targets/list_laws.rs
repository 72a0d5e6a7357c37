//! Merge laws for `Text` (a `List<char>`) under arbitrary list operations at
//! three replicas: after every step the three states satisfy the join laws,
//! the step's delta satisfies `m(x) == x ⊔ m_δ(x)`, replicas synced by
//! deltas (joined in any order) equal replicas synced by full states, every
//! state validates and survives the encoding; what is received is joined
//! through its novel part (`Decompose::delta_from`, as engines do), which
//! must add exactly what the whole would; and at the end, once all
//! deltas are joined everywhere, the replicas are equal.
#![no_main]

use arbitrary::Arbitrary;
use crdt_core::{Decompose, Lattice};
use crdt_types::laws::{self, Mutate};
use crdt_types::{ReplicaId, Text, TextOp};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Step {
    /// Replica `at` inserts `len % 4 + 1` letters (`a`, `b`, `c` from
    /// `seed`) at `index % (len + 1)`.
    Insert {
        at: u8,
        index: u8,
        len: u8,
        seed: u8,
    },
    /// Replica `at` deletes `len % 4 + 1` letters from `index % (len + 1)`.
    Delete { at: u8, index: u8, len: u8 },
    /// Replica `to` receives replica `from`'s state and its deltas
    /// (newest first: out of causal order on purpose).
    Sync(u8, u8),
}

#[derive(Default)]
struct Replica {
    full: Text,
    by_delta: Text,
    log: std::collections::BTreeSet<usize>,
}

fn check(step: &str, r: Result<(), laws::LawViolation>) {
    if let Err(e) = r {
        panic!("{step}: {e}");
    }
}

fuzz_target!(|steps: Vec<Step>| {
    let mut rs: Vec<Replica> = (0..3).map(|_| Replica::default()).collect();
    let mut deltas: Vec<Text> = Vec::new();
    for step in steps.into_iter().take(64) {
        match step {
            Step::Insert { .. } | Step::Delete { .. } => {
                let (at, op) = match step {
                    Step::Insert {
                        at,
                        index,
                        len,
                        seed,
                    } => {
                        let s = (0..len % 4 + 1)
                            .map(|k| char::from(b'a' + seed.wrapping_add(k) % 3))
                            .collect();
                        (at, TextOp::Insert(usize::from(index), s))
                    }
                    Step::Delete { at, index, len } => (
                        at,
                        TextOp::Delete(usize::from(index), usize::from(len % 4 + 1)),
                    ),
                    Step::Sync(..) => continue,
                };
                let i = usize::from(at % 3);
                let me = ReplicaId::from_u128(i as u128 + 1);
                check("mutation", laws::mutation(&rs[i].full, me, &op));
                let delta = rs[i].full.apply(me, &op);
                let _ = rs[i].by_delta.apply(me, &op);
                deltas.push(delta);
                rs[i].log.insert(deltas.len() - 1);
            }
            Step::Sync(from, to) => {
                let (from, to) = (usize::from(from % 3), usize::from(to % 3));
                if from == to {
                    continue;
                }
                let state = rs[from].full.clone();
                let news: Vec<usize> = rs[from].log.difference(&rs[to].log).copied().collect();
                let target = &mut rs[to];
                // The novel part (what an engine joins of what it receives)
                // adds exactly what the whole would.
                let novel = state.delta_from(&target.full);
                let expected = target.full.clone().joined(&state);
                target.full.join(&novel);
                assert_eq!(target.full, expected, "novel part of a state");
                for d in news.into_iter().rev() {
                    let novel = deltas[d].delta_from(&target.by_delta);
                    let expected = target.by_delta.clone().joined(&deltas[d]);
                    target.by_delta.join(&novel);
                    assert_eq!(target.by_delta, expected, "novel part of a delta");
                    target.log.insert(d);
                }
            }
        }
        for r in &rs {
            assert_eq!(r.full, r.by_delta, "delta sync differs from state sync");
            check("valid", laws::valid(&r.full, Text::validate));
            let config = bincode::config::standard();
            let bytes = bincode::serde::encode_to_vec(&r.full, config).expect("encodes");
            let (back, _): (Text, usize) =
                bincode::serde::decode_from_slice(&bytes, config).expect("decodes");
            assert_eq!(back, r.full, "decode(encode(x)) != x");
        }
        check(
            "lattice",
            laws::lattice(&rs[0].full, &rs[1].full, &rs[2].full),
        );
    }
    let all = deltas.iter().fold(Text::new(), |acc, d| acc.joined(d));
    for r in &mut rs {
        r.full.join(&all);
        assert_eq!(r.full.to_string(), all.to_string());
        assert_eq!(r.full, all);
    }
});
