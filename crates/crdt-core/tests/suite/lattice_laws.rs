//! Join is commutative, associative and idempotent, and `leq` is the order
//! it induces, for every lattice of the kernel.

use crate::common::{Flag, Mv, Nested, Set};
use crdt_core::{CausalContext, Lattice, VersionVector};
use quickcheck::quickcheck;

fn commutative<L: Lattice>(a: &L, b: &L) -> bool {
    a.clone().joined(b) == b.clone().joined(a)
}

fn associative<L: Lattice>(a: &L, b: &L, c: &L) -> bool {
    a.clone().joined(b).joined(c) == a.clone().joined(&b.clone().joined(c))
}

fn idempotent<L: Lattice>(a: &L) -> bool {
    a.clone().joined(a) == *a
}

fn leq_is_the_join_order<L: Lattice>(a: &L, b: &L) -> bool {
    let ab = a.clone().joined(b);
    a.leq(b) == (ab == *b) && a.leq(&ab) && b.leq(&ab)
}

fn bottom_is_identity<L: Lattice>(a: &L) -> bool {
    L::default().joined(a) == *a
        && a.clone().joined(&L::default()) == *a
        && L::default().is_bottom()
}

fn owned_join_equals_borrowed<L: Lattice>(a: &L, b: &L) -> bool {
    let mut x = a.clone();
    x.join_owned(b.clone());
    x == a.clone().joined(b)
}

macro_rules! laws {
    ($($name:ident: $ty:ty),* $(,)?) => {$(
        mod $name {
            use super::*;
            quickcheck! {
                fn join_is_commutative(a: $ty, b: $ty) -> bool { commutative(&a, &b) }
                fn join_is_associative(a: $ty, b: $ty, c: $ty) -> bool { associative(&a, &b, &c) }
                fn join_is_idempotent(a: $ty) -> bool { idempotent(&a) }
                fn leq_holds_exactly_when_join_is_the_upper(a: $ty, b: $ty) -> bool { leq_is_the_join_order(&a, &b) }
                fn bottom_is_the_identity(a: $ty) -> bool { bottom_is_identity(&a) }
                fn owned_and_borrowed_joins_agree(a: $ty, b: $ty) -> bool { owned_join_equals_borrowed(&a, &b) }
            }
        }
    )*};
}

laws! {
    version_vector: VersionVector,
    causal_context: CausalContext,
    causal_dot_set: Flag,
    causal_dot_fun: Mv,
    causal_dot_map: Set,
    causal_nested_map: Nested,
}

mod causal_joins_keep_invariants {
    use super::*;
    quickcheck! {
        fn dot_set(a: Flag, b: Flag) -> bool { a.joined(&b).validate().is_ok() }
        fn dot_fun(a: Mv, b: Mv) -> bool { a.joined(&b).validate().is_ok() }
        fn dot_map(a: Set, b: Set) -> bool { a.joined(&b).validate().is_ok() }
        fn nested(a: Nested, b: Nested) -> bool { a.joined(&b).validate().is_ok() }
        fn generated_states_are_valid(a: Nested, b: Set) -> bool {
            a.validate().is_ok() && b.validate().is_ok()
        }
    }
}
