//! The committer thread: group commit of all pending appends in one write
//! transaction, and the swap that ends a compaction.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crdt_core::ReplicaId;
use redb::{Database, ReadableTable, WriteTransaction};

use crate::error::{StoreError, from_redb};
use crate::layout::{self, KEY_DIRTY, KEY_FOLDED, KEY_STATE, LOG, META, MINTED, SNAPSHOT};
use crate::options::{Durability, Options};
use crate::stats::StoreStats;
use crate::ticket::{Seq, Slot};

/// One request to the committer.
#[derive(Debug)]
pub(crate) enum Job {
    /// Log `record`; raise the minted counters to `minted`.
    Append {
        record: Vec<u8>,
        minted: Vec<(ReplicaId, u64)>,
        slot: Arc<Slot>,
    },
    /// Replace the snapshot with `snapshot` (the fold of the old one and
    /// every log entry up to `upto`) and delete those entries.
    Swap {
        snapshot: Vec<u8>,
        upto: Seq,
        entries: u64,
        bytes: u64,
        slot: Arc<Slot>,
    },
    /// Make everything committed so far durable.
    Sync { slot: Arc<Slot> },
}

impl Job {
    fn bytes(&self) -> usize {
        match self {
            Self::Append { record, .. } => record.len(),
            Self::Swap { snapshot, .. } => snapshot.len(),
            Self::Sync { .. } => 0,
        }
    }

    fn slot(&self) -> &Slot {
        match self {
            Self::Append { slot, .. } | Self::Swap { slot, .. } | Self::Sync { slot } => slot,
        }
    }
}

/// A job dropped unanswered (its batch was in flight when the committer
/// panicked) answers [`StoreError::Closed`]; after an answer this does
/// nothing (the first answer stands).
impl Drop for Job {
    fn drop(&mut self) {
        self.slot().complete(Err(StoreError::Closed));
    }
}

#[derive(Debug, Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closing: bool,
    stopped: bool,
}

/// What the store's threads share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) db: Database,
    pub(crate) options: Options,
    queue: Mutex<Queue>,
    queued: Condvar,
    stats: Mutex<StoreStats>,
    /// Set when the log passed the compaction threshold; the compactor
    /// waits on it.
    compact: Mutex<(bool, bool)>,
    compact_wanted: Condvar,
    /// Held for the whole of a compaction (one at a time).
    pub(crate) compacting: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(db: Database, options: Options, stats: StoreStats) -> Self {
        Self {
            db,
            options,
            queue: Mutex::default(),
            queued: Condvar::new(),
            stats: Mutex::new(stats),
            compact: Mutex::default(),
            compact_wanted: Condvar::new(),
            compacting: Mutex::new(()),
        }
    }

    /// Queues `job`, or resolves it with [`StoreError::Closed`].
    pub(crate) fn submit(&self, job: Job) {
        let mut q = lock(&self.queue);
        if q.closing || q.stopped {
            drop(q);
            job.slot().complete(Err(StoreError::Closed));
            return;
        }
        q.jobs.push_back(job);
        drop(q);
        self.queued.notify_one();
    }

    pub(crate) fn stats(&self) -> StoreStats {
        *lock(&self.stats)
    }

    /// Asks the committer to finish the queue and stop, and the compactor
    /// to stop.
    pub(crate) fn close(&self) {
        lock(&self.queue).closing = true;
        self.queued.notify_all();
        lock(&self.compact).1 = true;
        self.compact_wanted.notify_all();
    }

    /// Blocks the compactor until compaction is wanted (`true`) or the
    /// store closes (`false`).
    pub(crate) fn wait_for_compaction(&self) -> bool {
        let mut c = lock(&self.compact);
        while !c.0 && !c.1 {
            c = self
                .compact_wanted
                .wait(c)
                .unwrap_or_else(PoisonError::into_inner);
        }
        c.0 = false;
        !c.1
    }

    /// Whether the log is large enough to be worth folding.
    pub(crate) fn over_threshold(&self) -> bool {
        let s = self.stats();
        s.log_entries > 0 && s.log_bytes >= self.options.compact_min_log_bytes.max(s.snapshot_bytes)
    }

    /// Takes the next batch: at least one job, then more while they fit
    /// `max_batch_bytes`. `None` once closing with nothing left. In relaxed
    /// mode, returns an empty batch when an fsync is due.
    fn next_batch(&self, sync_due: Option<Instant>) -> Option<Vec<Job>> {
        let mut q = lock(&self.queue);
        loop {
            if !q.jobs.is_empty() {
                break;
            }
            if q.closing {
                return None;
            }
            match sync_due {
                Some(at) => {
                    let now = Instant::now();
                    if now >= at {
                        return Some(Vec::new());
                    }
                    q = self
                        .queued
                        .wait_timeout(q, at - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                None => {
                    q = self.queued.wait(q).unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(job) = q.jobs.front() {
            if !batch.is_empty() && bytes + job.bytes() > self.options.max_batch_bytes {
                break;
            }
            bytes += job.bytes();
            batch.extend(q.jobs.pop_front());
        }
        Some(batch)
    }
}

/// Whatever way the committer ends (closing, an I/O error, a panic), every
/// queued and later append is answered with [`StoreError::Closed`] rather
/// than left waiting.
struct Stopped<'a>(&'a Shared);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        let mut q = lock(&self.0.queue);
        q.stopped = true;
        for job in q.jobs.drain(..) {
            job.slot().complete(Err(StoreError::Closed));
        }
    }
}

/// The committer's loop; returns when the store closes.
pub(crate) fn run(shared: &Shared, mut next_seq: Seq) {
    let _answer_the_rest = Stopped(shared);
    let relaxed = match shared.options.durability {
        Durability::Immediate => None,
        Durability::Relaxed { max_delay } => Some(max_delay),
    };
    // In relaxed mode: when the oldest commit not yet fsynced must be.
    let mut sync_due: Option<Instant> = None;
    while let Some(batch) = shared.next_batch(sync_due) {
        let durable = relaxed.is_none()
            || batch.is_empty()
            || batch.iter().any(|j| matches!(j, Job::Sync { .. }))
            || sync_due.is_some_and(|at| Instant::now() >= at);
        match commit(shared, &batch, next_seq, durable) {
            Ok(stats) => {
                // Statistics first: a caller answered next sees its write counted.
                {
                    let mut s = lock(&shared.stats);
                    s.commits += 1;
                    s.appends += stats.appends;
                    s.log_entries =
                        (s.log_entries + stats.appends).saturating_sub(stats.folded_entries);
                    s.log_bytes =
                        (s.log_bytes + stats.appended_bytes).saturating_sub(stats.folded_bytes);
                    if let Some(len) = stats.snapshot_bytes {
                        s.snapshot_bytes = len;
                        s.compactions += 1;
                    }
                }
                let mut seq = next_seq;
                for job in &batch {
                    let result = if let Job::Append { .. } = job {
                        seq += 1;
                        seq - 1
                    } else {
                        0
                    };
                    job.slot().complete(Ok(result));
                }
                next_seq = seq;
                sync_due = match (durable, relaxed) {
                    (false, Some(delay)) => sync_due.or_else(|| Some(Instant::now() + delay)),
                    _ => None,
                };
                if shared.options.background_compaction && shared.over_threshold() {
                    lock(&shared.compact).0 = true;
                    shared.compact_wanted.notify_all();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(), "crdt-store commit failed");
                for job in &batch {
                    job.slot().complete(Err(e.clone()));
                }
                if !e.is_io() {
                    continue;
                }
                // After an I/O error redb refuses every later write: stop
                // here; `Stopped` answers what is queued and refuses what
                // comes.
                return;
            }
        }
    }
    if relaxed.is_some()
        && let Err(e) = mark_clean(&shared.db)
    {
        tracing::warn!(error = %e, "crdt-store: closing a relaxed store was not recorded as clean; it will reopen under a fresh replica id");
    }
}

/// What one commit changed, for the statistics.
#[derive(Default)]
struct Committed {
    appends: u64,
    appended_bytes: u64,
    folded_entries: u64,
    folded_bytes: u64,
    snapshot_bytes: Option<u64>,
}

/// One write transaction for the whole batch.
fn commit(
    shared: &Shared,
    batch: &[Job],
    first_seq: Seq,
    durable: bool,
) -> Result<Committed, StoreError> {
    let mut txn = shared.db.begin_write().map_err(from_redb)?;
    if !durable {
        txn.set_durability(redb::Durability::None)
            .map_err(from_redb)?;
    }
    let done = write_batch(&txn, batch, first_seq)?;
    txn.commit().map_err(from_redb)?;
    Ok(done)
}

fn write_batch(
    txn: &WriteTransaction,
    batch: &[Job],
    mut seq: Seq,
) -> Result<Committed, StoreError> {
    let mut done = Committed::default();
    let mut log = txn.open_table(LOG).map_err(from_redb)?;
    let mut minted_table = txn.open_table(MINTED).map_err(from_redb)?;
    for job in batch {
        match job {
            Job::Append { record, minted, .. } => {
                log.insert(seq, record.as_slice()).map_err(from_redb)?;
                seq += 1;
                done.appends += 1;
                done.appended_bytes += record.len() as u64;
                for &(id, top) in minted {
                    let old = minted_table
                        .get(id.as_u128())
                        .map_err(from_redb)?
                        .map_or(0, |v| v.value());
                    if top > old {
                        minted_table.insert(id.as_u128(), top).map_err(from_redb)?;
                    }
                }
            }
            Job::Swap {
                snapshot,
                upto,
                entries,
                bytes,
                ..
            } => {
                txn.open_table(SNAPSHOT)
                    .map_err(from_redb)?
                    .insert(KEY_STATE, snapshot.as_slice())
                    .map_err(from_redb)?;
                log.retain_in(..=*upto, |_, _| false).map_err(from_redb)?;
                txn.open_table(META)
                    .map_err(from_redb)?
                    .insert(KEY_FOLDED, upto.to_le_bytes().as_slice())
                    .map_err(from_redb)?;
                done.folded_entries += entries;
                done.folded_bytes += bytes;
                done.snapshot_bytes = Some(snapshot.len() as u64);
            }
            Job::Sync { .. } => {}
        }
    }
    Ok(done)
}

/// Records (durably) that a relaxed store was closed cleanly.
fn mark_clean(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(from_redb)?;
    txn.open_table(META)
        .map_err(from_redb)?
        .insert(KEY_DIRTY, [0u8].as_slice())
        .map_err(from_redb)?;
    txn.commit().map_err(from_redb)
}

/// Records (durably) a new replica id and whether the session is relaxed.
pub(crate) fn write_identity(db: &Database, meta: layout::Meta) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(from_redb)?;
    layout::write_meta(&txn, meta)?;
    txn.commit().map_err(from_redb)
}
