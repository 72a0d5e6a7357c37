//! Dots: single events of single replicas.

use std::fmt;
use std::num::NonZeroU64;

use serde::{Deserialize, Serialize};

use crate::ReplicaId;

/// One event of one replica: the `counter`-th event that `replica` minted.
///
/// Counters start at 1 (`NonZeroU64`), so "no event" is never confused with
/// an event. Dots order by replica, then counter.
///
/// ```
/// use crdt_core::{Dot, ReplicaId};
/// let a = ReplicaId::from_u128(1);
/// let d = Dot::new(a, 3).unwrap();
/// assert_eq!(d.counter(), 3);
/// assert!(Dot::new(a, 0).is_none());
/// assert!(d < Dot::new(a, 4).unwrap());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dot {
    /// The replica that minted the event.
    pub replica: ReplicaId,
    /// The event's position in that replica's history (1-based).
    pub counter: NonZeroU64,
}

impl Dot {
    /// The dot `(replica, counter)`, or `None` when `counter` is 0.
    #[must_use]
    #[inline]
    pub const fn new(replica: ReplicaId, counter: u64) -> Option<Self> {
        match NonZeroU64::new(counter) {
            Some(counter) => Some(Self { replica, counter }),
            None => None,
        }
    }

    /// The counter as a plain integer (always at least 1).
    #[must_use]
    #[inline]
    pub const fn counter(self) -> u64 {
        self.counter.get()
    }
}

impl fmt::Debug for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:?}, {})", self.replica, self.counter)
    }
}

impl fmt::Display for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
