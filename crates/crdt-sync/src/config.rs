//! Engine configuration.

use std::time::Duration;

/// How the engine ships state. `Delta` is the point of this crate; `State`
/// (ship the whole state every round) is there to measure against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Delta-interval anti-entropy (Almeida et al.), with the optimisations
    /// switched by [`Config::avoid_back_propagation`] and
    /// [`Config::strip_redundant`].
    Delta,
    /// Classic state-based sync: the full state to every peer every round.
    State,
}

/// Engine settings. [`Config::default`] is a sensible start for a LAN or
/// a WAN with sub-second latency.
///
/// ```
/// use std::time::{Duration, Instant};
/// use crdt_sync::{Config, ConfigError, Engine};
/// use crdt_types::{OrSet, ReplicaId};
///
/// // A slow link with small frames: sync less often, split above 16 KiB.
/// let config = Config {
///     sync_interval: Duration::from_millis(500),
///     max_message_bytes: 16 * 1024,
///     ..Config::default()
/// };
/// assert!(config.validate().is_ok());
/// let engine = Engine::new(ReplicaId::from_u128(1), OrSet::<u64>::new(), config, Instant::now());
/// assert!(engine.is_ok());
///
/// // Settings that cannot work are refused up front.
/// let tiny = Config { max_message_bytes: 16, ..Config::default() };
/// assert!(matches!(tiny.validate(), Err(ConfigError::MessageLimitTooSmall { .. })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Delta or state-based shipping. Default: [`Mode::Delta`].
    pub mode: Mode,
    /// How often a sync round runs (a message to each peer with anything
    /// unacknowledged). Default: 100 ms.
    pub sync_interval: Duration,
    /// A peer with unacknowledged deltas that has not acknowledged anything
    /// for this long is *reset*: its deltas stop pinning the buffer, and it
    /// is caught up by digest (or full state) once it answers again.
    /// Default: 10 s.
    pub ack_timeout: Duration,
    /// How many rounds the same unacknowledged interval is re-sent before
    /// the engine switches that peer to catch-up. Default: 8.
    pub retries: u32,
    /// The most delta-intervals kept in the buffer; past this the peers
    /// furthest behind are reset (and later caught up by digest) so memory
    /// stays bounded. Default: 4096.
    pub max_buffered_deltas: usize,
    /// The largest message the engine sends or accepts, in bytes. A bigger
    /// delta-interval is split into parts (each joinable on its own, acked
    /// once all arrived). Default: 1 MiB.
    pub max_message_bytes: usize,
    /// Never send a delta back to the peer it came from (Enes et al., "BP").
    /// Default: on.
    pub avoid_back_propagation: bool,
    /// Before buffering a received delta, keep only the parts the local
    /// state lacked (Enes et al., "RR", via `Decompose::delta_from`).
    /// Default: on.
    pub strip_redundant: bool,
    /// A peer out of sync (unacknowledged deltas outstanding) for longer
    /// than this raises [`crate::Event::LagAlert`]. Default: 5 s.
    pub lag_alert: Duration,
    /// Check every local write made through [`crate::Engine::update`]
    /// before it is shipped: a delta that mints a dot under another replica
    /// id than the engine's (a stale id kept across a restore), or reuses a
    /// dot the replica already minted, is refused and the state is left as
    /// it was. [`crate::Engine::apply_local`] is always checked (it needs
    /// no copy).
    ///
    /// The check keeps a copy of the state during the write to put it back,
    /// so a write costs a clone of the whole state: about 1 ms at 100k
    /// OR-set elements or 100k characters of `Text`, against 0.4 µs
    /// unchecked. A write's cost would then grow with the state, so the
    /// check is a development aid. Default: on in builds with debug
    /// assertions (`cargo test`, `cargo run`), where a closure that
    /// ignores the id it is given shows up as an error; off in release
    /// builds. Unchecked, such a write is shipped as it is; if it clashes
    /// with a dot minted elsewhere, the integrity exchange
    /// ([`Config::integrity_interval`]) finds the clash, reports it as
    /// [`crate::Event::DotConflict`] and settles it as a full-state join
    /// would, the same everywhere, so replicas still converge; but the
    /// misuse can cost the earlier write too (in an OR-set, neither element
    /// that held the dot survives).
    ///
    /// ```
    /// use crdt_sync::Config;
    /// // On or off as this crate was built (a doctest's own build may
    /// // differ: `cargo test --release` builds it with debug assertions).
    /// let _by_build = Config::default().verify_local_writes;
    /// let checked = Config { verify_local_writes: true, ..Config::default() };
    /// assert!(checked.validate().is_ok());
    /// ```
    pub verify_local_writes: bool,
    /// A received payload whose latest timestamp
    /// ([`crate::Replicated::latest_wall_ms`], e.g. an LWW register's) is
    /// more than this ahead of the local wall clock is refused: not joined,
    /// not acknowledged, counted and reported as
    /// [`crate::Event::ClockDriftRefused`]. The sender resends it, and it is
    /// accepted once the local clock is within the drift, so a peer with a
    /// fast clock delays its own writes, and a forged far-future timestamp
    /// never pins a register. `None` turns the check off. Default: 60 s.
    pub max_clock_drift: Option<Duration>,
    /// How often two peers that are otherwise in sync compare
    /// [`crate::Message::Fingerprints`] (per origin replica, what each
    /// holds), to find a dot held with two contents (a forged or reused
    /// dot) that delta sync never repairs. A peer is also compared right
    /// after every catch-up from it, and after a payload that did not come
    /// from its current incarnation changed the state; until that
    /// comparison matches, [`crate::Engine::is_synced`] is false. Each
    /// comparison hashes the whole state once (cached until it changes; see
    /// `docs/measurements.md` for the cost). `None` turns the check off. Default: 30 s.
    pub integrity_interval: Option<Duration>,
}

/// The smallest [`Config::max_message_bytes`] accepted: room for a header,
/// a digest of a few replicas and a payload part of a few dots.
pub const MIN_MESSAGE_BYTES: usize = 128;

/// Why a [`Config`] was refused by [`crate::Engine::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `sync_interval` is zero: the engine would loop forever.
    ZeroSyncInterval,
    /// `ack_timeout` is shorter than two sync intervals: every peer would be
    /// reset before it could answer.
    AckTimeoutTooShort {
        /// The configured timeout.
        ack_timeout: Duration,
        /// The smallest accepted (two sync intervals).
        min: Duration,
    },
    /// `max_buffered_deltas` is zero.
    ZeroBuffer,
    /// `max_message_bytes` is below [`MIN_MESSAGE_BYTES`].
    MessageLimitTooSmall {
        /// The configured limit.
        limit: usize,
    },
    /// `integrity_interval` is zero (use `None` to turn the check off).
    ZeroIntegrityInterval,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ZeroSyncInterval => f.write_str("sync_interval must be above zero"),
            Self::AckTimeoutTooShort { ack_timeout, min } => write!(
                f,
                "ack_timeout {ack_timeout:?} is shorter than two sync intervals ({min:?})"
            ),
            Self::ZeroBuffer => f.write_str("max_buffered_deltas must be at least 1"),
            Self::MessageLimitTooSmall { limit } => write!(
                f,
                "max_message_bytes {limit} is below the minimum of {MIN_MESSAGE_BYTES}"
            ),
            Self::ZeroIntegrityInterval => {
                f.write_str("integrity_interval must be above zero (None turns it off)")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Checks the settings; [`crate::Engine::new`] calls this.
    ///
    /// ```
    /// use std::time::Duration;
    /// use crdt_sync::{Config, ConfigError};
    /// let bad = Config { sync_interval: Duration::ZERO, ..Config::default() };
    /// assert_eq!(bad.validate(), Err(ConfigError::ZeroSyncInterval));
    /// let never = Config { integrity_interval: Some(Duration::ZERO), ..Config::default() };
    /// assert_eq!(never.validate(), Err(ConfigError::ZeroIntegrityInterval));
    /// let off = Config { integrity_interval: None, ..Config::default() };
    /// assert!(off.validate().is_ok());
    /// assert!(Config::default().validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.sync_interval.is_zero() {
            return Err(ConfigError::ZeroSyncInterval);
        }
        let min = self.sync_interval * 2;
        if self.ack_timeout < min {
            return Err(ConfigError::AckTimeoutTooShort {
                ack_timeout: self.ack_timeout,
                min,
            });
        }
        if self.max_buffered_deltas == 0 {
            return Err(ConfigError::ZeroBuffer);
        }
        if self.max_message_bytes < MIN_MESSAGE_BYTES {
            return Err(ConfigError::MessageLimitTooSmall {
                limit: self.max_message_bytes,
            });
        }
        if self.integrity_interval.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::ZeroIntegrityInterval);
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Delta,
            sync_interval: Duration::from_millis(100),
            ack_timeout: Duration::from_secs(10),
            retries: 8,
            max_buffered_deltas: 4096,
            max_message_bytes: 1 << 20,
            avoid_back_propagation: true,
            strip_redundant: true,
            lag_alert: Duration::from_secs(5),
            verify_local_writes: cfg!(debug_assertions),
            max_clock_drift: Some(Duration::from_secs(60)),
            integrity_interval: Some(Duration::from_secs(30)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    /// Local writes are checked by default exactly in builds with debug
    /// assertions (the doctest cannot say it: under `cargo test
    /// --release` it is built with them and the crate without).
    #[test]
    fn local_writes_are_checked_by_default_only_with_debug_assertions() {
        assert_eq!(
            Config::default().verify_local_writes,
            cfg!(debug_assertions)
        );
    }
}
