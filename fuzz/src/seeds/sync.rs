//! Seeds of `sync_engine`: the fault classes of the sync-engine fault issue
//! (10), each a schedule built by running it, so every `Deliver` and `Drop`
//! picks the message the scenario means (as the regression tests in
//! `crates/crdt-sync/tests/suite/faults.rs` do by hand).

use crdt_sync::MessageKind;

use crate::sync_engine::{Flight, Input, Kind, MAX_OPS, Op, Outcome, Sim};

/// Whether a run went through what its seed is for.
pub type Reach = fn(&Outcome) -> bool;

/// A schedule under construction: each op is run as it is chosen.
struct Script {
    sim: Sim,
    input: Input,
}

impl Script {
    fn new(topology: u8, limit: u8) -> Self {
        Self {
            sim: Sim::new(topology, limit),
            input: Input {
                topology,
                limit,
                ops: Vec::new(),
            },
        }
    }

    fn op(&mut self, op: Op) {
        self.sim.step(op);
        self.input.ops.push(op);
    }

    /// `ms` milliseconds pass; then every message is delivered, oldest
    /// first, except those `lose` picks, which are lost.
    fn tick(&mut self, ms: u8, lose: impl Fn(&Flight, Kind) -> bool) {
        self.op(Op::Tick(ms - 1));
        while let Some(f) = self.sim.flights().first() {
            let op = if lose(f, f.kind()) {
                Op::Drop(0)
            } else {
                Op::Deliver(0)
            };
            self.op(op);
        }
    }

    /// `ticks` ticks of 10 ms on a perfect network.
    fn run(&mut self, ticks: usize) {
        for _ in 0..ticks {
            self.tick(10, |_, _| false);
        }
    }

    fn finish(self) -> Input {
        assert!(self.input.ops.len() <= MAX_OPS, "the whole schedule runs");
        self.input
    }
}

/// Class 1: engines 0 and 1 synced; engine 1 restarts from an older
/// snapshot; 0's catch-up answers to the new incarnation are lost. A pair,
/// so no third engine repairs it. With `remove`, the write the restarted
/// engine missed is a remove (its snapshot still holds the element).
fn restart_lost_catch_up(remove: bool) -> Input {
    let mut s = Script::new(0, 3);
    s.run(3);
    if !remove {
        s.op(Op::Snapshot(1));
    }
    s.op(Op::Insert(0, 7));
    s.run(3);
    if remove {
        s.op(Op::Snapshot(1));
        s.op(Op::Remove(0, 7));
        s.run(3);
    }
    s.op(Op::Restart(1));
    for _ in 0..3 {
        s.tick(10, |f, k| f.from == 0 && k.kind == MessageKind::CatchUp);
    }
    s.finish()
}

/// A line of three, a 128-byte limit: every engine writes every element
/// (24 dots), so the catch-up of an engine restarted empty is split.
fn split_catch_up() -> Script {
    let mut s = Script::new(1, 0);
    s.run(2);
    for x in 0..8 {
        for at in 0..3 {
            s.op(Op::Insert(at, x));
        }
    }
    s.run(3);
    s
}

/// Class 2: parts of two payloads delivered mixed (a line of three, a
/// 128-byte limit; engine 0 alone holds none of the 24 dots, so engine 1's
/// catch-up to it is split). Only the even parts of engine 1's split
/// catch-up reach engine 0; then engine 1 restarts mid-transfer (its new
/// incarnation numbers payloads afresh, so the next payload can carry the
/// id of the half-received one) and its parts still in flight arrive next
/// to the new incarnation's. Within this target's state (at most 24 dots of
/// `u8`s) only a catch-up exceeds 128 bytes, and the new catch-up holds only
/// the half engine 0 lacks, so it fits one message: two split payloads at
/// once on one link are out of reach here (the regression test
/// `parts_of_two_payloads_mixed_are_never_acknowledged_as_one` drives them
/// by hand with 60 large elements).
fn split_parts_mixed() -> Input {
    let mut s = split_catch_up();
    s.op(Op::Snapshot(1));
    s.op(Op::Restart(0));
    let split = |f: &Flight, k: Kind| f.from == 1 && f.to == 0 && k.parts > 1;
    for _ in 0..3 {
        s.tick(10, |f, k| split(f, k) && k.part % 2 == 1);
    }
    s.op(Op::Restart(1));
    for _ in 0..3 {
        s.tick(10, |f, k| split(f, k) && k.part % 2 == 0);
    }
    s.finish()
}

/// Class 4: an idle period five acknowledgement timeouts long (1 s with no
/// message in flight), then a write: healthy peers must not be reset.
fn idle_then_write() -> Input {
    let mut s = Script::new(0, 3);
    s.run(5);
    for _ in 0..32 {
        s.tick(32, |_, _| false);
    }
    s.op(Op::Insert(0, 1));
    s.run(2);
    s.finish()
}

/// Splitting under duplication and reordering: engine 0 restarts empty
/// and its split catch-up (see [`split_catch_up`]) travels on a network
/// that duplicates every message and delivers the newest first.
fn split_duplicated_reordered() -> Input {
    let mut s = split_catch_up();
    s.op(Op::Restart(0));
    for _ in 0..5 {
        s.op(Op::Tick(9));
        for _ in 0..8 {
            let Some(last) = s.sim.flights().len().checked_sub(1) else {
                break;
            };
            s.op(Op::Duplicate(0));
            s.op(Op::Deliver(
                u8::try_from(last).expect("fewer than 256 flights"),
            ));
        }
    }
    s.finish()
}

/// Seeds of `sync_engine`: (class, input, what a run of it must reach).
#[must_use]
pub fn sync_engine() -> Vec<(String, Input, Reach)> {
    let lost_catch_up: Reach = |o| {
        o.peer_restarts > 0
            && o.lost
                .iter()
                .any(|(from, _, k)| *from == 0 && k.kind == MessageKind::CatchUp)
    };
    let seeds: [(&str, Input, Reach); 5] = [
        (
            "restart-lost-catch-up",
            restart_lost_catch_up(false),
            lost_catch_up,
        ),
        (
            "restart-lost-catch-up-remove",
            restart_lost_catch_up(true),
            lost_catch_up,
        ),
        ("split-parts-mixed", split_parts_mixed(), |o| {
            let lost = |odd| (o.lost.iter()).any(|(_, _, k)| k.parts > 1 && k.part % 2 == odd);
            o.restarts == 2 && lost(1)
        }),
        ("idle", idle_then_write(), |o| {
            o.longest_quiet.as_millis() >= 1000 && o.peer_resets == 0
        }),
        (
            "split-duplicated-reordered",
            split_duplicated_reordered(),
            |o| o.split_messages > 0 && o.duplicated > 0 && o.reordered > 0,
        ),
    ];
    seeds
        .into_iter()
        .map(|(class, input, reach)| (class.to_owned(), input, reach))
        .collect()
}
