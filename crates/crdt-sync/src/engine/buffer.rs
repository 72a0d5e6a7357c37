//! The delta buffer's entries: a local write's delta as the value it was
//! made, a received delta as its encoding.
//!
//! Design note (issue 11): a received delta is joined into the state and
//! also kept for the other peers (and for [`super::Engine::deltas_after`]).
//! Kept as a value, it needed a second copy of everything it carried: the
//! join copied it into the state, or the buffer kept a clone. A copy costs
//! what the decoded delta costs, several times its bytes on the wire (two
//! 16-byte spans for each 2-byte span of a context full of gaps: 16x the
//! message, the whole budget for hostile bytes). Now the received delta is
//! encoded for the buffer, at about its size on the wire, and then moved
//! into the state (`Lattice::join_owned`, which takes a delta whole into an
//! empty state and moves its context in rather than copying it). A sync
//! round decodes it again to build the interval it ships, which is what the
//! copy it replaces cost, at most. Local deltas stay values: they are small,
//! and the next round ships them.

use std::borrow::Cow;

use super::PeerId;
use crate::codec;
use crate::replicated::Replicated;

/// One buffered delta-interval.
#[derive(Debug)]
pub(super) struct Buffered<T> {
    pub(super) seq: u64,
    pub(super) delta: Held<T>,
    /// The peer it came from; `None` for a local mutation.
    pub(super) origin: Option<PeerId>,
}

/// A buffered delta, as a value or as its encoding ([`codec::encode_body`]).
#[derive(Debug)]
pub(super) enum Held<T> {
    /// A local write's delta (or a repair's), as it was made.
    Value(T),
    /// A received delta's encoding: the delta itself went into the state.
    Encoded(Vec<u8>),
}

impl<T: Replicated> Held<T> {
    /// `delta` in the form the buffer keeps for a received delta: encoded,
    /// so that the delta itself can be moved into the state. A copy of the
    /// value if it cannot be encoded (no type of this workspace fails to).
    pub(super) fn received(delta: &T) -> Self {
        match codec::encode_body(delta) {
            Ok(mut bytes) => {
                bytes.shrink_to_fit();
                Self::Encoded(bytes)
            }
            Err(_) => Self::Value(delta.clone()),
        }
    }

    /// The delta. An encoding this engine wrote decodes again (the codec's
    /// round trip is tested for every type); were it ever not to, `state`,
    /// which has joined the delta and so covers it, stands in: more bytes,
    /// never a lost write.
    pub(super) fn get<'a>(&'a self, state: &'a T) -> Cow<'a, T> {
        match self {
            Self::Value(d) => Cow::Borrowed(d),
            Self::Encoded(bytes) => match codec::decode_body(bytes) {
                Ok(d) => Cow::Owned(d),
                Err(_) => Cow::Borrowed(state),
            },
        }
    }
}
