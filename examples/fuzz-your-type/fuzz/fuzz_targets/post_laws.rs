//! Every merge law of `Post`, on arbitrary valid posts and traces.
#![no_main]

use crdt_types::Lattice;
use crdt_types::laws::{self, Trace};
use fuzz_your_type::{Post, PostOp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Post, Post, Post, PostOp, Trace<PostOp>)| {
    let (a, b, c, op, trace) = input;
    let checked = laws::lattice(&a, &b, &c)
        .and_then(|()| laws::mutation(&a, laws::replica(0), &op))
        .and_then(|()| laws::delta_sync::<Post>(&trace))
        .and_then(|()| laws::roundtrip(&a.clone().joined(&b)))
        .and_then(|()| laws::valid(&a, Post::validate));
    if let Err(violation) = checked {
        panic!("{violation}");
    }
});
