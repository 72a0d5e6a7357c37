use crdt_types::{Crdt, PnCounter};

#[derive(Clone, Debug, Default, PartialEq, Crdt)]
struct Post {
    likes: PnCounter,
    title: String,
}

fn main() {}
