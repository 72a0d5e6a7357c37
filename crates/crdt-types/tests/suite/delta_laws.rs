//! Delta-mutator laws and join decomposition, for every type.

use crdt_types::testing::{History, Mutate, replica};
use quickcheck::QuickCheck;

/// `m(x) == x ⊔ mδ(x)`, and the delta is no bigger than the new state.
fn mutation_is_the_join_of_its_delta<T: Mutate>() {
    fn prop<T: Mutate>(h: History<T>, op: T::Op) -> bool {
        let x = &h.states[1];
        let mut mutated = x.clone();
        let delta = mutated.apply(replica(1), &op);
        mutated == x.clone().joined(&delta) && delta.leq(&mutated)
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop::<T> as fn(History<T>, T::Op) -> bool);
}

/// The delta is minimal: every irreducible part of it is news to the state
/// it was made from (no part is already below `x`).
fn delta_holds_only_news<T: Mutate>() {
    fn prop<T: Mutate>(h: History<T>, op: T::Op) -> bool {
        let x = &h.states[0];
        let delta = x.clone().apply(replica(0), &op);
        delta.decompose().iter().all(|p| !p.leq(x))
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop::<T> as fn(History<T>, T::Op) -> bool);
}

/// The decomposition joins back to the state, and each part is below it.
fn decomposition_joins_back<T: Mutate>() {
    QuickCheck::new().tests(200).quickcheck(
        (|h: History<T>| {
            let x = &h.states[0];
            let parts = x.decompose();
            let back = parts.iter().fold(T::default(), |acc, p| acc.joined(p));
            back == *x && parts.iter().all(|p| p.leq(x) && !p.is_bottom())
        }) as fn(History<T>) -> bool,
    );
}

/// `y ⊔ x.delta_from(y) == y ⊔ x`, and no part of the result is below `y`.
fn delta_from_is_exactly_what_is_missing<T: Mutate>() {
    QuickCheck::new().tests(200).quickcheck(
        (|h: History<T>| {
            let (x, y) = (&h.states[0], &h.states[1]);
            let missing = x.delta_from(y);
            y.clone().joined(&missing) == y.clone().joined(x)
                && missing.decompose().iter().all(|p| !p.leq(y))
        }) as fn(History<T>) -> bool,
    );
}

mod mutator {
    use super::mutation_is_the_join_of_its_delta;
    for_every_type!(mutation_is_the_join_of_its_delta);
}

mod minimal_delta {
    use super::delta_holds_only_news;
    for_every_type!(delta_holds_only_news);
}

mod decomposition {
    use super::decomposition_joins_back;
    for_every_type!(decomposition_joins_back);
}

mod delta_from {
    use super::delta_from_is_exactly_what_is_missing;
    for_every_type!(delta_from_is_exactly_what_is_missing);
}
