//! The wire format: a versioned envelope around a bincode body.
//!
//! ```text
//! +--------+--------+---------+------+------------------------------+
//! | 0xCD   | 0x7A   | version | kind | body (bincode 2, varints)    |
//! +--------+--------+---------+------+------------------------------+
//! ```
//!
//! The body of a payload message is `(epoch, seq, part, parts, state)`, of
//! an ack `(epoch, seq)`, of a digest `(digest, reply)`. States use their
//! own serde encoding; the kernel's causal states write their context once
//! and every dot as an index into it, so replica ids are interned per
//! message. This module is the only place that knows about bincode (which
//! is pinned at 2.0.1 and no longer maintained): swapping the body codec
//! is a change here alone.
//!
//! [`decode`] is total: any byte string gives a message or a
//! [`DecodeError`], never a panic. Input longer than the caller's limit is
//! refused before any decoding, and decoding never pre-allocates on the word
//! of a length prefix, so what it allocates is bounded by a small multiple of
//! the input length. A decoded state is validated before it is returned.

use std::error::Error;
use std::fmt;

use crdt_core::{CausalContext, InvalidState};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::message::{Message, MessageKind, Payload};
use crate::replicated::Replicated;

/// The two magic bytes every message starts with.
pub const MAGIC: [u8; 2] = [0xCD, 0x7A];

/// The format version this build writes and reads.
pub const VERSION: u8 = 1;

/// The envelope length: magic, version, kind.
pub const HEADER_LEN: usize = 4;

/// A hard cap for bincode itself, above any sane configured limit.
const BINCODE_CAP: usize = 1 << 30;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<BINCODE_CAP>()
}

/// Why bytes were not a message.
#[derive(Debug)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the envelope, or a body that ends early.
    Truncated,
    /// The bytes do not start with [`MAGIC`]: not a message of this protocol.
    BadMagic,
    /// A format version this build cannot read.
    UnknownVersion(u8),
    /// A message kind this build does not know.
    UnknownKind(u8),
    /// The message is longer than the configured limit.
    TooLarge {
        /// The message length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not a well-formed encoding (or has trailing bytes).
    Malformed(String),
    /// The body decoded, but the state in it breaks an invariant.
    Invalid(InvalidState),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("message is truncated"),
            Self::BadMagic => f.write_str("not a crdt-sync message (bad magic bytes)"),
            Self::UnknownVersion(v) => write!(
                f,
                "message format version {v} is not supported (this build reads version {VERSION})"
            ),
            Self::UnknownKind(k) => write!(f, "unknown message kind {k}"),
            Self::TooLarge { len, limit } => {
                write!(
                    f,
                    "message of {len} bytes exceeds the limit of {limit} bytes"
                )
            }
            Self::Malformed(why) => write!(f, "malformed message body: {why}"),
            Self::Invalid(e) => write!(f, "message carries an invalid state: {e}"),
        }
    }
}

impl Error for DecodeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a message could not be encoded (a state whose `Serialize` failed).
#[derive(Debug)]
pub struct EncodeError(String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode message: {}", self.0)
    }
}

impl Error for EncodeError {}

/// Encodes `message`.
pub fn encode<T: Serialize>(message: &Message<T>) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(message.kind() as u8);
    let body = match message {
        Message::Delta(p) | Message::CatchUp(p) | Message::State(p) => {
            bincode::serde::encode_to_vec((p.epoch, p.seq, p.part, p.parts, &p.state), config())
        }
        Message::Ack { epoch, seq } => bincode::serde::encode_to_vec((epoch, seq), config()),
        Message::Digest { digest, reply } => {
            bincode::serde::encode_to_vec((digest, reply), config())
        }
    }
    .map_err(|e| EncodeError(e.to_string()))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// The encoded size of a state alone (for metrics and for splitting).
pub(crate) fn state_len<T: Serialize>(state: &T) -> usize {
    bincode::serde::encode_to_vec(state, config()).map_or(usize::MAX, |b| b.len())
}

/// Decodes one message of at most `limit` bytes; see the module docs.
pub fn decode<T: Replicated>(bytes: &[u8], limit: usize) -> Result<Message<T>, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(if bytes.len() >= 2 && bytes[..2] != MAGIC {
            DecodeError::BadMagic
        } else {
            DecodeError::Truncated
        });
    }
    if bytes[..2] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if bytes[2] != VERSION {
        return Err(DecodeError::UnknownVersion(bytes[2]));
    }
    let kind = MessageKind::from_code(bytes[3]).ok_or(DecodeError::UnknownKind(bytes[3]))?;
    let body = &bytes[HEADER_LEN..];
    let message = match kind {
        MessageKind::Delta | MessageKind::CatchUp | MessageKind::State => {
            let (epoch, seq, part, parts, state): (u32, u64, u32, u32, T) = body_of(body)?;
            if parts == 0 || part >= parts {
                return Err(DecodeError::Malformed(format!("part {part} of {parts}")));
            }
            state.validate().map_err(DecodeError::Invalid)?;
            let p = Payload {
                epoch,
                seq,
                part,
                parts,
                state,
            };
            match kind {
                MessageKind::Delta => Message::Delta(p),
                MessageKind::CatchUp => Message::CatchUp(p),
                _ => Message::State(p),
            }
        }
        MessageKind::Ack => {
            let (epoch, seq) = body_of(body)?;
            Message::Ack { epoch, seq }
        }
        MessageKind::Digest => {
            let (digest, reply): (Option<CausalContext>, bool) = body_of(body)?;
            Message::Digest { digest, reply }
        }
    };
    Ok(message)
}

fn body_of<B: DeserializeOwned>(body: &[u8]) -> Result<B, DecodeError> {
    match bincode::serde::decode_from_slice::<B, _>(body, config()) {
        Ok((value, used)) if used == body.len() => Ok(value),
        Ok((_, used)) => Err(DecodeError::Malformed(format!(
            "{} trailing bytes",
            body.len() - used
        ))),
        Err(bincode::error::DecodeError::UnexpectedEnd { .. }) => Err(DecodeError::Truncated),
        // Includes states that failed validation inside their Deserialize.
        Err(e) => Err(DecodeError::Malformed(e.to_string())),
    }
}
