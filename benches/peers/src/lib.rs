//! Side-by-side text benchmark support (issue 15): one adapter per text
//! CRDT library behind two small traits, and the replay drivers that every
//! library goes through the same way.
//!
//! - [`Peer`]: a document replica typed into with local edits (one
//!   transaction per call), saved with the library's normal encoding and
//!   loaded back.
//! - [`Merge`]: a replica that can ship what a transaction did and apply
//!   what another replica shipped, and hand over its whole history.
//!
//! Adapters: [`Ours`] (`crdt_types::Text`), [`Diamond`] (diamond-types),
//! [`Yjs`] (yrs), [`Automerge`], [`Loro`], and [`Cola`] (cola-crdt, which
//! keeps positions only and no text, so it is a [`Peer`] but not a
//! [`Merge`] here).
//!
//! This crate is outside the main workspace (like `fuzz/`), so that the
//! workspace's CI builds never compile the peers; the bench is
//! `benches/peers.rs` (`cargo bench` in `benches/peers`).
//!
//! ```
//! use crdt_peers::{Diamond, Loro, Ours, Peer, replay};
//!
//! let txns: Vec<Vec<crdt_peers::Patch>> = vec![
//!     vec![(0, 0, "helo".to_string())],
//!     vec![(3, 0, "l".to_string())],
//!     vec![(0, 1, "H".to_string())],
//! ];
//! let ours: Ours = replay("", txns.iter().map(Vec::as_slice));
//! let theirs: Diamond = replay("", txns.iter().map(Vec::as_slice));
//! let loro: Loro = replay("", txns.iter().map(Vec::as_slice));
//! assert_eq!(ours.text().as_deref(), Some("Hello"));
//! assert_eq!(theirs.text(), ours.text());
//! assert_eq!(loro.text(), ours.text());
//! ```

mod automerge_doc;
mod cola_positions;
mod diamond;
mod loro_doc;
mod ours;
mod yjs;

pub use automerge_doc::Automerge;
pub use cola_positions::Cola;
pub use diamond::Diamond;
pub use loro_doc::Loro;
pub use ours::Ours;
pub use yjs::Yjs;

/// One edit of a trace: `(position in code points, characters deleted,
/// text inserted)`; the deletion happens first.
pub type Patch = (usize, usize, String);

/// What went wrong decoding or applying bytes (each library's own error,
/// rendered).
pub type Error = String;

/// A text replica of one library, edited locally.
pub trait Peer: Sized {
    /// The library and its version, as the tables print it.
    const NAME: &'static str;

    /// A new, empty replica for `agent` (0, 1, ...; each library maps it
    /// to its own replica id, never 0).
    fn new(agent: usize) -> Self;

    /// Applies `patches` in order as local edits, in one transaction.
    fn local(&mut self, patches: &[Patch]);

    /// The text, or `None` for a library that stores positions only.
    fn text(&self) -> Option<String>;

    /// The length of the text in code points.
    fn len(&self) -> usize;

    /// True when the text is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole document in the library's normal save format.
    fn save(&mut self) -> Vec<u8>;

    /// A replica loaded from [`Peer::save`]'s bytes.
    fn load(bytes: &[u8]) -> Result<Self, Error>;
}

/// A replica that exchanges transactions with others.
pub trait Merge: Peer {
    /// What one transaction ships to the other replicas.
    type Update;

    /// The whole history, as a peer sends it to a new replica.
    type History;

    /// Like [`Peer::local`], and returns what the transaction ships.
    fn local_shipped(&mut self, patches: &[Patch]) -> Self::Update;

    /// Applies what another replica shipped (its dependencies applied
    /// before).
    fn apply(&mut self, update: &Self::Update) -> Result<(), Error>;

    /// Everything this replica has seen, encoded for a new peer.
    fn history(&mut self) -> Self::History;

    /// A fresh replica that applied a history received from a peer.
    fn from_history(history: &Self::History) -> Result<Self, Error>;
}

/// Replays a sequential trace as local edits of one replica: `start`, then
/// each patch as its own transaction (as an editor types).
pub fn replay<'a, P: Peer>(start: &str, txns: impl IntoIterator<Item = &'a [Patch]>) -> P {
    let mut doc = P::new(0);
    if !start.is_empty() {
        doc.local(&[(0, 0, start.to_string())]);
    }
    for patches in txns {
        for patch in patches {
            doc.local(std::slice::from_ref(patch));
        }
    }
    doc
}

/// One transaction of a concurrent trace.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// Who typed it (0, 1, ...).
    pub agent: usize,
    /// The earlier steps whose merged document it was typed on.
    pub parents: &'a [usize],
    /// Its edits, in order.
    pub patches: &'a [Patch],
}

/// Replays a concurrent trace: one replica per agent, brought to exactly
/// each step's parents by applying the shipped updates of the ancestors it
/// lacks (in trace order), then every replica applies every update it has
/// not seen. Returns the replicas, which should all hold the same text.
pub fn replay_concurrent<M: Merge>(steps: &[Step<'_>]) -> Result<Vec<M>, Error> {
    let agents = steps.iter().map(|s| s.agent + 1).max().unwrap_or(0);
    let mut replicas: Vec<M> = (0..agents).map(M::new).collect();
    let mut seen = vec![vec![false; steps.len()]; agents];
    let mut updates: Vec<M::Update> = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let (replica, have) = (&mut replicas[step.agent], &mut seen[step.agent]);
        let mut stack = step.parents.to_vec();
        let mut missing = Vec::new();
        while let Some(p) = stack.pop() {
            let known = have
                .get_mut(p)
                .filter(|_| p < i)
                .ok_or_else(|| format!("step {i} names parent {p}, not an earlier step"))?;
            if !*known {
                *known = true;
                missing.push(p);
                stack.extend_from_slice(steps[p].parents);
            }
        }
        missing.sort_unstable();
        for p in missing {
            replica.apply(&updates[p])?;
        }
        updates.push(replica.local_shipped(step.patches));
        have[i] = true;
    }
    for (replica, have) in replicas.iter_mut().zip(&seen) {
        for (update, _) in updates.iter().zip(have).filter(|(_, h)| !**h) {
            replica.apply(update)?;
        }
    }
    Ok(replicas)
}
