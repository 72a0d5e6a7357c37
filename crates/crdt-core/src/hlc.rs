//! Hybrid logical clocks: timestamps for last-writer-wins.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::ReplicaId;

/// A hybrid logical clock timestamp: wall-clock milliseconds, a logical
/// counter for events within (or behind) one millisecond, and the replica
/// that issued it.
///
/// Timestamps are totally ordered by `(wall_ms, logical, replica)`: two
/// replicas that stamp the same instant are ordered by replica id, so a
/// last-writer-wins register picks the same winner everywhere. Every value
/// is valid; on the wire a timestamp is the three fields in that order.
///
/// ```
/// use crdt_core::{HybridTimestamp, ReplicaId};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let early = HybridTimestamp::new(1_000, 5, b);
/// let late = HybridTimestamp::new(1_001, 0, a);
/// assert!(early < late); // wall time first
/// assert!(HybridTimestamp::new(1_000, 5, a) < early); // a tie goes by replica
/// assert_eq!(late.to_string(), "1001.0@R1");
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct HybridTimestamp {
    wall_ms: u64,
    logical: u32,
    replica: ReplicaId,
}

impl HybridTimestamp {
    /// The timestamp `(wall_ms, logical)` issued by `replica`.
    #[must_use]
    pub const fn new(wall_ms: u64, logical: u32, replica: ReplicaId) -> Self {
        Self {
            wall_ms,
            logical,
            replica,
        }
    }

    /// Milliseconds since the UNIX epoch (as the issuing clock saw them,
    /// possibly pushed ahead by timestamps it observed).
    #[must_use]
    pub const fn wall_ms(self) -> u64 {
        self.wall_ms
    }

    /// The logical counter: events at the same `wall_ms`, counted from 0.
    #[must_use]
    pub const fn logical(self) -> u32 {
        self.logical
    }

    /// The replica that issued this timestamp (the tie-breaker).
    #[must_use]
    pub const fn replica(self) -> ReplicaId {
        self.replica
    }
}

impl fmt::Display for HybridTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}@{}", self.wall_ms, self.logical, self.replica)
    }
}

/// A hybrid logical clock (Kulkarni et al., "Logical Physical Clocks",
/// OPODIS 2014): timestamps close to wall-clock time that never go
/// backwards.
///
/// [`HybridClock::now`] returns a timestamp strictly greater than every
/// timestamp this clock returned or [observed](HybridClock::observe) before,
/// even when the wall clock stands still or jumps backwards (NTP steps, a
/// skewed peer): it then keeps the last wall time and counts up the logical
/// part. When the wall clock moves ahead again, timestamps follow it.
///
/// The wall clock is a time source returning milliseconds since the UNIX
/// epoch: the system clock by default ([`HybridClock::new`]; a system clock
/// set before the epoch reads as 0), or any closure
/// ([`HybridClock::with_time_source`]) — tests inject one that jumps.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use crdt_core::{HybridClock, HybridTimestamp, ReplicaId};
///
/// let wall = Arc::new(AtomicU64::new(5_000));
/// let source = Arc::clone(&wall);
/// let mut clock = HybridClock::with_time_source(ReplicaId::from_u128(1), move || {
///     source.load(Ordering::SeqCst)
/// });
/// let t1 = clock.now();
/// wall.store(4_000, Ordering::SeqCst); // the wall clock jumps back a second
/// let t2 = clock.now();
/// assert!(t2 > t1 && t2.wall_ms() == 5_000 && t2.logical() == 1);
///
/// // A peer's timestamp from slightly ahead: the next one exceeds it.
/// let remote = HybridTimestamp::new(6_000, 3, ReplicaId::from_u128(2));
/// clock.observe(remote)?;
/// assert!(clock.now() > remote);
/// # Ok::<(), crdt_core::ClockDriftError>(())
/// ```
///
/// # Design notes
///
/// *Logical overflow.* When the logical counter would pass `u32::MAX` (four
/// billion events in one millisecond, or timestamps observed that close to
/// the limit), it carries into `wall_ms`: the clock moves one millisecond
/// ahead of the wall clock and the counter restarts at 0. That keeps `now`
/// strictly increasing without a panic and without a wider timestamp. The
/// only point where it cannot increase is the very last timestamp,
/// `(u64::MAX, u32::MAX)` — 584 million years after the epoch, which only an
/// observed timestamp can bring near, and the drift check below rejects
/// those; there `now` saturates and keeps returning it.
///
/// *Forward drift.* A peer whose clock is far in the future would drag
/// every clock that observes it forward, and with them every later write:
/// its writes (and ours) would win last-writer-wins until real time caught
/// up. So [`HybridClock::observe`] rejects a timestamp more than the maximum
/// drift ahead of the local wall clock, with a [`ClockDriftError`], and
/// leaves the clock unchanged. The default,
/// [`HybridClock::DEFAULT_MAX_DRIFT_MS`], is five minutes: well above the
/// skew of clocks that are kept in sync, and the tolerance Kerberos made
/// familiar; [`HybridClock::with_max_drift_ms`] changes or disables it.
pub struct HybridClock {
    replica: ReplicaId,
    wall_ms: u64,
    logical: u32,
    max_drift_ms: Option<u64>,
    source: Box<dyn FnMut() -> u64 + Send>,
}

impl HybridClock {
    /// The default maximum forward drift of an observed timestamp: five
    /// minutes.
    pub const DEFAULT_MAX_DRIFT_MS: u64 = 5 * 60 * 1000;

    /// A clock for `replica` driven by the system wall clock.
    #[must_use]
    pub fn new(replica: ReplicaId) -> Self {
        Self::with_time_source(replica, system_wall_ms)
    }

    /// A clock for `replica` driven by `source`, which returns the current
    /// wall time in milliseconds since the UNIX epoch. It may stand still or
    /// go backwards; the clock stays monotone regardless.
    #[must_use]
    pub fn with_time_source(
        replica: ReplicaId,
        source: impl FnMut() -> u64 + Send + 'static,
    ) -> Self {
        Self {
            replica,
            wall_ms: 0,
            logical: 0,
            max_drift_ms: Some(Self::DEFAULT_MAX_DRIFT_MS),
            source: Box::new(source),
        }
    }

    /// This clock with a different maximum forward drift for observed
    /// timestamps (`None`: accept any).
    #[must_use]
    pub fn with_max_drift_ms(mut self, max_drift_ms: Option<u64>) -> Self {
        self.max_drift_ms = max_drift_ms;
        self
    }

    /// The replica whose timestamps this clock issues.
    #[must_use]
    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    /// The maximum forward drift accepted by [`HybridClock::observe`]
    /// (`None`: unlimited).
    #[must_use]
    pub fn max_drift_ms(&self) -> Option<u64> {
        self.max_drift_ms
    }

    /// A new timestamp, strictly greater than every timestamp this clock
    /// returned or observed before (up to the saturation point described in
    /// the type's design note).
    #[must_use]
    pub fn now(&mut self) -> HybridTimestamp {
        let physical = (self.source)();
        if physical > self.wall_ms {
            self.wall_ms = physical;
            self.logical = 0;
        } else if let Some(next) = self.logical.checked_add(1) {
            self.logical = next;
        } else if let Some(next) = self.wall_ms.checked_add(1) {
            self.wall_ms = next;
            self.logical = 0;
        }
        HybridTimestamp::new(self.wall_ms, self.logical, self.replica)
    }

    /// Merges a timestamp received from another replica, so that the next
    /// [`HybridClock::now`] is greater than it.
    ///
    /// # Errors
    ///
    /// [`ClockDriftError`] if `remote` is more than the maximum drift ahead
    /// of the local wall clock; the clock is then left unchanged.
    pub fn observe(&mut self, remote: HybridTimestamp) -> Result<(), ClockDriftError> {
        if let Some(max_drift_ms) = self.max_drift_ms {
            let local_wall_ms = (self.source)();
            if remote.wall_ms > local_wall_ms.saturating_add(max_drift_ms) {
                return Err(ClockDriftError {
                    remote,
                    local_wall_ms,
                    max_drift_ms,
                });
            }
        }
        if (remote.wall_ms, remote.logical) > (self.wall_ms, self.logical) {
            self.wall_ms = remote.wall_ms;
            self.logical = remote.logical;
        }
        Ok(())
    }
}

impl fmt::Debug for HybridClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HybridClock")
            .field("replica", &self.replica)
            .field("wall_ms", &self.wall_ms)
            .field("logical", &self.logical)
            .field("max_drift_ms", &self.max_drift_ms)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the UNIX epoch from the system clock; 0 for a clock
/// set before the epoch.
/// (`u64` arithmetic: `Duration::as_millis` is a 128-bit computation, and
/// this runs on every clock write.)
fn system_wall_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| {
        d.as_secs()
            .saturating_mul(1_000)
            .saturating_add(u64::from(d.subsec_millis()))
    })
}

/// A remote timestamp too far ahead of the local wall clock for
/// [`HybridClock::observe`] to accept.
///
/// ```
/// use crdt_core::{HybridClock, HybridTimestamp, ReplicaId};
/// let mut clock = HybridClock::with_time_source(ReplicaId::from_u128(1), || 1_000);
/// let far = HybridTimestamp::new(1_000 + 3_600_000, 0, ReplicaId::from_u128(2));
/// let err = clock.observe(far).unwrap_err();
/// assert_eq!(err.remote(), far);
/// assert_eq!(err.ahead_ms(), 3_600_000);
/// assert!(clock.now() < far); // the clock did not move
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockDriftError {
    remote: HybridTimestamp,
    local_wall_ms: u64,
    max_drift_ms: u64,
}

impl ClockDriftError {
    /// The rejected timestamp.
    #[must_use]
    pub fn remote(&self) -> HybridTimestamp {
        self.remote
    }

    /// The local wall clock when it was rejected (ms since the epoch).
    #[must_use]
    pub fn local_wall_ms(&self) -> u64 {
        self.local_wall_ms
    }

    /// The maximum drift it exceeded.
    #[must_use]
    pub fn max_drift_ms(&self) -> u64 {
        self.max_drift_ms
    }

    /// How far ahead of the local wall clock the timestamp was.
    #[must_use]
    pub fn ahead_ms(&self) -> u64 {
        self.remote.wall_ms.saturating_sub(self.local_wall_ms)
    }
}

impl fmt::Display for ClockDriftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timestamp {} from replica {} is {} ms ahead of the local wall clock ({} ms), \
             more than the allowed drift of {} ms; check that replica's clock",
            self.remote,
            self.remote.replica,
            self.ahead_ms(),
            self.local_wall_ms,
            self.max_drift_ms
        )
    }
}

impl std::error::Error for ClockDriftError {}

#[cfg(feature = "quickcheck")]
mod arbitrary {
    use quickcheck::{Arbitrary, Gen};

    use super::HybridTimestamp;
    use crate::ReplicaId;

    /// Mostly small wall and logical parts and replicas 1..=4, so ties and
    /// replica tie-breaks are common; sometimes a logical part next to
    /// `u32::MAX` (to reach the carry) or a large wall time.
    impl Arbitrary for HybridTimestamp {
        fn arbitrary(g: &mut Gen) -> Self {
            let wall_ms = match u8::arbitrary(g) % 8 {
                0 => u64::arbitrary(g) % (1 << 48),
                _ => u64::from(u8::arbitrary(g) % 8),
            };
            let logical = match u8::arbitrary(g) % 8 {
                0 => u32::MAX - u32::from(u8::arbitrary(g) % 3),
                _ => u32::from(u8::arbitrary(g) % 4),
            };
            let replica = ReplicaId::from_u128(u128::from(u8::arbitrary(g) % 4) + 1);
            HybridTimestamp::new(wall_ms, logical, replica)
        }

        fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
            let parts = (self.wall_ms, self.logical, self.replica.as_u128());
            Box::new(
                parts
                    .shrink()
                    .map(|(w, l, r)| HybridTimestamp::new(w, l, ReplicaId::from_u128(r))),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use quickcheck::quickcheck;

    use super::*;

    fn r(n: u128) -> ReplicaId {
        ReplicaId::from_u128(n)
    }

    /// A clock whose wall time the test sets.
    fn manual_clock(replica: u128, start: u64) -> (HybridClock, Arc<AtomicU64>) {
        let wall = Arc::new(AtomicU64::new(start));
        let source = Arc::clone(&wall);
        let clock =
            HybridClock::with_time_source(r(replica), move || source.load(Ordering::SeqCst));
        (clock, wall)
    }

    #[test]
    fn wall_clock_jumping_back_never_goes_backwards() {
        let (mut clock, wall) = manual_clock(1, 10_000);
        let a = clock.now();
        wall.store(2_000, Ordering::SeqCst);
        let b = clock.now();
        let c = clock.now();
        assert!(a < b && b < c);
        assert_eq!((c.wall_ms(), c.logical()), (10_000, 2));
        wall.store(10_001, Ordering::SeqCst);
        let d = clock.now();
        assert_eq!((d.wall_ms(), d.logical()), (10_001, 0));
    }

    #[test]
    fn standing_wall_clock_counts_logically() {
        let (mut clock, _wall) = manual_clock(1, 7);
        let stamps: Vec<_> = (0..5).map(|_| clock.now()).collect();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(stamps[4].logical(), 4);
        assert!(stamps.iter().all(|t| t.wall_ms() == 7));
    }

    #[test]
    fn ties_are_broken_by_replica_id() {
        let (mut one, _w1) = manual_clock(1, 500);
        let (mut two, _w2) = manual_clock(2, 500);
        let (a, b) = (one.now(), two.now());
        assert_eq!((a.wall_ms(), a.logical()), (b.wall_ms(), b.logical()));
        assert!(a < b);
    }

    #[test]
    fn observed_timestamp_is_exceeded() {
        let (mut clock, _wall) = manual_clock(2, 100);
        let remote = HybridTimestamp::new(150, 9, r(3));
        clock.observe(remote).unwrap();
        let next = clock.now();
        assert!(next > remote);
        assert_eq!((next.wall_ms(), next.logical()), (150, 10));
        // An older remote timestamp changes nothing.
        clock.observe(HybridTimestamp::new(1, 0, r(1))).unwrap();
        assert!(clock.now() > next);
    }

    #[test]
    fn logical_overflow_carries_into_wall_time() {
        let (mut clock, _wall) = manual_clock(1, 10);
        clock
            .observe(HybridTimestamp::new(20, u32::MAX, r(2)))
            .unwrap();
        let next = clock.now();
        assert_eq!((next.wall_ms(), next.logical()), (21, 0));
    }

    #[test]
    fn last_timestamp_saturates_without_panic() {
        let (clock, _wall) = manual_clock(1, 0);
        let mut clock = clock.with_max_drift_ms(None);
        let last = HybridTimestamp::new(u64::MAX, u32::MAX, r(9));
        clock.observe(last).unwrap();
        let t = clock.now();
        assert_eq!((t.wall_ms(), t.logical()), (u64::MAX, u32::MAX));
        assert_eq!(clock.now(), t);
    }

    #[test]
    fn timestamp_far_in_the_future_is_rejected() {
        let (mut clock, _wall) = manual_clock(1, 1_000);
        assert_eq!(
            clock.max_drift_ms(),
            Some(HybridClock::DEFAULT_MAX_DRIFT_MS)
        );
        let edge = HybridTimestamp::new(1_000 + HybridClock::DEFAULT_MAX_DRIFT_MS, 0, r(2));
        let past_edge = HybridTimestamp::new(edge.wall_ms() + 1, 0, r(2));
        let err = clock.observe(past_edge).unwrap_err();
        assert_eq!(err.ahead_ms(), HybridClock::DEFAULT_MAX_DRIFT_MS + 1);
        assert_eq!(err.local_wall_ms(), 1_000);
        assert!(err.to_string().contains("300001 ms ahead"));
        assert!(clock.now() < past_edge);
        clock.observe(edge).unwrap();
        assert!(clock.now() > edge);
    }

    #[test]
    fn drift_check_can_be_disabled() {
        let (clock, _wall) = manual_clock(1, 0);
        let mut clock = clock.with_max_drift_ms(None);
        let far = HybridTimestamp::new(1 << 50, 0, r(2));
        clock.observe(far).unwrap();
        assert!(clock.now() > far);
    }

    #[test]
    fn system_clock_reads_milliseconds_since_the_epoch() {
        let mut clock = HybridClock::new(r(1));
        let t = clock.now();
        // 2020-01-01 in ms; any machine running this is later.
        assert!(t.wall_ms() > 1_577_836_800_000);
        assert!(clock.now() > t);
        assert_eq!(clock.replica(), r(1));
        assert!(format!("{clock:?}").starts_with("HybridClock"));
    }

    #[test]
    fn bincode_round_trip() {
        let t = HybridTimestamp::new(1_700_000_000_000, 42, r(3));
        let bytes = bincode::serde::encode_to_vec(t, bincode::config::standard()).unwrap();
        let (back, used): (HybridTimestamp, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!((back, used), (t, bytes.len()));
    }

    quickcheck! {
        fn never_goes_backwards_when_the_wall_clock_jumps_back(walls: Vec<u64>) -> bool {
            let (mut clock, wall) = manual_clock(1, 0);
            let mut last: Option<HybridTimestamp> = None;
            for w in walls {
                wall.store(w % 1_000, Ordering::SeqCst);
                let t = clock.now();
                if last.is_some_and(|l| t <= l) || t.wall_ms() < w % 1_000 {
                    return false;
                }
                last = Some(t);
            }
            true
        }

        fn equal_clocks_tie_break_by_replica(x: u8, y: u8, wall: u64) -> bool {
            let (x, y) = (u128::from(x % 4) + 1, u128::from(y % 4) + 1);
            let (mut a, _wa) = manual_clock(x, wall % 1_000);
            let (mut b, _wb) = manual_clock(y, wall % 1_000);
            let (ta, tb) = (a.now(), b.now());
            ta.cmp(&tb) == x.cmp(&y)
        }
    }

    /// Properties over the `quickcheck` feature's generators.
    #[cfg(feature = "quickcheck")]
    mod properties {
        use quickcheck::quickcheck;

        use super::*;

        /// One step of a clock's life: set the wall clock, then either take a
        /// timestamp or observe a remote one.
        type Step = (bool, u64, HybridTimestamp);

        fn wall_of(raw: u64) -> u64 {
            // Wall times near each other (so they repeat and go back) and
            // sometimes far back.
            if raw.is_multiple_of(5) { 0 } else { raw % 16 }
        }

        quickcheck! {
            fn strictly_monotone_across_now_and_observe(steps: Vec<Step>) -> bool {
                let (clock, wall) = manual_clock(1, 0);
                let mut clock = clock.with_max_drift_ms(None);
                let mut greatest: Option<HybridTimestamp> = None;
                for (take, raw_wall, remote) in steps {
                    wall.store(wall_of(raw_wall), Ordering::SeqCst);
                    if take {
                        let t = clock.now();
                        if greatest.is_some_and(|g| t <= g) {
                            return false;
                        }
                        greatest = Some(t);
                    } else {
                        if clock.observe(remote).is_err() {
                            return false;
                        }
                        greatest = greatest.max(Some(remote));
                    }
                }
                greatest.is_none_or(|g| clock.now() > g)
            }

            fn rejected_observe_leaves_the_clock_unchanged(start: u64, remote: HybridTimestamp) -> bool {
                let start = start % 1_000;
                let (mut a, _wa) = manual_clock(1, start);
                let mut a = { let _ = a.now(); a }.with_max_drift_ms(Some(2));
                let (mut b, _wb) = manual_clock(1, start);
                let _ = b.now();
                match a.observe(remote) {
                    Ok(()) => remote.wall_ms() <= start + 2,
                    Err(e) => e.remote() == remote && a.now() == b.now(),
                }
            }

            fn order_is_wall_then_logical_then_replica(a: HybridTimestamp, b: HybridTimestamp) -> bool {
                a.cmp(&b)
                    == (a.wall_ms(), a.logical(), a.replica()).cmp(&(b.wall_ms(), b.logical(), b.replica()))
            }

            fn serde_round_trip(t: HybridTimestamp) -> bool {
                let bytes = bincode::serde::encode_to_vec(t, bincode::config::standard()).unwrap();
                let decoded: Result<(HybridTimestamp, usize), _> =
                    bincode::serde::decode_from_slice(&bytes, bincode::config::standard());
                decoded.is_ok_and(|(back, _)| back == t)
            }
        }
    }
}
