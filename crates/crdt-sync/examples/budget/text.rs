//! The crafted worst cases for collaborative text ([`Text`]): runs whose
//! origins lie far apart in the victim, runs that each wait for the next,
//! and thousands of deletions in one message.

use crdt_core::Lattice;
use crdt_sync::Message;
use crdt_types::Text;

use crate::cases::{Case, delta, fit, rid, writer};

#[path = "../../../crdt-types/tests/support/typing.rs"]
mod typing;

/// A text of `n` characters typed by one writer, every twentieth at a
/// scattered place (about 14k runs for 100k characters), as people type.
pub(crate) fn typed(n: u64) -> Text {
    typing::typed(n, writer(0))
}

/// `n` one-character runs, each typed at the start of an empty document
/// by its own replica: no origins, so in the victim each is placed after
/// every run that hangs from the document's start with a smaller id (a
/// typed text is one such run's descendants).
fn at_the_start(n: usize) -> Text {
    let mut out = Text::new();
    // Largest id first: each run goes before those joined already, so
    // building the message costs no scan.
    for i in (0..n as u64).rev() {
        out.join(&Text::new().insert_str(rid(i), 0, "x"));
    }
    out
}

/// `n` one-character runs, each typed at the front of the document
/// holding the ones before, by its own replica: each run's right origin is
/// the run before it, so in the message (document order, newest first)
/// each run waits for the next (one pass per run before 2026-12-06).
fn each_before_the_last(n: usize) -> Text {
    let mut out = Text::new();
    for i in 0..n as u64 {
        let _ = out.insert_str(rid(i), 0, "x");
    }
    out
}

/// `n` one-character deletions spread over `text` (every 37th character
/// of what is left, wrapping), joined into one delta.
fn deletions(text: &Text, n: usize) -> Text {
    let mut text = text.clone();
    let mut out = Text::new();
    for i in 0..n {
        if text.is_empty() {
            break;
        }
        let at = (i * 37) % text.len();
        out.join(&text.delete(at, 1));
    }
    out
}

/// The text cases; `typed` is the 100k-character victim's text (the
/// deletions are of its characters, sent to both victims).
pub(crate) fn text_cases(limit: usize, typed: &Text) -> Vec<Case<Text>> {
    let n = fit(limit, 1 << 20, |n| delta(at_the_start(n)));
    let k = fit(limit, 1 << 20, |n| delta(each_before_the_last(n)));
    let cap = typed.len();
    let m = fit(limit, cap, |n| delta(deletions(typed, n)));
    let gone = deletions(typed, m);
    vec![
        Case::new(
            format!("text: {n} one-character runs at the start of empty documents"),
            Box::new(move |_| delta(at_the_start(n))),
        ),
        Case::new(
            format!("text: {k} one-character runs, each typed before the last"),
            Box::new(move |_| delta(each_before_the_last(k))),
        ),
        Case::new(
            format!("text: {m} one-character deletions scattered over 100k characters"),
            Box::new(move |_| -> Message<Text> { delta(gone.clone()) }),
        ),
    ]
}
