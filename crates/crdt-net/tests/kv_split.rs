//! `KvState` splits at its inner maps' median dots (a payload over the
//! message limit used to be cut into one-member pieces and joined back, which
//! took seconds for 100k members and stalled the node).

use crdt_core::Lattice;
use crdt_net::KvState;
use crdt_sync::Replicated;
use crdt_types::ReplicaId;

fn store() -> KvState {
    let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let mut s = KvState::new();
    for i in 0..40 {
        let me = if i % 3 == 0 { a } else { b };
        let _ = s.set_add(me, "tags", &format!("t{i}"));
        let _ = s.add(me, &format!("likes{}", i % 4), 1);
        if i % 5 == 0 {
            let (_, ctx) = s.get("bio");
            let _ = s.put(me, "bio", format!("v{i}"), &ctx);
        }
        if i % 7 == 0 {
            let _ = s.set_remove("tags", &format!("t{}", i / 2));
        }
    }
    s
}

fn dots(s: &KvState) -> u64 {
    s.digest().map_or(0, |d| d.len())
}

#[test]
fn kv_state_splits_into_smaller_halves_that_join_back() {
    let mut pending = vec![store()];
    let mut pieces = 0;
    while let Some(piece) = pending.pop() {
        match piece.split() {
            Some((left, right)) => {
                assert!(dots(&left) < dots(&piece) || dots(&right) < dots(&piece));
                assert!(left != piece && right != piece, "both halves are smaller");
                assert_eq!(left.clone().joined(&right), piece, "the halves join back");
                assert!(
                    Replicated::validate(&left).is_ok() && Replicated::validate(&right).is_ok()
                );
                pending.push(left);
                pending.push(right);
            }
            None => pieces += 1,
        }
    }
    assert!(pieces > 40, "split down to single dots: {pieces}");
}
