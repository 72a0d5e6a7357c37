//! yrs (the Rust port of Yjs): a `Doc` with one root text.

use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, TextRef, Transact, TransactionMut, Update};

use crate::{Error, Merge, Patch, Peer};

/// yrs 0.28's `Doc` with the root text `"text"`. Offsets are yrs's default
/// (UTF-8 bytes): the vendored traces are ASCII, so they equal code points.
/// Saved as a v1 update from the empty state vector (yrs's usual full
/// encoding); a transaction ships its own v1 update.
///
/// ```
/// use crdt_peers::{Merge, Peer, Yjs};
///
/// let mut a = Yjs::new(0);
/// let mut b = Yjs::new(1);
/// let update = a.local_shipped(&[(0, 0, "hi".to_string())]);
/// b.apply(&update).unwrap();
/// assert_eq!(b.text().as_deref(), Some("hi"));
/// ```
pub struct Yjs {
    doc: Doc,
    text: TextRef,
}

impl Yjs {
    fn edit(&self, txn: &mut TransactionMut<'_>, patches: &[Patch]) {
        for (pos, del, ins) in patches {
            if *del > 0 {
                self.text.remove_range(txn, *pos as u32, *del as u32);
            }
            if !ins.is_empty() {
                self.text.insert(txn, *pos as u32, ins);
            }
        }
    }
}

impl Yjs {
    fn apply_bytes(&self, bytes: &[u8]) -> Result<(), Error> {
        let update = Update::decode_v1(bytes).map_err(|e| e.to_string())?;
        self.doc
            .transact_mut()
            .apply_update(update)
            .map_err(|e| e.to_string())
    }
}

impl Peer for Yjs {
    const NAME: &'static str = "yrs 0.28.1";

    fn new(agent: usize) -> Self {
        let doc = Doc::with_client_id(agent as u64 + 1);
        let text = doc.get_or_insert_text("text");
        Self { doc, text }
    }

    fn local(&mut self, patches: &[Patch]) {
        let mut txn = self.doc.transact_mut();
        self.edit(&mut txn, patches);
    }

    fn text(&self) -> Option<String> {
        Some(self.text.get_string(&self.doc.transact()))
    }

    fn len(&self) -> usize {
        self.text.len(&self.doc.transact()) as usize
    }

    fn save(&mut self) -> Vec<u8> {
        self.doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    fn load(bytes: &[u8]) -> Result<Self, Error> {
        let doc = Self::new(usize::MAX - 1);
        doc.apply_bytes(bytes)?;
        Ok(doc)
    }
}

impl Merge for Yjs {
    type Update = Vec<u8>;
    type History = Vec<u8>;

    fn local_shipped(&mut self, patches: &[Patch]) -> Vec<u8> {
        let mut txn = self.doc.transact_mut();
        self.edit(&mut txn, patches);
        txn.encode_update_v1()
    }

    fn apply(&mut self, update: &Vec<u8>) -> Result<(), Error> {
        self.apply_bytes(update)
    }

    /// The full update (for yrs, the same bytes as [`Peer::save`]).
    fn history(&mut self) -> Vec<u8> {
        self.save()
    }

    fn from_history(history: &Vec<u8>) -> Result<Self, Error> {
        Self::load(history)
    }
}
