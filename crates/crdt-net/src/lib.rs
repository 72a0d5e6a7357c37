//! Runs a `crdt-sync` engine between real processes over TCP, and a
//! replicated key-value store on top.
//!
//! | item | what it is |
//! |---|---|
//! | [`Node`], [`NodeHandle`] | one replica: its engine, a listener, a dialer per peer |
//! | [`NodeConfig`] | peers, timeouts, reconnect backoff, the engine's settings |
//! | [`NetMetrics`] | the engine's metrics plus connection counters |
//! | [`KvState`] | a key-value store: multi-value registers with get/put contexts, counters, sets |
//!
//! Frames are a big-endian `u32` length and the engine's encoded message. The
//! first frame of a connection is the dialer's `PeerId` (8 bytes). A frame
//! over the engine's size limit, or bytes that do not decode, close that
//! connection with a log line on standard error; the local state is
//! untouched and other peers carry on. Of each pair of peers the one with the
//! smaller id dials, and reconnects with exponential backoff and jitter.
//!
//! `tokio` is the one dependency beyond the workspace: the transport needs
//! sockets, timers and channels, and tokio is what Rust network services
//! already run on. Only this crate depends on it; the engine stays sans-IO.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

mod frame;
mod kv;
mod node;

pub use kv::KvState;
pub use node::{NetMetrics, Node, NodeConfig, NodeHandle};
