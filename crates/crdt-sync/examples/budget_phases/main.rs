//! The budget example's apply cost split into phases (issue 11's time
//! rows): decode (with validation), the dot-reuse check, stripping what the
//! victim has (`into_delta_from`), joining, each timed (validation, part
//! of decoding, also on its own) (fastest of `RUNS`)
//! and with its peak extra heap. The phases are what
//! `Engine::handle_message` does to a payload, called through the public
//! traits on the budget example's crafted cases; the victim is the base
//! state itself, not a synced engine.
//!
//! `cargo run --release -p crdt-sync --example budget_phases [filter]`

use std::time::{Duration, Instant};

use crdt_sync::{Config, Envelope, Message, Replicated, codec};
use peak_alloc::PeakAlloc;

#[path = "../budget/cases.rs"]
#[allow(dead_code)]
mod cases;

use cases::{Case, Ctx};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Runs per case (the fastest counts).
const RUNS: usize = 5;

/// `f`'s result, peak extra heap and time.
fn metered<R>(f: impl FnOnce() -> R) -> (R, usize, Duration) {
    ALLOC.reset_peak_usage();
    let before = ALLOC.current_usage();
    let start = Instant::now();
    let r = f();
    let time = start.elapsed();
    (r, ALLOC.peak_usage().saturating_sub(before), time)
}

/// Time and peak of one phase over the runs.
#[derive(Clone, Copy, Default)]
struct Phase {
    time: Option<Duration>,
    peak: usize,
}

impl Phase {
    fn add(&mut self, peak: usize, time: Duration) {
        self.time = Some(self.time.map_or(time, |t| t.min(time)));
        self.peak = self.peak.max(peak);
    }
}

fn report<T: Replicated>(cases: &[Case<T>], bases: &[(&str, T)], filter: &str) {
    let limit = Config::default().max_message_bytes;
    for case in cases.iter().filter(|c| c.name.contains(filter)) {
        for (base_name, base) in bases {
            let ctx = Ctx {
                seed: 0,
                sent_id: 0,
                base,
            };
            let message = (case.message)(&ctx);
            if !matches!(
                message,
                Message::Delta(_) | Message::CatchUp(_) | Message::State(_)
            ) {
                continue;
            }
            let bytes = codec::encode(&Envelope {
                from_epoch: 1,
                to_epoch: 0,
                message,
            })
            .expect("encodes");
            let mut phases = [Phase::default(); 5];
            for _ in 0..RUNS {
                let mut victim = base.clone();
                let (decoded, peak, t) = metered(|| codec::decode::<T>(&bytes, limit));
                phases[0].add(peak, t);
                let Ok(Envelope {
                    message: Message::Delta(p) | Message::CatchUp(p) | Message::State(p),
                    ..
                }) = decoded
                else {
                    break;
                };
                let (valid, peak, t) = metered(|| p.state.validate());
                phases[1].add(peak, t);
                assert!(valid.is_ok(), "decoded, so valid");
                let (reused, peak, t) = metered(|| victim.reused_dot(&p.state));
                phases[2].add(peak, t);
                assert!(reused.is_none(), "a crafted payload reuses a dot");
                let (fresh, peak, t) = metered(|| p.state.into_delta_from(&victim));
                phases[3].add(peak, t);
                let ((), peak, t) = metered(|| victim.join_owned(fresh));
                phases[4].add(peak, t);
            }
            let total: f64 = phases
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 1) // validation is inside decode
                .map(|(_, p)| p)
                .filter_map(|p| p.time)
                .map(|t| t.as_secs_f64() * 1e3)
                .sum();
            let cells: Vec<String> = phases
                .iter()
                .map(|p| {
                    format!(
                        "{:.3} ms, {:.1}x",
                        p.time.unwrap_or_default().as_secs_f64() * 1e3,
                        p.peak as f64 / bytes.len() as f64
                    )
                })
                .collect();
            println!(
                "| {} | {base_name} | {} | {} | {total:.3} ms | {:.3} ms |",
                case.name,
                bytes.len(),
                cells.join(" | "),
                total * 65_536.0 / bytes.len() as f64
            );
        }
    }
}

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    let limit = Config::default().max_message_bytes;
    println!(
        "| case | victim holds | bytes | decode (validation included) | validation alone | reuse check | strip | join | sum | per 64 KiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let sets = [
        ("empty", cases::Set::new()),
        ("100k elements", cases::big_set(100_000)),
    ];
    report(&cases::set_cases(limit), &sets, &filter);
    let regs = [
        ("empty", cases::Reg::new()),
        ("8 siblings", cases::some_siblings()),
    ];
    report(&cases::register_cases(limit), &regs, &filter);
    let deeps = [
        ("empty", cases::Deep::new()),
        ("100k leaves", cases::big_deep(100_000)),
    ];
    report(&cases::deep_cases(limit), &deeps, &filter);
}
