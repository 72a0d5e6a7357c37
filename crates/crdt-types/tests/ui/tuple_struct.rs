use crdt_types::{Crdt, GCounter};

#[derive(Clone, Debug, Default, PartialEq, Crdt)]
struct Views(GCounter);

fn main() {}
