//! The OR-set rows of the `user_shaped` bench as a plain program, for
//! instruction counts under callgrind (repeatable on a shared machine, where
//! wall times are not):
//!
//! ```text
//! cargo build --release -p crdt-benches --example or_set_profile
//! valgrind --tool=callgrind --toggle-collect='or_set_profile::measured' \
//!     target/release/examples/or_set_profile insert ours 1
//! ```
//!
//! Runs `<row> <side>` `<reps>` times (rows `insert`: 100k scrambled keys
//! into an empty set, `remove`: half of them from the full set; sides
//! `ours`, `crdts`), each repetition one call of `measured`, and prints the
//! wall time per repetition (mean and fastest). The inputs are built and
//! copied, and the results dropped, outside `measured`; each returned delta
//! is dropped inside it, as in the bench.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crdt_benches::{replica, scrambled_keys, theirs};
use crdt_types::OrSet;

/// Elements of the set (as in the bench).
const SET: u64 = 100_000;

/// The state one repetition works on.
#[derive(Clone)]
enum Input {
    Ours(OrSet<u64>),
    Theirs(crdts::Orswot<u64, u128>),
}

/// The timed work: inserts of all `keys` (`insert`) or removes of the
/// `victims`, one operation at a time through the public API.
#[inline(never)]
fn measured(input: &mut Input, insert: bool, keys: &[u64], victims: &[u64]) {
    let r = replica(1);
    match (input, insert) {
        (Input::Ours(s), true) => {
            for &k in keys {
                let _ = black_box(s.insert(r, k));
            }
        }
        (Input::Ours(s), false) => {
            for k in victims {
                let _ = black_box(s.remove(k));
            }
        }
        (Input::Theirs(s), true) => {
            for &k in keys {
                theirs::insert(s, r.as_u128(), k);
            }
        }
        (Input::Theirs(s), false) => {
            for &k in victims {
                theirs::remove(s, k);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: or_set_profile <insert|remove> <ours|crdts> <reps>";
    let (Some(row), Some(side), Some(reps)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let Ok(reps) = reps.parse::<u32>() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let keys = scrambled_keys(SET);
    let victims: Vec<u64> = keys.iter().copied().step_by(2).collect();
    let insert = match row.as_str() {
        "insert" => true,
        "remove" => false,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let one = match (insert, side.as_str()) {
        (true, "ours") => Input::Ours(OrSet::new()),
        (true, "crdts") => Input::Theirs(crdts::Orswot::new()),
        (false, "ours") => Input::Ours(crdt_benches::or_set(&keys, replica(1))),
        (false, "crdts") => Input::Theirs(theirs::or_set(&keys, replica(1).as_u128())),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let mut best = Duration::MAX;
    let mut total = Duration::ZERO;
    for _ in 0..reps {
        let mut input = one.clone();
        let start = Instant::now();
        measured(&mut input, insert, &keys, &victims);
        let elapsed = start.elapsed();
        black_box(&input);
        total += elapsed;
        best = best.min(elapsed);
    }
    let mean = total / reps.max(1);
    println!("{row} {side}: {reps} reps, {mean:?} mean, {best:?} fastest");
}
