//! Issue 15, side by side in one run: `crdt_types::Text` against
//! diamond-types, yrs, automerge, loro and cola-crdt on the vendored
//! editing traces (`crates/crdt-types/tests/data`, CC BY 4.0).
//!
//! Printed once (counting allocator, like the `memory` bench): encoded size
//! of the final document and heap bytes per character of the final text,
//! with the ratio ours / theirs. Timed by criterion: replay as local edits
//! (one transaction per patch), load of the encoding, apply of the whole
//! history into a fresh replica, and the concurrent replay of
//! `friendsforever` (one replica per agent, shipped updates applied).
//! Every library's final text is checked against `endContent` before
//! anything is timed (cola-crdt stores no text: its length is checked).
//!
//! Run with `cargo bench` in `benches/peers` (outside the main workspace).

use std::alloc::System;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use crdt_peers::{
    Automerge, Cola, Diamond, Loro, Merge, Ours, Patch, Peer, Step, Yjs, replay, replay_concurrent,
};
use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[path = "../../../crates/crdt-types/tests/support/traces.rs"]
mod support;

use support::Trace;

/// The sequential traces (replayed as local edits of one replica).
const SEQUENTIAL: [&str; 2] = ["automerge-paper", "seph-blog1"];
/// The concurrent trace (one replica per agent).
const CONCURRENT: &str = "friendsforever";

fn load(name: &str) -> Trace {
    let trace = support::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/crdt-types"),
        name,
    );
    // yrs indexes in UTF-8 bytes: equal to code points only on ASCII.
    let ascii = trace
        .txns
        .iter()
        .flat_map(|t| &t.patches)
        .all(|(_, _, ins)| ins.is_ascii());
    assert!(
        ascii && trace.start_content.is_ascii(),
        "{name} is not ASCII"
    );
    trace
}

fn patches(trace: &Trace) -> impl Iterator<Item = &[Patch]> {
    trace.txns.iter().map(|t| t.patches.as_slice())
}

fn steps(trace: &Trace) -> Vec<Step<'_>> {
    trace
        .txns
        .iter()
        .map(|t| Step {
            agent: t.agent,
            parents: &t.parents,
            patches: &t.patches,
        })
        .collect()
}

/// Net heap bytes allocated while `build` ran (its value still alive).
fn heap_bytes<T>(build: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let value = build();
    let change = region.change();
    let net = change
        .bytes_allocated
        .saturating_sub(change.bytes_deallocated);
    (value, net)
}

/// Panics unless `doc` holds `end` (its length only, for cola).
fn check<P: Peer>(what: &str, doc: &P, end: &str) {
    match doc.text() {
        Some(text) => assert!(text == end, "{} {what}: wrong final text", P::NAME),
        None => assert_eq!(doc.len(), end.chars().count(), "{} {what}", P::NAME),
    }
}

/// One library's figures on one trace.
struct Row {
    name: &'static str,
    encoded: usize,
    /// Heap bytes per character (sequential traces only).
    heap_per_char: Option<f64>,
    /// One timed run (the concurrent replay, see [`concurrent_row`]).
    once: Option<Duration>,
}

/// Replays `trace` with `P`, checks the text, the loaded encoding and
/// (with `history`) the history applied to a fresh replica; measures.
fn sequential_row<P: Peer>(trace: &Trace, history: impl FnOnce(&mut P) -> Option<P>) -> Row {
    let end = &trace.end_content;
    let (mut doc, heap) = heap_bytes(|| replay::<P>(&trace.start_content, patches(trace)));
    check("replay", &doc, end);
    let bytes = doc.save();
    check(
        "load",
        &P::load(&bytes).expect("loads its own encoding"),
        end,
    );
    if let Some(fresh) = history(&mut doc) {
        check("history", &fresh, end);
    }
    Row {
        name: P::NAME,
        encoded: bytes.len(),
        heap_per_char: Some(heap as f64 / end.chars().count() as f64),
        once: None,
    }
}

fn through_history<M: Merge>(doc: &mut M) -> Option<M> {
    Some(M::from_history(&doc.history()).expect("applies its own history"))
}

/// Checks the concurrent replay, the load and the history, and times one
/// replay (printed for every library; automerge's is the only figure, as
/// its criterion row would take half an hour).
fn concurrent_row<M: Merge>(trace: &Trace) -> Row {
    let end = &trace.end_content;
    let started = Instant::now();
    let mut replicas = replay_concurrent::<M>(&steps(trace)).expect("concurrent replay");
    let once = started.elapsed();
    for r in &replicas {
        check("concurrent replay", r, end);
    }
    let bytes = replicas[0].save();
    check("load", &M::load(&bytes).expect("loads"), end);
    check(
        "history",
        &through_history(&mut replicas[0]).expect("history"),
        end,
    );
    Row {
        name: M::NAME,
        encoded: bytes.len(),
        heap_per_char: None,
        once: Some(once),
    }
}

fn print_rows(title: &str, rows: &[Row]) {
    let ours = &rows[0];
    let ratio = |a: f64, b: f64| match a / b {
        r if r < 0.1 => format!("{r:.4}"),
        r => format!("{r:.2}"),
    };
    let concurrent = ours.once.is_some();
    let last = if concurrent {
        "one run | ours / theirs"
    } else {
        "heap bytes/char | ours / theirs"
    };
    println!("| {title} | encoded bytes | ours / theirs | {last} |");
    println!("|---|---|---|---|---|");
    for row in rows {
        let (value, vs) = match (row.heap_per_char, ours.heap_per_char, row.once, ours.once) {
            (Some(h), Some(o), _, _) => (format!("{h:.1}"), ratio(o, h)),
            (_, _, Some(t), Some(o)) => (
                format!("{:.1} ms", t.as_secs_f64() * 1e3),
                ratio(o.as_secs_f64(), t.as_secs_f64()),
            ),
            _ => (String::new(), String::new()),
        };
        println!(
            "| {} | {} | {} | {value} | {vs} |",
            row.name,
            row.encoded,
            ratio(ours.encoded as f64, row.encoded as f64),
        );
    }
    println!();
}

/// The checks and the table of sizes and heap, printed once.
fn report() {
    for name in SEQUENTIAL {
        let trace = load(name);
        let edits: usize = trace.txns.iter().map(|t| t.patches.len()).sum();
        // Our adapter replays exactly as the `text` bench does.
        let ours = replay::<Ours>(&trace.start_content, patches(&trace));
        assert!(ours.doc() == &support::replay(&trace), "adapter differs");
        let rows = [
            sequential_row::<Ours>(&trace, through_history),
            sequential_row::<Diamond>(&trace, through_history),
            sequential_row::<Yjs>(&trace, through_history),
            sequential_row::<Automerge>(&trace, through_history),
            sequential_row::<Loro>(&trace, through_history),
            sequential_row::<Cola>(&trace, |_| None),
        ];
        print_rows(
            &format!("{name} ({edits} edits, {} chars)", trace.end_content.len()),
            &rows,
        );
    }
    let trace = load(CONCURRENT);
    let ours = replay_concurrent::<Ours>(&steps(&trace)).expect("replays");
    let reference = support::replay_concurrent(&trace);
    assert!(
        ours.iter().map(Ours::doc).eq(reference.iter()),
        "adapter differs"
    );
    let rows = [
        concurrent_row::<Ours>(&trace),
        concurrent_row::<Diamond>(&trace),
        concurrent_row::<Yjs>(&trace),
        concurrent_row::<Automerge>(&trace),
        concurrent_row::<Loro>(&trace),
    ];
    print_rows(
        &format!("{CONCURRENT} (concurrent, {} txns)", trace.txns.len()),
        &rows,
    );
}

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// Calls `$f::<P>(args)` for every library that merges (all but cola).
macro_rules! merging {
    ($f:ident($($arg:expr),*)) => {{
        $f::<Ours>($($arg),*);
        $f::<Diamond>($($arg),*);
        $f::<Yjs>($($arg),*);
        $f::<Automerge>($($arg),*);
        $f::<Loro>($($arg),*);
    }};
}

fn bench_replay<P: Peer>(group: &mut Group<'_>, trace: &Trace) {
    group.bench_function(P::NAME, |b| {
        b.iter(|| replay::<P>(&trace.start_content, patches(trace)));
    });
}

fn bench_load<P: Peer>(group: &mut Group<'_>, trace: &Trace) {
    let bytes = replay::<P>(&trace.start_content, patches(trace)).save();
    group.bench_function(P::NAME, |b| {
        b.iter(|| P::load(black_box(&bytes)).expect("loads"));
    });
}

/// Times applying the whole history of `trace`'s final document (replayed
/// concurrently if `concurrent`) into a fresh replica.
fn bench_history<M: Merge>(group: &mut Group<'_>, trace: &Trace, concurrent: bool) {
    let mut doc = if concurrent {
        let mut replicas = replay_concurrent::<M>(&steps(trace)).expect("replays");
        replicas.swap_remove(0)
    } else {
        replay::<M>(&trace.start_content, patches(trace))
    };
    let history = doc.history();
    group.bench_function(M::NAME, |b| {
        b.iter(|| M::from_history(black_box(&history)).expect("applies"));
    });
}

fn bench_concurrent<M: Merge>(group: &mut Group<'_>, steps: &[Step<'_>]) {
    group.bench_function(M::NAME, |b| {
        b.iter(|| replay_concurrent::<M>(steps).expect("replays"));
    });
}

/// A group with the text bench's short settings (10 samples).
fn group<'a>(c: &'a mut Criterion, name: String) -> Group<'a> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group
}

fn benches(c: &mut Criterion) {
    for name in SEQUENTIAL {
        let trace = load(name);
        let mut g = group(c, format!("replay {name}"));
        merging!(bench_replay(&mut g, &trace));
        bench_replay::<Cola>(&mut g, &trace);
        g.finish();
        let mut g = group(c, format!("load {name}"));
        merging!(bench_load(&mut g, &trace));
        bench_load::<Cola>(&mut g, &trace);
        g.finish();
        let mut g = group(c, format!("history {name}"));
        merging!(bench_history(&mut g, &trace, false));
        g.finish();
    }
    let trace = load(CONCURRENT);
    let steps = steps(&trace);
    let mut g = group(c, format!("concurrent {CONCURRENT}"));
    // Not automerge: one replay takes minutes here (each change it applies
    // costs time growing with the document); the report times one run.
    bench_concurrent::<Ours>(&mut g, &steps);
    bench_concurrent::<Diamond>(&mut g, &steps);
    bench_concurrent::<Yjs>(&mut g, &steps);
    bench_concurrent::<Loro>(&mut g, &steps);
    g.finish();
    let mut g = group(c, format!("history {CONCURRENT}"));
    merging!(bench_history(&mut g, &trace, true));
    g.finish();
}

fn main() {
    report();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
