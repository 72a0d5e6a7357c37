//! [`Store`]: one replica's state on disk.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crdt_core::ReplicaId;
use crdt_sync::Replicated;
use crdt_sync::codec;
use redb::{Builder, Database, ReadableDatabase, StorageBackend};

use crate::committer::{self, Job, Shared};
use crate::error::{StoreError, from_io, from_redb};
use crate::layout::{self, Meta, Origin};
use crate::opened::{Identity, Opened};
use crate::options::{Durability, Options};
use crate::stats::{Compaction, StoreStats};
use crate::ticket::{Seq, Ticket};

/// One replica's state kept durably: a snapshot plus an append-only log of
/// deltas (local and received), group-committed, compacted in the
/// background.
///
/// Open it with [`Store::open`] (or [`Store::open_backend`]), which gives
/// back the state, the replica id to write with and what that id has
/// minted ([`Opened`]). Then append every delta the replica makes
/// ([`Store::append_local`]) and every delta it receives
/// ([`Store::append_received`]) before acting on it: an append that
/// returned `Ok` is *acknowledged*, committed and (with the default
/// [`Durability::Immediate`]) fsynced, so it is in the state the next
/// [`Store::open`] returns, even after a crash.
///
/// A `Store` is `Send + Sync`: share it (`&Store` or `Arc<Store>`) between
/// writer threads; concurrent appends share one commit. See the crate
/// docs for the layout and the design notes.
#[derive(Debug)]
pub struct Store<T> {
    shared: Arc<Shared>,
    replica: ReplicaId,
    threads: Vec<JoinHandle<()>>,
    _type: PhantomData<fn() -> T>,
}

impl<T: Replicated + 'static> Store<T> {
    /// Opens the store at `path`, creating it if no file is there.
    ///
    /// A new store starts from the empty state under a fresh random replica
    /// id ([`Identity::New`]). An existing one is checked page by page
    /// (redb's checksums) and record by record (each state decoded and
    /// validated): a truncated, altered or foreign file is
    /// [`StoreError::Corrupt`], never an empty replica. The file is created
    /// under a temporary name and renamed into place, so a file at `path`
    /// is always a complete store.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<(Self, Opened<T>), StoreError> {
        let path = path.as_ref();
        let created = match fs::metadata(path) {
            Ok(m) if m.len() == 0 => {
                return Err(StoreError::Corrupt(format!(
                    "{} is empty (truncated)",
                    path.display()
                )));
            }
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_file::<T>(path)?;
                true
            }
            Err(e) => return Err(from_io(&e)),
        };
        let db = builder(&options).open(path).map_err(from_redb)?;
        Self::start(db, options, created)
    }

    /// Opens a store kept in `backend` (any redb [`StorageBackend`]: a file,
    /// memory, or a test double), creating it if the backend is empty. An
    /// empty backend is a new store; anything else must be a complete one.
    pub fn open_backend(
        backend: impl StorageBackend,
        options: Options,
    ) -> Result<(Self, Opened<T>), StoreError> {
        let created = backend.len().map_err(|e| from_io(&e))? == 0;
        let db = builder(&options)
            .create_with_backend(backend)
            .map_err(from_redb)?;
        if created {
            initialise::<T>(&db)?;
        }
        Self::start(db, options, created)
    }

    /// Reads the store back and starts its threads.
    fn start(
        db: Database,
        options: Options,
        created: bool,
    ) -> Result<(Self, Opened<T>), StoreError> {
        let txn = db.begin_read().map_err(from_redb)?;
        let meta = layout::read_meta(&txn)?;
        let folded = layout::fold::<T>(&txn)?;
        let minted = layout::read_minted(&txn)?;
        drop(txn);
        layout::check_minted(&folded.state, &minted)?;
        let relaxed = matches!(options.durability, Durability::Relaxed { .. });
        let identity = if created {
            Identity::New
        } else if meta.dirty {
            Identity::Rotated {
                previous: meta.replica,
            }
        } else {
            Identity::Resumed
        };
        let replica = match identity {
            Identity::Rotated { .. } => ReplicaId::random(),
            _ => meta.replica,
        };
        if replica != meta.replica || relaxed != meta.dirty {
            // A relaxed session may lose acknowledged writes in a crash:
            // mark it before its first write, so the next open knows.
            committer::write_identity(
                &db,
                Meta {
                    replica,
                    dirty: relaxed,
                    folded: meta.folded,
                },
            )?;
        }
        if let Identity::Rotated { previous } = identity {
            tracing::warn!(?previous, new = ?replica, "crdt-store: a relaxed store was not closed cleanly; continuing under a fresh replica id");
        }
        let stats = StoreStats {
            log_entries: folded.log_entries,
            log_bytes: folded.log_bytes,
            snapshot_bytes: folded.snapshot_bytes,
            ..StoreStats::default()
        };
        let next_seq = folded.last_seq.max(meta.folded) + 1;
        let shared = Arc::new(Shared::new(db, options, stats));
        let mut threads = Vec::new();
        let s = shared.clone();
        threads.push(spawn("crdt-store-commit", move || {
            committer::run(&s, next_seq);
        })?);
        if shared.options.background_compaction {
            let s = shared.clone();
            threads.push(spawn("crdt-store-compact", move || {
                while s.wait_for_compaction() {
                    if s.over_threshold()
                        && let Err(e) = compact::<T>(&s)
                    {
                        tracing::warn!(error = %e, "crdt-store: background compaction failed");
                    }
                }
            })?);
        }
        let store = Self {
            shared,
            replica,
            threads,
            _type: PhantomData,
        };
        let opened = Opened::new(folded.state, replica, minted, identity);
        Ok((store, opened))
    }

    /// The replica id to write with (the same as [`Opened::replica`]).
    #[must_use]
    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    /// Appends a delta this replica made (minted under [`Store::replica`])
    /// and blocks until it is committed: when this returns `Ok`, the write
    /// is acknowledged. Concurrent appends share one commit.
    ///
    /// Ship the delta to peers only after this returned `Ok`. If it failed,
    /// the delta is not on disk while the in-memory state holds its dot: do
    /// not ship it, and reopen the store (restarting the engine from the
    /// [`Opened`] state) before writing on, so the dot is minted again only
    /// for a write no peer has seen.
    pub fn append_local(&self, delta: &T) -> Result<Seq, StoreError> {
        self.submit_local(delta)?.wait()
    }

    /// Appends a delta received from a peer and blocks until it is
    /// committed; acknowledge it to the peer only after this returns `Ok`.
    pub fn append_received(&self, delta: &T) -> Result<Seq, StoreError> {
        self.submit_received(delta)?.wait()
    }

    /// [`Store::append_local`] without blocking: encodes `delta` now and
    /// returns a [`Ticket`] that resolves when it is committed. Tickets
    /// resolve in submission order.
    pub fn submit_local(&self, delta: &T) -> Result<Ticket, StoreError> {
        let mut minted: BTreeMap<ReplicaId, u64> = BTreeMap::new();
        let context = delta.dots();
        for (r, _, hi) in context.iter().flat_map(|c| c.ranges()) {
            if T::mints_as(self.replica, r) {
                let top = minted.entry(r).or_insert(0);
                *top = (*top).max(hi);
            }
        }
        self.submit(Origin::Local, delta, minted.into_iter().collect())
    }

    /// [`Store::append_received`] without blocking; see
    /// [`Store::submit_local`].
    pub fn submit_received(&self, delta: &T) -> Result<Ticket, StoreError> {
        self.submit(Origin::Received, delta, Vec::new())
    }

    fn submit(
        &self,
        origin: Origin,
        delta: &T,
        minted: Vec<(ReplicaId, u64)>,
    ) -> Result<Ticket, StoreError> {
        let record = layout::record(origin, delta)?;
        let (ticket, slot) = Ticket::new();
        self.shared.submit(Job::Append {
            record,
            minted,
            slot,
        });
        Ok(ticket)
    }

    /// Makes every append committed so far durable (an fsync). Needed only
    /// with [`Durability::Relaxed`]; with [`Durability::Immediate`] every
    /// acknowledged append already is.
    pub fn sync(&self) -> Result<(), StoreError> {
        let (ticket, slot) = Ticket::new();
        self.shared.submit(Job::Sync { slot });
        ticket.wait().map(|_| ())
    }

    /// Folds the log into the snapshot now, and returns what it did.
    ///
    /// The fold reads a consistent snapshot of the file and runs on the
    /// calling thread while writers go on; only the final swap (write the
    /// new snapshot, delete the folded entries) is a commit, queued behind
    /// the appends before it.
    pub fn compact(&self) -> Result<Compaction, StoreError> {
        compact::<T>(&self.shared)
    }

    /// Sizes and counters ([`StoreStats`]).
    #[must_use]
    pub fn stats(&self) -> StoreStats {
        self.shared.stats()
    }

    /// Commits what is queued, makes it durable, and closes the file.
    /// Dropping a store does the same, logging instead of returning errors.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), StoreError> {
        self.shared.close();
        let mut result = Ok(());
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                result = Err(StoreError::Closed);
            }
        }
        result
    }
}

impl<T> Drop for Store<T> {
    fn drop(&mut self) {
        self.shared.close();
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::error!("crdt-store: a store thread panicked");
            }
        }
    }
}

/// One compaction; see [`Store::compact`].
fn compact<T: Replicated>(shared: &Shared) -> Result<Compaction, StoreError> {
    let _one_at_a_time = shared
        .compacting
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let before = shared.stats();
    let txn = shared.db.begin_read().map_err(from_redb)?;
    let folded = layout::fold::<T>(&txn)?;
    drop(txn);
    if folded.log_entries == 0 {
        return Ok(Compaction {
            snapshot_bytes_before: before.snapshot_bytes,
            snapshot_bytes_after: before.snapshot_bytes,
            ..Compaction::default()
        });
    }
    let snapshot =
        codec::encode_state(&folded.state).map_err(|e| StoreError::Encode(e.to_string()))?;
    drop(folded.state);
    let (ticket, slot) = Ticket::new();
    shared.submit(Job::Swap {
        snapshot,
        upto: folded.last_seq,
        entries: folded.log_entries,
        bytes: folded.log_bytes,
        slot,
    });
    ticket.wait()?;
    let after = shared.stats();
    Ok(Compaction {
        entries: folded.log_entries,
        log_bytes_before: before.log_bytes,
        log_bytes_after: after.log_bytes,
        snapshot_bytes_before: before.snapshot_bytes,
        snapshot_bytes_after: after.snapshot_bytes,
    })
}

fn builder(options: &Options) -> Builder {
    let mut b = Builder::new();
    b.set_cache_size(options.cache_bytes)
        .set_check_integrity_on_open(true);
    b
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, StoreError> {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| from_io(&e))
}

/// Writes the tables of a new store into `db`, durably.
fn initialise<T: Replicated>(db: &Database) -> Result<(), StoreError> {
    let empty =
        codec::encode_state(&T::default()).map_err(|e| StoreError::Encode(e.to_string()))?;
    let txn = db.begin_write().map_err(from_redb)?;
    let meta = Meta {
        replica: ReplicaId::random(),
        dirty: false,
        folded: 0,
    };
    layout::initialise(&txn, meta, &empty)?;
    txn.commit().map_err(from_redb)
}

/// Creates a complete new store at `path`: written under a temporary name,
/// fsynced, then renamed into place (and the directory fsynced), so a crash
/// never leaves a half-made store at `path`.
fn create_file<T: Replicated>(path: &Path) -> Result<(), StoreError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".creating");
    let tmp = PathBuf::from(tmp);
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(from_io(&e)),
    }
    let db = Builder::new().create(&tmp).map_err(from_redb)?;
    initialise::<T>(&db)?;
    drop(db);
    fs::rename(&tmp, path).map_err(|e| from_io(&e))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| from_io(&e))
}
