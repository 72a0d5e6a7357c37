use crdt_types::{Crdt, GCounter, PnCounter};

#[derive(Clone, Debug, PartialEq, Crdt)]
enum Score {
    Up(GCounter),
    Both(PnCounter),
}

fn main() {}
