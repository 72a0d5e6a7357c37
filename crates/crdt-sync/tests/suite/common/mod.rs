//! Helpers shared by the catch-up tests.

use std::time::{Duration, Instant};

use crdt_sync::{Engine, Envelope, Message, Payload, PeerId, Replicated};

/// `message` between two incarnations.
pub(crate) fn envelope<T>(message: Message<T>) -> Envelope<T> {
    Envelope {
        from_epoch: 1,
        to_epoch: 2,
        message,
    }
}

/// `state` as a whole, one-part payload.
pub(crate) fn payload<T>(state: T) -> Payload<T> {
    Payload {
        id: 1,
        part: 0,
        parts: 1,
        state,
    }
}

/// Twenty rounds of 100 ms between `a` (peer 1 to `b`) and `b` (peer 2 to
/// `a`), every message delivered; returns the time after them.
pub(crate) fn pump<T: Replicated>(a: &mut Engine<T>, b: &mut Engine<T>, mut t: Instant) -> Instant {
    for _ in 0..20 {
        t += Duration::from_millis(100);
        a.handle_timeout(t);
        b.handle_timeout(t);
        while let Some(m) = a.poll_transmit() {
            b.handle_message(t, PeerId(1), &m.bytes).unwrap();
        }
        while let Some(m) = b.poll_transmit() {
            a.handle_message(t, PeerId(2), &m.bytes).unwrap();
        }
    }
    t
}
