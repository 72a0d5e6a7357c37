//! Join laws for every type, on related states (three replicas of one
//! random history).

use crdt_types::testing::{History, Mutate};
use quickcheck::QuickCheck;

fn quickcheck<A: quickcheck::Arbitrary + std::fmt::Debug>(prop: fn(A) -> bool) {
    QuickCheck::new().tests(200).quickcheck(prop);
}

fn join_is_commutative<T: Mutate>() {
    quickcheck(|h: History<T>| {
        let [x, y, _] = &h.states[..] else {
            return false;
        };
        x.clone().joined(y) == y.clone().joined(x)
    });
}

fn join_is_associative<T: Mutate>() {
    quickcheck(|h: History<T>| {
        let [x, y, z] = &h.states[..] else {
            return false;
        };
        x.clone().joined(y).joined(z) == x.clone().joined(&y.clone().joined(z))
    });
}

fn join_is_idempotent<T: Mutate>() {
    quickcheck(|h: History<T>| {
        let x = &h.states[0];
        x.clone().joined(x) == *x
    });
}

fn bottom_is_the_identity<T: Mutate>() {
    quickcheck(|h: History<T>| {
        let x = &h.states[0];
        T::default().joined(x) == *x && x.clone().joined(&T::default()) == *x
    });
}

fn join_is_the_least_upper_bound<T: Mutate>() {
    quickcheck(|h: History<T>| {
        let [x, y, z] = &h.states[..] else {
            return false;
        };
        let xy = x.clone().joined(y);
        let upper = x.leq(&xy) && y.leq(&xy);
        // Anything above both is above their join.
        let above = xy.clone().joined(z);
        upper && xy.leq(&above) && (!x.leq(z) || !y.leq(z) || xy.leq(z))
    });
}

fn join_owned_equals_join<T: Mutate>() {
    quickcheck(|h: History<T>| {
        let [x, y, _] = &h.states[..] else {
            return false;
        };
        let mut owned = x.clone();
        owned.join_owned(y.clone());
        owned == x.clone().joined(y)
    });
}

fn leq_agrees_with_join<T: Mutate>() {
    quickcheck(|h: History<T>| {
        let [x, y, _] = &h.states[..] else {
            return false;
        };
        x.leq(y) == (x.clone().joined(y) == *y) && x.is_bottom() == (*x == T::default())
    });
}

mod commutative {
    use super::join_is_commutative;
    for_every_type!(join_is_commutative);
}

mod associative {
    use super::join_is_associative;
    for_every_type!(join_is_associative);
}

mod idempotent {
    use super::join_is_idempotent;
    for_every_type!(join_is_idempotent);
}

mod identity {
    use super::bottom_is_the_identity;
    for_every_type!(bottom_is_the_identity);
}

mod least_upper_bound {
    use super::join_is_the_least_upper_bound;
    for_every_type!(join_is_the_least_upper_bound);
}

mod owned {
    use super::join_owned_equals_join;
    for_every_type!(join_owned_equals_join);
}

mod order {
    use super::leq_agrees_with_join;
    for_every_type!(leq_agrees_with_join);
}
