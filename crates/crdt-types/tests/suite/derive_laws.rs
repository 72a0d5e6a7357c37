//! A `#[derive(Crdt)]` struct checked with `crdt_types::laws`, as a user
//! would check theirs: the lattice laws, the delta-mutator law of every
//! generated `update_*` mutator, delta sync against state sync over random
//! traces, validation and the encoding round trip. (The property suites
//! `lattice_laws`, `delta_laws` and `convergence` also run this type.)

use crdt_types::Crdt;
use crdt_types::laws::{self, LawViolation, Mutate, Trace};
use crdt_types::testing::{History, replica};
use quickcheck::QuickCheck;

use crate::common::post::{Post, PostOp};

fn ok(r: Result<(), LawViolation>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) => {
            eprintln!("{e}");
            false
        }
    }
}

#[test]
fn derived_post_keeps_the_lattice_laws() {
    QuickCheck::new().tests(300).quickcheck(
        (|h: History<Post>| {
            let [x, y, z] = &h.states[..] else {
                return false;
            };
            ok(laws::lattice(x, y, z))
        }) as fn(History<Post>) -> bool,
    );
}

#[test]
fn every_generated_mutator_keeps_the_delta_mutator_law() {
    QuickCheck::new().tests(300).quickcheck(
        (|h: History<Post>, op: PostOp| ok(laws::mutation(&h.states[0], replica(0), &op)))
            as fn(History<Post>, PostOp) -> bool,
    );
}

#[test]
fn derived_post_delta_sync_ends_where_state_sync_ends() {
    QuickCheck::new().tests(200).quickcheck(
        (|t: Trace<PostOp>| ok(laws::delta_sync::<Post>(&t))) as fn(Trace<PostOp>) -> bool,
    );
}

#[test]
fn derived_post_states_are_valid_and_round_trip() {
    QuickCheck::new().tests(200).quickcheck(
        (|h: History<Post>| {
            h.states
                .iter()
                .all(|x| ok(laws::valid(x, Crdt::validate)) && ok(laws::roundtrip(x)))
        }) as fn(History<Post>) -> bool,
    );
}

#[test]
fn a_delta_that_forgets_the_write_is_caught() {
    // The laws are not vacuous on a derived type.
    let mut post = Post::default();
    let _ = post.apply(replica(0), &PostOp::Like(3));
    let err = laws::delta_mutator(&post, |p| {
        let _ = p.apply(replica(0), &PostOp::Like(2));
        Post::default()
    });
    assert!(err.is_err());
}
