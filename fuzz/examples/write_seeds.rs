//! Writes the seed inputs of the regression classes (issues 10 and 11) as
//! `corpus/<target>/seed-<class>`, checking that each `engine_bytes` seed
//! reads back as the input it was built from. Run from `fuzz/`:
//! `cargo run --example write_seeds`.

use std::fs;
use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use crdt_fuzz::engine_bytes::Input;
use crdt_fuzz::seeds;

fn write(target: &str, class: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("the corpus directory");
    let path = dir.join(format!("seed-{class}"));
    fs::write(&path, bytes).expect("the seed file");
    println!("{} ({} bytes)", path.display(), bytes.len());
}

fn main() {
    for (class, bytes) in seeds::decode_messages() {
        write("decode_messages", &class, &bytes);
    }
    for (class, input) in seeds::engine_bytes() {
        let bytes = input.to_bytes();
        let back = Input::arbitrary_take_rest(Unstructured::new(&bytes)).expect("reads back");
        assert_eq!(back, input, "seed {class} reads back as built");
        write("engine_bytes", &class, &bytes);
    }
}
