//! The byte budget of received frames the engine has not handled yet.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What each queued frame costs beyond its length: its place in the queue
/// and its bookkeeping, so that even empty frames count.
pub(crate) const FRAME_OVERHEAD: usize = 64;

/// The inbound budget shared by every connection of a node.
///
/// Design note: the budget is counted in bytes, not frames, because a frame
/// may be anything from a few bytes to the engine's message limit; and it
/// is taken before a frame's body is read, so memory follows what the
/// engine has handled, not what peers sent. Room is a semaphore's permits:
/// waiting readers are served in order, and a frame's permits go back when
/// the engine has handled it (its [`Ticket`] is dropped), whatever the path.
pub(crate) struct Inbound {
    permits: Arc<Semaphore>,
    limit: usize,
    queued: AtomicUsize,
    high: AtomicUsize,
    waits: AtomicU64,
}

impl Inbound {
    /// A budget of `limit` bytes (clamped to 1 B ..= 4 GiB, so that a
    /// frame's permits always fit one acquisition).
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        let limit = limit.clamp(1, (u32::MAX as usize).min(Semaphore::MAX_PERMITS));
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            queued: AtomicUsize::new(0),
            high: AtomicUsize::new(0),
            waits: AtomicU64::new(0),
        })
    }

    /// Waits until there is room for a frame of `len` bytes and takes it.
    /// A frame over the whole budget waits for all of it (it is then alone).
    /// `None` only if the budget was closed, which never happens.
    pub(crate) async fn reserve(self: &Arc<Self>, len: usize) -> Option<Ticket> {
        let cost = len.saturating_add(FRAME_OVERHEAD);
        // Fits u32: `limit` does.
        let n = cost.min(self.limit) as u32;
        if self.permits.available_permits() < n as usize {
            self.waits.fetch_add(1, Ordering::Relaxed);
        }
        let permit = self.permits.clone().acquire_many_owned(n).await.ok()?;
        let now = self.queued.fetch_add(cost, Ordering::SeqCst) + cost;
        self.high.fetch_max(now, Ordering::SeqCst);
        Some(Ticket {
            _permit: permit,
            cost,
            inbound: Arc::clone(self),
        })
    }

    /// Bytes reserved now.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// The most bytes ever reserved at once.
    pub(crate) fn high_water(&self) -> usize {
        self.high.load(Ordering::SeqCst)
    }

    /// How many reservations had to wait for room.
    pub(crate) fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }
}

/// Room reserved for one frame; given back when dropped.
pub(crate) struct Ticket {
    _permit: OwnedSemaphorePermit,
    cost: usize,
    inbound: Arc<Inbound>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.inbound.queued.fetch_sub(self.cost, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_never_exceed_the_budget_and_a_large_frame_waits_to_be_alone() {
        let inbound = Inbound::new(1000);
        let a = inbound.reserve(400).await.unwrap();
        let b = inbound.reserve(400).await.unwrap();
        assert_eq!(inbound.queued(), 928);
        // No room for a third: it must wait until one is given back.
        let c = inbound.reserve(400);
        tokio::pin!(c);
        assert!(futures_poll_once(c.as_mut()).await.is_none());
        drop(a);
        let c = c.await.unwrap();
        assert_eq!(inbound.queued(), 928);
        // A frame over the whole budget waits for all of it.
        let big = inbound.reserve(5000);
        tokio::pin!(big);
        assert!(futures_poll_once(big.as_mut()).await.is_none());
        drop((b, c));
        let big = big.await.unwrap();
        assert_eq!(inbound.queued(), 5064);
        drop(big);
        assert_eq!(inbound.queued(), 0);
        assert_eq!(inbound.high_water(), 5064);
        assert_eq!(inbound.waits(), 2);
    }

    /// Polls `f` once: `Some` if it was ready.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
