//! [`StoreStats`] and [`Compaction`]: what a store can report.

/// Counters of a store since it was opened, and the sizes of its snapshot
/// and log now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// Log entries not yet folded into the snapshot.
    pub log_entries: u64,
    /// Their encoded bytes.
    pub log_bytes: u64,
    /// The encoded bytes of the snapshot.
    pub snapshot_bytes: u64,
    /// Appends committed since the store was opened.
    pub appends: u64,
    /// Write transactions committed since the store was opened (group
    /// commit: `appends / commits` writers share one commit on average).
    pub commits: u64,
    /// Compactions done since the store was opened.
    pub compactions: u64,
}

/// What one compaction did ([`crate::Store::compact`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Compaction {
    /// Log entries folded into the snapshot.
    pub entries: u64,
    /// Log bytes before the compaction.
    pub log_bytes_before: u64,
    /// Log bytes after it (appends committed while it ran).
    pub log_bytes_after: u64,
    /// The snapshot's bytes before and after.
    pub snapshot_bytes_before: u64,
    /// The snapshot's bytes after the compaction.
    pub snapshot_bytes_after: u64,
}
