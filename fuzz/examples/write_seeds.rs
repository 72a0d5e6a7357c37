//! Writes the seed inputs of the regression classes (issues 10, 11 and 17,
//! and the text classes of `engine_text`)
//! as `corpus/<target>/seed-<class>`, checking that each structured seed
//! reads back as the input it was built from, and that each `sync_engine`
//! seed runs clean and reaches its class. Run from `fuzz/`:
//! `cargo run --example write_seeds`.

use std::fmt::Debug;
use std::fs;
use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use crdt_fuzz::{engine_bytes, merge_laws, seeds, sync_engine};

fn write(target: &str, class: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("the corpus directory");
    let path = dir.join(format!("seed-{class}"));
    fs::write(&path, bytes).expect("the seed file");
    println!("{} ({} bytes)", path.display(), bytes.len());
}

/// Checks that `bytes` read back as `value`.
fn reads_back<'a, T: Arbitrary<'a> + PartialEq + Debug>(class: &str, bytes: &'a [u8], value: &T) {
    let back = T::arbitrary_take_rest(Unstructured::new(bytes)).expect("reads back");
    assert_eq!(&back, value, "seed {class} reads back as built");
}

fn main() {
    for (class, bytes) in seeds::decode_messages() {
        write("decode_messages", &class, &bytes);
    }
    for (class, input) in seeds::engine_bytes() {
        let bytes = input.to_bytes();
        reads_back::<engine_bytes::Input>(&class, &bytes, &input);
        write("engine_bytes", &class, &bytes);
    }
    for (class, input) in seeds::engine_text() {
        let bytes = input.to_bytes();
        reads_back::<engine_bytes::Input>(&class, &bytes, &input);
        write("engine_text", &class, &bytes);
    }
    for (class, input, reach) in seeds::sync_engine() {
        let bytes = input.to_bytes();
        reads_back::<sync_engine::Input>(&class, &bytes, &input);
        let outcome = input.run();
        assert!(
            reach(&outcome),
            "seed {class} reaches its class: {outcome:?}"
        );
        println!("{class}: {} ops, {outcome:?}", input.ops.len());
        write("sync_engine", &class, &bytes);
    }
    for (class, ops) in seeds::merge_laws() {
        let bytes = merge_laws::to_bytes(&ops);
        reads_back::<Vec<merge_laws::Op>>(&class, &bytes, &ops);
        write("merge_laws", &class, &bytes);
    }
}
