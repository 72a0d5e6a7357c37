//! The sending side: a sync round per peer (a delta interval, a catch-up,
//! or the whole state), splitting a payload to the message limit, and
//! the outbox.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::Instant;

use super::peer::{Part, Sent};
use super::{Engine, Event, PeerId, Transmit, fit};
use crate::codec;
use crate::config::Mode;
use crate::message::{Envelope, Message, MessageKind};
use crate::replicated::Replicated;

impl<T: Replicated> Engine<T> {
    pub(super) fn sync_peer(&mut self, id: PeerId, now: Instant) {
        if self.config.mode == Mode::State {
            if self.peers.contains_key(&id) {
                self.send_payload(now, id, MessageKind::State, self.state.clone(), 0);
            }
            return;
        }
        let (sync_interval, ack_timeout) = (self.config.sync_interval, self.config.ack_timeout);
        let low = self.buffer.front().map_or(self.seq + 1, |b| b.seq);
        let seq = self.seq;
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let stall = peer.stall_window(sync_interval, ack_timeout);
        let ask_again = peer.ask_again_after(sync_interval);
        // A split payload in flight: resend its missing parts, nothing new.
        if let Some((progress, stale)) = peer.in_flight().map(|s| (s.last_progress, s.id)) {
            if now.duration_since(progress) <= stall {
                if let Some(parts) = peer.resend_due(now, sync_interval, &mut self.next_id) {
                    self.push_resent(id, parts);
                }
                return;
            }
            // No progress for a whole stall window: start over below.
            peer.sent.retain(|s| s.id != stale);
        }
        let needs_catch_up = peer.reset || peer.acked + 1 < low;
        let wants_catch_up = !peer.caught_up
            && peer
                .incoming
                .as_ref()
                .is_none_or(|i| now.duration_since(i.last) >= ask_again);
        if needs_catch_up || wants_catch_up {
            if peer
                .digest_asked
                .is_none_or(|t| now.duration_since(t) >= ask_again)
            {
                self.ask_digest(id, now, needs_catch_up);
            }
            if needs_catch_up {
                return;
            }
        }
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if peer.acked >= seq {
            self.maybe_send_prints(id, now);
            return;
        }
        // Each round ships what is new, `(shipped, seq]`. Only when no
        // acknowledgement has advanced `acked` for a retransmission timeout
        // (derived from measured round trips) is the whole unacknowledged
        // interval `(acked, seq]` sent again: resending it every round cost
        // bytes in proportion to the round trip.
        let news = peer.shipped < seq;
        let due = peer.retransmit_due(now, sync_interval, news);
        if !news && !due {
            return; // nothing new, the timer runs: wait for the acknowledgement
        }
        let base = if due { peer.acked } else { peer.shipped };
        let mut delta = T::default();
        for b in self.buffer.iter().filter(|b| b.seq > base) {
            if self.config.avoid_back_propagation && b.origin == Some(id) {
                continue;
            }
            match b.delta.get(&self.state) {
                Cow::Borrowed(d) => delta.join(d),
                Cow::Owned(d) => delta.join_owned(d),
            }
        }
        let retries = self.config.retries;
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if delta.is_bottom() {
            // Everything in the interval came from this peer: it has it.
            // (Not a sign that an earlier interval was lost: no gap.)
            peer.shipped = seq;
            let sent_at = peer.timer.unwrap_or(now);
            if peer.deliver(base, seq, sent_at, now) {
                self.collect_garbage();
            }
            return;
        }
        let mut give_up = false;
        if due {
            peer.retransmitted(now);
            peer.resends += 1;
            if peer.resends > retries {
                peer.resends = 0;
                give_up = true;
            }
        } else if peer.timer.is_none() {
            peer.timer = Some(now);
        }
        peer.shipped = seq;
        if give_up {
            // Deltas keep getting lost or the peer lost state: also ask for
            // its digest, which repairs either case.
            self.ask_digest(id, now, true);
        }
        self.send_payload(now, id, MessageKind::Delta, delta, base);
    }

    /// Sends `state` as payload `kind` bringing `to` from local sequence
    /// `base` up to the current one, split into parts when it exceeds the
    /// size limit.
    pub(super) fn send_payload(
        &mut self,
        now: Instant,
        to: PeerId,
        kind: MessageKind,
        state: T,
        base: u64,
    ) {
        let Some(to_epoch) = self.peers.get(&to).map(|p| p.epoch) else {
            return;
        };
        let limit = self.config.max_message_bytes;
        let budget = limit.saturating_sub(codec::HEADER_LEN + codec::PAYLOAD_HEADER_MAX);
        let id = self.next_id;
        self.next_id += 1;
        let epochs = (self.epoch, to_epoch);
        let Ok(whole) = codec::encode_body(&state) else {
            return;
        };
        let pieces = if whole.len() <= budget {
            vec![whole]
        } else {
            match fit::split_to_fit(state, budget) {
                Ok(pieces) => pieces,
                Err(bytes) => {
                    self.events
                        .push_back(Event::MessageTooLarge { peer: to, bytes });
                    return;
                }
            }
        };
        let parts = u32::try_from(pieces.len()).unwrap_or(u32::MAX);
        let mut frames = Vec::with_capacity(pieces.len());
        for (i, piece) in pieces.iter().enumerate() {
            let part = u32::try_from(i).unwrap_or(u32::MAX);
            match codec::frame_payload(kind, epochs, (id, part, parts), piece) {
                Ok(frame) => frames.push(frame),
                Err(_) => return,
            }
        }
        if frames.len() > 1 {
            self.metrics.split_messages += 1;
            self.metrics.split_parts += frames.len() as u64;
        }
        // Catch-ups and split deltas are kept and resent part by part until
        // acknowledged; a single-part delta is rebuilt with what is new.
        let keep = frames.len() > 1 || kind != MessageKind::Delta;
        let kept: Vec<Option<Vec<u8>>> = if keep {
            pieces.into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        let remaining = kept.len();
        for frame in frames {
            self.push(to, frame);
        }
        if self.config.mode == Mode::State {
            return; // nothing is acknowledged in state mode
        }
        let seq = self.seq;
        if let Some(peer) = self.peers.get_mut(&to) {
            peer.record(Sent {
                id,
                seq,
                base,
                parts: kept,
                remaining,
                first_sent: now,
                last_sent: now,
                last_progress: now,
                resent: false,
                transmissions: VecDeque::new(),
                kind,
                answered: None,
            });
        }
    }

    /// Encodes and queues a small message; one over the limit is dropped
    /// with [`Event::MessageTooLarge`].
    pub(super) fn send(&mut self, to: PeerId, message: Message<T>) {
        let to_epoch = self.peers.get(&to).map_or(0, |p| p.epoch);
        let envelope = Envelope {
            from_epoch: self.epoch,
            to_epoch,
            message,
        };
        let Ok(bytes) = codec::encode(&envelope) else {
            return;
        };
        if bytes.len() > self.config.max_message_bytes {
            self.events.push_back(Event::MessageTooLarge {
                peer: to,
                bytes: bytes.len(),
            });
            return;
        }
        self.push(to, bytes);
    }

    /// Sends again the parts `parts` of a payload of kind `kind`, framed for
    /// the peer's incarnation as known now.
    pub(super) fn push_resent(&mut self, to: PeerId, (kind, parts): (MessageKind, Vec<Part>)) {
        let Some(to_epoch) = self.peers.get(&to).map(|p| p.epoch) else {
            return;
        };
        for (head, body) in parts {
            if let Ok(frame) = codec::frame_payload(kind, (self.epoch, to_epoch), head, &body) {
                self.metrics.parts_resent += 1;
                self.push(to, frame);
            }
        }
    }

    pub(super) fn push(&mut self, to: PeerId, bytes: Vec<u8>) {
        self.metrics.messages_out += 1;
        self.metrics.bytes_out += bytes.len() as u64;
        self.outbox.push_back(Transmit { to, bytes });
    }
}
