//! The distributed-trace property (`crdt_types::testing::check_trace`) for
//! every type: 2 to 5 replicas, random mutations, delta and full-state syncs
//! reordered, duplicated and lost then resent; all replicas converge to the
//! join of every delta, and delta sync ends where full-state sync ends.

use crdt_types::testing::{Mutate, check_convergence};

fn replicas_converge<T: Mutate>() {
    check_convergence::<T>();
}

for_every_type!(replicas_converge);
