//! A replica's state kept durably in [redb](https://docs.rs/redb): a
//! snapshot plus an append-only, group-committed log of deltas, compacted
//! in the background; the replica id and what it minted survive restarts.
//!
//! | item | what it is |
//! |---|---|
//! | [`Store`] | one replica's state on disk: open, append, compact, close |
//! | [`Opened`], [`Identity`] | what opening gives back: state, replica id, minted counters |
//! | [`Options`], [`Durability`] | settings with documented defaults |
//! | [`Ticket`], [`Seq`] | a pending append (wait, poll or `.await` it) |
//! | [`StoreStats`], [`Compaction`] | sizes and counters |
//! | [`StoreError`] | why an open or a write failed, and what to do |
//!
//! It needs only the types and the codec (`crdt-sync`), not the network:
//! an application that embeds a type can keep it on disk with this crate
//! alone.
//!
//! # Example
//!
//! ```
//! use crdt_store::{Identity, Options, Store};
//! use crdt_types::OrSet;
//!
//! # fn main() -> Result<(), crdt_store::StoreError> {
//! let dir = std::env::temp_dir().join(format!("crdt-store-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("replica.redb");
//! # let _ = std::fs::remove_file(&path);
//!
//! // A new store: the empty state and a fresh replica id.
//! let (store, opened) = Store::<OrSet<String>>::open(&path, Options::default())?;
//! assert_eq!(opened.identity(), Identity::New);
//! let (me, mut set) = (opened.replica(), opened.into_state());
//!
//! // Every write: mutate, then append the delta; `Ok` means it is on disk.
//! let delta = set.insert(me, "apple".to_string());
//! store.append_local(&delta)?;
//! store.close()?;
//!
//! // Reopen: the same state, the same replica id, nothing to re-mint.
//! let (store, opened) = Store::<OrSet<String>>::open(&path, Options::default())?;
//! assert_eq!(opened.identity(), Identity::Resumed);
//! assert_eq!(opened.replica(), me);
//! assert!(opened.state().contains(&"apple".to_string()));
//! store.close()?;
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(())
//! # }
//! ```
//!
//! # Design note: snapshot + log, group commit
//!
//! *Context.* A write must be on disk before it is acknowledged (to the
//! application, or to the peer that sent it), and fsync costs about as
//! much for one write as for a hundred. States can be large (a million
//! elements) while each write is a small delta.
//!
//! *Layout.* One redb file with four tables: metadata (format version,
//! replica id, a flag for relaxed sessions, the last folded sequence), the
//! snapshot (one encoded state), the log (sequence -> origin byte + encoded
//! delta) and the minted counters (replica id -> highest counter). Every
//! state and delta goes through [`crdt_sync::codec::encode_state`]: one
//! versioned format, decoded with validation on open as if a peer had sent
//! it. Opening joins the log into the snapshot in sequence order; joins are
//! idempotent and commutative, so a delta logged twice, or already in the
//! snapshot, is harmless.
//!
//! *Group commit.* Options were: a write transaction per append (one fsync
//! each: ~fsync latency per write, throughput capped at 1/fsync); a timer
//! that batches (adds latency even when idle); or a committer thread that
//! takes *everything pending* when it starts a commit. We chose the last:
//! appends are encoded on the caller's thread, queued, and the committer
//! writes the whole queue in one transaction with one fsync, then answers
//! each caller. An idle store commits at once; a busy one batches as many
//! writers as arrived during the previous fsync, with no tuning knob.
//!
//! *Compaction.* When the log holds at least
//! [`Options::compact_min_log_bytes`] and at least as many bytes as the
//! snapshot, a background thread folds it: it reads a consistent redb
//! snapshot (readers never block the writer), decodes and joins, encodes
//! the new state, and only then queues a swap (write the snapshot, delete
//! the folded entries) that the committer runs like any other commit. The
//! cost is amortised (compaction happens after the log has doubled the
//! data), and writers wait at most for the one commit that writes the new
//! snapshot. The price: while it runs, the fold holds a second decoded copy
//! of the state (the application holds the first).
//!
//! *Identity.* The replica id is stored once. Local deltas also raise the
//! minted counters, in the same commit; opening checks that the state holds
//! every minted dot. With [`Durability::Immediate`], an acknowledged write
//! is durable, so the state on disk is the latest the id ever shipped
//! (provided the application ships a delta only after its append returned)
//! and the store reopens under the same id: 0 bytes per restart added to
//! contexts. A relaxed store that was not closed cleanly reopens under a
//! fresh id ([`Identity::Rotated`]).
//!
//! *redb version.* Pinned to the 4.6 series (`~4.6`): its file format, its
//! `StorageBackend` trait (part of [`Store::open_backend`]) and its
//! integrity check on open (which turns a damaged file into an error
//! rather than a panic) are what the tests here exercise.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

mod committer;
mod error;
mod layout;
mod opened;
mod options;
mod stats;
mod store;
mod ticket;

pub use error::StoreError;
pub use opened::{Identity, Opened};
pub use options::{Durability, Options};
pub use redb::StorageBackend;
pub use stats::{Compaction, StoreStats};
pub use store::Store;
pub use ticket::{Seq, Ticket};
