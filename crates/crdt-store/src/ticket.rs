//! [`Ticket`]: a pending append, answered once its group commit is done.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::error::StoreError;

/// The position of an acknowledged append in the store's log (increasing,
/// from 1; never reused, also across compactions and restarts).
pub type Seq = u64;

/// A submitted append ([`crate::Store::submit_local`],
/// [`crate::Store::submit_received`]): resolved with the append's [`Seq`]
/// once its group commit is done (durable with
/// [`crate::Durability::Immediate`]), or with the error that stopped it.
///
/// Wait for it on a thread with [`Ticket::wait`], poll it from a loop with
/// [`Ticket::try_result`], or `.await` it (it is a `Future`, runtime-free).
#[derive(Debug)]
#[must_use = "an append is acknowledged only when its ticket resolves"]
pub struct Ticket {
    slot: Arc<Slot>,
}

/// Where the committer leaves a result for a ticket.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    state: Mutex<SlotState>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct SlotState {
    result: Option<Result<Seq, StoreError>>,
    waker: Option<Waker>,
}

impl Slot {
    /// Resolves the ticket (the first result wins).
    pub(crate) fn complete(&self, result: Result<Seq, StoreError>) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.result.is_none() {
            s.result = Some(result);
        }
        let waker = s.waker.take();
        drop(s);
        self.done.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Ticket {
    /// A ticket and the slot the committer resolves it through.
    pub(crate) fn new() -> (Self, Arc<Slot>) {
        let slot = Arc::new(Slot::default());
        (Self { slot: slot.clone() }, slot)
    }

    /// Blocks until the append is committed (or failed).
    pub fn wait(self) -> Result<Seq, StoreError> {
        let mut s = self
            .slot
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(r) = s.result.clone() {
                return r;
            }
            s = self
                .slot
                .done
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The result if the commit is done, without blocking.
    #[must_use]
    pub fn try_result(&self) -> Option<Result<Seq, StoreError>> {
        self.slot
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .result
            .clone()
    }
}

impl Future for Ticket {
    type Output = Result<Seq, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self
            .slot
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match s.result.clone() {
            Some(r) => Poll::Ready(r),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
