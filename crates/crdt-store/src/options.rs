//! [`Options`] and [`Durability`]: how a store commits and compacts.

use std::time::Duration;

/// When an acknowledged write is on disk.
///
/// Design note: what acknowledgement means. With [`Durability::Immediate`]
/// (the default) every group commit ends with an fsync before any of its
/// writers is answered, so an acknowledged write survives a crash of the
/// process and of the machine. [`Durability::Relaxed`] answers writers once
/// their commit is in the operating system's hands (it survives a crash of
/// the process once redb has made it durable, which it does at most
/// `max_delay` later) and fsyncs only every `max_delay`: much cheaper, but a
/// crash can lose the last `max_delay` of acknowledged writes. Because a lost
/// write may already have reached peers, a relaxed store that was not closed
/// cleanly reopens under a fresh replica id (reusing the old one could mint
/// the same dot twice); see [`crate::Opened::identity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Durability {
    /// fsync before acknowledging each group commit (the default).
    #[default]
    Immediate,
    /// Acknowledge once committed in memory; fsync at most `max_delay`
    /// later, on [`crate::Store::sync`] and on close.
    Relaxed {
        /// The longest an acknowledged write waits for its fsync.
        max_delay: Duration,
    },
}

/// Settings of a store, with documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// When an acknowledged write is durable. Default: [`Durability::Immediate`].
    pub durability: Durability,
    /// The log is folded into the snapshot (in the background) once it holds
    /// at least this many bytes and at least as many as the snapshot (so
    /// compaction costs amortise to a constant per logged byte). Default:
    /// 4 MiB.
    pub compact_min_log_bytes: u64,
    /// Whether compaction runs on its own thread when the log reaches the
    /// threshold. When off, only [`crate::Store::compact`] compacts.
    /// Default: on.
    pub background_compaction: bool,
    /// The most bytes of appends one group commit takes; further pending
    /// appends go to the next commit. Default: 64 MiB.
    pub max_batch_bytes: usize,
    /// Memory redb may use to cache pages. Default: 64 MiB.
    pub cache_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            durability: Durability::Immediate,
            compact_min_log_bytes: 4 << 20,
            background_compaction: true,
            max_batch_bytes: 64 << 20,
            cache_bytes: 64 << 20,
        }
    }
}

impl Options {
    /// These options with `durability`.
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// These options with compaction from `bytes` of log on.
    #[must_use]
    pub fn with_compact_min_log_bytes(mut self, bytes: u64) -> Self {
        self.compact_min_log_bytes = bytes;
        self
    }

    /// These options with background compaction on or off.
    #[must_use]
    pub fn with_background_compaction(mut self, on: bool) -> Self {
        self.background_compaction = on;
        self
    }
}
