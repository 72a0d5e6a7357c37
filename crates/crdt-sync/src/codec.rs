//! The wire format: a versioned envelope around a bincode body.
//!
//! ```text
//! +------+------+---------+------+------------+----------+------------------+
//! | 0xCD | 0x7A | version | kind | from_epoch | to_epoch | body (bincode 2) |
//! +------+------+---------+------+------------+----------+------------------+
//!                                  4 bytes LE   4 bytes LE   varints
//! ```
//!
//! The epochs are the two ends' incarnations (see [`Envelope`]). The body
//! of a payload message is `(id, part, parts, state)`, of an ack
//! `(id, part)`, of a digest `(digest, reply)`, of fingerprints
//! `(seed, total, prints, reply)` (kind 6; each print `(replica, seen, live)`,
//! strictly sorted by replica). States use their
//! own serde encoding; the kernel's causal states write their context once
//! and every dot as an index into it, so replica ids are interned per
//! message, and pack their maps and dot sets into byte columns (integer
//! keys as deltas; see [`crdt_core::StoreEncoding`]). This module is the only place that knows about bincode (which
//! is pinned at 2.0.1 and no longer maintained): swapping the body codec
//! is a change here alone.
//!
//! [`decode`] is total: any byte string gives a message or a
//! [`DecodeError`], never a panic. Input longer than the caller's limit is
//! refused before any decoding, and decoding never pre-allocates on the word
//! of a length prefix, so what it allocates is bounded by a small multiple of
//! the input length. A decoded state is validated before it is returned.
//!
//! Bare states (a snapshot on disk, a state saved by an application) have
//! their own small header, so that they are never mistaken for a message and
//! their format can evolve on its own:
//!
//! ```text
//! +------+------+------+---------------+------------------+
//! | 0xCD | 0x7A | 0x53 | state version | body (bincode 2) |
//! +------+------+------+---------------+------------------+
//! ```
//!
//! [`encode_state`] writes it and [`decode_state`] reads it, with the same
//! guarantees as [`decode`]: total, bounded by a caller's limit, validated.
//! [`decode_state`] also reads the states of format 1, saved by builds
//! before the packed store encoding, so a store on disk survives the
//! upgrade (it is rewritten in format 2 as it compacts).

use std::error::Error;
use std::fmt;

use crdt_core::{CausalContext, Fingerprint, InvalidState, StoreEncoding, with_store_encoding};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::message::{Envelope, Message, MessageKind, Payload};
use crate::replicated::Replicated;

/// The two magic bytes every message starts with.
pub const MAGIC: [u8; 2] = [0xCD, 0x7A];

/// The format version this build writes and reads. Version 2 added the
/// epochs to every message and payload ids with per-part acknowledgements;
/// version 3 packs the kernel's maps and dot sets
/// ([`crdt_core::StoreEncoding::V2`]: integer keys as deltas, dot sets in a
/// byte column). A message of another version is refused with
/// [`DecodeError::UnknownVersion`]: both ends of a link run one format.
pub const VERSION: u8 = 3;

/// The fixed header length: magic, version, kind, both epochs.
pub const HEADER_LEN: usize = 12;

/// The most a payload header (id, part, parts as varints) adds to a state
/// after the fixed header.
pub(crate) const PAYLOAD_HEADER_MAX: usize = 10 + 5 + 5;

/// The byte after [`MAGIC`] that marks a bare state ([`encode_state`]):
/// `'S'`. A message has its format version there, never this value.
pub const STATE_MARK: u8 = 0x53;

/// The format version of bare states this build writes. Version 2 packs
/// the kernel's maps and dot sets ([`crdt_core::StoreEncoding::V2`]);
/// [`decode_state`] still reads version 1 (states and store records saved
/// by earlier builds), which it decodes with
/// [`crdt_core::StoreEncoding::V1`].
pub const STATE_VERSION: u8 = 2;

/// The header of a bare state: [`MAGIC`], [`STATE_MARK`], [`STATE_VERSION`].
pub const STATE_HEADER_LEN: usize = 4;

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
    /// A bare state ([`decode_state`]) in a format version this build
    /// cannot read (written by a newer build).
    UnknownStateVersion(u8),
    /// [`decode_state`] was given bytes that are a message, not a bare state.
    NotAState,
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
            Self::BadMagic => f.write_str("not crdt-sync data (bad magic bytes)"),
            Self::UnknownVersion(v) => write!(
                f,
                "message format version {v} is not supported (this build reads version {VERSION})"
            ),
            Self::UnknownStateVersion(v) => write!(
                f,
                "state format version {v} is not supported (this build reads versions 1 to {STATE_VERSION}); \
                 it was written by a newer build"
            ),
            Self::NotAState => f.write_str("these bytes are a sync message, not a saved state"),
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

/// Encodes `envelope`.
pub fn encode<T: Serialize>(envelope: &Envelope<T>) -> Result<Vec<u8>, EncodeError> {
    let mut out = header(
        envelope.message.kind(),
        envelope.from_epoch,
        envelope.to_epoch,
    );
    let body = match &envelope.message {
        Message::Delta(p) | Message::CatchUp(p) | Message::State(p) => {
            bincode::serde::encode_to_vec((p.id, p.part, p.parts, &p.state), config())
        }
        Message::Ack { id, part } => bincode::serde::encode_to_vec((id, part), config()),
        Message::Digest { digest, reply } => {
            bincode::serde::encode_to_vec((digest, reply), config())
        }
        Message::Fingerprints {
            seed,
            total,
            prints,
            reply,
        } => bincode::serde::encode_to_vec((seed, total, prints, reply), config()),
    }
    .map_err(|e| EncodeError(e.to_string()))?;
    out.extend_from_slice(&body);
    Ok(out)
}

fn header(kind: MessageKind, from_epoch: u32, to_epoch: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind as u8);
    out.extend_from_slice(&from_epoch.to_le_bytes());
    out.extend_from_slice(&to_epoch.to_le_bytes());
    out
}

/// Encodes a bare state (for a snapshot on disk, or anything an
/// application saves) behind its own versioned header; see the module docs.
/// [`decode_state`] reads it back.
pub fn encode_state<T: Serialize>(state: &T) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.push(STATE_MARK);
    out.push(STATE_VERSION);
    bincode::serde::encode_into_std_write(state, &mut out, config())
        .map_err(|e| EncodeError(e.to_string()))?;
    Ok(out)
}

/// Decodes a bare state of at most `limit` bytes written by
/// [`encode_state`], and validates it ([`Replicated::validate_decoded`]): a state
/// that breaks an invariant is an error, as are truncated, corrupted,
/// oversized or foreign bytes. Total like [`decode`]: never a panic, and
/// what it allocates is bounded by a small multiple of `bytes.len()`.
pub fn decode_state<T: Replicated>(bytes: &[u8], limit: usize) -> Result<T, DecodeError> {
    check_len_and_magic(bytes, limit)?;
    if bytes.len() >= 3 && bytes[2] != STATE_MARK {
        return Err(DecodeError::NotAState);
    }
    if bytes.len() < STATE_HEADER_LEN {
        return Err(DecodeError::Truncated);
    }
    let body = &bytes[STATE_HEADER_LEN..];
    let state: T = match bytes[3] {
        1 => with_store_encoding(StoreEncoding::V1, || body_of(body))?,
        STATE_VERSION => body_of(body)?,
        v => return Err(DecodeError::UnknownStateVersion(v)),
    };
    state.validate_decoded().map_err(DecodeError::Invalid)?;
    Ok(state)
}

/// The encoding of a state alone, without a header (for splitting: a
/// payload message is its header followed by these bytes).
pub(crate) fn encode_body<T: Serialize>(state: &T) -> Result<Vec<u8>, EncodeError> {
    bincode::serde::encode_to_vec(state, config()).map_err(|e| EncodeError(e.to_string()))
}

/// A state alone, as [`encode_body`] wrote it: a buffered delta (the
/// engine's own bytes, of a state it held: no size limit and no validation
/// beyond what decoding a causal type always checks), or a split piece in
/// tests.
pub(crate) fn decode_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    body_of(bytes)
}

/// One payload message from a state already encoded with [`encode_body`]:
/// the same bytes [`encode`] writes for that payload.
pub(crate) fn frame_payload(
    kind: MessageKind,
    epochs: (u32, u32),
    (id, part, parts): (u64, u32, u32),
    state: &[u8],
) -> Result<Vec<u8>, EncodeError> {
    let mut out = header(kind, epochs.0, epochs.1);
    let head = bincode::serde::encode_to_vec((id, part, parts), config())
        .map_err(|e| EncodeError(e.to_string()))?;
    out.extend_from_slice(&head);
    out.extend_from_slice(state);
    Ok(out)
}

/// The encoded size of a state alone (for metrics), counted without
/// writing the bytes anywhere: no allocation.
pub(crate) fn state_len<T: Serialize>(state: &T) -> usize {
    let mut size = bincode::enc::write::SizeWriter::default();
    match bincode::serde::encode_into_writer(state, &mut size, config()) {
        Ok(()) => size.bytes_written,
        Err(_) => usize::MAX,
    }
}

/// The bytes of a payload message's state within its `body` (the message
/// after its header): what follows the payload's `(id, part, parts)`,
/// exactly the bytes [`decode`] decoded the state from. `None` if the body
/// does not start with those three numbers.
pub(crate) fn payload_state_bytes(body: &[u8]) -> Option<&[u8]> {
    let (_, used): ((u64, u32, u32), usize) =
        bincode::serde::decode_from_slice(body, config()).ok()?;
    body.get(used..)
}

/// Decodes one message of at most `limit` bytes; see the module docs.
pub fn decode<T: Replicated>(bytes: &[u8], limit: usize) -> Result<Envelope<T>, DecodeError> {
    check_len_and_magic(bytes, limit)?;
    if bytes.len() >= 3 && bytes[2] != VERSION {
        return Err(DecodeError::UnknownVersion(bytes[2]));
    }
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Truncated);
    }
    let kind = MessageKind::from_code(bytes[3]).ok_or(DecodeError::UnknownKind(bytes[3]))?;
    let epoch =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let (from_epoch, to_epoch) = (epoch(4), epoch(8));
    let body = &bytes[HEADER_LEN..];
    let message = match kind {
        MessageKind::Delta | MessageKind::CatchUp | MessageKind::State => {
            let (id, part, parts, state): (u64, u32, u32, T) = body_of(body)?;
            if parts == 0 || part >= parts {
                return Err(DecodeError::Malformed(format!("part {part} of {parts}")));
            }
            state.validate_decoded().map_err(DecodeError::Invalid)?;
            let p = Payload {
                id,
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
            let (id, part) = body_of(body)?;
            Message::Ack { id, part }
        }
        MessageKind::Digest => {
            let (digest, reply): (Option<CausalContext>, bool) = body_of(body)?;
            Message::Digest { digest, reply }
        }
        MessageKind::Fingerprints => {
            // Each print takes at least 18 bytes, so the list is bounded by
            // the (limited) input; the order check is one pass.
            let (seed, total, prints, reply): (u64, u64, Vec<Fingerprint>, bool) = body_of(body)?;
            if prints.windows(2).any(|w| w[0].replica >= w[1].replica) {
                return Err(DecodeError::Malformed(
                    "fingerprints are not strictly sorted by replica".into(),
                ));
            }
            Message::Fingerprints {
                seed,
                total,
                prints,
                reply,
            }
        }
    };
    Ok(Envelope {
        from_epoch,
        to_epoch,
        message,
    })
}

/// Refuses input over `limit` and input that does not start with [`MAGIC`].
fn check_len_and_magic(bytes: &[u8], limit: usize) -> Result<(), DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    if bytes.len() >= 2 && bytes[..2] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    Ok(())
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
