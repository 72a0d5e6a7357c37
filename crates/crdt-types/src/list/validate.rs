//! What a state from elsewhere must satisfy: its runs each held once and
//! covered by its context, the integrated runs' origins integrated, the
//! pending runs waiting for an origin ([`List::validate`]); decoding checks
//! the part that placing the runs does not.

use crdt_core::{CausalContext, InvalidState};

use super::List;
use super::piece::{Id, Piece};

impl<T: Clone> List<T> {
    /// The dots of `pieces`, if each names a known replica, is not empty,
    /// has content of its length (or none), and no two hold the same dot:
    /// the checks of [`List::validate`] that need no sequence (decoding
    /// makes them before it places the runs).
    pub(super) fn held_once<'a, I>(
        &self,
        pieces: impl Fn() -> I,
    ) -> Result<CausalContext, InvalidState>
    where
        T: 'a,
        I: Iterator<Item = &'a Piece<T>>,
    {
        let mut count = 0u64;
        for p in pieces() {
            if p.agent as usize >= self.agents.len() {
                return Err(InvalidState::Other("a run names an unknown replica"));
            }
            if p.len == 0 {
                return Err(InvalidState::Other("a run is empty"));
            }
            if p.content
                .as_slice()
                .is_some_and(|c| c.len() != p.len as usize)
            {
                return Err(InvalidState::Other("a run's content has the wrong length"));
            }
            count += u64::from(p.len);
        }
        let held = self.dots_of(pieces());
        if held.len() != count {
            return Err(InvalidState::Other("two runs hold the same dot"));
        }
        Ok(held)
    }

    /// Checks the invariants of a state from elsewhere: every run's dots in
    /// the context and held once, the integrated runs' origins integrated,
    /// every pending run waiting for an origin that is not integrated, and
    /// the counts consistent.
    ///
    /// # Errors
    /// The first broken invariant.
    pub fn validate(&self) -> Result<(), InvalidState> {
        let held = self.held_once(|| self.seq.pieces().chain(&self.pending))?;
        self.covers(&held)?;
        if held != self.held {
            return Err(InvalidState::Other("the held dots disagree with the runs"));
        }
        for p in self.seq.pieces() {
            for origin in [p.left(), p.right()].into_iter().flatten() {
                if !self.seq.contains(origin) {
                    return Err(InvalidState::Other("an integrated run's origin is missing"));
                }
            }
        }
        self.pending_wait()
    }

    /// Whether the context holds every dot of `held`.
    pub(super) fn covers(&self, held: &CausalContext) -> Result<(), InvalidState> {
        if !held.is_subset(&self.ctx) {
            let dot = held
                .difference(&self.ctx)
                .iter()
                .next()
                .ok_or(InvalidState::Other("a run's dot is outside the context"))?;
            return Err(InvalidState::DotOutsideContext(dot));
        }
        Ok(())
    }

    /// Whether every pending run waits for an origin the sequence lacks.
    pub(super) fn pending_wait(&self) -> Result<(), InvalidState> {
        let ready = |id: Option<Id>| id.is_none_or(|id| self.seq.contains(id));
        if self
            .pending
            .iter()
            .any(|p| ready(p.left()) && ready(p.right()))
        {
            return Err(InvalidState::Other("a pending run has both origins"));
        }
        Ok(())
    }
}
