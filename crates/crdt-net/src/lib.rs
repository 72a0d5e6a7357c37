//! Runs a `crdt-sync` engine between real processes over TCP, and a
//! replicated key-value store on top.
//!
//! | item | what it is |
//! |---|---|
//! | [`Node`], [`NodeHandle`] | one replica: its engine (on a thread of its own), a listener, a dialer per peer |
//! | [`NodeConfig`] | peers, transport, timeouts, reconnect backoff, queue bounds, the engine's settings |
//! | [`Transport`], [`TlsIdentity`] | mutual TLS (a certificate of the cluster's CA per node), or plain TCP by an explicit opt-in |
//! | [`ClusterCa`], [`NodeCert`] | certificate tooling: a cluster CA and node certificates, in memory or as PEM files (feature `certs`, default) |
//! | [`Membership`] | SWIM membership (foca) from seed addresses over authenticated UDP, and the partial mesh: at most `fanout` peers dialed per node |
//! | [`MembershipKey`] | the cluster's membership key: generated, written to a file readable by its owner only, read back with clear errors |
//! | [`NetMetrics`] | the engine's metrics plus connection and queue counters |
//! | [`NodeError`], [`PeerBehind`] | why a request to a node failed (stopped, refused, peers behind at a flush) |
//! | [`Subscription`], [`ChangeCount`] | change notifications ([`NodeHandle::subscribe`]) |
//! | [`ShutdownReport`] | the final state, and whether the last flush completed |
//! | [`StoreOptions`], [`Durability`], [`Identity`], [`StoreError`], [`StoreStats`] | a durable node ([`Node::open`]): its replica kept in `crdt-store` |
//! | [`KvState`], [`KvValue`] | a key-value store: multi-value registers of any ordered serde type with get/put contexts, counters, sets |
//!
//! Connections are mutual TLS 1.3 (rustls, `ring` provider): each node's
//! certificate, signed by the cluster's CA, names its `PeerId` as
//! `peer-<id>.<cluster>` ([`peer_name`]). The acceptor reads the dialer's
//! id from its verified certificate, the dialer checks that the acceptor's
//! names the peer it dialed; a connection that fails, or whose hello claims
//! another id, is closed before any frame reaches the engine
//! ([`NetMetrics::handshakes_refused`]). Plain TCP only by
//! [`Transport::plain_tcp_insecure`].
//!
//! Frames are a big-endian `u32` length and the engine's encoded message. The
//! first frame of a connection (the hello) is the dialer's `PeerId` (8 bytes). A frame
//! over the engine's size limit, or bytes that do not decode, close that
//! connection with a `tracing` warning; the local state is
//! untouched and other peers carry on. Of each pair of peers the one with the
//! smaller id dials, and reconnects with exponential backoff and jitter.
//! Every queue is bounded: a peer sending faster than the engine handles is
//! slowed down by TCP flow control, and what received input costs in memory
//! is at most [`NodeConfig::inbound_queue_bytes`].
//!
//! A node is in memory ([`Node::start`]) or durable ([`Node::open`]): kept
//! in a `crdt-store` data directory, restarted under the same replica id,
//! and acknowledging a write (to the application or to a peer) only once it
//! is on disk.
//!
//! Dependencies beyond the workspace: `tokio` (the transport needs sockets,
//! timers and channels, and tokio is what Rust network services already run
//! on; only this crate depends on it, the engine stays sans-IO), `tracing`
//! for logs, `rustls` / `tokio-rustls` / `rustls-webpki` for TLS (the
//! `ring` provider: no aws-lc, no cmake or C++), and `rcgen` for the
//! certificate tooling, behind the default feature `certs` so that a
//! deployment with certificates from elsewhere can leave it out.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

/// Certificate tooling.
#[cfg(feature = "certs")]
mod certs;
/// Change notifications.
mod changes;
/// The settings of a node.
mod config;
/// Connections: listener, dialers, readers and writers.
mod conn;
/// The engine's thread and what it receives.
mod driver;
/// A durable node's store.
mod durable;
/// Why a request to a node failed.
mod error;
/// Waiting for peers' acknowledgements.
mod flush;
/// Length-prefixed frames.
mod frame;
/// The application's side of a node.
mod handle;
/// The byte budget of received frames.
mod inbound;
/// The membership key's tooling.
mod key;
/// A replicated key-value store.
mod kv;
/// SWIM membership and the partial mesh.
mod membership;
/// What a node reports about itself.
mod metrics;
/// A replica node.
mod node;
/// Mutual TLS or plain TCP.
mod tls;

#[cfg(feature = "certs")]
pub use certs::{ClusterCa, NodeCert};
pub use changes::{ChangeCount, Subscription};
pub use config::NodeConfig;
/// Store settings and results of a durable node ([`Node::open`]), from
/// `crdt-store`.
pub use crdt_store::{Durability, Identity, Options as StoreOptions, StoreError, StoreStats};
pub use error::{NodeError, PeerBehind};
pub use handle::NodeHandle;
pub use key::{MEMBERSHIP_KEY_FILE, MembershipKey};
pub use kv::{KvState, KvValue};
pub use membership::Membership;
pub use metrics::NetMetrics;
pub use node::{Node, STORE_FILE, ShutdownReport};
/// Certificate and key types of [`TlsIdentity`], from rustls.
pub use rustls::pki_types;
pub use tls::{CA_FILE, CERT_FILE, KEY_FILE, TlsIdentity, Transport, peer_name};
