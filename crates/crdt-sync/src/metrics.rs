//! Counters an application can read at any time.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::PeerId;

/// What the engine has done so far. Plain data: read it, export it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Bytes of messages produced by `poll_transmit`.
    pub bytes_out: u64,
    /// Messages produced by `poll_transmit`.
    pub messages_out: u64,
    /// Bytes passed to `handle_message`.
    pub bytes_in: u64,
    /// Messages passed to `handle_message`.
    pub messages_in: u64,
    /// Messages rejected (bad bytes, invalid state, too large).
    pub messages_rejected: u64,
    /// Delta-intervals in the buffer now.
    pub deltas_buffered: usize,
    /// Full states sent as the last-resort catch-up.
    pub full_state_fallbacks: u64,
    /// Digest catch-ups answered.
    pub digest_catch_ups: u64,
    /// Encoded bytes of received deltas that were already known and were
    /// dropped before buffering (the "RR" optimisation's saving).
    pub redundant_bytes_stripped: u64,
    /// Received deltas that carried something new.
    pub deltas_applied: u64,
    /// Received deltas concurrent with the local state (each side had
    /// something the other lacked): a measure of the write-conflict rate.
    pub concurrent_deltas: u64,
    /// Messages split into parts because they exceeded the size limit.
    pub split_messages: u64,
    /// Parts sent by split messages (the first time).
    pub split_parts: u64,
    /// Parts of split messages sent again (only the unacknowledged ones).
    pub parts_resent: u64,
    /// Digests sent coarsened because the full one exceeded the limit.
    pub digests_coarsened: u64,
    /// Peers reset for not acknowledging.
    pub peer_resets: u64,
    /// Peers seen coming back as a new incarnation.
    pub peer_restarts: u64,
    /// Local writes refused (a dot minted under another id, or reused).
    pub local_writes_refused: u64,
    /// Received payloads carrying dots under this replica's own id that it
    /// had not minted, adopted (see [`crate::Event::UnmintedOwnDotAdopted`]).
    pub own_dots_adopted: u64,
    /// Received payloads refused because a timestamp in them was more than
    /// [`crate::Config::max_clock_drift`] ahead of the local wall clock.
    pub clock_drift_refused: u64,
    /// Received payloads that held a dot the local state holds with another
    /// content (a forged or reused dot): joined in full, so the kernel's
    /// deterministic rule applies, and reported as
    /// [`crate::Event::DotConflict`].
    pub dot_conflicts: u64,
    /// Fingerprint comparisons made (see
    /// [`crate::Config::integrity_interval`]).
    pub integrity_checks: u64,
    /// Comparisons that found an origin replica held differently.
    pub integrity_mismatches: u64,
    /// Bytes of projections sent to repair a mismatch.
    pub repair_bytes: u64,
    /// Per peer: acknowledgement lag.
    pub peers: BTreeMap<PeerId, PeerLag>,
}

/// How far one peer is behind this replica.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerLag {
    /// Local delta-intervals the peer has not acknowledged.
    pub unacked_sequences: u64,
    /// How long the peer has had something unacknowledged (zero when in
    /// sync).
    pub unacked_for: Duration,
    /// Whether the peer was reset and waits for a catch-up.
    pub reset: bool,
    /// Whether this replica still waits for a complete catch-up from the
    /// peer.
    pub awaiting_catch_up: bool,
}
