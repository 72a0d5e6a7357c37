//! `crdt_types::Text`: every edit returns a delta; replicas join deltas.

use crdt_types::{Lattice, ReplicaId, Text};

use crate::{Error, Merge, Patch, Peer};

/// This workspace's `Text` (a `List<char>` in Fugue order, stored as runs),
/// with the replica id it types as. Saved with bincode 2 (serde), like the
/// `text` bench; a transaction's update is the join of its edits' deltas.
///
/// ```
/// use crdt_peers::{Merge, Ours, Peer};
///
/// let mut a = Ours::new(0);
/// let mut b = Ours::new(1);
/// let update = a.local_shipped(&[(0, 0, "hi".to_string())]);
/// b.apply(&update).unwrap();
/// assert_eq!(b.text().as_deref(), Some("hi"));
/// let loaded = Ours::load(&b.save()).unwrap();
/// assert_eq!(loaded.text().as_deref(), Some("hi"));
/// ```
#[derive(Debug, Clone)]
pub struct Ours {
    text: Text,
    me: ReplicaId,
}

impl Ours {
    /// The document.
    #[must_use]
    pub fn doc(&self) -> &Text {
        &self.text
    }

    /// Applies one patch; returns the join of its deltas (empty for a no-op).
    fn edit(&mut self, (pos, del, ins): &Patch) -> Text {
        // Each delta is returned straight (no `Option` around it): a 224-byte
        // value moved once less per edit.
        match (*del > 0, !ins.is_empty()) {
            // A replace is one splice, with one delta (as an editor would).
            (true, true) => self.text.splice(self.me, *pos, *del, ins),
            (true, false) => self.text.delete(*pos, *del),
            (false, true) => self.text.insert_str(self.me, *pos, ins),
            (false, false) => Text::default(),
        }
    }
}

fn decode(bytes: &[u8]) -> Result<Text, Error> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map(|(text, _)| text)
        .map_err(|e| e.to_string())
}

impl Peer for Ours {
    const NAME: &'static str = "ours";

    fn new(agent: usize) -> Self {
        Self {
            text: Text::new(),
            me: ReplicaId::from_u128(agent as u128 + 1),
        }
    }

    fn local(&mut self, patches: &[Patch]) {
        for patch in patches {
            let _delta = self.edit(patch);
        }
    }

    fn text(&self) -> Option<String> {
        Some(self.text.to_string())
    }

    fn len(&self) -> usize {
        self.text.len()
    }

    fn save(&mut self) -> Vec<u8> {
        bincode::serde::encode_to_vec(&self.text, bincode::config::standard()).unwrap_or_default()
    }

    fn load(bytes: &[u8]) -> Result<Self, Error> {
        let mut doc = Self::new(usize::MAX - 1);
        doc.text = decode(bytes)?;
        Ok(doc)
    }
}

impl Merge for Ours {
    type Update = Text;
    type History = Vec<u8>;

    fn local_shipped(&mut self, patches: &[Patch]) -> Text {
        let mut delta = Text::new();
        for patch in patches {
            delta.join(&self.edit(patch));
        }
        delta
    }

    fn apply(&mut self, update: &Text) -> Result<(), Error> {
        self.text.join(update);
        Ok(())
    }

    /// The state itself: a delta-state CRDT's state is its whole history.
    fn history(&mut self) -> Vec<u8> {
        self.save()
    }

    /// Decodes the state and joins it into a fresh replica.
    fn from_history(history: &Vec<u8>) -> Result<Self, Error> {
        let mut doc = Self::new(usize::MAX - 1);
        doc.text.join(&decode(history)?);
        Ok(doc)
    }
}
