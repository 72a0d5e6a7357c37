//! The counter and multi-value register rows of the `user_shaped` bench as
//! a plain program, for instruction counts under callgrind (repeatable on a
//! shared machine, where wall times are not):
//!
//! ```text
//! cargo build --release -p crdt-benches --example counters_profile
//! valgrind --tool=callgrind --toggle-collect='counters_profile::measured' \
//!     target/release/examples/counters_profile pn_increment ours 100
//! ```
//!
//! Runs `<row> <side>` `<reps>` times (rows `pn_increment`, `pn_merge`,
//! `mv_merge`; sides `ours`, `crdts`), in batches of 100 inside
//! `measured`, and prints the wall time per repetition (mean, and of the
//! fastest batch); the inputs are built and copied, and the
//! results dropped, outside `measured`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crdt_benches::counters;
use crdt_benches::replica;

/// Increments per repetition of the increment row (as in the bench).
const OPS: u64 = 1_000;

/// One repetition of `row` on `side`.
#[derive(Clone)]
enum Input {
    PnIncrement(crdt_types::PnCounter),
    PnIncrementTheirs(crdts::PNCounter<u128>),
    PnMerge(Vec<crdt_types::PnCounter>),
    PnMergeTheirs(Vec<crdts::PNCounter<u128>>),
    MvMerge(Vec<crdt_types::MvRegister<u64>>),
    MvMergeTheirs(Vec<crdts::MVReg<u64, u128>>),
}

/// The timed work: what the bench times for one iteration, once per input.
/// Results are pushed to `out` (capacity reserved) and dropped by the
/// caller, as criterion drops them outside the timing.
#[inline(never)]
fn measured(inputs: &mut [Input], out: &mut Vec<Input>) {
    for input in inputs {
        match input {
            Input::PnIncrement(x) => {
                for i in 0..OPS {
                    let (r, by) = counters::pn_step(i);
                    let _ = black_box(x.add(replica(r), by));
                }
            }
            Input::PnIncrementTheirs(x) => {
                for i in 0..OPS {
                    counters::pn_step_theirs(x, i);
                }
            }
            Input::PnMerge(xs) => out.push(Input::PnMerge(vec![counters::join_all(xs)])),
            Input::PnMergeTheirs(xs) => {
                let acc = counters::merge_all(std::mem::take(xs));
                out.push(Input::PnMergeTheirs(acc.into_iter().collect()));
            }
            Input::MvMerge(xs) => out.push(Input::MvMerge(vec![counters::join_all(xs)])),
            Input::MvMergeTheirs(xs) => {
                let acc = counters::merge_all(std::mem::take(xs));
                out.push(Input::MvMergeTheirs(acc.into_iter().collect()));
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: counters_profile <pn_increment|pn_merge|mv_merge> <ours|crdts> <reps>";
    let (Some(row), Some(side), Some(reps)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let Ok(reps) = reps.parse::<usize>() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let one = match (row.as_str(), side.as_str()) {
        ("pn_increment", "ours") => Input::PnIncrement(counters::pn_counted_on().0),
        ("pn_increment", "crdts") => Input::PnIncrementTheirs(counters::pn_counted_on().1),
        ("pn_merge", "ours") => Input::PnMerge(counters::pn_gossiped().0),
        ("pn_merge", "crdts") => Input::PnMergeTheirs(counters::pn_gossiped().1),
        ("mv_merge", "ours") => Input::MvMerge(counters::mv_concurrent().0),
        ("mv_merge", "crdts") => Input::MvMergeTheirs(counters::mv_concurrent().1),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    // Batches of up to 100 repetitions; the fastest batch is the figure
    // least disturbed by other work on a shared machine.
    let mut best = Duration::MAX;
    let mut total = Duration::ZERO;
    let mut left = reps;
    while left > 0 {
        let n = left.min(100);
        left -= n;
        let mut inputs = vec![one.clone(); n];
        let mut out = Vec::with_capacity(n);
        let start = Instant::now();
        measured(&mut inputs, &mut out);
        let elapsed = start.elapsed();
        black_box(&out);
        total += elapsed;
        best = best.min(elapsed / u32::try_from(n).unwrap_or(u32::MAX));
    }
    let mean = total / u32::try_from(reps.max(1)).unwrap_or(u32::MAX);
    println!("{row} {side}: {reps} reps, {mean:?} mean, {best:?} best batch of 100");
}
