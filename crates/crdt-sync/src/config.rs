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
        }
    }
}
