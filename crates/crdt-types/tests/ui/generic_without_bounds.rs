use crdt_types::{Crdt, OrSet};

#[derive(Clone, Debug, Default, PartialEq, Crdt)]
struct Tags<T> {
    tags: OrSet<T>,
}

fn main() {}
