//! The budget of issue 11, measured: for a message under
//! `max_message_bytes`, decode plus apply should cost at most 16x its size
//! in peak extra heap and at most 1 ms of CPU per 64 KiB (per 64 KiB
//! started: every message may take 1 ms), whatever the bytes.
//!
//! Every crafted case goes through the public path: `codec::encode` of a
//! hand-built message, then `Engine::handle_message` on a victim engine
//! that is synced with an honest peer (the message claims to come from that
//! peer, to the victim's current incarnation), holding an empty state and a
//! realistic one. Peak heap is counted by a global allocator (`peak_alloc`,
//! a dev-dependency: our crates forbid `unsafe`); CPU time is the wall time
//! of the fastest of three runs, each on a fresh victim (on a busy machine
//! an upper bound: the thread's own CPU clock here ticks only every 4 ms). What the engine sends back (the
//! answer to a digest, a repair) is reported on its own: a small message
//! may legitimately ask for a large answer, which is split into messages
//! under the limit. The peak of a case that answers includes building that
//! answer.
//!
//! `cargo run --release -p crdt-sync --example budget [filter]`
//!
//! The counting allocator costs time of its own (two atomic updates per
//! allocation; a `realloc` becomes an allocation, a copy and a free), so
//! the CPU column of that build is an upper bound. The CPU of the code
//! alone, with the system allocator and no heap figures:
//! `RUSTFLAGS='--cfg budget_uncounted' CARGO_TARGET_DIR=target/uncounted
//! cargo run --release -p crdt-sync --example budget [filter]`.

use std::time::{Duration, Instant};

use crdt_core::{ReplicaId, content_hash};
use crdt_sync::{Config, Engine, Envelope, Message, PeerId, Replicated, codec};
use peak_alloc::PeakAlloc;

mod cases;
mod text;

use cases::{Case, Ctx, Deep, Reg, Set};

/// Counts the heap, unless built with `--cfg budget_uncounted`: then it is
/// not the global allocator, its counts stay at zero, and the times are
/// those of the system allocator alone (the counting adds two atomic
/// updates to every allocation and turns every `realloc` into an
/// allocation, a copy and a free; see [`COUNTED`]).
#[cfg_attr(not(budget_uncounted), global_allocator)]
static ALLOC: PeakAlloc = PeakAlloc;

/// Whether this build counts the heap (see [`ALLOC`]). Without counting,
/// the peaks are not reported and only the CPU budget is judged.
const COUNTED: bool = cfg!(not(budget_uncounted));

/// Runs per case (the fastest counts; the largest peak counts).
const RUNS: usize = 3;

/// The victim (peer 0 to its honest peer) once both are synced.
struct Victim<T> {
    engine: Engine<T>,
    now: Instant,
    /// The honest peer's incarnation (what forged messages claim).
    peer_epoch: u32,
    /// The victim's incarnation (forged messages are sent to it).
    epoch: u32,
}

/// The sender's incarnation in an encoded message.
fn from_epoch(bytes: &[u8]) -> u32 {
    bytes
        .get(4..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// A victim and an honest peer holding `base`, synced.
fn victim<T: Replicated>(base: &T, config: &Config) -> Victim<T> {
    let mut now = Instant::now();
    let new = |id: u128| Engine::new(ReplicaId::from_u128(id), base.clone(), config.clone(), now);
    let (mut a, mut b) = (new(0xA).expect("config"), new(0xB).expect("config"));
    a.add_peer(PeerId(1), now);
    b.add_peer(PeerId(0), now);
    let (mut peer_epoch, mut epoch) = (0, 0);
    for _ in 0..2_000 {
        if a.is_synced() && b.is_synced() && a.poll_timeout() > now {
            return Victim {
                engine: a,
                now,
                peer_epoch,
                epoch,
            };
        }
        now += config.sync_interval;
        a.handle_timeout(now);
        b.handle_timeout(now);
        let mut moved = true;
        while moved {
            moved = false;
            while let Some(m) = a.poll_transmit() {
                moved = true;
                epoch = from_epoch(&m.bytes);
                b.handle_message(now, PeerId(0), &m.bytes).expect("honest");
            }
            while let Some(m) = b.poll_transmit() {
                moved = true;
                peer_epoch = from_epoch(&m.bytes);
                a.handle_message(now, PeerId(1), &m.bytes).expect("honest");
            }
        }
    }
    panic!("the victim and its peer did not sync");
}

/// The fingerprint seed of two incarnations, as the engine derives it
/// (checked: a fingerprints case must be compared, see [`run`]).
fn pair_seed(a: u32, b: u32) -> u64 {
    content_hash(0x1D, &(a.min(b), a.max(b)))
}

/// One measured run of a case.
#[derive(Clone, Copy, Default)]
struct Sample {
    bytes: usize,
    rejected: bool,
    decode_peak: usize,
    peak: usize,
    time: Duration,
    out_msgs: usize,
    out_bytes: usize,
    out_max: usize,
}

/// `f`'s peak extra heap and time.
fn metered<R>(f: impl FnOnce() -> R) -> (R, usize, Duration) {
    ALLOC.reset_peak_usage();
    let before = ALLOC.current_usage();
    let start = Instant::now();
    let r = f();
    let time = start.elapsed();
    (r, ALLOC.peak_usage().saturating_sub(before), time)
}

/// The measured call, kept out of line so that a profiler can count it
/// alone (the victim's setup calls `handle_message` too):
/// `valgrind --tool=callgrind --toggle-collect='*measured_handle*'
/// target/release/examples/budget [filter]`.
#[inline(never)]
fn measured_handle<T: Replicated>(
    engine: &mut Engine<T>,
    now: Instant,
    bytes: &[u8],
) -> Result<(), codec::DecodeError> {
    engine.handle_message(now, PeerId(1), bytes)
}

fn run<T: Replicated>(case: &Case<T>, base: &T, config: &Config) -> Sample {
    let mut v = victim(base, config);
    let victim_epoch = v.epoch;
    let envelope = |message, to_epoch| Envelope {
        from_epoch: v.peer_epoch,
        to_epoch,
        message,
    };
    let mut ctx = Ctx {
        seed: pair_seed(victim_epoch, v.peer_epoch),
        sent_id: 0,
        base,
    };
    for prime in &case.prime {
        let bytes = codec::encode(&envelope(prime(&ctx), victim_epoch)).expect("encodes");
        v.engine
            .handle_message(v.now, PeerId(1), &bytes)
            .expect("priming message accepted");
    }
    while let Some(m) = v.engine.poll_transmit() {
        if let Ok(Envelope {
            message: Message::CatchUp(p) | Message::Delta(p) | Message::State(p),
            ..
        }) = codec::decode::<T>(&m.bytes, usize::MAX)
        {
            ctx.sent_id = p.id;
        }
    }
    let message = (case.message)(&ctx);
    let prints = matches!(message, Message::Fingerprints { .. });
    let bytes = codec::encode(&envelope(message, victim_epoch)).expect("encodes");
    let limit = config.max_message_bytes;
    let (decoded, decode_peak, _) = metered(|| codec::decode::<T>(&bytes, limit));
    drop(decoded);
    let checks = v.engine.metrics().integrity_checks;
    let (result, peak, time) = metered(|| measured_handle(&mut v.engine, v.now, &bytes));
    if prints {
        assert!(
            v.engine.metrics().integrity_checks > checks,
            "the fingerprints were not compared (seed derivation changed?)"
        );
    }
    let mut s = Sample {
        bytes: bytes.len(),
        rejected: result.is_err(),
        decode_peak,
        peak,
        time,
        ..Sample::default()
    };
    while let Some(m) = v.engine.poll_transmit() {
        s.out_msgs += 1;
        s.out_bytes += m.bytes.len();
        s.out_max = s.out_max.max(m.bytes.len());
    }
    s
}

/// The worst figures over every row, for the summary.
#[derive(Default)]
struct Worst {
    ratio: f64,
    ratio_case: String,
    per_64k: f64,
    per_64k_case: String,
    over: Vec<String>,
}

fn report<T: Replicated>(
    cases: &[Case<T>],
    bases: &[(&str, T)],
    config: &Config,
    filter: &str,
    worst: &mut Worst,
) {
    for case in cases.iter().filter(|c| c.name.contains(filter)) {
        for (base_name, base) in bases {
            let samples: Vec<Sample> = (0..RUNS).map(|_| run(case, base, config)).collect();
            let mut s = samples[0];
            s.time = samples.iter().map(|s| s.time).min().unwrap_or_default();
            s.peak = samples.iter().map(|s| s.peak).max().unwrap_or_default();
            let ratio = s.peak as f64 / s.bytes as f64;
            let ms = s.time.as_secs_f64() * 1e3;
            let per_64k = ms * 65_536.0 / s.bytes as f64;
            let answers = s.out_bytes > 1024;
            let mem_ok = answers || !COUNTED || s.peak <= 16 * s.bytes;
            let time_ok = answers || ms <= (s.bytes as f64 / 65_536.0).ceil();
            let name = format!("{} [{base_name}]", case.name);
            if !answers {
                if COUNTED && ratio > worst.ratio {
                    (worst.ratio, worst.ratio_case) = (ratio, name.clone());
                }
                if per_64k > worst.per_64k {
                    (worst.per_64k, worst.per_64k_case) = (per_64k, name.clone());
                }
            }
            if !(mem_ok && time_ok) {
                worst.over.push(name);
            }
            println!(
                "| {} | {base_name} | {} | {} | {:.1}x | {} | {ratio:.1}x | {ms:.3} ms | {per_64k:.3} ms | {} | {} |",
                case.name,
                s.bytes,
                if s.rejected { "rejected" } else { "applied" },
                s.decode_peak as f64 / s.bytes as f64,
                s.peak,
                if answers {
                    format!(
                        "{} msgs, {} B (largest {} B)",
                        s.out_msgs, s.out_bytes, s.out_max
                    )
                } else {
                    format!("{} B", s.out_bytes)
                },
                match (mem_ok, time_ok, answers) {
                    (_, _, true) => "answer",
                    (true, true, _) => "ok",
                    (false, true, _) => "OVER (memory)",
                    (true, false, _) => "OVER (time)",
                    (false, false, _) => "OVER (both)",
                },
            );
        }
    }
}

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    let config = Config::default();
    let limit = config.max_message_bytes;
    println!("max_message_bytes = {limit}; {RUNS} runs per row (fastest time, largest peak)");
    if !COUNTED {
        println!(
            "built with --cfg budget_uncounted: the heap is not counted (peaks read 0), \
             times are the system allocator's"
        );
    }
    println!();
    println!(
        "| case | victim holds | bytes | outcome | decode peak / bytes | decode+apply peak (B) | / bytes | CPU | per 64 KiB | sent back | budget |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut worst = Worst::default();
    let sets = [
        ("empty", Set::new()),
        ("100k elements", cases::big_set(100_000)),
    ];
    report(
        &cases::set_cases(limit),
        &sets,
        &config,
        &filter,
        &mut worst,
    );
    let regs = [
        ("empty", Reg::new()),
        ("8 siblings", cases::some_siblings()),
    ];
    report(
        &cases::register_cases(limit),
        &regs,
        &config,
        &filter,
        &mut worst,
    );
    let deeps = [
        ("empty", Deep::new()),
        ("100k leaves", cases::big_deep(100_000)),
    ];
    report(
        &cases::deep_cases(limit),
        &deeps,
        &config,
        &filter,
        &mut worst,
    );
    let typed = text::typed(100_000);
    let texts = [
        ("empty", crdt_types::Text::new()),
        ("100k characters", typed.clone()),
    ];
    report(
        &text::text_cases(limit, &typed),
        &texts,
        &config,
        &filter,
        &mut worst,
    );
    println!();
    if COUNTED {
        println!(
            "worst peak / bytes (decode+apply, no answer): {:.1}x ({})",
            worst.ratio, worst.ratio_case
        );
    }
    println!(
        "worst CPU per 64 KiB (decode+apply, no answer): {:.3} ms ({})",
        worst.per_64k, worst.per_64k_case
    );
    if worst.over.is_empty() {
        println!("every case without an answer is within the budget");
    } else {
        println!("over the budget: {}", worst.over.join("; "));
    }
}
