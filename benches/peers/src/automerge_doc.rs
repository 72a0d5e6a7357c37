//! automerge: a JSON-like document whose root holds one text object.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Change, ObjId, ObjType, ROOT, ReadDoc, TextEncoding};

use crate::{Error, Merge, Patch, Peer};

/// automerge 0.12's `AutoCommit` with a text object at `ROOT["text"]`,
/// indexed in code points, committed once per transaction. Saved with
/// `save()` (automerge's compressed document format). A transaction ships
/// its change as `save_incremental()` writes it (applied with
/// `load_incremental`); the whole history is every change, as bytes,
/// applied with `apply_changes`.
///
/// Every replica starts from the same first change (the text object,
/// created by actor `00` at time 0), so concurrent replicas edit one
/// object.
///
/// ```
/// use crdt_peers::{Automerge, Merge, Peer};
///
/// let mut a = Automerge::new(0);
/// let mut b = Automerge::new(1);
/// let update = a.local_shipped(&[(0, 0, "hi".to_string())]);
/// b.apply(&update).unwrap();
/// assert_eq!(b.text().as_deref(), Some("hi"));
/// ```
pub struct Automerge {
    doc: AutoCommit,
    text: ObjId,
}

fn actor(agent: usize) -> ActorId {
    ActorId::from(&(agent as u64 + 1).to_be_bytes()[..])
}

impl Automerge {
    fn edit(&mut self, patches: &[Patch]) {
        for (pos, del, ins) in patches {
            // In range for every patch of a valid trace (checked by the
            // bench against `endContent`).
            let _ = self.doc.splice_text(&self.text, *pos, *del as isize, ins);
        }
        self.doc.commit();
    }

    /// Wraps a loaded document, finding its text object.
    fn found(doc: AutoCommit) -> Result<Self, Error> {
        let text = match doc.get(&ROOT, "text").map_err(|e| e.to_string())? {
            Some((_, id)) => id,
            None => return Err("no text object at ROOT[\"text\"]".to_string()),
        };
        Ok(Self { doc, text })
    }
}

impl Peer for Automerge {
    const NAME: &'static str = "automerge 0.12.0";

    fn new(agent: usize) -> Self {
        let mut doc = AutoCommit::new_with_encoding(TextEncoding::UnicodeCodePoint)
            .with_actor(ActorId::from(&[0u8][..]));
        let text = doc.put_object(&ROOT, "text", ObjType::Text).unwrap_or(ROOT);
        doc.commit();
        doc.set_actor(actor(agent));
        Self { doc, text }
    }

    fn local(&mut self, patches: &[Patch]) {
        self.edit(patches);
    }

    fn text(&self) -> Option<String> {
        self.doc.text(&self.text).ok()
    }

    fn len(&self) -> usize {
        self.doc.length(&self.text)
    }

    fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    fn load(bytes: &[u8]) -> Result<Self, Error> {
        Self::found(AutoCommit::load(bytes).map_err(|e| e.to_string())?)
    }
}

impl Merge for Automerge {
    /// The transaction's change, as `save_incremental` writes it.
    type Update = Vec<u8>;
    type History = Vec<Vec<u8>>;

    fn local_shipped(&mut self, patches: &[Patch]) -> Vec<u8> {
        self.edit(patches);
        self.doc.save_incremental()
    }

    fn apply(&mut self, update: &Vec<u8>) -> Result<(), Error> {
        self.doc
            .load_incremental(update)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn history(&mut self) -> Vec<Vec<u8>> {
        self.doc
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect()
    }

    fn from_history(history: &Vec<Vec<u8>>) -> Result<Self, Error> {
        let changes = history
            .iter()
            .map(|bytes| Change::from_bytes(bytes.clone()).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut doc = AutoCommit::new_with_encoding(TextEncoding::UnicodeCodePoint);
        doc.apply_changes(changes).map_err(|e| e.to_string())?;
        Self::found(doc)
    }
}
