//! The messages replicas exchange.

use crdt_core::CausalContext;

/// One message between two engines. Encoded by [`crate::codec`].
#[derive(Clone, Debug, PartialEq)]
pub enum Message<T> {
    /// The join of the sender's buffered deltas the receiver has not
    /// acknowledged (a delta-interval), or one part of it.
    Delta(Payload<T>),
    /// The answer to a digest: exactly what the digest's owner lacks,
    /// removals included.
    CatchUp(Payload<T>),
    /// The sender's whole state: the last-resort catch-up, and what
    /// state-based mode ships every round.
    State(Payload<T>),
    /// The receiver of this has acknowledged everything up to `seq` of the
    /// sender's incarnation `epoch`.
    Ack {
        /// The incarnation of the engine whose sequence is acknowledged.
        epoch: u32,
        /// The highest sequence received in full.
        seq: u64,
    },
    /// "This is what I have seen; send me what I lack." With `reply`, the
    /// receiver also sends its own digest back, so the sender can catch it
    /// up in turn.
    Digest {
        /// The sender's causal context; `None` for types without digests
        /// (the receiver then answers with its full state).
        digest: Option<CausalContext>,
        /// Whether the receiver should send its own digest back.
        reply: bool,
    },
}

/// A state carried by a message, with what the receiver acknowledges once it
/// has all of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Payload<T> {
    /// The sender's incarnation (changes when an engine restarts, so an
    /// acknowledgement from before a restart is never mistaken for one after).
    pub epoch: u32,
    /// The sender's sequence number that this payload brings the receiver up
    /// to.
    pub seq: u64,
    /// This part's index, from 0 (a payload over the size limit is split).
    pub part: u32,
    /// How many parts make up the payload (1 unless split).
    pub parts: u32,
    /// The state (a delta, a catch-up or the full state).
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
            _ => return None,
        })
    }
}
