//! `#[derive(Crdt)]` misuse fails to compile with a message that says what
//! to do (the expected messages are in `tests/ui/*.stderr`; regenerate them
//! with `TRYBUILD=overwrite cargo test -p crdt-types --test derive_ui` after
//! a deliberate change, and read the diff).

#[test]
fn derive_misuse_fails_with_clear_messages() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
