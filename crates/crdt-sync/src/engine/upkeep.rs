//! Per-peer upkeep run with every sync round: acknowledgement timeouts,
//! garbage collection of the delta buffer, its bound, and lag reporting.

use std::time::{Duration, Instant};

use super::{Engine, Event};
use crate::metrics::PeerLag;
use crate::replicated::Replicated;

impl<T: Replicated> Engine<T> {
    /// Unpins peers that have had something outstanding, without any
    /// acknowledgement, for longer than the timeout (the configured one, or
    /// four retransmission timeouts on a slower link). The clock starts when
    /// a peer falls behind, not at its last acknowledgement: a quiet period
    /// with nothing to acknowledge is not silence.
    pub(super) fn check_timeouts(&mut self, now: Instant) {
        let seq = self.seq;
        let (sync_interval, ack_timeout) = (self.config.sync_interval, self.config.ack_timeout);
        let mut reset = Vec::new();
        for (id, p) in &mut self.peers {
            let since = p.behind_since.map_or(now, |b| b.max(p.last_ack));
            // On a link slower than the configured timeout, a peer gets four
            // retransmission timeouts before it counts as silent.
            let timeout = p.stall_window(sync_interval, ack_timeout);
            if !p.reset && !p.unpinned && p.acked < seq && now.duration_since(since) > timeout {
                p.unpinned = true;
                reset.push(*id);
            }
        }
        for id in reset {
            self.metrics.peer_resets += 1;
            self.events.push_back(Event::PeerReset { peer: id });
        }
        self.collect_garbage();
    }

    /// Drops deltas every peer that pins the buffer has acknowledged.
    pub(super) fn collect_garbage(&mut self) {
        let floor = self
            .peers
            .values()
            .filter(|p| !p.reset && !p.unpinned)
            .map(|p| p.acked)
            .min()
            .unwrap_or(self.seq);
        while self.buffer.front().is_some_and(|b| b.seq <= floor) {
            self.buffer.pop_front();
        }
        self.metrics.deltas_buffered = self.buffer.len();
    }

    /// Keeps the buffer under its bound by resetting the peers furthest
    /// behind.
    pub(super) fn enforce_buffer_bound(&mut self) {
        while self.buffer.len() > self.config.max_buffered_deltas {
            let laggard = self
                .peers
                .iter()
                .filter(|(_, p)| !p.reset && !p.unpinned)
                .min_by_key(|(_, p)| p.acked)
                .map(|(id, _)| *id);
            match laggard {
                Some(id) => {
                    if let Some(p) = self.peers.get_mut(&id) {
                        p.unpinned = true;
                    }
                    self.metrics.peer_resets += 1;
                    self.events.push_back(Event::PeerReset { peer: id });
                    self.collect_garbage();
                }
                None => {
                    self.buffer.pop_front();
                }
            }
        }
    }

    pub(super) fn refresh_lag(&mut self, now: Instant) {
        let seq = self.seq;
        let alert_after = self.config.lag_alert;
        for (id, p) in &mut self.peers {
            let behind = p.reset || p.unpinned || p.acked < seq;
            if behind {
                let since = *p.behind_since.get_or_insert(now);
                let behind_for = now.duration_since(since);
                if behind_for > alert_after && !p.alerted {
                    p.alerted = true;
                    self.events.push_back(Event::LagAlert {
                        peer: *id,
                        behind_for,
                    });
                }
            } else {
                p.behind_since = None;
                p.alerted = false;
            }
            self.metrics.peers.insert(
                *id,
                PeerLag {
                    unacked_sequences: seq.saturating_sub(p.acked),
                    unacked_for: p
                        .behind_since
                        .map_or(Duration::ZERO, |t| now.duration_since(t)),
                    reset: p.reset || p.unpinned,
                    awaiting_catch_up: !p.caught_up,
                },
            );
        }
    }
}
