//! The messages replicas exchange.

use crdt_core::{CausalContext, Fingerprint};

/// A message with the incarnations of its two ends.
///
/// Every engine incarnation (every [`crate::Engine::new`] or restore) draws
/// a random nonzero `epoch`. A receiver learns its peer's epoch from
/// `from_epoch`; a change means the peer restarted and may have lost what it
/// had acknowledged. `to_epoch` is the receiver's epoch as the sender last
/// saw it (0 when unknown): a receiver acknowledges a payload only when it
/// names its own current incarnation, so nothing sent to an earlier
/// incarnation is ever acknowledged by a later one.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope<T> {
    /// The sender's incarnation.
    pub from_epoch: u32,
    /// The receiver's incarnation as the sender knows it; 0 if unknown.
    pub to_epoch: u32,
    /// The message.
    pub message: Message<T>,
}

/// One message between two engines. Encoded by [`crate::codec`] inside an
/// [`Envelope`].
#[derive(Clone, Debug, PartialEq)]
pub enum Message<T> {
    /// The join of the sender's buffered deltas the receiver has not
    /// acknowledged (a delta-interval), or one part of it; or a projection
    /// answering [`Message::Fingerprints`] that differ.
    Delta(Payload<T>),
    /// The answer to a digest: exactly what the digest's owner lacks,
    /// removals included (or one part of it).
    CatchUp(Payload<T>),
    /// The sender's whole state: the last-resort catch-up for types without
    /// digests, and what state-based mode ships every round.
    State(Payload<T>),
    /// The receiver of this has joined part `part` of the sender's payload
    /// `id` (sent to the receiver's current incarnation). A payload counts
    /// as received once every one of its parts is acknowledged.
    Ack {
        /// The payload's id (unique per sender incarnation).
        id: u64,
        /// The part joined.
        part: u32,
    },
    /// "This is what I have seen; send me what I lack." With `reply`, the
    /// receiver also sends its own digest back, so the sender can catch it
    /// up in turn. A digest that would not fit the message limit is sent
    /// coarsened (it claims less than was seen), which costs a larger answer,
    /// never a missing one.
    Digest {
        /// The sender's causal context (or a part of it); `None` for types
        /// without digests (the receiver then answers with its full state).
        digest: Option<CausalContext>,
        /// Whether the receiver should send its own digest back.
        reply: bool,
    },
    /// "This is what I hold, per origin replica." Sent between peers that
    /// are otherwise in sync (see [`crate::Config::integrity_interval`]).
    /// Equal `total`s mean equal states. Otherwise a receiver whose own
    /// fingerprint for a listed origin has the same `seen` but another
    /// `live` (a dot held with two contents, which delta sync never
    /// repairs) sends its projection onto that origin as a
    /// [`Message::Delta`] (once the mismatch is confirmed by the next
    /// comparison); with `reply`, it also sends its fingerprints back so the
    /// sender does the same.
    Fingerprints {
        /// The key both ends hash with, derived from both incarnations (a
        /// receiver ignores fingerprints made for another pair).
        seed: u64,
        /// The hash of the sender's whole list of fingerprints.
        total: u64,
        /// Part of that list (as much as fits the message limit, rotating
        /// over the origins from one message to the next), strictly sorted
        /// by replica.
        prints: Vec<Fingerprint>,
        /// Whether the receiver should send its own fingerprints back.
        reply: bool,
    },
}

/// A state carried by a message: one part of the sender's payload `id`.
#[derive(Clone, Debug, PartialEq)]
pub struct Payload<T> {
    /// The payload's id, unique per sender incarnation: parts of different
    /// payloads are never confused.
    pub id: u64,
    /// This part's index, from 0 (a payload over the size limit is split).
    pub part: u32,
    /// How many parts make up the payload (1 unless split).
    pub parts: u32,
    /// The state (a delta, a catch-up or the full state); every part is a
    /// valid state, joinable on its own.
    pub state: T,
}

impl<T> Message<T> {
    /// The wire code of the message kind.
    #[must_use]
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::Delta(_) => MessageKind::Delta,
            Self::Ack { .. } => MessageKind::Ack,
            Self::Digest { .. } => MessageKind::Digest,
            Self::CatchUp(_) => MessageKind::CatchUp,
            Self::State(_) => MessageKind::State,
            Self::Fingerprints { .. } => MessageKind::Fingerprints,
        }
    }
}

/// The message kinds, with their one-byte wire codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum MessageKind {
    /// [`Message::Delta`].
    Delta = 1,
    /// [`Message::Ack`].
    Ack = 2,
    /// [`Message::Digest`].
    Digest = 3,
    /// [`Message::CatchUp`].
    CatchUp = 4,
    /// [`Message::State`].
    State = 5,
    /// [`Message::Fingerprints`].
    Fingerprints = 6,
}

impl MessageKind {
    /// The kind with this wire code.
    #[must_use]
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Delta,
            2 => Self::Ack,
            3 => Self::Digest,
            4 => Self::CatchUp,
            5 => Self::State,
            6 => Self::Fingerprints,
            _ => return None,
        })
    }
}
