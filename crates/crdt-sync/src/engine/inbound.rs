//! The receiving side: a peer's incarnation, a payload joined (what is
//! new in it, buffered for the other peers) and acknowledged, and the
//! acknowledgements of what this engine sent.

use std::time::Instant;

use super::{Engine, Event, Held, PeerId};
use crate::codec;
use crate::config::Mode;
use crate::message::{Message, MessageKind, Payload};
use crate::replicated::Replicated;

impl<T: Replicated> Engine<T> {
    /// Tracks the incarnation of `from`; a new one means it restarted.
    pub(super) fn observe_epoch(&mut self, from: PeerId, epoch: u32) {
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        if epoch == 0 || epoch == peer.epoch {
            return;
        }
        if peer.epoch == 0 {
            peer.epoch = epoch;
            return;
        }
        peer.restarted(epoch);
        self.metrics.peer_restarts += 1;
        self.events.push_back(Event::PeerRestarted { peer: from });
    }

    pub(super) fn receive_payload(
        &mut self,
        now: Instant,
        from: PeerId,
        kind: MessageKind,
        p: Payload<T>,
        to_me: bool,
        body: &[u8],
    ) {
        let body_len = body.len();
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        let concurrent = self.last_local > peer.acked;
        if to_me
            && kind != MessageKind::Delta
            && peer.receive_catch_up_part(p.id, p.part, p.parts, now)
        {
            peer.caught_up = true;
            // A catch-up skips the dots this replica has seen: compare.
            peer.unchecked();
        }
        let ack = Message::Ack {
            id: p.id,
            part: p.part,
        };
        if let Some(dot) = self.state.reused_dot(&p.state) {
            self.join_conflicting(from, dot, p);
        } else {
            // The payload header is a few varints: what is left of the
            // body is the state as received.
            let state_bytes = codec::payload_state_bytes(body).unwrap_or_default();
            self.join_received(from, p.state, to_me, concurrent, body_len, state_bytes);
        }
        // Acknowledge only what was sent to this incarnation: a payload built
        // for an earlier one may rest on what that one had.
        if to_me && self.config.mode == Mode::Delta {
            self.send(from, ack);
        }
    }

    /// Joins a received state without conflicting dots: only what is new
    /// (with [`Config::strip_redundant`]) is joined and buffered.
    /// `body_len`: the message body's length; `state_bytes`: the received
    /// state's bytes within it.
    fn join_received(
        &mut self,
        from: PeerId,
        state: T,
        to_me: bool,
        concurrent: bool,
        body_len: usize,
        state_bytes: &[u8],
    ) {
        // Nothing of it seen here: kept whole, its size is the received one
        // (encoding it again to measure it was a tenth of the apply time).
        let whole = self.config.strip_redundant && state.unseen_by(&self.state);
        let fresh = if self.config.strip_redundant {
            // Consumed: reused when all new, else freed before the join, so
            // that peak memory follows the message.
            state.into_delta_from(&self.state)
        } else if state.leq(&self.state) {
            T::default() // classic delta sync buffers only deltas that inflate
        } else {
            state
        };
        if fresh.is_bottom() {
            self.metrics.redundant_bytes_stripped += body_len as u64;
        } else {
            // In delta mode it is buffered encoded, and moved into the state
            // (see `buffer`): as the bytes it was decoded from when kept whole.
            let held = (self.config.mode == Mode::Delta).then(|| {
                if whole && !state_bytes.is_empty() {
                    Held::Encoded(state_bytes.to_vec())
                } else {
                    Held::received(&fresh)
                }
            });
            if self.config.strip_redundant {
                let kept = match &held {
                    _ if whole => state_bytes.len(),
                    // Its encoding is at hand: not encoded again to measure.
                    Some(Held::Encoded(bytes)) => bytes.len(),
                    _ => codec::state_len(&fresh),
                };
                self.metrics.redundant_bytes_stripped +=
                    body_len.saturating_sub(kept.saturating_add(8)) as u64;
            }
            self.metrics.deltas_applied += 1;
            if concurrent {
                self.metrics.concurrent_deltas += 1;
            }
            if let Some(dot) = self.unminted_own_dot(&fresh) {
                self.adopt_own_dots(from, dot, &fresh);
            }
            // Back-propagation is avoided only for what the peer's current
            // incarnation sent: a payload claiming to come from it that it
            // may not hold (a forger spoofing its id) goes back to it too.
            let origin = to_me.then_some(from);
            self.state.join_owned(fresh);
            if let Some(held) = held {
                self.buffer_held(held, origin);
            }
            self.state_version += 1;
            if !to_me && let Some(peer) = self.peers.get_mut(&from) {
                // Not from the incarnation this replica talks to (a peer
                // starting up, or a forger): the sender's state is unknown.
                peer.unchecked();
            }
        }
    }

    pub(super) fn receive_ack(&mut self, now: Instant, from: PeerId, id: u64, part: u32) {
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        let Some((i, sent_at)) = peer
            .sent
            .iter()
            .enumerate()
            .find_map(|(i, s)| Some((i, s.sent_at(id)?)))
        else {
            return; // forgotten or never sent: its content is resent anyway
        };
        peer.last_ack = now;
        let sent = &mut peer.sent[i];
        let kept = sent.parts.get_mut(part as usize).and_then(Option::take);
        let newly = kept.is_some() || (sent.parts.len() == 1 && part == 0 && sent.remaining == 1);
        if !newly {
            return;
        }
        sent.remaining -= 1;
        sent.last_progress = now;
        if sent.remaining > 0 {
            return;
        }
        let (base, seq, first_sent) = (sent.base, sent.seq, sent.first_sent);
        // Every transmission of a single-part payload has its own id, so
        // only split parts sent twice (under one id) make a sample ambiguous
        // (Karn's algorithm).
        if !sent.resent {
            peer.sample_rtt(now.duration_since(sent_at));
        }
        let continues = peer.deliver(base, seq, first_sent, now);
        let acked = peer.acked;
        peer.sent.retain(|s| s.seq > acked && s.remaining > 0);
        if !continues {
            return; // an interval after a lost one: kept until the gap is filled
        }
        peer.reset = false;
        peer.unpinned = false;
        peer.resends = 0;
        peer.digest_asked = None;
        self.collect_garbage();
    }
}
