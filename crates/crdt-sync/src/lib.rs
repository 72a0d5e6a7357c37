//! Delta-state anti-entropy for any `crdt-core` lattice.
//!
//! | item | what it is |
//! |---|---|
//! | [`Engine`] | a replica's sans-IO sync engine (`handle_*`, `poll_*`) |
//! | [`Replicated`] | what a state type needs to be synced (all `crdt-types` types have it) |
//! | [`Config`], [`Mode`] | settings with documented defaults |
//! | [`Message`], [`codec`] | the wire format: versioned envelope, strict total decoding; bare states for storage ([`codec::encode_state`] / [`codec::decode_state`]) |
//! | [`Metrics`], [`Event`] | what an application can watch |
//! | [`sim`] | a deterministic, seeded network simulator, with harsh schedules ([`sim::harsh`]) |
//! | [`Envelope`] | a message with both ends' incarnations (restarts are detected from it) |
//!
//! See [`Engine`] for a runnable two-replica example.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

pub mod codec;
mod config;
pub mod digest;
mod engine;
mod message;
mod metrics;
mod replicated;
// `Replicated` for `List<T>` and `Text`.
mod replicated_list;
pub mod sim;

pub use codec::{DecodeError, EncodeError};
pub use config::{Config, ConfigError, MIN_MESSAGE_BYTES, Mode};
pub use engine::{Engine, Event, LocalWriteError, PeerId, Transmit};
pub use message::{Envelope, Message, MessageKind, Payload};
pub use metrics::{Metrics, PeerLag};
pub use replicated::Replicated;
