use crdt_types::{Crdt, GCounter};

#[derive(Clone, Debug, Default, PartialEq, Crdt)]
#[crdt(synch)]
struct Views {
    views: GCounter,
}

fn main() {}
