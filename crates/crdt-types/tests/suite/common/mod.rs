//! The list of types every property test runs on.

#[allow(dead_code)] // not every test file uses every item
pub(crate) mod post;

/// Expands to one module per type, each with a test `$check` that runs
/// `$check::<Type>()`.
#[allow(unused_macros)] // not every test file runs the per-type suites
macro_rules! for_every_type {
    ($check:ident) => {
        for_every_type!(@ $check,
            g_counter: crdt_types::GCounter,
            pn_counter: crdt_types::PnCounter,
            causal_counter: crdt_types::CausalCounter,
            lww_register: crdt_types::LwwRegister<crdt_types::testing::Tiny>,
            mv_register: crdt_types::MvRegister<crdt_types::testing::Tiny>,
            or_set: crdt_types::OrSet<crdt_types::testing::Tiny>,
            ew_flag: crdt_types::EwFlag,
            dw_flag: crdt_types::DwFlag,
            g_set: crdt_types::GSet<crdt_types::testing::Tiny>,
            map_of_registers: crdt_types::OrMap<crdt_types::testing::Tiny, crdt_types::MvRegister<crdt_types::testing::Tiny>>,
            map_of_sets: crdt_types::OrMap<crdt_types::testing::Tiny, crdt_types::OrSet<crdt_types::testing::Tiny>>,
            map_of_counters: crdt_types::OrMap<crdt_types::testing::Tiny, crdt_types::CausalCounter>,
            map_of_ew_flags: crdt_types::OrMap<crdt_types::testing::Tiny, crdt_types::EwFlag>,
            map_of_dw_flags: crdt_types::OrMap<crdt_types::testing::Tiny, crdt_types::DwFlag>,
            derived_post: crate::common::post::Post,
            list: crdt_types::List<crdt_types::testing::Tiny>,
            text: crdt_types::Text,
            map_of_maps: crdt_types::OrMap<
                crdt_types::testing::Tiny,
                crdt_types::OrMap<crdt_types::testing::Tiny, crdt_types::MvRegister<crdt_types::testing::Tiny>>,
            >,
        );
    };
    (@ $check:ident, $($name:ident: $ty:ty,)*) => {
        $(
            mod $name {
                #[test]
                fn $check() {
                    super::$check::<$ty>();
                }
            }
        )*
    };
}
