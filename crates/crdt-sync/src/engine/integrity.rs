//! Finding and repairing a dot held with two contents.
//!
//! Design note: a forger (or a replica id reused after a restore) can give
//! replica A the dot `d` with content "x" and replica C the same `d` with
//! "y". A full-state join would apply the kernel's deterministic rule (for
//! a map, both entries go, since each side's context covers the other's
//! entry; for a register, the greater value stays), but delta sync never
//! ships `d` between A and C: a delta-interval is stripped of what the
//! receiver has seen, a digest catch-up sends only dots the peer lacks, and
//! a payload that seems to come from C is never sent back to C. Two
//! mechanisms restore "delta sync reaches what full-state sync reaches":
//!
//! 1. **On join.** Every received payload is checked against the state with
//!    [`Replicated::reused_dot`] before it is stripped (the kernel's
//!    `conflict`, whose cost follows the payload). On a hit the payload is
//!    joined in full, counted ([`crate::Metrics::dot_conflicts`]), reported
//!    ([`Event::DotConflict`]), and shipped to every peer (the sender
//!    included) together with this replica's own version of the payload's
//!    origins ([`Replicated::project`]), so each peer applies the same
//!    rule. This covers every conflict that travels. To make a spoofed
//!    version travel, a payload not addressed to this incarnation (how a
//!    forger that does not see the traffic must send) is shipped back to
//!    the peer it claims to come from as well: back-propagation is avoided
//!    only for what the peer's current incarnation sent.
//! 2. **Fingerprints.** For the conflicts that never travel, peers that are
//!    otherwise in sync compare [`Message::Fingerprints`]: per origin
//!    replica, a hash of the dots seen and an order-independent hash of the
//!    dots held with their content. An origin with equal `seen` and
//!    different `live` is held differently; each side sends the other its
//!    projection onto that origin (its live dots of that origin, with the
//!    context restricted to it), a valid delta whose join applies exactly
//!    the full join's rule to those dots and touches nothing else. The
//!    comparison happens after every catch-up (so a catch-up that skipped a
//!    conflicting dot is caught before [`Engine::is_synced`] says yes),
//!    after a payload not addressed to this incarnation (how a forger that
//!    does not see the traffic must send) changed the state, and every
//!    [`crate::Config::integrity_interval`] otherwise.
//!
//! Options weighed: shipping full states periodically (repairs everything,
//! costs the state every time); Merkle trees over the keys (cheap to
//! compare, but must be kept per origin and updated on every join); per-dot
//! indices (memory per dot). Per-origin sums cost one pass over the state
//! per comparison (cached until the state changes) and 36 bytes per origin
//! on the wire, and a repair costs the projection of the affected origins
//! only.
//!
//! An origin seen differently (`seen` unequal, or listed by the peer and
//! never seen here) twice in a row while the pair is otherwise in sync
//! asks for a digest exchange, which ships what each side lacks (a version buffered for a peer that was then reset is
//! otherwise never sent).
//!
//! A mismatch is repaired when the next comparison finds it unchanged: a
//! removal still in flight from a third replica also shows as "same seen,
//! different live", and settles in between at no cost. The seed both ends
//! hash with is derived from both incarnations, so a peer cannot make a
//! replica rehash its state at will, and a forger that does not see the
//! traffic cannot aim for hash collisions. The combined hash of all
//! origins decides "checked"; the per-origin list is sent in parts that fit
//! the message limit, rotating over the origins.

use std::time::Instant;

use crdt_core::{Fingerprint, ReplicaId, content_hash};

use super::{Engine, Event, PeerId};
use crate::codec;
use crate::config::Mode;
use crate::message::{Message, MessageKind, Payload};
use crate::replicated::Replicated;

/// The most one print takes on the wire (replica id, two varint hashes).
const PRINT_MAX: usize = 16 + 10 + 10;

/// Fingerprints of the state, by seed, valid while the state is unchanged.
#[derive(Debug, Default)]
pub(super) struct PrintCache {
    /// The state version they were computed at.
    version: u64,
    /// `(seed, prints, combined hash)`, one per peer pair in use.
    entries: Vec<(u64, Vec<Fingerprint>, u64)>,
}

/// The key two incarnations hash with (the same at both ends).
fn pair_seed(a: u32, b: u32) -> u64 {
    content_hash(0x1D, &(a.min(b), a.max(b)))
}

impl<T: Replicated> Engine<T> {
    /// Whether fingerprints are compared at all.
    pub(super) fn integrity_on(&self) -> bool {
        self.config.mode == Mode::Delta && self.config.integrity_interval.is_some()
    }

    /// Whether `id` is in sync as far as acknowledgements and catch-ups go
    /// (the only time a comparison means anything).
    fn quiet_with(&self, id: PeerId) -> bool {
        self.peers.get(&id).is_some_and(|p| {
            p.epoch != 0
                && !p.reset
                && p.caught_up
                && p.acked >= self.seq
                && p.sent.iter().all(|s| !s.is_in_flight())
        })
    }

    /// The state's fingerprints under `seed` and their combined hash.
    fn prints(&mut self, seed: u64) -> Option<(Vec<Fingerprint>, u64)> {
        if self.print_cache.version != self.state_version {
            self.print_cache = PrintCache {
                version: self.state_version,
                entries: Vec::new(),
            };
        }
        if let Some((_, p, total)) = self.print_cache.entries.iter().find(|e| e.0 == seed) {
            return Some((p.clone(), *total));
        }
        let prints = self.state.fingerprints(seed)?;
        let total = content_hash(seed, &prints);
        if self.print_cache.entries.len() > self.peers.len() {
            self.print_cache.entries.remove(0);
        }
        self.print_cache.entries.push((seed, prints.clone(), total));
        Some((prints, total))
    }

    /// Sends fingerprints to `id` when a comparison is due: soon while the
    /// peer is unchecked, every integrity interval otherwise.
    pub(super) fn maybe_send_prints(&mut self, id: PeerId, now: Instant) {
        let Some(every) = self.config.integrity_interval else {
            return;
        };
        if !self.integrity_on() || !self.quiet_with(id) {
            return;
        }
        let sync_interval = self.config.sync_interval;
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        // An unchecked peer is asked again after a retransmission timeout
        // (a lost comparison must not hold `is_synced` back for long).
        let wait = if p.checked {
            every
        } else {
            p.rto(sync_interval)
        };
        if p.prints_sent.is_some_and(|t| now.duration_since(t) < wait) {
            return;
        }
        p.prints_sent = Some(now);
        self.send_prints(id, true);
    }

    /// Sends the combined hash and the next part of the per-origin list.
    fn send_prints(&mut self, id: PeerId, reply: bool) {
        let Some(epoch) = self.peers.get(&id).map(|p| p.epoch) else {
            return;
        };
        let seed = pair_seed(self.epoch, epoch);
        let Some((all, total)) = self.prints(seed) else {
            // A type without dots: no dot can be held with two contents.
            if let Some(p) = self.peers.get_mut(&id) {
                p.checked = true;
            }
            return;
        };
        let budget = self
            .config
            .max_message_bytes
            .saturating_sub(codec::HEADER_LEN + 10 + 10 + 5 + 1);
        let room = (budget / PRINT_MAX).max(1);
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let from = if p.print_cursor < all.len() {
            p.print_cursor
        } else {
            0
        };
        let upto = (from + room).min(all.len());
        p.print_cursor = upto;
        let prints = all[from..upto].to_vec();
        self.send(
            id,
            Message::Fingerprints {
                seed,
                total,
                prints,
                reply,
            },
        );
    }

    /// Compares a peer's fingerprints with the state's; repairs origins
    /// found held differently twice in a row, and answers with its own
    /// fingerprints if asked.
    pub(super) fn receive_prints(
        &mut self,
        now: Instant,
        from: PeerId,
        seed: u64,
        total: u64,
        theirs: &[Fingerprint],
        reply: bool,
    ) {
        if !self.integrity_on() || !self.quiet_with(from) {
            return; // not comparable now; the peer asks again
        }
        let Some(epoch) = self.peers.get(&from).map(|p| p.epoch) else {
            return;
        };
        if seed != pair_seed(self.epoch, epoch) {
            return; // made for another incarnation
        }
        let Some((mine, my_total)) = self.prints(seed) else {
            return;
        };
        self.metrics.integrity_checks += 1;
        let Some(p) = self.peers.get_mut(&from) else {
            return;
        };
        let mut repair: Vec<ReplicaId> = Vec::new();
        let mut lacking = false;
        if my_total == total {
            p.checked = true;
            p.suspects.clear();
        } else {
            p.checked = false;
            let mut mismatch = false;
            // One lookup per print received: the cost follows the bytes.
            for t in theirs {
                // An origin the peer has seen and this replica has not is
                // seen differently too (its part of the list may be empty
                // here for good: a catch-up that answered a forged digest
                // leaves it out, and delta sync never ships old dots).
                let m = match mine.binary_search_by(|m| m.replica.cmp(&t.replica)) {
                    Ok(i) => mine[i],
                    Err(_) => Fingerprint {
                        replica: t.replica,
                        seen: !t.seen,
                        live: !t.live,
                    },
                };
                if m.seen != t.seen {
                    // Not seen alike: delta sync is usually still at work.
                    // If the same difference is found twice, ask for a
                    // digest exchange, which ships exactly what each lacks.
                    let suspect = (!m.seen, !t.seen);
                    if p.suspects.insert(m.replica, suspect) == Some(suspect) {
                        lacking = true;
                    }
                    continue;
                }
                if m.live == t.live {
                    p.suspects.remove(&m.replica);
                    continue;
                }
                mismatch = true;
                let suspect = (m.live, t.live);
                if p.suspects.insert(m.replica, suspect) == Some(suspect) {
                    repair.push(m.replica);
                }
            }
            if mismatch {
                self.metrics.integrity_mismatches += 1;
            }
        }
        if !repair.is_empty()
            && let Some(projection) = self.state.project(&repair)
        {
            let before = self.metrics.bytes_out;
            // A projection carries no interval of the buffer: its
            // acknowledgement must not advance what the peer acknowledged.
            self.send_payload(now, from, MessageKind::Delta, projection, self.seq);
            self.metrics.repair_bytes += self.metrics.bytes_out - before;
        }
        if lacking {
            self.ask_digest(from, now, true);
        }
        if reply {
            self.send_prints(from, false);
        }
    }

    /// Joins a received payload that holds `dot` with another content than
    /// the state: in full (the kernel's rule for that dot, as a full-state
    /// join), and ships it to every peer with this replica's own version of
    /// the payload's origins, so that each applies the same rule.
    pub(super) fn join_conflicting(&mut self, from: PeerId, dot: crdt_core::Dot, p: Payload<T>) {
        self.metrics.dot_conflicts += 1;
        self.events
            .push_back(Event::DotConflict { peer: from, dot });
        if let Some(peer) = self.peers.get_mut(&from) {
            peer.unchecked();
        }
        let origins: Vec<ReplicaId> = p
            .state
            .digest()
            .map(|c| c.replicas().collect())
            .unwrap_or_default();
        let own = self.state.project(&origins);
        self.state.join(&p.state);
        self.state_version += 1;
        self.metrics.deltas_applied += 1;
        let mut out = p.state;
        if let Some(own) = own {
            out.join_owned(own);
        }
        if self.config.mode == Mode::Delta {
            self.buffer_delta(out);
        }
    }
}
