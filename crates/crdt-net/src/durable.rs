//! A node's store: every delta committed before anything that depends on it
//! leaves the node.

use std::borrow::Cow;
use std::collections::VecDeque;

use crdt_store::{Store, StoreError, StoreStats, Ticket};
use crdt_sync::{Replicated, Transmit};
use tokio::sync::oneshot;

use crate::error::NodeError;

/// The most appends waiting for their commit; at this many the engine
/// takes no input until commits catch up.
pub(crate) const MAX_PENDING_APPENDS: usize = 1024;

/// Where the answer to a [`crate::NodeHandle::write`] goes.
pub(crate) type WriteReply = oneshot::Sender<Result<(), NodeError>>;

/// Appends submitted to the store, and what waits for each.
///
/// Design note: acknowledgement means durable, without blocking the
/// engine. Every delta the engine takes in (a local write, a received
/// delta it applied) is submitted to the store, which returns a [`Ticket`];
/// everything the engine sends from then on (acknowledgements, deltas,
/// digests) and the answer to the write wait behind that ticket, in order,
/// while the engine goes on handling input (up to [`MAX_PENDING_APPENDS`]
/// pending appends: past that it takes no input, so a stalled disk slows
/// the application and the peers rather than filling memory). Tickets resolve in submission
/// order, one group commit answering all that arrived during the previous
/// fsync, so a busy node pays one fsync per batch, not per message. Holding
/// every frame rather than only acknowledgements costs nothing more and
/// also keeps a local delta from reaching a peer before it is on disk (a
/// restart under the same replica id would otherwise mint its dot again).
/// The alternative, waiting for each commit on the engine's thread, would
/// cap a node at one message per fsync.
pub(crate) struct Durable<T> {
    store: Store<T>,
    held: VecDeque<Held>,
}

/// One pending append and what was produced after it was submitted.
struct Held {
    ticket: Ticket,
    frames: Vec<Transmit>,
    reply: Option<WriteReply>,
}

/// What committed appends released, in order.
#[derive(Default)]
pub(crate) struct Released {
    /// Frames to send now.
    pub(crate) frames: Vec<Transmit>,
    /// The first store error, if an append failed: the node must stop.
    pub(crate) failed: Option<StoreError>,
}

impl<T: Replicated + 'static> Durable<T> {
    pub(crate) fn new(store: Store<T>) -> Self {
        Self {
            store,
            held: VecDeque::new(),
        }
    }

    /// Submits a local write's delta; `reply` is answered once it is
    /// committed.
    pub(crate) fn submit_local(
        &mut self,
        delta: &T,
        reply: Option<WriteReply>,
    ) -> Result<(), StoreError> {
        let ticket = self.store.submit_local(delta)?;
        self.held.push_back(Held {
            ticket,
            frames: Vec::new(),
            reply,
        });
        Ok(())
    }

    /// Submits what the engine has just applied from a received message:
    /// the deltas it buffered for that message (`applied`, from
    /// [`crdt_sync::Engine::deltas_after`]; one, unless a conflict repair
    /// added another), already stripped of what this replica held. A mode
    /// that buffers nothing (whole states) submits `state`, the whole state.
    pub(crate) fn submit_received<'a>(
        &mut self,
        mut applied: impl Iterator<Item = Cow<'a, T>>,
        state: &T,
    ) -> Result<(), StoreError>
    where
        T: 'a,
    {
        let ticket = match (applied.next(), applied.next()) {
            (Some(one), None) => self.store.submit_received(&one)?,
            (Some(first), Some(second)) => {
                let mut all = first.into_owned();
                all.join(&second);
                applied.for_each(|d| all.join(&d));
                self.store.submit_received(&all)?
            }
            (None, _) => self.store.submit_received(state)?,
        };
        self.held.push_back(Held {
            ticket,
            frames: Vec::new(),
            reply: None,
        });
        Ok(())
    }

    /// Holds `frame` behind the appends submitted so far; gives it back if
    /// none is pending (it may go out now).
    pub(crate) fn hold(&mut self, frame: Transmit) -> Option<Transmit> {
        match self.held.back_mut() {
            Some(h) => {
                h.frames.push(frame);
                None
            }
            None => Some(frame),
        }
    }

    /// Whether appends are pending.
    pub(crate) fn pending(&self) -> bool {
        !self.held.is_empty()
    }

    /// Whether [`MAX_PENDING_APPENDS`] appends are pending.
    pub(crate) fn full(&self) -> bool {
        self.held.len() >= MAX_PENDING_APPENDS
    }

    /// Resolves once the oldest pending append is committed (or failed);
    /// never, if none is pending.
    pub(crate) async fn committed(&mut self) {
        match self.held.front_mut() {
            Some(h) => {
                let _ = (&mut h.ticket).await;
            }
            None => std::future::pending().await,
        }
    }

    /// Takes every committed append off the front: answers its write and
    /// releases its frames. Stops at the first pending one, or at a failed
    /// one (whose write, and every later one, is answered with the error;
    /// their frames are dropped).
    pub(crate) fn release(&mut self) -> Released {
        let mut out = Released::default();
        while let Some(result) = self.held.front().and_then(|h| h.ticket.try_result()) {
            let Some(h) = self.held.pop_front() else {
                break;
            };
            match result {
                Ok(_) => {
                    out.frames.extend(h.frames);
                    if let Some(r) = h.reply {
                        let _ = r.send(Ok(()));
                    }
                }
                Err(e) => {
                    self.fail(&e);
                    if let Some(r) = h.reply {
                        let _ = r.send(Err(NodeError::Store(e.clone())));
                    }
                    out.failed = Some(e);
                    break;
                }
            }
        }
        out
    }

    /// Answers every pending write with `e` and drops what was held.
    pub(crate) fn fail(&mut self, e: &StoreError) {
        for h in self.held.drain(..) {
            if let Some(r) = h.reply {
                let _ = r.send(Err(NodeError::Store(e.clone())));
            }
        }
    }

    /// Waits for every pending append (their frames are dropped: the node
    /// is stopping), answers their writes, and closes the store. The first
    /// error, if any.
    pub(crate) async fn finish(mut self) -> Result<(), StoreError> {
        let mut failed = None;
        while self.pending() {
            self.committed().await;
            failed = failed.or(self.release().failed);
        }
        let closed = tokio::task::spawn_blocking(move || self.store.close())
            .await
            .unwrap_or(Err(StoreError::Closed));
        match failed {
            Some(e) => Err(e),
            None => closed,
        }
    }

    /// The store's sizes and counters.
    pub(crate) fn stats(&self) -> StoreStats {
        self.store.stats()
    }
}
